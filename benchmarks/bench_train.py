"""Training throughput (images/s): the toolkit loop vs a plain eager PyTorch loop, ± channels_last / compile.

Usage: ``python benchmarks/bench_train.py [--alphas 0.25 0.5 1.0] [--resolution 128] [--steps 6]
[--batch-size 16] [--threads 2] [--compile]``. Writes ``benchmarks/out/bench_train.json``.

All loops train on the same images: sklearn digits written as an ImageFolder and upscaled to ρ. The
plain loops read them from memory (no decoding, no augmentation), so they bound what the model
costs; the toolkit row is ``toolkit.train.train`` itself, with PNG decoding, augmentation and the
DataLoader, measured over its training steps only (validation excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _machine as bm

from tests._digits import write_digits
from toolkit.imagefolder import ImageDataset, scan_image_folder
from toolkit.models.mobilenet_v1 import MobileNetV1
from toolkit.train import TrainConfig, train
from toolkit.training.recipe import make_optimizer

__all__ = ["main"]


def plain_loop(alpha: float, x: torch.Tensor, y: torch.Tensor, steps: int, batch: int, *, channels_last: bool,
               compile_model: bool) -> tuple[float, float]:  # fmt: skip
    """(images/s over timed steps, seconds of the first, warm-up step incl. compilation)."""
    torch.manual_seed(0)
    model = MobileNetV1(alpha, 10, resolution=x.shape[-1]).train()
    cfg = TrainConfig(data=Path("."), alpha=alpha, resolution=x.shape[-1], weights="random", batch_size=batch)
    opt = make_optimizer(model, cfg)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    fwd = torch.compile(model) if compile_model else model

    def step(i: int) -> None:
        sl = slice((i * batch) % (len(x) - batch), (i * batch) % (len(x) - batch) + batch)
        loss = torch.nn.functional.cross_entropy(fwd(x[sl]), y[sl])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t0 = time.perf_counter()
    step(0)
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(1, steps + 1):
        step(i)
    return steps * batch / (time.perf_counter() - t0), warm


def toolkit_loop(
    alpha: float, data: Path, res: int, steps: int, batch: int, workers: int, channels_last: bool
) -> float:
    out = Path(tempfile.mkdtemp()) / "bench.safetensors"
    cfg = TrainConfig(data=data, alpha=alpha, resolution=res, weights="random", output=out, epochs=1, batch_size=batch,
                      hflip=False, workers=workers, progress=False, channels_last=channels_last,
                      max_time=None)  # fmt: skip
    # One epoch over a subset sized to `steps` batches.
    result = train(cfg)
    return result.history[0]["train_images_per_s"]


def _subset(root: Path, dst: Path, n_per_class: int) -> Path:
    import shutil

    for split, n in (("train", n_per_class), ("val", 2)):
        for cls in sorted((root / split).iterdir()):
            (dst / split / cls.name).mkdir(parents=True, exist_ok=True)
            for p in sorted(cls.iterdir())[:n]:
                shutil.copy(p, dst / split / cls.name / p.name)
    return dst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alphas", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False)  # >12 min here
    ap.add_argument("--quick", action="store_true", help="α 0.25 at ρ 64, 2 steps of 8 (a smoke run)")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/out/bench_train.json)")
    args = ap.parse_args(argv)
    if args.quick:
        args.alphas, args.resolution, args.steps, args.batch_size, args.compile = [0.25], 64, 2, 8, False
    run = bm.start("bench_train", args.quick, argv)
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp())
    full = write_digits(tmp / "digits", side=32)
    n_per_class = max(1, (args.steps + 1) * args.batch_size // 10 + 1)
    data = _subset(full, tmp / "sub", n_per_class)
    split = scan_image_folder(data)
    ds = ImageDataset(split.train, args.resolution)
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = torch.tensor([s[1] for s in split.train])
    rows = []
    for alpha in args.alphas:
        row = {"alpha": alpha, "resolution": args.resolution, "batch": args.batch_size, "threads": args.threads}
        row["plain_eager"], _ = plain_loop(
            alpha, x, y, args.steps, args.batch_size, channels_last=False, compile_model=False
        )
        row["plain_channels_last"], _ = plain_loop(alpha, x, y, args.steps, args.batch_size, channels_last=True,
                                                   compile_model=False)  # fmt: skip
        if args.compile:
            ips, warm = plain_loop(alpha, x, y, args.steps, args.batch_size, channels_last=False, compile_model=True)
            row["plain_compiled"], row["compile_seconds"] = ips, warm
        row["toolkit"] = toolkit_loop(alpha, data, args.resolution, args.steps, args.batch_size, args.workers, False)
        rows.append(row)
        print(json.dumps(row), flush=True)
    table = _table(rows, args)
    print(bm.markdown(table))
    print(f"wrote {bm.finish(run, tables=[table], data={'rows': rows}, out=args.out)}")
    return 0


def _table(rows: list[dict], args: argparse.Namespace) -> dict:
    cols = ["plain_eager", "plain_channels_last", *(["plain_compiled"] if args.compile else []), "toolkit"]
    names = {"plain_eager": "plain eager", "plain_channels_last": "plain channels_last",
             "plain_compiled": "plain torch.compile", "toolkit": "toolkit loop"}  # fmt: skip
    title = f"images/s at ρ {args.resolution}, batch {args.batch_size}, {args.threads} threads"
    return bm.table(title, ["α", *(names[c] for c in cols)], [[f"{r['alpha']:g}", *(f"{r[c]:.1f}" for c in cols)]
                                                              for r in rows])  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
