#!/usr/bin/env bash
# Smoke build of the Android demo without Gradle: a signed debug APK made with Debian's aapt, javac,
# dx, zipalign and apksigner against the runtime API stubs (android_demo/stubs, left out of the dex),
# then checked with `apksigner verify`, `aapt dump badging`, `dexdump` and `aapt list -v`.
# The real-phone build is Gradle (android_demo/README.md); this proves the sources compile against
# android.jar (API 23) and package correctly. Installs its own Debian packages when missing
# (apt, as root or through sudo). android.jar + dx come from Debian bullseye, falling back to the
# vendored .debs in ../shared/vendor/debian (relative to the repo root) or $VENDOR_DEBS.
#
# Usage: scripts/build_android_apk.sh [--models DIR] [--out DIR] [--deps-only]
#   --models DIR  bundle every .pte/.tflite in DIR (each with its .manifest.json and labels) as assets
#                 (the app runs only these two formats; anything else in DIR is left out)
#   --out DIR     output directory (default: build/android); the APK is DIR/app-debug.apk
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$ROOT/build/android"
MODELS=""
DEPS_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --models) MODELS=$(cd "$2" && pwd); shift 2 ;;
    --out) mkdir -p "$2"; OUT=$(cd "$2" && pwd); shift 2 ;;
    --deps-only) DEPS_ONLY=1; shift ;;
    *) echo "usage: $0 [--models DIR] [--out DIR] [--deps-only]" >&2; exit 2 ;;
  esac
done

PKG=org.mobilenet.toolkit.demo
VENDOR_DEBS=${VENDOR_DEBS:-$ROOT/../shared/vendor/debian}
if [ -z "${ANDROID_MIN:-}" ]; then
  if [ -w /opt ] || [ -w /opt/android-min ]; then ANDROID_MIN=/opt/android-min
  else ANDROID_MIN="${XDG_CACHE_HOME:-$HOME/.cache}/mobilenet-toolkit/android-min"; fi
fi
AJ="$ANDROID_MIN/usr/share/java/com.android.android-23.jar"
DX="$ANDROID_MIN/usr/share/java/com.android.dx-10.0.0.jar"
JUNIT=/usr/share/java/junit-platform-console-standalone.jar

