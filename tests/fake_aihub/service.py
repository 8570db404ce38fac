"""Qualcomm AI Hub's service, in memory, behind the installed qai-hub client (0.56.0).

qai-hub sends every request through the functions of ``qai_hub.public_rest_api`` (protobuf messages in
and out); qai-hub's own test suite stubs exactly those (``mock.patch("qai_hub.client.api....")``).
:class:`FakeHub` replaces the same functions, so everything above them is the installed client's own
code: ``Client``, ``Device``, ``Model``, ``InferenceJob``, ``JobStatus``, the profile dict from
``_profile_pb_to_python_dict``, the h5 dataset codec, the mapping of HTTP failures to ``UserError`` /
``InternalError``. Only the network and Qualcomm's phones are faked.

As strict as the service where the toolkit could get it wrong: every call checks the API token (401,
which the client turns into "Failed to authenticate"), unknown ids are 404, unknown job options 400,
a job on a device the service does not offer is refused, and an inference job runs the uploaded model
on the host runtime (onnxruntime / LiteRT), which rejects any input whose name, dtype or shape is not
the model's, failing the job with the runtime's message as the service would. What a phone measures
(per-inference times, layers' compute units) is scripted per device: see ``times_us`` and ``fail``.
"""

from __future__ import annotations

import collections
import itertools
import shlex
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import qai_hub.public_api_pb2 as api_pb
import qai_hub.public_rest_api as rest
import requests
from google.protobuf.timestamp_pb2 import Timestamp
from qai_hub.api_utils import get_type_value_from_str
from qai_hub.public_rest_api import APIException
from qai_hub.util.dataset_entries_converters import dataset_entries_to_h5, h5_to_dataset_entries

__all__ = ["DEVICES", "HUB_VERSION", "FakeHub"]

HUB_VERSION = "aihub-2025.09.25.0"
_ANDROID = ["format:phone", "framework:onnx", "framework:qnn", "framework:tflite", "os:android"]
# (name, os, attributes) as AI Hub lists them; two OS versions of one phone, and a non-phone.
DEVICES = (
    ("Samsung Galaxy S24", "14", [*_ANDROID, "chipset:qualcomm-snapdragon-8gen3", "vendor:samsung"]),
    ("Samsung Galaxy S24 Ultra", "14", [*_ANDROID, "chipset:qualcomm-snapdragon-8gen3", "vendor:samsung"]),
    ("Samsung Galaxy S23", "13", [*_ANDROID, "chipset:qualcomm-snapdragon-8gen2", "vendor:samsung"]),
    ("Samsung Galaxy S23", "14", [*_ANDROID, "chipset:qualcomm-snapdragon-8gen2", "vendor:samsung"]),
    ("Google Pixel 8", "14", [*_ANDROID, "chipset:google-tensor-g3", "vendor:google"]),
    ("Snapdragon X Elite CRD", "11", ["format:compute", "framework:onnx", "framework:qnn", "os:windows",
                                      "chipset:qualcomm-snapdragon-x-elite"]),
)  # fmt: skip
_OPTIONS = {"--max_profiler_iterations": int, "--max_profiler_time": int, "--compute_unit": str}
_ORT_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int8)": "int8",
               "tensor(uint8)": "uint8"}  # fmt: skip


def _now(offset_s: int = 0) -> Timestamp:
    return Timestamp(seconds=int(time.time()) + offset_s)


def _not_found(what: str, ident: str) -> APIException:
    return APIException(f"{what} ID '{ident}' could not be found.", status_code=404, url="https://fake-hub.invalid")


