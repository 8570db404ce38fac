"""The ImageNet ``.h5`` download cache: sha256 and size recorded at download, checked on every later use.

Offline: ``urllib.request.urlopen`` is replaced by a server of fixed bytes (a minimal MobileNet-shaped
``.h5``); every step after the download must not touch it.
"""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import urllib.request

import numpy as np
import pytest

from toolkit.errors import ToolkitError
from toolkit.weights import IMAGENET_BASE_URL, download_record, fetch_imagenet, file_sha256, imagenet_filename

h5py = pytest.importorskip("h5py")
NAME = imagenet_filename(0.25, 128)


@pytest.fixture
def served(tmp_path, monkeypatch):
    """``{"bytes": .h5 content, "urls": requested}``: urlopen answers only with these bytes, for NAME's URL."""
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f.create_group("conv1").create_dataset("kernel", data=np.arange(27, dtype=np.float32).reshape(3, 3, 3, 1))
    state = {"bytes": src.read_bytes(), "urls": []}

    def urlopen(url, timeout=None):
        state["urls"].append(url)
        assert url == IMAGENET_BASE_URL + NAME
        response = io.BytesIO(state["bytes"])
        response.headers = {"Content-Length": str(len(state["bytes"]))}
        return response

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    return state


def test_first_download_records_sha256_and_size_and_later_uses_check_them_offline(served):
    path = fetch_imagenet(0.25, 128, progress=False)
    record = json.loads(download_record(path).read_text())
    assert path.read_bytes() == served["bytes"] and len(served["urls"]) == 1
    assert record["sha256"] == file_sha256(path) and record["size"] == len(served["bytes"])
    assert record["url"] == IMAGENET_BASE_URL + NAME
    assert fetch_imagenet(0.25, 128, progress=False) == path and len(served["urls"]) == 1  # cached, checked


@pytest.mark.parametrize("change", ["same size, one byte flipped", "truncated"])
def test_a_changed_cached_file_is_refused_with_the_command_that_clears_it(served, change):
    path = fetch_imagenet(0.25, 128, progress=False)
    data = bytearray(path.read_bytes())
    if change == "truncated":
        del data[-100:]
    else:
        data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ToolkitError) as e:
        fetch_imagenet(0.25, 128, progress=False)
    text = str(e.value)
    assert "\n" not in text and f"the cached {NAME} changed since it was downloaded" in text
    command = text.split("clear it and download it again: ")[1]
    subprocess.run(shlex.split(command), check=True)  # the command it names does clear it
    assert fetch_imagenet(0.25, 128, progress=False).read_bytes() == served["bytes"]
    assert len(served["urls"]) == 2


def test_a_file_cached_before_records_were_kept_is_checked_and_recorded(served, tmp_path):
    target = tmp_path / "cache" / "weights" / NAME
    target.parent.mkdir(parents=True)
    target.write_bytes(served["bytes"])
    assert fetch_imagenet(0.25, 128, progress=False) == target and served["urls"] == []
    assert json.loads(download_record(target).read_text())["sha256"] == file_sha256(target)
    target.write_bytes(served["bytes"][:-1] + b"\0")
    with pytest.raises(ToolkitError, match="changed since it was downloaded"):
        fetch_imagenet(0.25, 128, progress=False)
