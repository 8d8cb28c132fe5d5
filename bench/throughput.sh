#!/usr/bin/env bash
# tbmqtt — end-to-end throughput benchmark: starts a private mosquitto on a free loopback port,
# runs BUILD_DIR/bin/bench_throughput against it (extra arguments are passed on), stops it.
#
#   bench/throughput.sh BUILD_DIR [--messages N] [--repeats R]
#   TBMQTT_BENCH=BUILD_DIR/bin/bench_offline_throughput bench/throughput.sh BUILD_DIR   (another tool)
set -euo pipefail
build=${1:?usage: throughput.sh BUILD_DIR [bench_throughput flags]}
shift
bench="${TBMQTT_BENCH:-$build/bin/bench_throughput}"
[ -x "$bench" ] || { echo "throughput.sh: $bench not built" >&2; exit 2; }
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$mosquitto_bin" ] || { echo "throughput.sh: mosquitto not installed" >&2; exit 2; }

work=$(mktemp -d)
broker_pid=""
cleanup() {
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# A free port: bind to port 0 and read what the kernel chose.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')

{
  echo "listener $port 127.0.0.1"
  echo "allow_anonymous true"
  [ "$(id -u)" -eq 0 ] && echo "user root"
  echo "set_tcp_nodelay true"
  echo "max_queued_messages 0"
  echo "persistence false"
  echo "log_dest none"
} >"$work/mosquitto.conf"

"$mosquitto_bin" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
broker_pid=$!

# Wait until it accepts connections (deadline 10 s).
deadline=$((SECONDS + 10))
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
  if ! kill -0 "$broker_pid" 2>/dev/null; then
    echo "throughput.sh: mosquitto exited:" >&2
    cat "$work/mosquitto.log" >&2
    exit 2
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "throughput.sh: mosquitto not listening on 127.0.0.1:$port after 10 s" >&2
    exit 2
  fi
  sleep 0.05
done

"$bench" --host 127.0.0.1 --port "$port" "$@"
