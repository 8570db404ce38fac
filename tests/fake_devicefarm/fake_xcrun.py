"""A fake ``xcrun devicectl`` for Device Farm's iOS test host: the commands toolkit.profile.ios's devicectl words make.

The iPhone is tests/fake_ios's: its app container lives in ``$FAKE_XCRUN_STATE/<udid>/`` (``Documents/...``)
and ``device process launch`` runs that fake app's headless mode (``tests.fake_ios.run_app``: BenchCore's
argument rules, the I/O contract, ExecuTorch through the host runtime's strict ``run_raw``; Core ML ends
in the app's error file), here before returning, where the real app runs on its own after the launch.
``$FAKE_XCRUN_STATE/phones.json`` lists each phone's iOS version and installed apps.

Strict like devicectl: an unknown subcommand or option, a missing option value, a domain type other than
``appDataContainer``, an unknown device, an app not installed, a source that does not exist: exit 1 with
an ``ERROR:`` line. A copy ``from`` a file that does not exist fails (what the toolkit's poll relies on).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

STATE = Path(os.environ["FAKE_XCRUN_STATE"])
_VALUED = {"--device", "--domain-type", "--domain-identifier", "--source", "--destination"}


def fail(message: str) -> None:
    sys.stderr.write(f"ERROR: {message}\n")
    sys.exit(1)


def options(words: list[str], flags: set[str] = frozenset()) -> tuple[dict[str, str], list[str]]:
    """devicectl's ``--name value`` options and flags (any order); the remaining positional words."""
    found: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w == "--":
            return found, rest + words[i:]
        if w in flags:
            found[w] = "true"
        elif w in _VALUED:
            if i + 1 >= len(words) or words[i + 1].startswith("--"):
                fail(f"Missing value for '{w}'")
            found[w] = words[i + 1]
            i += 1
        elif w.startswith("-"):
            fail(f"Unknown option '{w}'")
        else:
            rest.append(w)
        i += 1
    return found, rest


def container(opts: dict[str, str]) -> Path:
    phones = json.loads((STATE / "phones.json").read_text())
    udid = opts.get("--device") or fail("Missing expected argument '--device <device>'")
    if udid not in phones:
        fail(f"The specified device was not found. (identifier: {udid})")
    bundle = opts.get("--domain-identifier")
    if opts.get("--domain-type") != "appDataContainer" or bundle not in phones[udid]["apps"]:
        fail(f"The requested data container could not be found: {opts.get('--domain-type')} {bundle}")
    return STATE / udid


def inside(root: Path, rel: str) -> Path:
    path = (root / rel).resolve()
    if not str(path).startswith(str(root.resolve()) + os.sep) or not rel.startswith("Documents/"):
        fail(f"The path is outside the app's Documents: {rel}")
    return path


def main(argv: list[str]) -> None:
    if argv[:2] != ["devicectl", "device"]:
        fail(f"unsupported command: xcrun {' '.join(argv[:3])}")
    if argv[2:4] in (["copy", "to"], ["copy", "from"]):
        opts, rest = options(argv[4:])
        if rest or not {"--source", "--destination"} <= set(opts):
            fail("copy needs --source and --destination and nothing else")
        root = container(opts)
        if argv[3] == "to":
            source, dest = Path(opts["--source"]), inside(root, opts["--destination"])
            if not source.exists():
                fail(f"The file “{source.name}” couldn’t be opened because there is no such file.")
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_dir():
                shutil.rmtree(dest)
            (shutil.copytree if source.is_dir() else shutil.copyfile)(source, dest)
        else:
            source = inside(root, opts["--source"])
            if not source.is_file():
                fail(f"The file “{source.name}” couldn’t be opened because there is no such file.")
            shutil.copyfile(source, opts["--destination"])
        return
    if argv[2:4] == ["process", "launch"]:
        opts, rest = options(argv[4:], flags={"--terminate-existing"})
        if len(rest) < 2 or rest[1] != "--":
            fail("launch needs the app's bundle identifier, then -- and the app's arguments")
        bundle, app_args = rest[0], rest[2:]
        root = container({**opts, "--domain-type": "appDataContainer", "--domain-identifier": bundle})
        from tests.fake_ios import FakePhone, run_app

        phone = json.loads((STATE / "phones.json").read_text())[opts["--device"]]
        run_app(FakePhone(opts["--device"], root / "Documents", ios_version=phone["ios_version"]), app_args)
        print(f"Launched application with {bundle} bundle identifier.")
        return
    fail(f"unsupported command: xcrun {' '.join(argv[:4])}")


if __name__ == "__main__":
    main(sys.argv[1:])
