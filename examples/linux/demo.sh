#!/usr/bin/env bash
# The demo: `tbmqtt emulator start` plays ThingsBoard (a mosquitto plugin, emulator/README.md) on
# a free loopback port with a temporary state directory; the example device demo_device connects
# with the default device's token. The script is the server's operator: it reads the telemetry,
# sets a shared attribute, calls an RPC and assigns a firmware package with `tbmqtt emulator ...`.
# Lines starting `device:` come from the device, `server:` from the server side.
# Usage: examples/linux/demo.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: demo.sh BUILD_DIR}" && pwd)
tbmqtt="$build/bin/tbmqtt"
for f in "$tbmqtt" "$build/bin/demo_device" "$build/lib/libtbmqtt_emulator.so"; do
  [ -e "$f" ] || { echo "demo: missing $f (build first: ./run build)" >&2; exit 2; }
done
work=$(mktemp -d)
emulator_pid=""
device_pid=""
cleanup() {
  # Only what this script started, by PID: the device, then the emulator (which stops mosquitto).
  [ -n "$device_pid" ] && kill "$device_pid" 2>/dev/null || true
  if [ -n "$emulator_pid" ]; then
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
  fi
  [ -n "${tail_pid:-}" ] && kill "$tail_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for FILE PATTERN [SECONDS]: waits until FILE has a line matching PATTERN.
wait_for() {
  local deadline=$((SECONDS + ${3:-15}))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "demo: timed out waiting for '$2' in $(basename "$1")" >&2
      sed 's/^/  | /' "$1" >&2 || true
      exit 1
    fi
    sleep 0.05
  done
}

emu() { "$tbmqtt" emulator --state "$work/state" "$@"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$tbmqtt" emulator start --port "$port" --state "$work/state" >"$work/emulator.log" 2>&1 &
emulator_pid=$!
wait_for "$work/emulator.log" '^default device token: '
token=$(sed -n 's/^default device token: //p' "$work/emulator.log")
echo "server: $(grep '^tbmqtt emulator listening' "$work/emulator.log")"
echo "server: default device token $token"

# The device; its transcript goes to the terminal as it happens and to a log we wait on.
: >"$work/device.log"
"$build/bin/demo_device" 127.0.0.1 "$port" "$token" 30 "$work/device-fw.bin" >"$work/device.log" 2>&1 &
device_pid=$!
tail -n +1 -f "$work/device.log" &
tail_pid=$!
wait_for "$work/device.log" '^device: ready'

telemetry=$(emu telemetry default)
echo "server: latest telemetry of default: $telemetry"

echo "server: setting shared attribute mode=eco"
emu attributes set default '{"mode":"eco","interval":5}' >/dev/null
wait_for "$work/device.log" 'shared attributes pushed: .*"mode"'

echo "server: calling RPC setLed {\"on\":true}"
reply=$(emu rpc default setLed '{"on":true}' --timeout-ms 10000)
echo "server: device replied $reply"

head -c 4096 /dev/urandom >"$work/demo-fw.bin"
echo "server: assigning firmware demo-fw 1.1.0 (4096 bytes)"
assigned=$(emu ota assign default "$work/demo-fw.bin" --title demo-fw --version 1.1.0)
echo "server: package assigned: $assigned"

status=0
wait "$device_pid" || status=$?
device_pid=""
history=$(emu ota state default)
echo "server: OTA state history: $history"
if [ "$status" -eq 0 ]; then
  if cmp -s "$work/demo-fw.bin" "$work/device-fw.bin"; then
    echo "server: the device's image is byte for byte the assigned file"
  else
    echo "server: the device's image differs from the assigned file" >&2
    status=1
  fi
fi
kill "$tail_pid" 2>/dev/null || true
wait "$tail_pid" 2>/dev/null || true
tail_pid=""
echo "demo finished (device exit status $status)"
exit "$status"
