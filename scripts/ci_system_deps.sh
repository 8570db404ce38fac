#!/usr/bin/env bash
# Debian packages and toolchains the test suite needs beyond Python: idempotent, quiet, safe to re-run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export DEBIAN_FRONTEND=noninteractive

# Headless Chromium renders the HTML report in a test.
if ! command -v chromium >/dev/null; then
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

# Android smoke build + JVM tests: aapt, apksigner, zipalign, dexdump, junit5, adb, android.jar, dx.
bash "$here/build_android_apk.sh" --deps-only

# Swift toolchain in a Debian trixie chroot (first time ~3 min, 2.6 GB; reused afterwards).
bash "$here/swift_test.sh" --setup-only
