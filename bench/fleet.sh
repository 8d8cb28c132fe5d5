#!/usr/bin/env bash
# tbmqtt — `tbmqtt fleet` benchmark against a private plain mosquitto (max_connections -1, open-file
# limit raised), with its yardsticks measured in the same run:
#   1. one fast single publisher (raw libmosquitto, bench_throughput --only raw --qos 1): the
#      aggregate msg/s the fleet should reach (target: >= 80 %),
#   2. devices per process and RSS per device (target: 10,000 devices, <= 20 KB each above the base),
#   3. aggregate telemetry msg/s of the fleet (1,000 devices sending as fast as they can), and CPU
#      per 1,000 msg/s at a fixed load (1,000 devices x 5 msg/s),
#   4. the same load the python way: one paho-mqtt client (and thread) per device,
#   5. the aggregate against the emulator (the project's ThingsBoard stand-in: token checks, telemetry
#      stored per device), with its own single-publisher yardstick and its own count of what it stored.
#
#   bench/fleet.sh BUILD_DIR [DEVICES=10000] [PAHO_DEVICES=2000]
set -euo pipefail
build=${1:?usage: fleet.sh BUILD_DIR [DEVICES] [PAHO_DEVICES]}
devices=${2:-10000}
paho_devices=${3:-2000}
here=$(cd "$(dirname "$0")" && pwd)
tbmqtt="$build/bin/tbmqtt"
[ -x "$tbmqtt" ] || { echo "fleet.sh: $tbmqtt not built" >&2; exit 2; }
[ -x "$build/bin/bench_throughput" ] || { echo "fleet.sh: bench_throughput not built" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(id -u)" -eq 0 ] && ulimit -n 65536 2>/dev/null || true
echo "open-file limit: $(ulimit -n)"

work=$(mktemp -d)
broker_pid=""
emulator_pid=""
cleanup() {
  for pid in "$broker_pid" "$emulator_pid"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
{
  echo "listener $port 127.0.0.1"
  echo "allow_anonymous true"
  [ "$(id -u)" -eq 0 ] && echo "user root"
  echo "max_connections -1"
  echo "set_tcp_nodelay true"
  echo "max_queued_messages 0"
  echo "persistence false"
  echo "log_dest none"
} >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do
  python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && break
  sleep 0.05
done
# Plain mosquitto takes any user name: the tokens are made up.
for i in $(seq 0 $((devices - 1))); do echo "bench-token-$i"; done >"$work/tokens"
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(d$1)"; }

echo "== 1. yardstick: one fast single publisher (raw libmosquitto, QoS 1)"
"$build/bin/bench_throughput" --host 127.0.0.1 --port "$port" --only raw --qos 1 --messages 50000 --repeats 3 |
  tee "$work/raw.txt"
single=$(awk '$1 == "1" && $2 ~ /^[0-9]+$/ { print $3 }' "$work/raw.txt")  # the median row
single=${single:-0}

echo "== 2. $devices devices in one process (ramp 1000/s, telemetry every 10 s, 40 s)"
"$tbmqtt" --port "$port" fleet --tokens "$work/tokens" --devices "$devices" --ramp 1000 \
  --telemetry-every 10s --duration 40s >"$work/many.json"
tail -1 "$work/many.json"
echo "connected: $(field '["connectedPeak"]' <"$work/many.json") of $devices;" \
  "RSS per device: $(field '["rssPerDeviceBytes"]' <"$work/many.json") bytes above the base"

echo "== 3a. aggregate: 1000 devices sending as fast as they can (QoS 1, 10 s)"
"$tbmqtt" --port "$port" fleet --tokens "$work/tokens" --devices 1000 --ramp 5000 --telemetry-every 1ms \
  --duration 10s >"$work/fast.json"
tail -1 "$work/fast.json"
fleet_rate=$(field '["msgPerS"]' <"$work/fast.json")
python3 -c "print('fleet %.0f msg/s = %.0f %% of the single publisher (%s msg/s)' % ($fleet_rate, 100*$fleet_rate/max(1,float('$single')), '$single'))"

echo "== 3b. CPU at a fixed load: 1000 devices x 5 msg/s (QoS 1, 10 s)"
"$tbmqtt" --port "$port" fleet --tokens "$work/tokens" --devices 1000 --ramp 5000 --telemetry-every 200ms \
  --duration 10s >"$work/fixed.json"
tail -1 "$work/fixed.json"
python3 - "$work/fixed.json" <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print("CPU per 1,000 msg/s: %.1f ms of CPU per second (%.1f %% of a core)" %
      (1000 * d["cpuS"] / d["elapsedS"] / (d["msgPerS"] / 1000), 100 * d["cpuS"] / d["elapsedS"] / (d["msgPerS"] / 1000)))
PY

echo "== 4. python: $paho_devices paho-mqtt clients, one thread each, QoS 1 every 1 s (20 s)"
timeout 300 /usr/bin/python3 "$here/fleet_paho.py" "$port" "$paho_devices" 1 20 || echo '{"failed":true}'
echo "   the same with tbmqtt fleet:"
"$tbmqtt" --port "$port" fleet --tokens "$work/tokens" --devices "$paho_devices" --ramp 5000 --telemetry-every 1s \
  --duration 20s | tail -1

echo "== 5. against the emulator: one fast single publisher, then 1000 devices as fast as they can (QoS 1)"
emu_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
emu() { "$tbmqtt" --port "$emu_port" emulator --state "$work/emulator" "$@"; }
"$tbmqtt" --port "$emu_port" emulator --state "$work/emulator" start >"$work/emulator.log" 2>&1 &  # not via emu(): $! must be tbmqtt
emulator_pid=$!
for _ in $(seq 200); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$emu_port),0.2)" 2>/dev/null && break
  sleep 0.05
done
emu device add --count 1001 --prefix bench- --tokens-out "$work/emulator_tokens" >/dev/null
TBMQTT_TOKEN=$(head -1 "$work/emulator_tokens") "$build/bin/bench_throughput" --port "$emu_port" --only raw --qos 1 \
  --messages 20000 --repeats 3 | tee "$work/emulator_raw.txt"
emulator_single=$(awk '$1 == "1" && $2 ~ /^[0-9]+$/ { print $3 }' "$work/emulator_raw.txt")
emulator_single=${emulator_single:-0}
tail -n +2 "$work/emulator_tokens" >"$work/emulator_fleet_tokens"
"$tbmqtt" --port "$emu_port" fleet --tokens "$work/emulator_fleet_tokens" --devices 1000 --ramp 5000 \
  --telemetry-every 1ms --duration 10s >"$work/emulator_fast.json"
tail -1 "$work/emulator_fast.json"
emulator_rate=$(field '["msgPerS"]' <"$work/emulator_fast.json")
python3 -c "print('fleet against the emulator %.0f msg/s = %.0f %% of the single publisher there (%s msg/s)' % ($emulator_rate, 100*$emulator_rate/max(1,float('$emulator_single')), '$emulator_single'))"
emu stats --prefix bench- | python3 -c "
import json, sys
d = json.loads(sys.stdin.read().strip().splitlines()[-1])
print('the emulator stored %d telemetry messages from %d devices (the yardstick included)' % (d['telemetryMessages'], d['devices']))"
