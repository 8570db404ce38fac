"""The Debian smoke build of the Android demo (scripts/build_android_apk.sh) and ``toolkit android install``.

The script builds a signed debug APK with aapt, javac, dx, zipalign and apksigner against the runtime
API stubs and checks it itself; these tests run it (as CI does) and re-check the APK independently:
v2 signature, manifest, app classes in the dex, stubs not, model assets stored uncompressed and
4-byte aligned. The APK cannot run here (no emulator); on-phone runs are not exercised in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.fake_adb.artifacts import phone_artifact
from tests.fake_adb.device import FakePhones
from toolkit._deps import HAS_EXECUTORCH, HAS_LITERT_TORCH, HAS_TFLITE_INTERPRETER

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "build_android_apk.sh"
TOOLS = ("aapt", "apksigner", "zipalign", "dexdump", "javac", "keytool")
_CAN_INSTALL = shutil.which("apt-get") is not None and (os.geteuid() == 0 or shutil.which("sudo") is not None)

pytestmark = pytest.mark.skipif(
    not (all(shutil.which(t) for t in TOOLS) or _CAN_INSTALL),
    reason="the APK smoke build needs Debian's aapt/apksigner/zipalign/dexdump and a JDK, and apt to install them",
)


def _build(out: Path, models: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = ["bash", str(SCRIPT), "--out", str(out)] + (["--models", str(models)] if models else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=900)


def _copy_with_sidecars(artifact: Path, dest: Path) -> None:
    for f in artifact.parent.glob(artifact.name + "*"):
        shutil.copy(f, dest / f.name)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """(output dir, script stdout, bundled model) for one build with a real exported model bundled."""
    if not (HAS_LITERT_TORCH and HAS_TFLITE_INTERPRETER):
        pytest.skip("needs the TFLite exporter to make the bundled model (pip install 'mobilenet-toolkit[tflite]')")
    models = tmp_path_factory.mktemp("models")
    model = phone_artifact("tflite")
    _copy_with_sidecars(model, models)
    out = tmp_path_factory.mktemp("apk")
    done = _build(out, models)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout, model


def test_script_checks_pass(built: tuple[Path, str, Path]) -> None:
    _, stdout, _ = built
    checks = [line for line in stdout.splitlines() if line.startswith("CHECK ok:")]
    assert len(checks) == 4, stdout
    assert "apksigner verify" in checks[0] and "aapt dump badging" in checks[1]
    assert "stubs absent" in checks[2] and "1 model asset(s) stored uncompressed" in checks[3]


def test_apk_is_signed_and_declares_the_app(built: tuple[Path, str, Path]) -> None:
    out, _, _ = built
    apk = out / "app-debug.apk"
    verify = subprocess.run(["apksigner", "verify", "--verbose", str(apk)], capture_output=True, text=True)
    assert verify.returncode == 0 and "Verified using v2 scheme (APK Signature Scheme v2): true" in verify.stdout
    badging = subprocess.run(["aapt", "dump", "badging", str(apk)], capture_output=True, text=True).stdout
    assert "package: name='org.mobilenet.toolkit.demo'" in badging
    assert "sdkVersion:'26'" in badging and "targetSdkVersion:'34'" in badging
    assert "launchable-activity: name='org.mobilenet.toolkit.demo.MainActivity'" in badging
    xml = subprocess.run(["aapt", "dump", "xmltree", str(apk), "AndroidManifest.xml"], capture_output=True,
                         text=True).stdout  # fmt: skip
    assert ".BenchmarkActivity" in xml or "org.mobilenet.toolkit.demo.BenchmarkActivity" in xml
    bench = xml.split("BenchmarkActivity", 1)[1].split("E: ", 1)[0]  # the activity's own attributes
    assert 'android:permission(0x01010006)="android.permission.DUMP"' in bench  # only the shell user may start it
    assert "android:exported(0x01010010)=(type 0x12)0xffffffff" in bench
    assert "NoDisplay" not in xml


def test_no_activity_uses_theme_nodisplay() -> None:
    """From targetSdk 23 an activity themed Theme.NoDisplay must finish before onResume returns: none may use it."""
    app = ROOT / "android_demo" / "app" / "src" / "main"
    for f in [app / "AndroidManifest.xml", *app.rglob("*.java")]:
        assert 'Theme.NoDisplay"' not in f.read_text() and "Theme_NoDisplay" not in f.read_text(), f


def test_dex_holds_app_and_core_but_no_runtime_stubs(built: tuple[Path, str, Path]) -> None:
    out, _, _ = built
    classes = set((out / "dex_classes.txt").read_text().split())
    for name in ("demo/MainActivity", "demo/BenchmarkActivity", "demo/ExecuTorchBackend", "demo/LiteRtBackend",
                 "bench/Stats", "bench/Preprocess", "bench/JsonReport", "bench/BenchmarkLoop"):  # fmt: skip
        assert f"Lorg/mobilenet/toolkit/{name};" in classes
    assert not [c for c in classes if c.startswith(("Lorg/pytorch/", "Lorg/tensorflow/"))]
    # ... while the stubs were compiled (the exclusion is real, not a missing directory).
    assert (out / "work" / "stubs" / "org" / "pytorch" / "executorch" / "Module.class").is_file()
    assert (out / "work" / "stubs" / "org" / "tensorflow" / "lite" / "Interpreter.class").is_file()


def test_model_asset_stored_uncompressed_and_aligned(built: tuple[Path, str, Path]) -> None:
    out, _, model = built
    apk = out / "app-debug.apk"
    with zipfile.ZipFile(apk) as z:
        info = z.getinfo(f"assets/models/{model.name}")
        assert info.compress_type == zipfile.ZIP_STORED
        assert z.read(info) == model.read_bytes()
        assert z.getinfo(f"assets/models/{model.name}.manifest.json").file_size > 0
        assert z.getinfo("assets/images/chelsea_cat.jpg").file_size > 10_000  # the benchmark's input photo
    with apk.open("rb") as f:  # data offset = local header (30 bytes) + name + extra
        f.seek(info.header_offset + 26)
        name_len, extra_len = struct.unpack("<HH", f.read(4))
    assert (info.header_offset + 30 + name_len + extra_len) % 4 == 0


def test_model_without_manifest_is_refused(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "orphan.tflite").write_bytes(b"TFL3")
    done = _build(tmp_path / "out", models)
    assert done.returncode != 0 and "orphan.tflite has no manifest beside it" in done.stderr


def test_gradle_pins_match_the_app_and_python_executorch() -> None:
    from importlib import metadata

    gradle = (ROOT / "android_demo" / "app" / "build.gradle").read_text()
    versions = (ROOT / "android_demo/app/src/main/java/org/mobilenet/toolkit/demo/Versions.java").read_text()
    et = re.search(r'executorchVersion = "([^"]+)"', gradle).group(1)
    lite = re.search(r'litertVersion = "([^"]+)"', gradle).group(1)
    assert f'EXECUTORCH = "{et}"' in versions and f'LITERT = "{lite}"' in versions
    assert "org.pytorch:executorch-android:$executorchVersion" in gradle
    assert "com.google.ai.edge.litert:litert:$litertVersion" in gradle
    if HAS_EXECUTORCH:
        assert et.split(".")[:2] == metadata.version("executorch").split(".")[:2]


def test_android_install_puts_the_built_apk_on_the_phone(
    built: tuple[Path, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.cli import main

    phones = FakePhones(tmp_path / "phones")
    phones.add("FAKE01", installed=False)
    phones.add("FAKE02", installed=False)
    for key, value in phones.env().items():
        monkeypatch.setenv(key, value)
    apk = built[0] / "app-debug.apk"
    assert main(["android", "install", "--apk", str(apk)]) == 1  # two phones, no --serial
    assert main(["android", "install", "--apk", str(apk), "--serial", "FAKE02"]) == 0
    state = phones.read()["devices"]
    assert state["FAKE02"]["installed"] and not state["FAKE01"]["installed"]
    not_apk = tmp_path / "x.apk"
    not_apk.write_bytes(b"not a zip")
    assert main(["android", "install", "--apk", str(not_apk), "--serial", "FAKE01"]) == 1


def test_android_install_without_an_apk_says_how_to_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit.cli import devices, main

    monkeypatch.setattr(devices, "APK_CANDIDATES", (tmp_path / "none.apk",))
    assert main(["android", "install"]) == 1
    assert "./gradlew assembleDebug" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not HAS_EXECUTORCH, reason="needs executorch (pip install 'mobilenet-toolkit[executorch]')")
def test_bundled_pte_is_stored_uncompressed(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    pte = phone_artifact("executorch")
    _copy_with_sidecars(pte, models)
    done = _build(tmp_path / "out", models)
    assert done.returncode == 0, done.stderr[-3000:]
    with zipfile.ZipFile(tmp_path / "out" / "app-debug.apk") as z:
        assert z.getinfo(f"assets/models/{pte.name}").compress_type == zipfile.ZIP_STORED