log() { echo "[build_android_apk] $*" >&2; }
die() { echo "[build_android_apk] error: $*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then command -v sudo >/dev/null && SUDO="sudo -n"; fi

install_tools() {
  local need=()
  # adb is not needed to build; it is installed here so the same step readies `toolkit android install`.
  for tool in aapt apksigner zipalign dexdump adb; do command -v "$tool" >/dev/null || need+=("$tool"); done
  [ -f "$JUNIT" ] || need+=(junit5)
  command -v javac >/dev/null || need+=(default-jdk-headless)
  [ ${#need[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing ${need[*]} and no apt-get; install them by hand"
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 || {
    $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  }
}

# android.jar (API 23) and dx exist only in bullseye (and sid): fetch with apt in a private state dir.
fetch_android_min() {
  [ -f "$AJ" ] && [ -f "$DX" ] && return 0
  local tmp; tmp=$(mktemp -d)
  mkdir -p "$ANDROID_MIN" "$tmp/lists/partial" "$tmp/cache/archives/partial"
  local uri=""
  [ -f /etc/apt/sources.list.d/debian.sources ] && uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  [ -z "$uri" ] && [ -f /etc/apt/sources.list ] && uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
  uri=${uri:-http://deb.debian.org/debian}
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bullseye main" > "$tmp/sources.list"
  local o=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
           -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache")
  if command -v apt-get >/dev/null && apt-get "${o[@]}" update -qq >/dev/null 2>&1 \
     && (cd "$tmp" && apt-get "${o[@]}" download libandroid-23-java dalvik-exchange >/dev/null 2>&1); then
    log "android.jar + dx from bullseye ($uri)"
  else
    log "bullseye unreachable; using the vendored .debs in $VENDOR_DEBS"
    [ -f "$VENDOR_DEBS/SHA256SUMS" ] || die "no bullseye and no $VENDOR_DEBS/SHA256SUMS"
    (cd "$VENDOR_DEBS" && sha256sum -c --quiet SHA256SUMS) || die "vendored .debs fail their SHA256SUMS"
    cp "$VENDOR_DEBS"/libandroid-23-java_*.deb "$VENDOR_DEBS"/dalvik-exchange_*.deb "$tmp/"
  fi
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$ANDROID_MIN"; done
  rm -rf "$tmp"
  [ -f "$AJ" ] && [ -f "$DX" ] || die "android.jar or dx missing after unpacking into $ANDROID_MIN"
}

install_tools
fetch_android_min
[ "$DEPS_ONLY" = 1 ] && { log "dependencies ready (ANDROID_MIN=$ANDROID_MIN)"; exit 0; }

START=$(date +%s.%N)
APP="$ROOT/android_demo/app/src/main"
W="$OUT/work"
rm -rf "$W"
mkdir -p "$W"/{gen,obj,stubs,apk,assets/images,assets/models}

# Assets: one real photo (the headless benchmark's default input) and optional exported models.
cp "$ROOT/toolkit/assets/images/chelsea_cat.jpg" "$W/assets/images/"
if [ -n "$MODELS" ]; then
  shopt -s nullglob
  for model in "$MODELS"/*.pte "$MODELS"/*.tflite; do
    [ -f "$model.manifest.json" ] || die "$(basename "$model") has no manifest beside it ($model.manifest.json)"
    cp "$model" "$model.manifest.json" "$W/assets/models/"
    [ -f "$model.labels.txt" ] && cp "$model.labels.txt" "$W/assets/models/"
  done
  shopt -u nullglob
fi

JAVAC=(javac -nowarn -encoding UTF-8 -source 8 -target 8 -bootclasspath "$AJ" -Xlint:-options)
# -0: store models uncompressed so the runtimes can mmap them straight from the APK.
# The manifest is AGP 8 style (no package, no uses-sdk): add what Gradle would from app/build.gradle.
sed "s|<manifest xmlns:android=\"http://schemas.android.com/apk/res/android\">|<manifest xmlns:android=\"http://schemas.android.com/apk/res/android\" package=\"$PKG\">|" \
  "$APP/AndroidManifest.xml" > "$W/AndroidManifest.xml"
grep -q "package=\"$PKG\"" "$W/AndroidManifest.xml" || die "could not set the package in the manifest"
aapt package -f -m --debug-mode --min-sdk-version 26 --target-sdk-version 34 --version-code 1 \
  --version-name 0.1.0 -J "$W/gen" -M "$W/AndroidManifest.xml" -S "$APP/res" -A "$W/assets" \
  -0 pte -0 tflite -I "$AJ" -F "$W/apk/app.unsigned.apk"
"${JAVAC[@]}" -d "$W/stubs" $(find "$ROOT/android_demo/stubs/src" -name '*.java')
"${JAVAC[@]}" -cp "$W/stubs" -d "$W/obj" \
  $(find "$ROOT/android_demo/benchcore/src/main/java" "$APP/java" "$W/gen" -name '*.java')
java -cp "$DX" com.android.dx.command.Main --dex --min-sdk-version=26 --output="$W/apk/classes.dex" "$W/obj"
(cd "$W/apk" && aapt add app.unsigned.apk classes.dex >/dev/null)
zipalign -f -p 4 "$W/apk/app.unsigned.apk" "$W/apk/app.aligned.apk"
KS="$OUT/debug.keystore"
[ -f "$KS" ] || keytool -genkeypair -keystore "$KS" -storepass android -keypass android -alias androiddebugkey \
  -keyalg RSA -keysize 2048 -validity 10000 -dname "CN=Android Debug,O=Android,C=US" >/dev/null 2>&1
apksigner sign --ks "$KS" --ks-pass pass:android --out "$OUT/app-debug.apk.tmp" "$W/apk/app.aligned.apk"
mv "$OUT/app-debug.apk.tmp" "$OUT/app-debug.apk"
rm -f "$OUT/app-debug.apk.tmp.idsig"
BUILD_S=$(echo "$(date +%s.%N) - $START" | bc 2>/dev/null || echo "?")

# ---- checks: each prints "CHECK ok: ..." or fails the script ----
APK="$OUT/app-debug.apk"
apksigner verify --verbose "$APK" > "$OUT/apksigner.txt" || die "apksigner verify failed"
grep -q "Verified using v2 scheme (APK Signature Scheme v2): true" "$OUT/apksigner.txt" \
  || die "APK is not v2-signed"
echo "CHECK ok: apksigner verify (v2 signature)"

aapt dump badging "$APK" > "$OUT/badging.txt"
grep -q "^package: name='$PKG'" "$OUT/badging.txt" || die "badging: package is not $PKG"
grep -q "^sdkVersion:'26'" "$OUT/badging.txt" || die "badging: minSdk is not 26"
grep -q "^launchable-activity: name='$PKG.MainActivity'" "$OUT/badging.txt" || die "badging: no launcher activity"
grep -q "^application-debuggable" "$OUT/badging.txt" || die "badging: not debuggable"
echo "CHECK ok: aapt dump badging (package $PKG, minSdk 26, launcher MainActivity, debuggable)"

dexdump "$W/apk/classes.dex" | sed -n "s/^ *Class descriptor *: *'\(.*\)'/\1/p" | sort > "$OUT/dex_classes.txt"
for cls in MainActivity BenchmarkActivity ExecuTorchBackend LiteRtBackend Models; do
  grep -qx "Lorg/mobilenet/toolkit/demo/$cls;" "$OUT/dex_classes.txt" || die "dex lacks app class $cls"
done
for cls in Stats Preprocess JsonReport BenchmarkLoop ModelManifest; do
  grep -qx "Lorg/mobilenet/toolkit/bench/$cls;" "$OUT/dex_classes.txt" || die "dex lacks core class $cls"
done
if grep -E '^L(org/pytorch|org/tensorflow)/' "$OUT/dex_classes.txt"; then die "runtime stubs leaked into the dex"; fi
echo "CHECK ok: dexdump ($(wc -l < "$OUT/dex_classes.txt") classes; app + core present, stubs absent)"

aapt list -v "$APK" > "$OUT/apk_list.txt"
n_models=0
while read -r line; do
  case "$line" in
    *assets/models/*.pte|*assets/models/*.tflite)
      n_models=$((n_models + 1))
      echo "$line" | grep -q " Stored " || die "model stored compressed: $line" ;;
  esac
done < "$OUT/apk_list.txt"
echo "CHECK ok: $n_models model asset(s) stored uncompressed"
echo "APK $APK ($(stat -c %s "$APK") bytes, built in ${BUILD_S}s)"
