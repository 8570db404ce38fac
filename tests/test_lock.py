"""The measurement lock with real processes: wait with a line, --no-wait, stale notes from killed or reused
pids taken over with a line, a living owner respected, re-entry within a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from toolkit.profile.lock import (
    LockBusyError,
    device_lock_name,
    measurement_lock,
    owner_alive,
    process_start_time,
)

HOLD = textwrap.dedent("""
    import sys, time
    from toolkit.profile.lock import measurement_lock
    with measurement_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(600)
""")


@pytest.fixture
def lock_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_LOCK_DIR", str(tmp_path))
    return {**os.environ, "TOOLKIT_LOCK_DIR": str(tmp_path)}


def _holder(env, name: str = "host") -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, name], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_no_wait_names_the_holder_and_waiting_says_for_whom(lock_env, tmp_path):
    holder = _holder(lock_env)
    try:
        busy = rf"host is being measured by pid {holder.pid} \(.*-c.*\) since"
        with pytest.raises(LockBusyError, match=busy), measurement_lock("host", wait=False):
            pass
        lines: list[str] = []
        got = threading.Event()

        def waiter() -> None:
            with measurement_lock("host", say=lines.append, poll_s=0.05):
                got.set()

        t = threading.Thread(target=waiter)
        t.start()
        deadline = time.monotonic() + 30
        while not lines and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not got.is_set() and lines == [
            f"waiting for the host measurement lock: held by pid {holder.pid} "
            f"({json.loads((tmp_path / 'host.lock').read_text())['command']}) "
            f"since {json.loads((tmp_path / 'host.lock').read_text())['since']}"
        ]
        holder.terminate()  # a clean exit releases it
        holder.wait()
        t.join(30)
        assert got.is_set()
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_is_stale_and_taken_over_with_a_line(lock_env, tmp_path):
    holder = _holder(lock_env, "android-ABC123")
    note = json.loads((tmp_path / "android-ABC123.lock").read_text())
    assert note["pid"] == holder.pid and note["start_time"] == process_start_time(holder.pid)
    holder.kill()  # SIGKILL: no clean release, the note stays
    holder.wait()
    lines: list[str] = []
    with measurement_lock("android-ABC123", wait=False, say=lines.append):
        assert json.loads((tmp_path / "android-ABC123.lock").read_text())["pid"] == os.getpid()
    assert lines == [
        f"took over the android-ABC123 measurement lock left by pid {holder.pid} ({note['command']}) "
        f"since {note['since']}: that process is gone"
    ]
    assert (tmp_path / "android-ABC123.lock").read_text() == ""  # released cleanly: nothing to take over


def test_a_reused_pid_is_told_apart_by_its_start_time(lock_env, tmp_path):
    me = process_start_time(os.getpid())
    reused = {"pid": os.getpid(), "start_time": me - 1, "command": "an old sweep", "since": "yesterday"}
    assert owner_alive({**reused, "start_time": me}) and not owner_alive(reused)
    (tmp_path / "host.lock").write_text(json.dumps({**reused, "pid": os.getppid(), "start_time": 1}))
    lines: list[str] = []
    with measurement_lock("host", wait=False, say=lines.append):
        pass
    assert lines == [
        f"took over the host measurement lock left by pid {os.getppid()} (an old sweep) since "
        "yesterday: that process is gone"
    ]


def test_a_living_owner_is_respected_even_without_its_flock(lock_env, tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        deadline = time.monotonic() + 10
        while process_start_time(sleeper.pid) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        note = {"pid": sleeper.pid, "start_time": process_start_time(sleeper.pid), "command": "x", "since": "now"}
        (tmp_path / "host.lock").write_text(json.dumps(note))  # no flock held: a file system without flock
        with pytest.raises(LockBusyError, match=f"pid {sleeper.pid}"), measurement_lock("host", wait=False):
            pass
    finally:
        sleeper.kill()
        sleeper.wait()
    with measurement_lock("host", wait=False, say=lambda line: None):  # once it is gone, the note is stale
        pass


def test_reentrant_in_one_process_and_names_per_device(lock_env):
    with measurement_lock("host"), measurement_lock("host", wait=False):
        pass
    with measurement_lock(None):
        pass
    assert device_lock_name({"kind": "host"}) == "host"
    assert device_lock_name({"kind": "android", "serial": "emulator-5554"}) == "android-emulator-5554"
    assert device_lock_name({"kind": "ios", "serial": None, "name": "My iPhone"}) == "ios-My_iPhone"
    assert device_lock_name({"kind": "android", "service": "aihub", "name": "S24"}) is None  # a cloud phone


def test_cli_no_wait_exits_75_in_one_line(lock_env, tmp_path, capsys):
    from tests._export_helpers import exported
    from toolkit.cli import main

    art = exported("onnx", 0.25, 32).path
    holder = _holder(lock_env)
    try:
        code = main(["profile", str(art), "--no-wait", "--no-store", "--iterations", "2", "--threads", "1"])
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert code == 75 and f"host is being measured by pid {holder.pid}" in err