class FakeHub:
    """The service's state; ``install(monkeypatch)`` puts it behind ``qai_hub`` with a config file."""

    def __init__(self, root: Path, token: str = "tok-FAKE-0123456789abcdef") -> None:
        self.root, self.token = root, token
        root.mkdir(parents=True, exist_ok=True)
        self.devices = [api_pb.Device(name=n, os=o, attributes=a) for n, o, a in DEVICES]
        self.times_us: dict[str, list[int] | None] = {}  # per device; None = an estimate-only profile
        self.fail: dict[str, str] = {}  # device → failure reason of every job there
        self.garble: set[str] = set()  # devices whose accelerator returns the scores shifted by one class
        self.hold = False  # jobs stay "measuring" until released (a long queue on the service)
        self.on_submit: Any = None  # called with each new job id (outside the service's lock)
        self.offline = False
        self.calls: collections.Counter[str] = collections.Counter()
        self.models: dict[str, dict[str, Any]] = {}
        self.datasets: dict[str, dict[str, list[np.ndarray]]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # ---- setup -------------------------------------------------------------------------------
    def write_config(self, token: str | None = None) -> Path:
        """qai-hub's client.ini as ``qai-hub configure`` writes it (verbose on, as by default)."""
        ini = self.root / "client.ini"
        ini.write_text(f"[api]\napi_token = {token or self.token}\napi_url = https://fake-hub.invalid\n"
                       "web_url = https://fake-hub.invalid\nverbose = True\n")  # fmt: skip
        return ini

    def install(self, monkeypatch: Any, *, config: bool = True) -> FakeHub:
        if config:
            monkeypatch.setenv("QAIHUB_CLIENT_INI", str(self.write_config()))
        for name in (
            "get_device_list",
            "create_and_upload_model",
            "get_model",
            "create_and_upload_dataset",
            "get_dataset",
            "download_dataset",
            "create_inference_job",
            "get_job",
            "get_job_results",
        ):
            monkeypatch.setattr(rest, name, getattr(self, name))  # fmt: skip
        return self

    def _enter(self, config: rest.ClientConfig, name: str) -> None:
        self.calls[name] += 1
        if self.offline:
            raise requests.exceptions.ConnectionError("Failed to establish a new connection")
        if config.api_token != self.token:
            raise APIException(status_code=401, url=config.api_url)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):07d}"

    # ---- devices -----------------------------------------------------------------------------
    def get_device_list(self, config, name="", os="", attributes=None, select=False) -> api_pb.DeviceList:
        with self._lock:
            self._enter(config, "get_device_list")
            found = [d for d in self.devices if (not name or d.name == name) and (not os or d.os == os)
                     and set(attributes or ()) <= set(d.attributes)]  # fmt: skip
            if select and found:
                found = [max(found, key=lambda d: tuple(int(x) for x in d.os.split(".")))]
            return api_pb.DeviceList(devices=found, total_query_count=len(found))

    # ---- models ------------------------------------------------------------------------------
    def create_and_upload_model(self, config, path, model_type, name=None, project_id=None, verbose=None,
                                is_directory=False, **_: Any) -> api_pb.CreateUpdateResponse:  # fmt: skip
        with self._lock:
            self._enter(config, "create_and_upload_model")
            src = Path(path)
            expected = {".tflite": api_pb.MODEL_TYPE_TFLITE, ".onnx": api_pb.MODEL_TYPE_ONNX}.get(src.suffix)
            if expected != model_type:
                raise APIException("Model type does not match the uploaded file.", status_code=400)
            model_id = self._new_id("m")
            copy = self.root / f"{model_id}{src.suffix}"
            shutil.copyfile(src, copy)
            inputs, outputs = _io_specs(copy)
            self.models[model_id] = {"path": copy, "name": name or src.name, "type": model_type,
                                     "inputs": inputs, "outputs": outputs}  # fmt: skip
            return api_pb.CreateUpdateResponse(id=model_id, creation_time=_now())

    def _model_pb(self, model_id: str) -> api_pb.Model:
        m = self.models[model_id]
        return api_pb.Model(model_id=model_id, name=m["name"], model_type=m["type"], creation_time=_now(),
                            input_spec=_tensor_list(m["inputs"]), output_spec=_tensor_list(m["outputs"]))  # fmt: skip

    def get_model(self, config, model_id) -> api_pb.Model:
        with self._lock:
            self._enter(config, "get_model")
            if model_id not in self.models:
                raise _not_found("Model", model_id)
            return self._model_pb(model_id)

    # ---- datasets ----------------------------------------------------------------------------
    def create_and_upload_dataset(self, config, path, name, permanent=False, project_id=None, verbose=None,
                                  **_: Any) -> api_pb.CreateUpdateResponse:  # fmt: skip
        with self._lock:
            self._enter(config, "create_and_upload_dataset")
            with h5py.File(path, "r") as f:
                entries = h5_to_dataset_entries(f)
            dataset_id = self._new_id("d")
            self.datasets[dataset_id] = dict(entries)
            return api_pb.CreateUpdateResponse(id=dataset_id, creation_time=_now(), expiration_time=_now(30 * 86400))

    def get_dataset(self, config, dataset_id) -> api_pb.Dataset:
        with self._lock:
            self._enter(config, "get_dataset")
            if dataset_id not in self.datasets:
                raise _not_found("Dataset", dataset_id)
            return api_pb.Dataset(dataset_id=dataset_id, name="outputs", creation_time=_now(),
                                  expiration_time=_now(30 * 86400))  # fmt: skip

    def download_dataset(self, config, dataset_id, file_path, verbose=None, **_: Any) -> str:
        with self._lock:
            self._enter(config, "download_dataset")
            if dataset_id not in self.datasets:
                raise _not_found("Dataset", dataset_id)
            with h5py.File(file_path, "w") as f:
                dataset_entries_to_h5(self.datasets[dataset_id], f)
            return file_path

    # ---- jobs --------------------------------------------------------------------------------
    def create_inference_job(self, config, inference_job_pb, project_id=None) -> api_pb.CreateUpdateResponse:
        with self._lock:
            self._enter(config, "create_inference_job")
            pb = api_pb.InferenceJob()
            pb.CopyFrom(inference_job_pb)
            if pb.model.model_id not in self.models:
                raise _not_found("Model", pb.model.model_id)
            if pb.HasField("dataset") and pb.dataset.dataset_id not in self.datasets:
                raise _not_found("Dataset", pb.dataset.dataset_id)
            device = next((d for d in self.devices if d.name == pb.device.name and d.os == pb.device.os), None)
            if device is None:
                raise APIException(f"Device {pb.device.name} ({pb.device.os}) is not available.", status_code=400)
            options = _parse_options(pb.options)
            job_id = self._new_id("j")
            pb.inference_job_id = job_id
            pb.device.CopyFrom(device)
            pb.model.CopyFrom(self._model_pb(pb.model.model_id))
            pb.creation_time.CopyFrom(_now())
            self.jobs[job_id] = {"pb": pb, "polls": 0, "options": options, "result": None}
            response = api_pb.CreateUpdateResponse(id=job_id, creation_time=pb.creation_time)
        if self.on_submit is not None:
            self.on_submit(job_id)
        return response

    def get_job(self, config, job_id) -> api_pb.Job:
        with self._lock:
            self._enter(config, "get_job")
            if job_id not in self.jobs:
                raise _not_found("Job", job_id)
            job = self.jobs[job_id]
            job["polls"] += 1
            pb = job["pb"]
            running = (
                api_pb.JOB_STATE_MEASURING_PERFORMANCE if pb.is_profiling_on else api_pb.JOB_STATE_RUNNING_INFERENCE
            )
            states = (api_pb.JOB_STATE_CREATED, api_pb.JOB_STATE_PROVISIONING_DEVICE, running)
            if job["polls"] <= len(states):
                pb.job_state = states[job["polls"] - 1]
            elif job["result"] is None and not self.hold:
                self._finish(job)
            return api_pb.Job(inference_job=pb, hub_version=HUB_VERSION)

    def _finish(self, job: dict[str, Any]) -> None:
        pb = job["pb"]
        reason = self.fail.get(pb.device.name)
        if reason is None and not pb.is_profiling_on:
            reason = self._infer(job)
        if reason is not None:
            pb.job_state, pb.failure_reason = api_pb.JOB_STATE_FAILED, reason
            job["result"] = api_pb.JobResult(
                inference_job_result=api_pb.InferenceJobResult(inference_job_id=pb.inference_job_id)
            )
            return
        pb.job_state = api_pb.JOB_STATE_DONE
        pb.completion_time.CopyFrom(_now())
        model = self.models[pb.model.model_id]
        pb.tensor_type_list.CopyFrom(_tensor_list(model["inputs"]))
        result = api_pb.InferenceJobResult(inference_job_id=pb.inference_job_id)
        if pb.is_profiling_on:
            result.detail.CopyFrom(self._profile(pb, model, job["options"]))
        else:
            result.output_dataset_id = job["outputs"]
        job["result"] = api_pb.JobResult(inference_job_result=result)

    def _infer(self, job: dict[str, Any]) -> str | None:
        """Run the uploaded model on every sample of the job's dataset; a failure is the job's reason."""
        pb = job["pb"]
        model = self.models[pb.model.model_id]
        entries = self.datasets[pb.dataset.dataset_id]
        names = [name for name, _, _ in model["inputs"]]
        if list(entries) != names:
            return f"Dataset inputs {list(entries)} do not match the model's inputs {names}."
        try:
            outs = [_run(model["path"], {n: entries[n][i] for n in names}) for i in range(len(entries[names[0]]))]
        except Exception as e:  # the runtime's own refusal, as on the phone
            return f"Failed to run inference: {type(e).__name__}: {str(e).splitlines()[0]}"
        if pb.device.name in self.garble:
            outs = [[np.roll(t, 1, axis=-1) for t in o] for o in outs]
        dataset_id = self._new_id("d")
        self.datasets[dataset_id] = {n: [o[k] for o in outs] for k, (n, _, _) in enumerate(model["outputs"])}
        job["outputs"] = dataset_id
        return None

    def _profile(self, pb: api_pb.InferenceJob, model: dict[str, Any], options: dict[str, Any]) -> api_pb.ProfileDetail:
        n = options.get("--max_profiler_iterations", 100)
        name = pb.device.name
        times = self.times_us.get(name, [1800 + 37 * (i % 7) + (i * 13) % 5 for i in range(n)])
        units = options.get("--compute_unit", "all")
        unit = api_pb.COMPUTE_UNIT_CPU if units == "cpu" else api_pb.COMPUTE_UNIT_NPU
        detail = api_pb.ProfileDetail(major_version=1, minor_version=8 if times is not None else 1,
                                      execution_time=min(times) if times else 1795,
                                      after_execution_peak_memory=12_582_912, cold_load_time=412_000,
                                      warm_load_time=31_000, after_cold_load_peak_memory=20_971_520)  # fmt: skip
        detail.execution_memory.peak.lower, detail.execution_memory.peak.upper = 8_388_608, 12_582_912
        if times is not None:
            detail.all_execution_times.extend(times)
        for i, op in enumerate(_ops(model["path"])):
            detail.layer_details.append(api_pb.LayerDetail(
                name=f"{op}_{i}", layer_type_name=op, id=f":0:{i}", execution_time=40 + (i * 7) % 50,
                compute_unit=api_pb.COMPUTE_UNIT_CPU if op in ("SOFTMAX", "Softmax") else unit))  # fmt: skip
        return detail

    def get_job_results(self, config, job_id) -> api_pb.JobResult:
        with self._lock:
            self._enter(config, "get_job_results")
            job = self.jobs.get(job_id)
            if job is None or job["result"] is None:
                raise _not_found("Job", job_id)
            return job["result"]


