"""The data-point registry end to end against the emulator: `tbmqtt sample` (report by exception
on a scripted signal: exactly which messages arrive) and the Linux examples e10/e20/e30 and
rbe_temperature (examples/common and examples/linux), checked through the emulator's admin commands."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from emu import BUILD_DIR, messages, new_device, request, shared_broker, wait_for

TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")
BIN = os.path.join(BUILD_DIR, "bin")
TIMEOUT = 30

# Prints the next line of FILE.values at each call (a scripted signal, one value per round).
NEXT_SH = 'n=$(cat "$1.n" 2>/dev/null || echo 0); sed -n "$((n+1))p" "$1.values"; echo $((n+1)) > "$1.n"\n'


@unittest.skipUnless(os.access(TBMQTT, os.X_OK), "build/bin/tbmqtt missing")
class SampleCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tbsample-")
        with open(os.path.join(self.dir, "next.sh"), "w") as f:
            f.write(NEXT_SH)
        self.name, self.token = new_device(self.b)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def signal(self, key, values):
        with open(os.path.join(self.dir, key + ".values"), "w") as f:
            f.write("\n".join(str(v) for v in values) + "\n")
        return "%s=sh %s/next.sh %s/%s" % (key, self.dir, self.dir, key)

    def sample(self, *args):
        return subprocess.run([TBMQTT, "sample", "--port", str(self.b.port), "--token", self.token] +
                              [str(a) for a in args], capture_output=True, text=True, timeout=TIMEOUT)

    def test_report_by_exception_sends_exactly_the_crossings_and_deltas(self):
        temp = [20, 20.2, 20.4, 21.5, 21.6, 35, 36, 25, 25.3, 10]
        flow = [5, 5, 5, 5, 5, 9, 9, 9, 9, 9]
        r = self.sample("--every", 40, "--count", len(temp),
                        "--point", self.signal("temp", temp), "--min", 15, "--max", 30, "--delta", 1,
                        "--point", self.signal("flow", flow), "--delta", 1)
        self.assertEqual(r.returncode, 0, r.stderr)
        printed = [json.loads(line)["values"] for line in r.stdout.splitlines()]
        expected = [{"temp": 20, "flow": 5},    # baseline: both points in one message
                    {"temp": 21.5},             # moved more than 1 since the last upload (20)
                    {"temp": 35, "flow": 9},    # above max, and flow's delta: one message
                    {"temp": 25},               # back inside (36 was not a new crossing)
                    {"temp": 10}]               # below min
        self.assertEqual(printed, expected)
        got = wait_for(lambda: (lambda m: m if len(m) >= len(expected) else None)(messages(self.b, self.name)))
        self.assertEqual(got, expected)

    def test_defaults_before_the_first_point_apply_to_all(self):
        r = self.sample("--every", 20, "--count", 4, "--delta", 100,
                        "--point", self.signal("a", [1, 2, 3, 4]), "--point", self.signal("b", [1, 1, 500, 500]))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([json.loads(line)["values"] for line in r.stdout.splitlines()],
                         [{"a": 1, "b": 1}, {"b": 500}])

    def test_point_without_command_is_a_usage_error(self):
        r = self.sample("--every", 100, "--point", "temp")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertTrue(r.stderr.startswith("tbmqtt: sample: --point temp"), r.stderr)

    def test_failing_first_command_is_a_usage_error(self):
        r = self.sample("--every", 100, "--count", 1, "--point", "x=exit 3")
        self.assertEqual(r.returncode, 2, r.stderr)


def example(name):
    return os.path.join(BIN, name)


@unittest.skipUnless(all(os.access(example(e), os.X_OK) for e in
                         ("e10_timeseries", "e20_client_attributes", "e30_shared_attributes", "rbe_temperature")),
                     "registry examples not built")
class RegistryExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def command(self, name, token, args):
        """The command line and environment (None: this one) that run example `name` as `token`
        (test_esp_idf_examples overrides it to run the ESP-IDF build of e10..e30)."""
        return [example(name), "127.0.0.1", str(self.b.port), token] + [str(a) for a in args], None

    def run_example(self, name, token, *args):
        cmd, env = self.command(name, token, args)
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)

    def test_e10_uploads_every_point_in_each_message(self):
        device, token = new_device(self.b)
        r = self.run_example("e10_timeseries", token, 3)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        got = wait_for(lambda: (lambda m: m if len(m) >= 3 else None)(messages(self.b, device)))
        self.assertEqual(got, [{"temperature": 21.5 + 0.5 * i, "humidity": 40 + i, "status": "running"}
                               for i in range(3)])

    def test_e20_initializes_from_the_server_and_uploads_client_attributes(self):
        device, token = new_device(self.b)
        request(self.b, "attributes.set", {"device": device, "scope": "client",
                                           "attributes": {"sendIntervalMs": 2500}})
        r = self.run_example("e20_client_attributes", token)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertIn("sendIntervalMs initialized from the server: 2500", r.stdout)
        client = wait_for(lambda: (lambda c: c if "firmwareVersion" in c else None)(
            request(self.b, "attributes.get", {"device": device})["client"]))
        self.assertEqual(client, {"sendIntervalMs": 2500, "firmwareVersion": "1.0.0"})

    def test_e30_follows_shared_attribute_changes_and_deletion(self):
        device, token = new_device(self.b)
        request(self.b, "attributes.set", {"device": device, "attributes": {"targetTemperature": 21.5}})
        cmd, env = self.command("e30_shared_attributes", token, [10])
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            while line and "ready" not in line:
                line = p.stdout.readline()
            self.assertIn("ready", line)
            self.assertIn("targetTemperature = 21.5", p.stdout.readline())
            request(self.b, "attributes.set", {"device": device, "attributes": {"targetTemperature": 19}})
            self.assertIn("targetTemperature = 19", p.stdout.readline())
            request(self.b, "attributes.set", {"device": device, "attributes": {"mode": "eco"}})
            self.assertIn("mode = eco", p.stdout.readline())
            request(self.b, "attributes.set", {"device": device, "attributes": {"targetTemperature": None}})
            self.assertIn("targetTemperature deleted", p.stdout.readline())
        finally:
            p.terminate()
            p.communicate(timeout=TIMEOUT)

    def test_rbe_temperature_sends_only_exceptions_and_follows_remote_thresholds(self):
        device, token = new_device(self.b)
        # The server lowers the max threshold before the device starts: the spike at 26 °C crosses it.
        request(self.b, "attributes.set", {"device": device,
                                           "attributes": {"rbe_temperature": {"max": 25, "delta": 1}}})
        r = self.run_example("rbe_temperature", token)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        got = wait_for(lambda: (lambda m: m if len(m) >= summary["messages"] else None)(messages(self.b, device)))
        self.assertEqual(len(got), summary["messages"])
        self.assertLess(summary["messages"], summary["samples"])
        self.assertEqual((summary["max"], summary["delta"]), (25, 1))  # the server's rules
        # 20 baseline; the spike above the remote max (26); back inside (21.05); the drift to 22
        # stays within the remote delta of 1, and the heartbeat (60 s) never comes.
        self.assertEqual([m["temperature"] for m in got], [20, 26, 21.05])


if __name__ == "__main__":
    unittest.main()
