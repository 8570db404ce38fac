"""One runtime's measuring process: ``python -m toolkit.profile.worker`` serves the round-robin of rounds.py.

Why a process per runtime: ONNX Runtime's worker threads spin after every run and ExecuTorch keeps one
process-wide XNNPACK thread pool; timed in one process, one runtime's threads compete with the other's
(measured: ExecuTorch 0.25-128 2-8% slower right after an ORT slice in the same process than with ORT in a
process of its own; ``benchmarks/bench_compare.py --interference``, docs/profiling.md). Disabling ORT's
spinning is not a fix: it makes ORT itself 18-67% slower at 0.25-128, a configuration nobody deploys.

The parent (:mod:`toolkit.profile.rounds`) sends pickled requests on stdin and reads pickled replies on a
private copy of stdout; the process's own fd 1 is pointed at stderr, so a runtime printing from C cannot
corrupt the protocol. Requests, in the order the parent uses them:

- ``("tune", paths)``: thread autotune per artifact, in a forked child (the worker itself must stay free of
  models and thread pools until it times, so the memory probes can still fork cleanly);
- ``("probe", [(path, threads)])``: load time, first inference and peak memory, each in a fresh forked child;
- ``("load", [(key, path, threads)], warmup)``: load every artifact here, first inference and warm-up, untimed;
- ``("slice", key, runs, duration_s, rewarm)``: ``rewarm`` untimed runs, then one timed slice, with the
  CPU counters read around it; ``("slices", [(key, runs, duration_s, rewarm[, reload]), ...])``: several in
  one request (a round's, or all rounds' when this is the only timing worker), the counters read where the
  artifact changes, ``reload`` loading the model afresh first (:meth:`_State.reload`);
- ``("close",)``.
Every reply is ``("ok", value)`` or ``("error", one line)``.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from pathlib import Path
from typing import Any, BinaryIO

from toolkit.profile.memory import error_line

__all__ = ["main", "serve"]


class _State:
    def __init__(self) -> None:
        self.runners: dict[str, tuple[Any, Any]] = {}
        self.inputs: dict[str, Any] = {}
        self.frames: dict[str, Any] = {}
        self.sources: dict[str, tuple[str, int]] = {}  # key -> (path, threads), to load it again
        self.pads: dict[str, bytearray] = {}
        self.configs: dict[tuple[int, float | None], Any] = {}

    def slice_config(self, runs: int, duration_s: float | None) -> Any:
        """A slice's :class:`ProfileConfig`, built once per size (a slice's bookkeeping is counted in µs)."""
        if (runs, duration_s) not in self.configs:
            from toolkit.profile.protocol import ProfileConfig

            self.configs[runs, duration_s] = ProfileConfig(warmup=0, iterations=max(runs, 1), duration_s=duration_s)
        return self.configs[runs, duration_s]

    def reload(self, key: str) -> None:
        """A new instance of ``key``'s model in place of the old one, at a shifted heap position.

        Why: two loads of the same bytes in one process can differ by 5-10% for as long as they live
        (measured: an A/A pair side by side, one copy's fastest runs 10% slower in all 6 rounds), the way
        memory layout moves timings (Mytkowicz et al., ASPLOS 2009; Curtsinger and Berger's Stabilizer,
        ASPLOS 2013, re-randomizes layout for the same reason). A comparison that loads each side once
        compares two layouts; one that loads them afresh every round, behind a random-sized allocation,
        samples layouts, and its round-to-round spread then holds their effect."""
        import random

        from toolkit.runtimes import open_runner

        path, threads = self.sources[key]
        _, x, frame = self.runners.pop(key)
        del _  # the old instance goes first: one model's memory at a time
        self.pads[key] = bytearray(random.randrange(1, 1 << 16) * 16)
        runner = open_runner(Path(path), threads=threads)
        runner.run(x)
        self.runners[key] = (runner, x, frame)

    def frame_for(self, path: str) -> Any:
        """The artifact's :class:`~toolkit.profile.runner.PhotoFrame`: each timed slice preprocesses with it."""
        if path not in self.frames:
            from toolkit.profile.runner import PhotoFrame
            from toolkit.runtimes import read_manifest

            self.frames[path] = PhotoFrame(read_manifest(Path(path)))
        return self.frames[path]

    def input_for(self, path: str) -> Any:
        if path not in self.inputs:
            self.inputs[path] = self.frame_for(path)()
        return self.inputs[path]


def _tune(state: _State, paths: list[str]) -> dict[str, Any]:
    from toolkit.profile.memory import forks_cleanly, run_in_child
    from toolkit.profile.threads import autotune

    def one(path: str) -> dict[str, Any]:
        return run_in_child(lambda: autotune(path).to_dict()) if forks_cleanly() else autotune(path).to_dict()

    return {p: one(p) for p in paths}


def _probe(state: _State, items: list[tuple[str, int]]) -> dict[str, Any]:
    from toolkit.profile.memory import probe
    from toolkit.runtimes import open_runner

    out = {}
    for path, threads in items:
        x = state.input_for(path)
        out[path] = probe(lambda path=path, threads=threads: open_runner(Path(path), threads=threads), x, Path(path))
    return out


def _load(state: _State, items: list[tuple[str, str, int]], warmup: int) -> dict[str, Any]:
    from toolkit.runtimes import open_runner

    out: dict[str, Any] = {}
    for key, path, threads in items:
        try:
            x = state.input_for(path)
            runner = open_runner(Path(path), threads=threads)
            runner.run(x)
            for _ in range(warmup):
                runner.run(x)
        except Exception as e:
            out[key] = {"error": error_line(e)}
            continue
        state.runners[key] = (runner, x, state.frame_for(path))
        state.sources[key] = (path, threads)
        out[key] = {"runtime": runner.name, "version": str(runner.version)}
    return out


def _slices(state: _State, todo: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Several slices in one request, in the order given: one round trip per round, not per artifact.

    The CPU counters are read where the artifact changes, the end of one window being the start of the
    next: a window holds one artifact's consecutive slices and their ``rewarm`` runs (this process's own
    work, counted on both sides of "others took"), and its counters (``cpu``) ride on its last slice. A
    sweep's round-robin reads them once per slice plus one, instead of twice per slice; an artifact timed
    alone reads them twice per request. Each read costs 6-20 µs (measured by
    ``benchmarks/bench_compare.py``: the bookkeeping a 0.25-128 slice must stay under)."""
    from toolkit.profile.environment import read_cpu

    out = []
    mark = read_cpu().as_tuple()
    for i, (key, runs, duration_s, rewarm, *reload) in enumerate(todo):
        if reload and reload[0]:
            state.reload(key)
        one = _timed_slice(state, key, runs, duration_s, rewarm)
        if i + 1 == len(todo) or todo[i + 1][0] != key:
            end = read_cpu().as_tuple()
            one["cpu"] = (mark, end)
            mark = end
        out.append(one)
    return out


def _slice(state: _State, key: str, runs: int, duration_s: float | None, rewarm: int) -> dict[str, Any]:
    """One slice, the counters read around it (``cpu``: the (busy, own, wall) seconds before and after)."""
    return _slices(state, [(key, runs, duration_s, rewarm)])[0]


def _timed_slice(state: _State, key: str, runs: int, duration_s: float | None, rewarm: int) -> dict[str, Any]:
    from toolkit.profile.runner import _timed_loop

    runner, x, frame = state.runners[key]
    for _ in range(rewarm):
        runner.run(x)
    samples, pre = _timed_loop(runner.run, x, state.slice_config(runs, duration_s), frame)
    return {"samples": samples, "preprocess": pre, "steps": frame.steps}


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer requests until ``close`` or the parent goes away (EOF)."""
    state = _State()
    handlers = {"tune": _tune, "probe": _probe, "load": _load, "slice": _slice, "slices": _slices}
    while True:
        try:
            msg = pickle.load(requests)
        except (EOFError, pickle.UnpicklingError):
            return
        if msg[0] == "close":
            return
        try:
            reply: tuple[str, Any] = ("ok", handlers[msg[0]](state, *msg[1:]))
        except Exception as e:
            reply = ("error", error_line(e))
        pickle.dump(reply, replies)
        replies.flush()


def main() -> None:
    """Entry point: ``python -m toolkit.profile.worker SUFFIX`` (.pte, .onnx, .tflite) imports that runtime."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it closes us
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a runtime prints goes to stderr, never into the protocol
    sys.stdout = sys.stderr
    from toolkit.profile.host import _import_runtime

    if len(sys.argv) > 1:
        _import_runtime(Path("artifact" + sys.argv[1]))  # paid once, before any fork
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
