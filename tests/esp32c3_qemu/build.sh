#!/usr/bin/env bash
# Builds ESP-IDF examples as ESP32-C3 firmware images with the esp32c3-qemu kit and merges
# bootloader + partition table + otadata + app into a 4 MB flash image.
#   tests/esp32c3_qemu/build.sh OUT_DIR PROJECT_DIR [PROJECT_DIR...]
# prints "NAME OUT_DIR/NAME/flash.bin" for each project (NAME = the project directory's name, or
# TBMQTT_IMAGE_NAME when one project is given). Connection settings come from the TBMQTT_*
# environment variables and are compiled in (examples/esp-idf/common). Extra sdkconfig lines
# come from TBMQTT_SDKCONFIG_EXTRA (a file), the app version (esp_app_desc, what OTA reports) from
# TBMQTT_PROJECT_VER (default: IDF's, from git). The kit is ../shared/esp32c3-qemu or TBMQTT_ESP32C3_QEMU.
# Every image shares the IDF objects through ccache (CCACHE_DIR, default ~/.cache/ccache).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:?usage: build.sh OUT_DIR PROJECT_DIR...}; shift
[ $# -gt 0 ] || { echo "usage: build.sh OUT_DIR PROJECT_DIR..." >&2; exit 2; }
kit=${TBMQTT_ESP32C3_QEMU:-$root/../shared/esp32c3-qemu}
[ -f "$kit/env.sh" ] || { echo "esp32c3-qemu kit not found at $kit (set TBMQTT_ESP32C3_QEMU)" >&2; exit 3; }
kit=$(cd "$kit" && pwd)
# shellcheck disable=SC1091
. "$kit/env.sh"
mkdir -p "$out"; out=$(cd "$out" && pwd)
# One base directory above the repository and the kit: ccache hashes paths relative to it.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(cd "$root/.." && pwd)}
export CCACHE_NOHASHDIR=1
command -v ccache >/dev/null || { echo "ccache is needed (apt-get install ccache)" >&2; exit 3; }

for project in "$@"; do
  project=$(cd "$project" && pwd)
  name=$(basename "$project")
  [ $# -eq 1 ] && [ -n "${TBMQTT_IMAGE_NAME:-}" ] && name=$TBMQTT_IMAGE_NAME
  dir="$out/$name"
  mkdir -p "$dir"
  defaults="$kit/sdkconfig.defaults.qemu;$here/sdkconfig.defaults"
  [ -f "$project/sdkconfig.defaults" ] && defaults="$defaults;$project/sdkconfig.defaults"
  if [ -n "${TBMQTT_SDKCONFIG_EXTRA:-}" ]; then
    cp "$TBMQTT_SDKCONFIG_EXTRA" "$dir/sdkconfig.extra"
    defaults="$defaults;$dir/sdkconfig.extra"
  fi
  # sdkconfig is generated from the defaults every time, so a changed default always applies.
  rm -f "$dir/sdkconfig"
  version=()
  [ -n "${TBMQTT_PROJECT_VER:-}" ] && version=(-DPROJECT_VER="$TBMQTT_PROJECT_VER")
  if ! cmake -S "$project" -B "$dir/idf" $IDF_CMAKE_ARGS -DCCACHE_ENABLE=1 -DSDKCONFIG="$dir/sdkconfig" \
      -DSDKCONFIG_DEFAULTS="$defaults" "${version[@]}" >"$dir/cmake.log" 2>&1; then
    tail -n 40 "$dir/cmake.log" >&2; echo "$name: cmake failed ($dir/cmake.log)" >&2; exit 1
  fi
  if ! ninja -C "$dir/idf" >"$dir/build.log" 2>&1; then
    grep -E 'error|FAILED' "$dir/build.log" | head -n 40 >&2; echo "$name: build failed ($dir/build.log)" >&2; exit 1
  fi
  (cd "$dir/idf" && $ESPTOOL --chip esp32c3 merge_bin --fill-flash-size 4MB -o "$dir/flash.bin" @flash_args) \
    >"$dir/merge.log" 2>&1 || { cat "$dir/merge.log" >&2; exit 1; }
  echo "$name $dir/flash.bin"
done
