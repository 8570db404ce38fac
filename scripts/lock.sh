#!/usr/bin/env bash
# Regenerate constraints.txt: the exact versions the test suite passed with.
#
# A fresh venv under /tmp gets torch first (the version the project tests), then the toolkit with every
# extra that installs alongside it, then the test suite runs in it; only when the suite passes is its
# `pip freeze` written to constraints.txt. Both README commands and .ci/run install with `-c constraints.txt`.
#
#   bash scripts/lock.sh                 # build the venv, run the suite, write constraints.txt
#   bash scripts/lock.sh --no-tests      # freeze without running the suite (to try a resolution)
#   LOCK_VENV=/tmp/x bash scripts/lock.sh  # reuse (or keep) a venv at that path
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
torch_version="2.13.0"
run_tests=1
[[ "${1:-}" == "--no-tests" ]] && run_tests=0

venv="${LOCK_VENV:-$(mktemp -d /tmp/toolkit-lock.XXXXXX)}"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip
# torch before the toolkit, so `torch>=2.5` is satisfied by the tested release (a CPU build where the
# index offers one) instead of whatever pip would pick.
"${pip[@]}" install "torch==$torch_version"
# One extra at a time, the most constrained first (litert-torch pins an older typing-extensions and pydantic):
# pip's resolver gives up ("resolution-too-deep") on [all] in one go, but each step only adds to what is
# there, and the final [all] step and `pip check` prove the whole set agrees.
for extra in tflite executorch onnx coreml keras report test all; do
  "${pip[@]}" install -e "$repo[$extra]"
done
# Extras outside `all` that still install beside it (the iPhone tools); one that conflicts, or that pip cannot
# resolve within 10 minutes, is left out and said so. The cloud-phone clients (aihub, devicefarm) are in `all`.
extras="all"
for extra in ios; do
  if timeout 600 "${pip[@]}" install -e "$repo[$extras,$extra]"; then
    extras="$extras,$extra"
  else
    echo "lock: the $extra extra did not install beside [$extras]; left out" >&2
  fi
done

"$venv/bin/python" -m pip check

if (( run_tests )); then
  (cd "$repo" && "$venv/bin/python" -m pytest -q -p no:cacheprovider)
fi

py="$("$venv/bin/python" -c 'import platform; print(platform.python_version())')"
{
  echo "# Tested versions: the environment the test suite passed in."
  echo "# Made by scripts/lock.sh on $(date -u +%Y-%m-%d) (Python $py, $(uname -sm)): a fresh venv, pip install"
  echo "# torch==$torch_version, then pip install -e \".[$extras]\" (one extra at a time), then pytest, then pip freeze."
  echo "# Use: pip install -c constraints.txt -e \".[executorch,onnx,report]\". Regenerate: bash scripts/lock.sh"
  echo "# torch is pinned without a local tag, so a CPU build (2.13.0+cpu) satisfies it as well as the default one."
  "$venv/bin/python" -m pip freeze --exclude-editable --disable-pip-version-check \
    | sed -E 's/^(torch==[^+]+)\+.*/\1/' | grep -v '^-e ' | LC_ALL=C sort -f
} > "$repo/constraints.txt.tmp"
mv "$repo/constraints.txt.tmp" "$repo/constraints.txt"
echo "lock: wrote $repo/constraints.txt ($(grep -vc '^#' "$repo/constraints.txt") packages) from $venv"
