#!/usr/bin/env bash
# The demo: a local mosquitto plays the server; an example device (hello_device) connects, sends
# telemetry and answers an RPC; mosquitto_sub/mosquitto_pub show the server's side.
# Usage: examples/linux/demo.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: demo.sh BUILD_DIR}" && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
  echo "listener $port 127.0.0.1"
  echo "allow_anonymous true"
  echo "set_tcp_nodelay true"
  [ "$(id -u)" -eq 0 ] && echo "user root"
} >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
echo "server: broker listening on 127.0.0.1:$port"

# The server side: print what the device publishes.
mosquitto_sub -p "$port" -v -t 'v1/devices/me/telemetry' -t 'v1/devices/me/rpc/response/+' |
  sed -u 's/^/server: received /' &
pids+=($!)
sleep 0.3  # let the subscription settle before the device starts (demo only, not a test)

"$build/bin/hello_device" 127.0.0.1 "$port" DEMO_TOKEN 10 >"$work/device.log" &
device=$!
tail -f "$work/device.log" | sed -u 's/^/  /' &
pids+=($!)
for _ in $(seq 200); do grep -q "telemetry acknowledged" "$work/device.log" && break; sleep 0.05; done
echo "server: sending RPC getTemperature (id 1)"
mosquitto_pub -p "$port" -t 'v1/devices/me/rpc/request/1' -m '{"method":"getTemperature","params":{}}' -q 1
status=0
wait "$device" || status=$?
sleep 0.3  # let the transcript drain
echo "demo finished (device exit status $status)"
exit "$status"
