"""The get-started example g00 (hello_device) and the helper examples h10..h40 (examples/common: one
source each for Linux and ESP-IDF) against the emulator: each test runs one example with a fresh
device and checks what arrived at the emulator (time series, client attributes, RPC replies, the
claim record) or, for pushes the server sends, exactly what the example printed. Server-side
actions go through the emulator's admin commands. test_esp_idf_examples runs these tests again
with the ESP-IDF build of each example (command() overridden)."""

import json
import subprocess
import time
import unittest

from emu import HOST, admin, example_path, messages, new_device, request, shared_broker, unique, wait_for

TIMEOUT = 30
EXAMPLES = ("hello_device", "h10_telemetry_upload", "h20_attributes_update", "h21_attributes_subscribe", "h22_attributes_request",
            "h30_server_rpc", "h31_client_rpc", "h40_claiming")


def now_ms():
    return int(time.time() * 1000)


@unittest.skipUnless(all(example_path(e) for e in EXAMPLES), "helper examples not built")
class HelperExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def setUp(self):
        self.name, self.token = new_device(self.b)

    def command(self, example, args, token=None):
        """The command line and environment (None: this one) that run `example` with `args` (its
        arguments after HOST PORT TOKEN) as this test's device, or as `token`."""
        return [example_path(example), HOST, str(self.b.port), token or self.token] + [str(a) for a in args], None

    def run_example(self, example, *args, token=None):
        cmd, env = self.command(example, args, token)
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)

    def popen(self, example, *args):
        cmd, env = self.command(example, args)
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.communicate()))
        return p

    def start_example(self, example, *args):
        """Starts the example and returns it once it printed `<id>: connected`."""
        p = self.popen(example, *args)
        self.assertEqual(p.stdout.readline(), example[:3] + ": connected\n")
        return p

    def finish(self, p):
        """Waits for a started example; returns (exit code, stdout lines after `connected`, stderr)."""
        out, err = p.communicate(timeout=TIMEOUT)
        return p.returncode, out.splitlines(), err

    def client_attributes(self):
        return request(self.b, "attributes.get", {"device": self.name})["client"]

    # ---- g00 hello world -----------------------------------------------------------------------

    def test_g00_hello_device_sends_telemetry_and_answers_one_rpc(self):
        p = self.popen("hello_device", 10)
        self.assertEqual(p.stdout.readline(), "device: connected\n")
        self.assertEqual(p.stdout.readline(), "device: telemetry acknowledged\n")
        self.assertEqual(wait_for(lambda: messages(self.b, self.name) or None),
                         [{"temperature": 21.5, "humidity": 40, "door_open": False}])
        self.assertEqual(admin(self.b, "rpc", self.name, "getTemperature", "{}"), {"temperature": 21.5})
        out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out, "device: RPC getTemperature {} -> replying\n")

    # ---- h10 telemetry upload -----------------------------------------------------------------

    def test_h10_uploads_each_message_with_the_device_timestamp(self):
        before = now_ms()
        r = self.run_example("h10_telemetry_upload", 4, 100)
        after = now_ms()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[-1], "h10: 4 messages delivered")
        got = wait_for(lambda: (lambda m: m if len(m) >= 4 else None)(messages(self.b, self.name)))
        self.assertEqual(got, [{"temperature": 20, "humidity": 40}, {"temperature": 20.5, "humidity": 41},
                               {"temperature": 21, "humidity": 42}, {"temperature": 21.5, "humidity": 43}])
        stamps = sorted({p["ts"] for p in request(self.b, "telemetry.series", {"device": self.name})})
        self.assertTrue(before <= stamps[0] and stamps[-1] <= after, (before, stamps, after))
        self.assertTrue(all(b - a >= 90 for a, b in zip(stamps, stamps[1:])), stamps)  # PERIOD_MS 100 apart

    def test_h10_unknown_token_is_refused_with_its_typed_error(self):
        r = self.run_example("h10_telemetry_upload", 1, 100, token=unique("no-such-token"))
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertEqual(r.stderr, "h10: connect failed: refused_credentials\n")

    # ---- h20 attributes update ----------------------------------------------------------------

    def test_h20_client_attributes_arrive_merged(self):
        r = self.run_example("h20_attributes_update", "2.1.0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(wait_for(self.client_attributes),
                         {"model": "tbmqtt-h20", "firmwareVersion": "2.1.0", "ledOn": True})

    def test_h20_attributes_too_large_for_the_builder_are_not_sent(self):
        r = self.run_example("h20_attributes_update", "v" * 100)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stderr, "h20: attributes not sent: not_enough_space\n")
        self.assertEqual(self.client_attributes(), {})

    # ---- h21 attributes subscribe -------------------------------------------------------------

    def push(self, attributes):
        request(self.b, "attributes.set", {"device": self.name, "attributes": attributes})

    def test_h21_reacts_to_changes_of_its_keys_only(self):
        p = self.start_example("h21_attributes_subscribe", 4, 10)
        self.push({"other": 1})                    # touches neither key: not delivered
        self.push({"targetTemperature": 19.5})
        self.push({"targetTemperature": "hot"})   # wrong type: reported, ignored
        self.push({"mode": "eco", "other": 2})
        self.push({"mode": None})                 # deleted
        code, lines, err = self.finish(p)
        self.assertEqual(code, 0, err)
        self.assertEqual(lines, ["h21: targetTemperature = 19.5", "h21: targetTemperature ignored: wrong_type",
                                 "h21: mode = eco", "h21: mode deleted", "h21: 4 updates applied"])

    def test_h21_gives_up_after_its_time(self):
        p = self.start_example("h21_attributes_subscribe", 1, 1)
        code, lines, err = self.finish(p)
        self.assertEqual((code, lines, err), (4, [], "h21: timeout: fewer than 1 updates in 1 s\n"))

    # ---- h22 attributes request ---------------------------------------------------------------

    def answer(self, r):
        """The `h22: client {...}` and `h22: shared {...}` lines as {"client": .., "shared": ..}."""
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()[1:]
        self.assertEqual([l.split(" ")[1] for l in lines], ["client", "shared"], lines)
        return {l.split(" ")[1]: json.loads(l.split(" ", 2)[2]) for l in lines}

    def test_h22_reads_the_requested_client_and_shared_keys(self):
        request(self.b, "attributes.set", {"device": self.name, "scope": "client",
                                           "attributes": {"firmwareVersion": "1.0.0", "ledOn": True, "serial": "S1"}})
        self.push({"targetTemperature": 21.5, "mode": "eco", "other": 1})
        self.assertEqual(self.answer(self.run_example("h22_attributes_request")),
                         {"client": {"firmwareVersion": "1.0.0", "ledOn": True},
                          "shared": {"targetTemperature": 21.5, "mode": "eco"}})

    def test_h22_keys_the_server_does_not_have_read_as_empty(self):
        self.push({"mode": "eco"})
        self.assertEqual(self.answer(self.run_example("h22_attributes_request", "nope", "mode")),
                         {"client": {}, "shared": {"mode": "eco"}})

    # ---- h30 server-side RPC ------------------------------------------------------------------

    def rpc(self, method, params, *more):
        return admin(self.b, "rpc", self.name, method, json.dumps(params), *more)

    def test_h30_answers_two_way_and_applies_one_way_calls(self):
        p = self.start_example("h30_server_rpc", 3, 10)
        self.assertEqual(self.rpc("reboot", {}), {"error": "unknown method: reboot"})  # by the library
        self.assertEqual(self.rpc("getTemperature", {}), {"temperature": 21.5})
        self.assertEqual(self.rpc("setLed", {"on": "yes"}, "--oneway"), {"delivered": True})
        self.assertEqual(self.rpc("setLed", {"on": True}, "--oneway"), {"delivered": True})
        code, lines, err = self.finish(p)
        self.assertEqual(code, 0, err)
        self.assertEqual(lines, ["h30: getTemperature answered", "h30: setLed ignored: wrong_type", "h30: LED on",
                                 "h30: 3 calls handled"])
        self.assertEqual(self.client_attributes(), {"ledOn": True})  # the one-way call's effect

    # ---- h31 client-side RPC ------------------------------------------------------------------

    def answer_get_current_time(self, response):
        request(self.b, "rpc_handler.set", {"method": "getCurrentTime", "device": self.name, "response": response})
        self.addCleanup(request, self.b, "rpc_handler.set", {"method": "getCurrentTime", "device": self.name,
                                                             "response": None})

    def test_h31_stamps_telemetry_with_the_server_time(self):
        server_time = 1700000000000
        self.answer_get_current_time({"time": server_time})
        before = now_ms()
        r = self.run_example("h31_client_rpc")
        after = now_ms()
        self.assertEqual(r.returncode, 0, r.stderr)
        offset = int(r.stdout.splitlines()[1].split("offset ")[1].split(" ")[0])
        self.assertEqual(r.stdout.splitlines()[1], "h31: server time %d (device clock offset %d ms)"
                         % (server_time, offset))
        self.assertTrue(server_time - after <= offset <= server_time - before, (offset, before, after))
        series = wait_for(lambda: request(self.b, "telemetry.series", {"device": self.name}))
        self.assertEqual(series, [{"ts": server_time, "key": "clockOffsetMs", "value": offset}])

    def test_h31_error_answer_is_server_error_and_sends_nothing(self):
        self.answer_get_current_time({"error": "no clock here"})
        r = self.run_example("h31_client_rpc")
        self.assertEqual((r.returncode, r.stderr), (5, "h31: getCurrentTime failed: server_error\n"))
        self.assertEqual(request(self.b, "telemetry.series", {"device": self.name}), [])

    def test_h31_answer_without_a_time_is_wrong_type_and_sends_nothing(self):
        self.answer_get_current_time({"time": "soon"})
        r = self.run_example("h31_client_rpc")
        self.assertEqual((r.returncode, r.stderr), (5, "h31: getCurrentTime failed: wrong_type\n"))
        self.assertEqual(request(self.b, "telemetry.series", {"device": self.name}), [])

    # ---- h40 claiming -------------------------------------------------------------------------

    def test_h40_claim_request_arrives_and_the_secret_claims_the_device(self):
        r = self.run_example("h40_claiming", "label-secret-42", 120000)
        self.assertEqual(r.returncode, 0, r.stderr)
        claim = request(self.b, "claim.get", {"device": self.name})["claim"]
        self.assertEqual((claim["secretKey"], claim["durationMs"]), ("label-secret-42", 120000))
        # A wrong secret fails and drops the request (ClaimDevicesServiceImpl.claimDevice: cache.evict),
        # so the device claims again before the right secret succeeds.
        self.assertEqual(request(self.b, "claim.accept", {"device": self.name, "secretKey": "label-secret-4"}),
                         {"result": "FAILURE"})
        self.assertIsNone(request(self.b, "claim.get", {"device": self.name})["claim"])
        r = self.run_example("h40_claiming", "label-secret-42", 120000)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(request(self.b, "claim.accept", {"device": self.name, "secretKey": "label-secret-42"}),
                         {"result": "SUCCESS"})

    def test_h40_duration_out_of_range_is_a_usage_error_and_sends_nothing(self):
        for duration in (0, 4294967296):
            r = self.run_example("h40_claiming", "s", duration)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertTrue(r.stderr.startswith("usage: "), r.stderr)
        self.assertIsNone(request(self.b, "claim.get", {"device": self.name})["claim"])


if __name__ == "__main__":
    unittest.main()
