"""Rate-limit pacing end to end: the emulator enforces a message rate limit (fixed windows; going
over closes the session). `tbmqtt --offline-store DIR --pace` learns the limit through
getSessionLimits and keeps to it: one connection, every message delivered. The same run without
--pace gets the device disconnected (so the first test could fail)."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from emu import BUILD_DIR, Broker, new_device, request, unique

TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")
MESSAGES = 12


@unittest.skipUnless(os.access(TBMQTT, os.X_OK), "build/bin/tbmqtt missing")
class RateLimitPacingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = Broker().start()  # own broker: the limits are global settings
        request(cls.b, "settings.set", {"messages": "4:1"})

    @classmethod
    def tearDownClass(cls):
        cls.b.cleanup()

    def setUp(self):
        self.store = tempfile.mkdtemp(prefix="tbmqtt-pace-")
        self.addCleanup(shutil.rmtree, self.store, True)
        self.name, self.token = new_device(self.b)
        self.client_id = unique("pace-")

    def run_telemetry(self, *extra):
        lines = "".join('{"seq":%d}\n' % i for i in range(MESSAGES))
        return subprocess.run([TBMQTT, "--port", str(self.b.port), "--token", self.token, "--client-id",
                               self.client_id, "--offline-store", self.store, "--timeout", "15"] + list(extra)
                              + ["telemetry", "-"], input=lines, capture_output=True, text=True, timeout=60)

    def connections(self):
        with open(os.path.join(self.b.state_dir, "mosquitto.log"), errors="replace") as f:
            return len(re.findall(r"New client connected from .* as %s " % re.escape(self.client_id), f.read()))

    def series(self):
        return request(self.b, "telemetry.series", {"device": self.name, "key": "seq"})

    def test_paced_device_is_never_disconnected_and_every_message_arrives_in_order(self):
        r = self.run_telemetry("--pace")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.connections(), 1)
        values = [p["value"] for p in sorted(self.series(), key=lambda p: p["ts"])]
        self.assertEqual(values, list(range(MESSAGES)))

    def test_without_pacing_the_server_disconnects_the_device(self):
        self.run_telemetry()
        self.assertGreater(self.connections(), 1)


if __name__ == "__main__":
    unittest.main()
