"""``toolkit verify ARTIFACT --device aihub:NAME``: parity on a phone's own runtime and accelerator.

Host parity proves the file computes what PyTorch computes on the host's runtime; a phone may run the
same file through another kernel set or delegate (QNN on the NPU, the GPU delegate) with other numerics.
So one AI Hub inference job runs the photos on the phone, and the outputs are judged exactly as on the
host: the inputs are encoded by the I/O contract (:mod:`toolkit.runtimes.io`, the bytes the apps feed),
the outputs decoded by it, and :func:`toolkit.verify.verify_outputs` compares them with the PyTorch model
under the same tolerance table. The job is remembered in the results DB like a profile job, so a re-run
(or one after Ctrl-C) collects it instead of paying for another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import UsageError
from toolkit.profile.aihub import SERVICE, AIHubDevice, AIHubError, prepare, service_errors

__all__ = ["decode_outputs", "encode_photos", "verify_on_aihub", "verify_on_device"]


def encode_photos(manifest: Mapping[str, Any], images_nchw: np.ndarray) -> list[np.ndarray]:
    """One model input per photo, in the manifest's layout and dtype (the I/O contract)."""
    from toolkit.runtimes import to_layout
    from toolkit.runtimes.io import TensorSpec, encode

    spec = TensorSpec.from_manifest(manifest, "input")
    if spec.layout == "image":
        raise UsageError("this artifact takes platform images (Core ML); AI Hub runs .tflite and .onnx")
    x = to_layout(images_nchw, spec.layout)
    return [encode(x[i : i + 1], spec) for i in range(len(x))]


def decode_outputs(manifest: Mapping[str, Any], outputs: Mapping[str, list[np.ndarray]] | None) -> np.ndarray:
    """(N, classes) float32 scores from the job's output dataset, decoded by the manifest's output spec."""
    from toolkit.runtimes.io import TensorSpec, decode

    if not outputs or len(outputs) != 1:
        raise AIHubError(f"the inference job returned {len(outputs or {})} outputs; the model has one")
    spec = TensorSpec.from_manifest(manifest, "output")
    (arrays,) = outputs.values()
    return np.concatenate([decode(np.asarray(a), spec).reshape(1, -1) for a in arrays])


def _input_name(hub_model: Any, sample: np.ndarray, file: str) -> str:
    """The model's input name as the service reads the file; its dtype and shape must be the contract's."""
    specs = [t for graph in hub_model.input_spec.values() for t in graph]
    if len(specs) != 1:
        raise UsageError(f"AI Hub reads {len(specs)} inputs in {file}; a MobileNet artifact has one")
    t = specs[0]
    if t.dtype != sample.dtype.name or (t.shape is not None and tuple(t.shape) != sample.shape):
        raise UsageError(f"AI Hub reads {file}'s input as {t.dtype} {list(t.shape or [])}, its manifest says "
                         f"{sample.dtype.name} {list(sample.shape)}: re-export the artifact")  # fmt: skip
    return t.name


def verify_on_aihub(artifact: str | Path, device: AIHubDevice, *, images: Any = None, model: Any = None) -> Any:
    """Run the photos on ``device`` in one inference job and compare with PyTorch; returns a ParityReport."""
    from toolkit.data import Preprocessing
    from toolkit.verify import load_images, rebuild_model, verify_outputs

    art = prepare(Path(artifact))
    manifest = art.manifest
    model = model if model is not None else rebuild_model(manifest)
    prep = Preprocessing.from_dict(manifest["preprocessing"])
    x = load_images(images, int(manifest["variant"]["resolution"]), prep)
    samples = encode_photos(manifest, x)
    uploaded = device.model(art)
    with service_errors("read the model's inputs"):  # an upload's own Model object carries no I/O spec
        name = _input_name(device.client.get_model(uploaded.model_id), samples[0], art.path.name)
    digest = hashlib.sha256(b"".join(s.tobytes() for s in samples)).hexdigest()[:16]
    job = device.job(art, "inference", "", inputs={name: samples}, tag=f"inputs:{digest}")
    finished: dict[str, Any] = {}
    device.follow({art.path.name: job}, lambda label, job, status: finished.update(status=status))
    if not finished["status"].success:
        raise AIHubError(f"{art.path.name}: inference {device.record_failure(job, finished['status'])}")
    with service_errors(f"download the outputs of job {job.job_id}"):
        outputs = job.download_output_data()
    report = verify_outputs(model, x, decode_outputs(manifest, outputs), manifest["precision"])
    if device.store is not None:
        device.store.set_job_state(SERVICE, job.job_id, "succeeded")
    report.runtime = f"{art.runtime} on {device.name}"
    report.details["job"] = {"service": SERVICE, "id": job.job_id, "url": job.url}
    return report


def verify_on_device(
    artifact: Path,
    spec: str,
    *,
    images: Path | None = None,
    db: Path | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> Any:
    """``toolkit verify --device SPEC``: the job ids go to the results DB, so a re-run resumes."""
    from toolkit.profile.devices import device_kind, get_device
    from toolkit.profile.fanout import InterruptedRunError
    from toolkit.results import ResultsDB

    if device_kind(spec) != "aihub":
        raise UsageError(f"verify --device takes aihub:NAME (got {spec!r}); without it, parity is checked here")
    with ResultsDB(db) as store:
        device = get_device(spec, store=store, progress=progress)
        try:
            return verify_on_aihub(artifact, device, images=images)
        except KeyboardInterrupt:
            running = ", ".join(f"{j['job_id']} ({j['device']})" for j in store.jobs(SERVICE, ("submitted", "running")))
            raise InterruptedRunError(f"interrupted; still running on AI Hub: {running or 'nothing'}; re-run the "
                                      "same command to collect it") from None  # fmt: skip
