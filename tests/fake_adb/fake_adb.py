"""A fake ``adb`` for tests: the real CLI protocol for the subset toolkit/profile/android.py uses.

Device state lives in ``$FAKE_ADB_STATE`` (see :mod:`tests.fake_adb.device`): ``state.json`` lists the
attached phones (serial, state, properties, installed app, thermal readings, scenario) and
``fs/<serial>/`` holds each phone's files under their device paths. ``am start`` of the benchmark
activity launches, in the background, a JVM running the app's own headless entry (benchcore's
``HeadlessBenchmark``, the code BenchmarkActivity calls) with the app's own runtime backends over fake
runtime classes that bridge to the host runtime (``java/``, ``runtime_bridge.py``); it writes the app's
result or error JSON where the real app would.

Supported: ``devices [-l]``, ``-s SERIAL``, ``shell`` (getprop, ls, cat, rm -f, mkdir -p, pm path,
dumpsys thermalservice, am start), ``push``, ``pull``, ``install``, ``logcat -c`` / ``logcat -d``.
Messages and exit codes follow adb's (``adb: device 'X' not found``, ``error: no devices/emulators found``).
At least as strict as a phone's shell: an unquoted shell metacharacter (``; & | < > $ ` ( )``) in a
``shell`` line is refused, since the device's sh would run it.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = "org.mobilenet.toolkit.demo"
STATE = Path(os.environ["FAKE_ADB_STATE"])


def load() -> dict:
    return json.loads((STATE / "state.json").read_text())


def save(state: dict) -> None:
    tmp = STATE / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, STATE / "state.json")


def host(serial: str, device_path: str) -> Path:
    return STATE / "fs" / serial / device_path.lstrip("/")


def fail(msg: str, code: int = 1) -> None:
    sys.stderr.write(msg + "\n")
    sys.exit(code)


def log(serial: str, line: str) -> None:
    path = STATE / "fs" / serial / ".logcat"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(line + "\n")


def main(argv: list[str]) -> None:
    with (STATE / "adb-calls.jsonl").open("a") as calls:  # for tests: what the host asked, word for word
        calls.write(json.dumps(argv) + "\n")
    serial = None
    while argv and argv[0] == "-s":
        serial, argv = argv[1], argv[2:]
    if not argv:
        fail("adb: usage: no command")
    state = load()
    devices = state["devices"]
    if argv[0] == "devices":
        print("List of devices attached")
        for s, d in devices.items():
            extra = f" usb:1-1 product:{d.get('product', 'fake')} model:{d['model']} device:fake transport_id:1"
            print(f"{s:<22} {d['state']}" + (extra if "-l" in argv else ""))
        print()
        return
    if serial is None:
        if not devices:
            fail("adb: no devices/emulators found")
        if len(devices) > 1:
            fail("adb: more than one device/emulator")
        serial = next(iter(devices))
    if serial not in devices:
        fail(f"adb: device '{serial}' not found")
    dev = devices[serial]
    if dev["state"] != "device":
        fail(f"adb: device {dev['state']}" if dev["state"] != "offline" else "adb: error: device offline")
    cmd, args = argv[0], argv[1:]
    if cmd == "shell":
        shell(state, serial, " ".join(args))
    elif cmd == "push":
        src, dest = Path(args[0]), host(serial, args[1])
        if not src.is_file():
            fail(f"adb: error: cannot stat '{src}': No such file or directory")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        print(f"{src}: 1 file pushed, 0 skipped. 100.0 MB/s ({src.stat().st_size} bytes in 0.001s)")
    elif cmd == "pull":
        src = host(serial, args[0])
        if not src.is_file():
            fail(f"adb: error: failed to stat remote object '{args[0]}': No such file or directory")
        shutil.copyfile(src, args[1])
        print(f"{args[0]}: 1 file pulled, 0 skipped.")
    elif cmd == "install":
        install(state, serial, next(a for a in args if not a.startswith("-")))
    elif cmd == "logcat":
        path = STATE / "fs" / serial / ".logcat"
        if "-c" in args:
            path.unlink(missing_ok=True)
        elif "-d" in args:
            print("--------- beginning of main")
            print(path.read_text() if path.exists() else "", end="")
    else:
        fail(f"adb: unknown command {cmd}")


def install(state: dict, serial: str, apk: str) -> None:
    print("Performing Streamed Install")
    try:
        with zipfile.ZipFile(apk) as z:
            names = set(z.namelist())
    except (OSError, zipfile.BadZipFile):
        fail("adb: failed to install: INSTALL_PARSE_FAILED_NOT_APK")
    if not {"AndroidManifest.xml", "classes.dex"} <= names:
        fail("adb: failed to install: Failure [INSTALL_PARSE_FAILED_MANIFEST_MALFORMED]")
    if shutil.which("aapt"):
        badging = subprocess.run(["aapt", "dump", "badging", apk], capture_output=True, text=True).stdout
        if f"package: name='{PACKAGE}'" not in badging:
            fail("adb: failed to install: Failure [INSTALL_FAILED_INVALID_APK]")
    state["devices"][serial]["installed"] = True
    save(state)
    print("Success")


_METACHARACTERS = set(";&|<>$`()\n")


def unquoted_metacharacters(line: str) -> set[str]:
    """Characters the device's sh would treat as syntax, outside single or double quotes."""
    found, quote, escaped = set(), None, False
    for c in line:
        if escaped:
            escaped = False
        elif c == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in _METACHARACTERS:
            found.add(c)
    return found


