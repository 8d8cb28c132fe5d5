#!/bin/sh
# Runs the emulator tests against a mosquitto broker with the tbmqtt_emulator plugin.
# Usage: tests/emulator/run_tests.sh BUILD_DIR [unittest args, e.g. test_data.DataTest]
# Starts its own broker on a free loopback port with a fresh temp state dir, runs every test,
# stops the broker by PID and exits non-zero on any failure.
set -eu
BUILD_DIR=$(cd "${1:?usage: run_tests.sh BUILD_DIR}" && pwd)
shift
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3   # Debian's python3 has python3-paho-mqtt 1.6.1
[ -x "$PY" ] || PY=python3
for f in "$BUILD_DIR/lib/libtbmqtt_emulator.so" "$BUILD_DIR/bin/tbmqtt-emulator-admin"; do
  [ -e "$f" ] || { echo "missing $f (build targets tbmqtt_emulator tbmqtt_emulator_admin_tool)" >&2; exit 2; }
done

STATE=$(mktemp -d /tmp/tbemu-run.XXXXXX)
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$STATE/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous true
user root
persistence false
set_tcp_nodelay true
max_queued_messages 0
max_packet_size 65540
log_dest file $STATE/mosquitto.log
log_type all
listener $PORT 127.0.0.1
max_qos 1
plugin $BUILD_DIR/lib/libtbmqtt_emulator.so
plugin_opt_state_dir $STATE
plugin_opt_provision_close_ms 1000
CONF
PASS=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '{"username":"tbmqtt-admin","password":"%s","host":"127.0.0.1","port":%s}\n' "$PASS" "$PORT" > "$STATE/admin.json"

mosquitto -c "$STATE/mosquitto.conf" >/dev/null 2>&1 &
BROKER=$!
cleanup() {
  kill "$BROKER" 2>/dev/null || true
  wait "$BROKER" 2>/dev/null || true
  rm -rf "$STATE"
}
trap cleanup EXIT INT TERM

# wait (with a deadline) until the broker accepts connections
"$PY" - "$PORT" <<'PYEOF'
import socket, sys, time
deadline = time.monotonic() + 10
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("broker did not start")
        time.sleep(0.02)
PYEOF

cd "$HERE"
set +e
EMU_BUILD_DIR="$BUILD_DIR" EMU_PORT="$PORT" EMU_STATE="$STATE" "$PY" -m unittest ${@:-discover -p 'test_*.py'} -v
RC=$?
set -e
if [ $RC -ne 0 ] && [ -f "$STATE/mosquitto.log" ]; then
  echo "--- last broker log lines ---" >&2
  tail -n 30 "$STATE/mosquitto.log" >&2
fi
exit $RC
