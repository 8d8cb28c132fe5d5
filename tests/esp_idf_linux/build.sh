#!/usr/bin/env bash
# tbmqtt — builds ESP-IDF examples with the real ESP-IDF (v5.5.5) for IDF_TARGET=linux: the
# component, FreeRTOS (POSIX port), esp-mqtt, esp-tls, mbedTLS and NVS (on an emulated flash file)
# compiled by the host gcc into one executable per example.
#
# Usage: tests/esp_idf_linux/build.sh [EXAMPLE...]   (default: every example that runs on linux,
#        then the test apps of tests/esp_idf_linux/apps)
# Prints one line per example: EXAMPLE PATH_TO_ELF (the build is in build-idf/EXAMPLE/).
# Environment: TBMQTT_ESP_IDF_LINUX  the ESP-IDF tree (default ../shared/esp-idf-linux relative to
#                                    the repository: the directory holding env.sh and esp-idf/).
#              TBMQTT_IDF_BUILD_DIR  where the builds go (default build-idf in the repository).
#              CI=true               a missing ESP-IDF tree is a failure; otherwise it is a skip
#                                    (exit status 77).
# Every build shares one sdkconfig.defaults (this directory) and ccache, with CCACHE_BASEDIR set to
# the directory holding both the repository and the ESP-IDF tree, so the ESP-IDF objects compiled
# for the first example are cache hits for every further one.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
idf_tree="${TBMQTT_ESP_IDF_LINUX:-${repo}/../shared/esp-idf-linux}"
out="${TBMQTT_IDF_BUILD_DIR:-${repo}/build-idf}"

if [[ ! -f "${idf_tree}/env.sh" || ! -d "${idf_tree}/esp-idf" ]]; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "esp-idf linux: no ESP-IDF tree at ${idf_tree} (set TBMQTT_ESP_IDF_LINUX): FAILED" >&2
    exit 1
  fi
  echo "esp-idf linux: SKIPPED (no ESP-IDF tree at ${idf_tree}; set TBMQTT_ESP_IDF_LINUX)" >&2
  exit 77
fi
idf_tree="$(cd "${idf_tree}" && pwd)"
# shellcheck disable=SC1091
. "${idf_tree}/env.sh"

# Every example that runs on the linux target: all of them (firmware_update downloads into a
# file-backed sink there; its activation and rollback are chip-only).
all_examples() {
  local d
  for d in "${repo}"/examples/esp-idf/*/main; do
    d="${d%/main}"
    basename "${d}"
  done
  for d in "${here}"/apps/*/main; do
    d="${d%/main}"
    basename "${d}"
  done
}
if (( $# > 0 )); then examples=("$@"); else mapfile -t examples < <(all_examples); fi

# ccache shared across examples: paths under the common parent of the repository and the ESP-IDF
# tree are rewritten relative to each build directory (all at the same depth), and the build
# directory itself is not hashed.
common_parent() {
  local a="$1" b="$2"
  while [[ "${b}/" != "${a}/"* ]]; do a="$(dirname "${a}")"; done
  printf '%s\n' "${a}"
}
ccache_args=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(common_parent "${repo}" "${idf_tree}")}"
  export CCACHE_NOHASHDIR=1
  ccache_args=(-DCCACHE_ENABLE=1)
fi

mkdir -p "${out}"
status=0
for example in "${examples[@]}"; do
  src="${repo}/examples/esp-idf/${example}"
  [[ -f "${src}/CMakeLists.txt" ]] || src="${here}/apps/${example}"
  dir="${out}/${example}"
  if [[ ! -f "${src}/CMakeLists.txt" ]]; then
    echo "esp-idf linux: no example ${example}" >&2
    status=1
    continue
  fi
  mkdir -p "${dir}"
  started=${SECONDS}
  # sdkconfig lives in the build directory, never in the example's source directory.
  # shellcheck disable=SC2086
  if ! cmake -S "${src}" -B "${dir}" ${IDF_CMAKE_ARGS} -DIDF_TARGET=linux "${ccache_args[@]}" \
        -DSDKCONFIG="${dir}/sdkconfig" -DSDKCONFIG_DEFAULTS="${here}/sdkconfig.defaults" \
        >"${dir}/configure.log" 2>&1; then
    tail -n 30 "${dir}/configure.log" >&2
    echo "esp-idf linux: ${example}: configure FAILED (${dir}/configure.log)" >&2
    status=1
    continue
  fi
  if ! ninja -C "${dir}" >"${dir}/build.log" 2>&1; then
    grep -E 'error|Error' "${dir}/build.log" | head -n 30 >&2
    echo "esp-idf linux: ${example}: build FAILED (${dir}/build.log)" >&2
    status=1
    continue
  fi
  elf="$(find "${dir}" -maxdepth 1 -name '*.elf' | head -n 1)"
  if [[ -z "${elf}" ]]; then
    echo "esp-idf linux: ${example}: no .elf in ${dir}" >&2
    status=1
    continue
  fi
  printf '%s %s\n' "${example}" "${elf}"
  echo "esp-idf linux: ${example} built in $((SECONDS - started)) s" >&2
done
exit "${status}"
