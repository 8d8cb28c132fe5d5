#!/usr/bin/env bash
# Builds ESP32-C3 firmware images (the examples and the QEMU job apps) with the esp32c3-qemu kit,
# boots them in the kit's QEMU against the project's emulator and checks what arrived there
# (test_qemu.py). Usage: tests/esp32c3_qemu/run.sh HOST_BUILD_DIR [unittest args]
# HOST_BUILD_DIR has the emulator plugin and admin tool. Without the kit (../shared/esp32c3-qemu
# or TBMQTT_ESP32C3_QEMU) this is skipped, and fails with CI=true.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
host_build=$(cd "${1:?usage: run.sh HOST_BUILD_DIR [unittest args]}" && pwd)
shift
kit=${TBMQTT_ESP32C3_QEMU:-$root/../shared/esp32c3-qemu}
if [ ! -f "$kit/env.sh" ] || [ ! -x "$kit/boot.sh" ]; then
  if [ "${CI:-}" = true ]; then
    echo "esp32c3-qemu kit missing at $kit (TBMQTT_ESP32C3_QEMU): required with CI=true" >&2
    exit 1
  fi
  echo "ESP32-C3 in QEMU: skipped (no esp32c3-qemu kit at $kit; set TBMQTT_ESP32C3_QEMU)"
  exit 0
fi
export TBMQTT_ESP32C3_QEMU=$(cd "$kit" && pwd)
images=${TBMQTT_QEMU_IMAGES:-$root/build-qemu/test}
mkdir -p "$images"
PY=/usr/bin/python3
port=${TBMQTT_QEMU_PORT:-$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
# The guest reaches the host's loopback broker as 10.0.2.2 (QEMU user networking).
export TBMQTT_URI="mqtt://10.0.2.2:$port"
for v in TBMQTT_TOKEN TBMQTT_USERNAME TBMQTT_PASSWORD TBMQTT_CLIENT_ID TBMQTT_PROVISION_KEY \
         TBMQTT_PROVISION_SECRET TBMQTT_CA_FILE TBMQTT_CERT_FILE TBMQTT_KEY_FILE TBMQTT_PROJECT_VER; do
  unset "$v"
done

image() {  # image NAME PROJECT [VAR=VALUE...]
  local name=$1 project=$2
  shift 2
  env "$@" TBMQTT_IMAGE_NAME="$name" "$here/build.sh" "$images" "$project" >/dev/null
}
start=$(date +%s)
only=${TBMQTT_QEMU_IMAGES_ONLY:-}
want() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }
want job && image job "$here/apps/tbmqtt_job" TBMQTT_TOKEN=QEMU_JOB_TOKEN
want yardstick && image yardstick "$here/apps/esp_mqtt_job" TBMQTT_TOKEN=QEMU_YARD_TOKEN
want store && image store "$here/apps/tbmqtt_job" TBMQTT_TOKEN=QEMU_STORE_TOKEN QEMU_JOB_STORE=1
want get_started && image get_started "$root/examples/esp-idf/get_started" TBMQTT_TOKEN=QEMU_G00_TOKEN
want h22 && image h22 "$root/examples/esp-idf/h22_attributes_request" TBMQTT_TOKEN=QEMU_H22_TOKEN
want h30 && image h30 "$root/examples/esp-idf/h30_server_rpc" TBMQTT_TOKEN=QEMU_H30_TOKEN
want px00 && image px00 "$root/examples/esp-idf/px00_provisioning_flow" \
  TBMQTT_PROVISION_KEY=qemu-px00-key TBMQTT_PROVISION_SECRET=qemu-px00-secret
# firmware_update in three versions, from build-time settings: 1.0 and 2.0 connect and confirm;
# 3.0 has a token the server does not know, so it never connects and never confirms.
want fw_v1 && image fw_v1 "$root/examples/esp-idf/firmware_update" TBMQTT_TOKEN=QEMU_FW_TOKEN TBMQTT_PROJECT_VER=1.0
want fw_v2 && image fw_v2 "$root/examples/esp-idf/firmware_update" TBMQTT_TOKEN=QEMU_FW_TOKEN TBMQTT_PROJECT_VER=2.0
want fw_v3 && image fw_v3 "$root/examples/esp-idf/firmware_update" TBMQTT_TOKEN=QEMU_FW_UNKNOWN_TOKEN \
  TBMQTT_PROJECT_VER=3.0
echo "ESP32-C3 images built in $(($(date +%s) - start)) s ($images)"

cd "$here"
EMU_BUILD_DIR="$host_build" QEMU_PORT="$port" QEMU_IMAGES_ONLY="$only" QEMU_IMAGES="$images" PYTHONPATH="$root/tests/emulator" \
  "$PY" -m unittest ${@:-test_qemu} -v
