#!/usr/bin/env bash
# Build and test ios_demo/BenchCore with Swift 6 on Linux, inside a Debian trixie chroot, and syntax-check the
# SwiftUI/Core ML app sources with `swiftc -parse` (type-checking them needs macOS).
#
# Why a chroot: Debian 12 has no Swift; trixie ships `swiftlang` 6.0.x. The chroot is created once (~1-3 min,
# ~3.2 GB) and reused; a marker file says it is complete, so an interrupted creation is redone, not trusted.
#
# Usage (as root):  scripts/swift_test.sh [--setup-only] [--no-parse] [--filter REGEX]
# Environment:
#   SWIFT_CHROOT      chroot directory (default /opt/trixie)
#   DEBIAN_MIRROR     Debian mirror (default: the host's apt source, else http://deb.debian.org/debian)
#   BENCHCORE_OUT     host directory; the Swift tests write their JSON outputs there (golden stats, report)
set -euo pipefail

ROOT="${SWIFT_CHROOT:-/opt/trixie}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$HERE/ios_demo"
MARKER="$ROOT/.swift-ready"
SETUP_ONLY=0
PARSE=1
FILTER=""
while [ $# -gt 0 ]; do
  case "$1" in
    --setup-only) SETUP_ONLY=1 ;;
    --no-parse) PARSE=0 ;;
    --filter) FILTER="$2"; shift ;;
    *) echo "swift_test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

if [ "$(id -u)" -ne 0 ]; then
  echo "swift_test.sh: needs root (debootstrap, chroot, mount)" >&2
  exit 77
fi

mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb"{for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# One run at a time per chroot: mounts and the shared build directory are not safe to share.
exec 9>"$ROOT.lock"
flock 9

MOUNTED=()
cleanup() {
  local i
  for ((i=${#MOUNTED[@]}-1; i>=0; i--)); do
    umount "${MOUNTED[$i]}" 2>/dev/null || umount -l "${MOUNTED[$i]}" 2>/dev/null || true
  done
  MOUNTED=()
}
trap cleanup EXIT INT TERM

mount_proc() {
  # Already mounted means a run was killed before its trap ran; we hold the lock, so take it over and
  # unmount it at exit like our own.
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  MOUNTED+=("$ROOT/proc")
}

create_chroot() {
  local uri
  uri=$(mirror)
  echo "swift_test.sh: creating trixie chroot at $ROOT from $uri (one time, ~1-3 min, ~3.2 GB)" >&2
  if ! command -v debootstrap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >/dev/null \
      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >/dev/null; }
  fi
  if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    # A half-made tree from an interrupted debootstrap is not trusted: start it again.
    if mountpoint -q "$ROOT/proc"; then umount "$ROOT/proc" || umount -l "$ROOT/proc"; fi
    rm -rf --one-file-system "$ROOT"
    debootstrap --variant=minbase trixie "$ROOT" "$uri" >/dev/null
  fi
  echo "deb $uri trixie main" > "$ROOT/etc/apt/sources.list"
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  mount_proc
  chroot "$ROOT" apt-get update >/dev/null
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends swiftlang libc6-dev >/dev/null
  chroot "$ROOT" apt-get clean
  chroot "$ROOT" swift --version >&2
  touch "$MARKER"
}

if [ ! -f "$MARKER" ]; then
  create_chroot
fi
mount_proc
[ "$SETUP_ONLY" -eq 1 ] && { echo "swift_test.sh: chroot ready at $ROOT" >&2; exit 0; }

# Copy (not bind-mount) the sources so the host tree never gets a .build directory; keep the build cache
# inside the chroot so repeated runs are incremental.
rm -rf "$ROOT/src/ios_demo" "$ROOT/out"
mkdir -p "$ROOT/src" "$ROOT/out" "$ROOT/var/cache/benchcore-build"
tar -C "$HERE" --exclude='.build' --exclude='.swiftpm' -cf - ios_demo | tar -C "$ROOT/src" -xf -

status=0
args=(swift test --package-path /src/ios_demo/BenchCore --scratch-path /var/cache/benchcore-build)
[ -n "$FILTER" ] && args+=(--filter "$FILTER")
chroot "$ROOT" env HOME=/root BENCHCORE_OUT=/out "${args[@]}" || status=$?

if [ "$PARSE" -eq 1 ]; then
  mapfile -t app_sources < <(cd "$ROOT" && [ -d src/ios_demo/App ] && find src/ios_demo/App -name '*.swift' | sort)
  if [ "${#app_sources[@]}" -gt 0 ]; then
    if chroot "$ROOT" swiftc -parse "${app_sources[@]/#//}"; then
      echo "swift_test.sh: swiftc -parse OK on ${#app_sources[@]} app sources" >&2
    else
      echo "swift_test.sh: swiftc -parse FAILED on app sources" >&2
      status=1
    fi
  fi
fi

if [ -n "${BENCHCORE_OUT:-}" ]; then
  mkdir -p "$BENCHCORE_OUT"
  cp -r "$ROOT/out/." "$BENCHCORE_OUT/"
fi
exit "$status"
