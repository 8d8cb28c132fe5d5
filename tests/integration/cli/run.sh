#!/bin/sh
# End-to-end tests of the tbmqtt CLI. Usage: tests/integration/cli/run.sh BUILD_DIR [TEST...]
# (TEST: e.g. test_cli.TestTelemetry or test_cli.TestTelemetry.test_each_argument_is_published_in_order)
# Needs mosquitto, mosquitto_passwd and python3-paho-mqtt (Debian's python3).
set -eu
if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [unittest args]" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
cli="$build_dir/bin/tbmqtt"
if [ ! -x "$cli" ]; then
  echo "$0: $cli not found; build target tbmqtt_cli first" >&2
  exit 2
fi
# Debian's python3 has python3-paho-mqtt; a python3 earlier on PATH (pyenv, venv) may not.
python=python3
if ! "$python" -c 'import paho.mqtt' 2>/dev/null && [ -x /usr/bin/python3 ]; then
  python=/usr/bin/python3
fi
cd "$here"
if [ $# -eq 0 ]; then set -- test_cli; fi
PYTHONDONTWRITEBYTECODE=1 TBMQTT_CLI="$cli" exec "$python" -m unittest -v "$@"
