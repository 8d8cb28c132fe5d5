#!/usr/bin/env bash
# tbmqtt — syntax-checks every ESP-IDF-specific source (esp-mqtt transport, ESP-IDF platform and
# client, ESP-IDF and Arduino-as-component examples, the examples shared with Linux in
# examples/common) against the real ESP-IDF + esp-mqtt headers of v4.4 and v5.x, using the header
# sets and `check` script described in shared/esp-idf/README.md. Nothing is linked or run: this
# proves the sources compile against both config-struct layouts, no more.
# First, and without the headers, it checks that every Kconfig option is used by some code.
#
# Usage: tests/esp_idf/check.sh
# Environment: TBMQTT_ESP_IDF_HEADERS  directory holding `check` (default: ../shared/esp-idf
#              relative to the repository root). When it is absent the check prints
#              "SKIPPED" and exits 0, except with CI=true: then it fails.
#              CHECK_ERROR_LINES is passed through to `check`.
# Exit status: 0 when every file passes for every version (or skipped), 1 otherwise.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
headers="${TBMQTT_ESP_IDF_HEADERS:-${repo}/../shared/esp-idf}"

# Every Kconfig option must reach the code: as CONFIG_TBMQTT_<NAME> in a source or header
# (include/tbmqtt/config.hpp maps the limits), or in cmake/esp_idf_component.cmake.
unwired=0
while read -r name; do
  if ! grep -rqw "CONFIG_${name}" "${repo}/include" "${repo}/src" "${repo}/examples" &&
     ! grep -qw "CONFIG_${name}" "${repo}/cmake/esp_idf_component.cmake"; then
    echo "Kconfig option ${name} is not used by any code" >&2
    unwired=1
  fi
done < <(sed -n 's/^[[:space:]]*config[[:space:]]\+\(TBMQTT_[A-Z0-9_]*\).*/\1/p' "${repo}/Kconfig")
if (( unwired )); then
  echo "esp-idf Kconfig check: FAILED" >&2
  exit 1
fi
echo "esp-idf Kconfig check: every option is used"

if [[ ! -x "${headers}/check" ]]; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "esp-idf header check: FAILED (no headers at ${headers}; set TBMQTT_ESP_IDF_HEADERS; CI=true needs them)" >&2
    exit 1
  fi
  echo "esp-idf header check: SKIPPED (no headers at ${headers}; set TBMQTT_ESP_IDF_HEADERS)"
  exit 0
fi

cd "${repo}"
mapfile -t files < <(find src/transport/esp_mqtt src/platform/common src/platform/esp_idf src/platform/mbedtls examples/esp-idf examples/arduino examples/common \
                          -name '*.cpp' -type f 2>/dev/null | sort)
if (( ${#files[@]} == 0 )); then
  echo "esp-idf header check: no ESP-IDF sources found" >&2
  exit 1
fi

# Warnings are shown (not fatal: the host g++ is not the device compiler; see the README there).
wrapper="$(mktemp)"
trap 'rm -f "${wrapper}"' EXIT
printf '#!/bin/sh\nexec %s -Wall -Wextra "$@"\n' "${CXX:-g++}" >"${wrapper}"
chmod +x "${wrapper}"

echo "== esp-idf header check (${headers}): ${#files[@]} files x v4.4, v5.x"
# The Arduino sketches (examples/arduino) see a stand-in for Arduino.h and WiFi.h: their tbmqtt
# and ESP-IDF calls are checked against the real headers, their Arduino calls only against it.
# The header sets' sdkconfig.h is minimal: the esp-mqtt options the component's Kconfig selects
# (TBMQTT_ESP_MQTT_REQUIREMENTS) are given here, as a configured build has them.
CXX="${wrapper}" "${headers}/check" --version all -I include -I tests/esp_idf/arduino_stand_in \
  -D CONFIG_MQTT_MSG_ID_INCREMENTAL=1 -D CONFIG_MQTT_REPORT_DELETED_MESSAGES=1 "${files[@]}"
status=$?
if (( status == 0 )); then
  echo "esp-idf header check: OK"
else
  echo "esp-idf header check: FAILED" >&2
fi
exit "${status}"
