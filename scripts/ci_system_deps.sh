#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: idempotent, quiet, safe to re-run.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