def shell(state: dict, serial: str, line: str) -> None:
    dev = state["devices"][serial]
    bad = unquoted_metacharacters(line)
    if bad:
        fail(f"fake adb: refusing a shell line with unquoted {''.join(sorted(bad))!r} (quote every argument): {line}")
    words = shlex.split(line)
    prog, args = words[0], words[1:]
    if prog == "getprop":
        props = dev["props"]
        if args:
            print(props.get(args[0], ""))
        else:
            for k, v in sorted(props.items()):
                print(f"[{k}]: [{v}]")
    elif prog == "ls":
        target = host(serial, args[-1])
        if not target.exists():
            fail(f"ls: {args[-1]}: No such file or directory")
        print("\n".join(sorted(p.name for p in target.iterdir())) if target.is_dir() else args[-1])
    elif prog == "cat":
        code = 0
        for pattern in args:
            matches = sorted(glob.glob(str(host(serial, pattern))))
            if not matches:
                sys.stderr.write(f"cat: {pattern}: No such file or directory\n")
                code = 1
            for m in matches:
                print(Path(m).read_text(), end="")
        sys.exit(code)
    elif prog == "rm":
        for p in args:
            if not p.startswith("-"):
                host(serial, p).unlink(missing_ok=True)
    elif prog == "mkdir":
        host(serial, args[-1]).mkdir(parents=True, exist_ok=True)
    elif prog == "pm" and args[:1] == ["path"]:
        if dev.get("installed"):
            print(f"package:/data/app/~~fake==/{PACKAGE}-1/base.apk")
        else:
            sys.exit(1)
    elif prog == "dumpsys" and args == ["thermalservice"]:
        print(thermal_dump(state, serial))
    elif prog == "am" and args[:1] == ["start"]:
        am_start(state, serial, args[1:])
    else:
        fail(f"/system/bin/sh: {prog}: not found", 127)


def thermal_dump(state: dict, serial: str) -> str:
    """Each call pops the next scripted temperature (the last one sticks): a phone cooling down."""
    dev = state["devices"][serial]
    temps = dev.get("skin_temps") or []
    if dev.get("no_thermal_hal"):
        return "IsStatusOverride: false\nThermal Status: 0\nHAL Ready: false\n"
    temp = temps[0] if temps else 30.0
    if len(temps) > 1:
        dev["skin_temps"] = temps[1:]
        save(state)
    return (
        "IsStatusOverride: false\nThermal Status: 1\nCached temperatures:\n"
        "\tTemperature{mValue=99.0, mType=0, mName=cached-cpu, mStatus=0}\n"
        "HAL Ready: true\nCurrent temperatures from HAL:\n"
        f"\tTemperature{{mValue={temp + 12.5}, mType=0, mName=cpu0-silver-usr, mStatus=0}}\n"
        f"\tTemperature{{mValue={temp - 1.0}, mType=2, mName=battery, mStatus=0}}\n"
        f"\tTemperature{{mValue={temp}, mType=3, mName=skin, mStatus=0}}\n"
        "Current cooling devices from HAL:\n\tCoolingDevice{mValue=0, mType=2, mName=battery}\n"
    )


