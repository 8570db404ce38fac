"""The committed Gradle wrapper (android_demo/gradlew, gradle/wrapper/): the official jar, and it really runs.

Gradle's servers are unreachable here, so the wrapper is run against a local stand-in distribution
(a zip whose launcher prints its arguments): that exercises the committed gradlew script and jar end to
end, including the distribution checksum the wrapper enforces.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ANDROID = ROOT / "android_demo"
# The official Gradle 8.7/8.8 wrapper jar (Gradle publishes it as gradle-8.7-wrapper.jar.sha256); the jar
# here was taken from the npm package @react-native-community/template 0.75.5, which ships it unmodified.
WRAPPER_JAR_SHA256 = "cb0da6751c2b753a16ac168bb354870ebb1e162e9083f116729cec9c781156b8"

pytestmark = pytest.mark.skipif(not (shutil.which("java") and shutil.which("javac")), reason="needs a JDK")


def _props() -> dict[str, str]:
    lines = (ANDROID / "gradle/wrapper/gradle-wrapper.properties").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_the_wrapper_is_the_official_jar_and_asks_for_gradle_8_7_or_newer() -> None:
    jar = ANDROID / "gradle/wrapper/gradle-wrapper.jar"
    assert hashlib.sha256(jar.read_bytes()).hexdigest() == WRAPPER_JAR_SHA256
    props = _props()
    version = props["distributionUrl"].rsplit("gradle-", 1)[1].removesuffix("-bin.zip")
    assert tuple(int(x) for x in version.split(".")[:2]) >= (8, 7)  # AGP 8.5 needs Gradle 8.7+
    assert len(props["distributionSha256Sum"]) == 64
    assert (ANDROID / "gradlew").stat().st_mode & 0o111  # executable for ./gradlew
    assert (ANDROID / "gradlew.bat").read_bytes().count(b"\r\n") > 10  # cmd.exe wants CRLF


def _fake_distribution(tmp: Path) -> Path:
    """gradle-X-bin.zip with one launcher class that prints the arguments it was started with."""
    src = tmp / "src/org/gradle/launcher/GradleMain.java"
    src.parent.mkdir(parents=True)
    src.write_text("package org.gradle.launcher;\npublic class GradleMain { public static void main(String[] a) {"
                   ' System.out.println("fake gradle ran: " + String.join(" ", a)); } }\n')  # fmt: skip
    subprocess.run(["javac", "-d", str(tmp / "classes"), str(src)], check=True)
    launcher = tmp / "gradle-launcher-8.7.jar"
    with zipfile.ZipFile(launcher, "w") as z:
        z.write(tmp / "classes/org/gradle/launcher/GradleMain.class", "org/gradle/launcher/GradleMain.class")
    dist = tmp / "gradle-8.7-bin.zip"
    with zipfile.ZipFile(dist, "w") as z:
        for folder in ("gradle-8.7/", "gradle-8.7/lib/"):  # the wrapper creates folders from their entries
            z.writestr(folder, "")
        z.write(launcher, "gradle-8.7/lib/gradle-launcher-8.7.jar")
    return dist


def _project(tmp: Path, dist: Path, sha256: str) -> Path:
    project = tmp / "project"
    (project / "gradle/wrapper").mkdir(parents=True)
    shutil.copy2(ANDROID / "gradlew", project / "gradlew")
    shutil.copy2(ANDROID / "gradle/wrapper/gradle-wrapper.jar", project / "gradle/wrapper/gradle-wrapper.jar")
    props = {**_props(), "distributionUrl": dist.as_uri().replace(":", "\\:"), "distributionSha256Sum": sha256}
    (project / "gradle/wrapper/gradle-wrapper.properties").write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    return project


def test_gradlew_downloads_verifies_and_starts_a_distribution(tmp_path: Path) -> None:
    dist = _fake_distribution(tmp_path)
    good = hashlib.sha256(dist.read_bytes()).hexdigest()
    project = _project(tmp_path, dist, good)
    env = {"PATH": "/usr/bin:/bin", "GRADLE_USER_HOME": str(tmp_path / "home"), "HOME": str(tmp_path)}
    java = shutil.which("java")
    env["JAVA_HOME"] = str(Path(java).resolve().parents[1])
    done = subprocess.run(["./gradlew", "--version"], cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "fake gradle ran: --version" in done.stdout
    shutil.rmtree(tmp_path / "home")
    bad = _project(tmp_path / "bad", dist, "0" * 64)
    done = subprocess.run(["./gradlew", "--version"], cwd=bad, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Verification of Gradle distribution failed" in done.stderr + done.stdout