def _parse_options(text: str) -> dict[str, Any]:
    words, out = shlex.split(text), {}
    for flag, value in zip(words[::2], words[1::2], strict=False):
        if flag not in _OPTIONS:
            raise APIException(f"Unknown option {flag}.", status_code=400)
        out[flag] = _OPTIONS[flag](value)
    if len(words) % 2:
        raise APIException(f"Option {words[-1]} needs a value.", status_code=400)
    return out


def _tensor_list(specs: list[tuple[str, str, list[int]]]) -> api_pb.NamedTensorTypeList:
    return api_pb.NamedTensorTypeList(types=[
        api_pb.NamedTensorType(name=n, tensor_type=api_pb.TensorType(shape=s, dtype=get_type_value_from_str(d)))
        for n, d, s in specs])  # fmt: skip


def _io_specs(path: Path) -> tuple[list, list]:
    """(name, dtype, shape) of the model's inputs and outputs, read by its runtime as the service does."""
    if path.suffix == ".onnx":
        import onnxruntime as ort

        s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        spec = lambda ts: [(t.name, _ORT_DTYPES[t.type], list(t.shape)) for t in ts]  # noqa: E731
        return spec(s.get_inputs()), spec(s.get_outputs())
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    spec = lambda ds: [(d["name"], np.dtype(d["dtype"]).name, [int(x) for x in d["shape"]]) for d in ds]  # noqa: E731
    return spec(it.get_input_details()), spec(it.get_output_details())


def _run(path: Path, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    if path.suffix == ".onnx":
        import onnxruntime as ort

        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], feed[d["name"]])  # LiteRT refuses another dtype or shape
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def _ops(path: Path) -> list[str]:
    """The model's operators in execution order: what a per-layer profile lists."""
    if path.suffix == ".onnx":
        import onnx

        return [node.op_type for node in onnx.load(str(path)).graph.node]
    from ai_edge_litert.interpreter import Interpreter

    return [op["op_name"] for op in Interpreter(model_path=str(path))._get_ops_details()]