_EXTRA_FLAGS = {"--es": "es", "--ei": "ei", "--ef": "ef", "--ez": "ez", "--el": "el"}


def am_extras(args: list[str]) -> dict[str, list]:
    """``--es/--ei/--ef/--ez/--el KEY VALUE`` parsed as ``am`` does (a bad number fails the start)."""
    extras: dict[str, list] = {}
    i = 0
    while i < len(args):
        flag = _EXTRA_FLAGS.get(args[i])
        if flag is None:
            raise ValueError(f"Error: Unknown option: {args[i]}")
        if i + 2 >= len(args):
            raise ValueError(f"Error: No value for {args[i]} {' '.join(args[i + 1 :])}")
        key, value = args[i + 1], args[i + 2]
        try:
            typed = {"ei": int, "el": int, "ef": float, "ez": lambda v: v.lower() in ("true", "t", "1"),
                     "es": str}[flag](value)  # fmt: skip
        except ValueError:
            raise ValueError(f"Error: Invalid value for {args[i]}: {value} (java.lang.NumberFormatException)") from None
        if flag == "ei" and not -(2**31) <= typed < 2**31:
            raise ValueError(f"Error: Invalid value for --ei: {value} (java.lang.NumberFormatException)")
        extras[key] = [flag, typed]
        i += 3
    return extras


def am_start(state: dict, serial: str, args: list[str]) -> None:
    force_stop = False
    while args and args[0] in ("-S", "-W"):
        force_stop |= args[0] == "-S"
        args = args[1:]
    if args[:1] != ["-n"] or len(args) < 2:
        print("Error: expected -n COMPONENT")
        return
    component, rest = args[1], args[2:]
    dev = state["devices"][serial]
    if component != f"{PACKAGE}/.BenchmarkActivity" or not dev.get("installed"):
        print(f"Starting: Intent {{ cmp={component} }}")
        print(f"Error type 3\nError: Activity class {{{component}}} does not exist.")
        return
    try:
        extras = am_extras(rest)
    except ValueError as e:
        print(str(e))
        return
    if force_stop:
        stop_app(state, serial)
    print(f"Starting: Intent {{ cmp={component} (has extras) }}")
    scenario = dev.get("scenario", "ok")
    if scenario == "unplug_on_start":
        del state["devices"][serial]
        save(state)
        return
    root = STATE / "fs" / serial
    if scenario == "never_write":  # the app hangs: it logs, then nothing
        log(serial, f"I/MobilenetBench(4242): run {extras.get('run_id', ['', '?'])[1]}: loading")
        log(serial, "W/MobilenetBench(4242): XNNPACK: waiting for the big cores (scripted hang)")
        return
    jvm = state["jvm"]
    (STATE / f"device-{serial}.json").write_text(json.dumps(dev))
    (STATE / f"extras-{serial}.json").write_text(json.dumps(extras))
    cmd = ["java", "-Xshare:auto", "-cp", jvm["classpath"], f"-Dfakephone.bridge.socket={jvm['bridge_socket']}",
           f"-Dfakephone.litert.version={jvm['litert_version']}", "org.mobilenet.toolkit.fakephone.FakePhoneMain",
           str(root), str(STATE / f"device-{serial}.json"), dev.get("photo") or jvm["photo"],
           str(STATE / f"extras-{serial}.json")]  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    with open(STATE / f"app-{serial}.stderr", "a") as err:  # the child keeps its own copy of the fd
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    state = load()
    state["devices"][serial]["app_pid"] = proc.pid
    save(state)


def stop_app(state: dict, serial: str) -> None:
    """``am start -S``: force-stop the app (its process group: the JVM and its runtime bridges)."""
    pid = state["devices"][serial].pop("app_pid", None)
    if pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        save(state)


if __name__ == "__main__":
    main(sys.argv[1:])
