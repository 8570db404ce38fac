"""The fake phone's runtime boundary: run exactly the bytes the app's Java code hands its runtime.

A server on a Unix socket, one per test session (:func:`tests.fake_adb.device.bridge_server` starts it,
so the host runtimes are imported once: ExecuTorch's Python package takes seconds). The fake runtime
classes (``tests/fake_adb/java/org/{tensorflow/lite,pytorch/executorch}``) open one connection per
loaded model through ``RuntimeBridge.java``. For each, the server opens the artifact with the host
runtime's runner, answers with the tensors the runtime reports, and for each ``run`` rebuilds the
tensor from the raw bytes with the dtype and shape the Java side declared, refusing (before the
runner's own strict ``run_raw`` check) a byte count, dtype or shape the real runtime would refuse,
with the real runtime's message. The raw output bytes go back for the app's core to decode.

Protocol per connection: one JSON line per message, then ``nbytes`` raw bytes (native order).
``{"op": "load", "runtime": "tflite"|"executorch", "path": ..., "threads": N}``,
``{"op": "run", "dtype": ..., "shape": [...], "nbytes": N}``, ``{"op": "close"}``; replies carry
``ok`` and either the result or ``error`` (the message) and ``kind`` (load, bytes, dtype, shape, run).
"""

from __future__ import annotations

import json
import os
import socketserver
import sys
from typing import Any, BinaryIO

import numpy as np

# c10::ScalarType names as ExecuTorch's runtime prints them (runtime/core/exec_aten/util/scalar_type_util.h)
_C10_NAMES = {"uint8": "Byte", "int8": "Char", "float16": "Half", "float32": "Float"}


class RefusedError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _spec_dict(spec: Any, name: str) -> dict[str, Any]:
    return {"dtype": spec.dtype, "shape": list(spec.shape), "name": name, "scale": spec.scale,
            "zero_point": spec.zero_point}  # fmt: skip


def _load(msg: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from toolkit.errors import ToolkitError

    runtime, path, threads = msg["runtime"], msg["path"], int(msg["threads"])
    try:
        if runtime == "tflite":
            from toolkit.runtimes.tflite import TFLiteRunner

            runner = TFLiteRunner(path, threads=threads)
            names = (runner._inp["name"], runner._out["name"])  # the interpreter's tensor names
        elif runtime == "executorch":
            from toolkit.runtimes.executorch import ExecuTorchRunner

            runner = ExecuTorchRunner(path, threads)
            names = ("input_0", "output_0")
        else:
            raise RefusedError("load", f"unknown runtime {runtime}")
    except ToolkitError as e:  # the runner's one-line message: what the runtime said about the file
        raise RefusedError("load", str(e)) from None
    reply = {"input": _spec_dict(runner.input_spec, names[0]), "output": _spec_dict(runner.output_spec, names[1]),
             "version": runner.version}  # fmt: skip
    return runner, reply


def _run(runner: Any, runtime: str, msg: dict[str, Any], payload: bytes) -> np.ndarray:
    spec = runner.input_spec
    dtype, shape = msg["dtype"], tuple(int(d) for d in msg["shape"])
    if runtime == "tflite" and len(payload) != spec.nbytes:  # TensorImpl.throwIfSrcShapeIsIncompatible
        n = len(payload)
        raise RefusedError(
            "bytes",
            f"Cannot copy to a TensorFlowLite tensor with {spec.nbytes} bytes from a Java Buffer with {n} bytes.",
        )
    if dtype != spec.dtype:  # method.cpp set_input
        want, got = _C10_NAMES.get(spec.dtype, spec.dtype), _C10_NAMES.get(dtype, dtype)
        raise RefusedError("dtype", f"Input 0 has unexpected scalar type: expected {want} but was {got}.")
    # ExecuTorch sizes are logical (N, C, H, W) whatever the program's dim order; LiteRT's are the tensor's own
    sizes = tuple(runner.method_sizes) if runtime == "executorch" else tuple(spec.shape)
    if shape != sizes:  # tensor_impl.cpp internal_resize_contiguous (static shapes)
        want, got = (f"({', '.join(map(str, s))})" for s in (sizes, shape))
        why = f"Attempted to resize a static tensor. Expected shape {want}, but received {got}."
        raise RefusedError("shape", why + " Error resizing tensor at input 0")
    numel = int(np.prod(shape))
    if len(payload) != numel * np.dtype(dtype).itemsize:  # jni_layer.cpp newTensorFromJTensor
        raise RefusedError("bytes", f"Tensor dimensions(elements number: {numel}) inconsistent with buffer capacity "
                                    f"{len(payload)}")  # fmt: skip
    # method.cpp set_input copies the bytes as they are into the program's input tensor, whose dim order
    # (channels-last: NHWC bytes) says how they are read: the memory-order shape is the runner's own
    x = np.frombuffer(bytearray(payload), dtype=np.dtype(dtype).newbyteorder("=")).reshape(spec.shape)
    return np.ascontiguousarray(runner.run_raw(x))  # the runner checks dtype and shape once more


def _reply(out: BinaryIO, header: dict[str, Any], payload: bytes = b"") -> None:
    out.write((json.dumps({**header, "nbytes": len(payload)}) + "\n").encode())
    out.write(payload)
    out.flush()


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """One connection: load one model, run it as often as asked, until close or end of stream."""
    runner, runtime = None, None
    while True:
        line = inp.readline()
        if not line:
            return
        msg = json.loads(line)
        payload = inp.read(int(msg.get("nbytes", 0)))
        try:
            if msg["op"] == "load":
                runner, reply = _load(msg)
                runtime = msg["runtime"]
                _reply(out, {"ok": True, **reply})
            elif msg["op"] == "run":
                if runner is None:
                    raise RefusedError("protocol", "run before load")
                y = _run(runner, runtime, msg, payload)
                _reply(out, {"ok": True, "dtype": y.dtype.name, "shape": list(y.shape)}, y.tobytes())
            elif msg["op"] == "close":
                _reply(out, {"ok": True})
                return
            else:
                raise RefusedError("protocol", f"unknown op {msg['op']}")
        except RefusedError as e:
            _reply(out, {"ok": False, "kind": e.kind, "error": str(e)})
        except Exception as e:  # a runtime failure mid-run: the runtime's own words
            _reply(out, {"ok": False, "kind": "run", "error": f"{type(e).__name__}: {e}"})


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        serve(self.rfile, self.wfile)


def main(socket_path: str) -> None:
    os.dup2(2, 1)  # runtimes print to stdout; keep it with the logs
    with socketserver.ThreadingUnixStreamServer(socket_path, _Handler) as server:
        server.daemon_threads = True
        print(f"runtime bridge listening on {socket_path}", file=sys.stderr, flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
