"""Third-party clients: mosquitto_pub / mosquitto_sub running the examples of
ThingsBoard's MQTT device API documentation against the emulator."""

import subprocess
import threading
import unittest

from emu import HOST, admin, new_device, request, shared_broker

TIMEOUT = 10


class MosquittoClientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def setUp(self):
        self.name, self.token = new_device(self.b)
        self.base = ["-h", HOST, "-p", str(self.b.port), "-u", self.token]

    def pub(self, topic, message, *extra):
        return subprocess.run(["mosquitto_pub", "-d", "-q", "1"] + self.base +
                              ["-t", topic, "-m", message] + list(extra),
                              capture_output=True, text=True, timeout=TIMEOUT)

    def sub_until_subscribed(self, topic, count=1):
        """Starts mosquitto_sub and returns it once its SUBACK arrived (read from -d output)."""
        p = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-d", "-v", "-C", str(count), "-W", str(TIMEOUT)]
                             + self.base + ["-t", topic], stdout=subprocess.PIPE, text=True)
        for line in p.stdout:
            if "SUBACK" in line:
                return p
        self.fail("mosquitto_sub never subscribed")

    def rest(self, p):
        out, _ = p.communicate(timeout=TIMEOUT)
        return [l for l in out.splitlines() if not l.startswith("Client ") and "PUBACK" not in l
                and "PUBLISH" not in l and "PINGRE" not in l and "DISCONNECT" not in l
                and not l.startswith("Subscribed ")]

    def test_doc_telemetry_example(self):
        r = self.pub("v1/devices/me/telemetry", '{"temperature":25}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("received PUBACK", r.stdout)
        self.assertEqual(admin(self.b, "telemetry", self.name), {"temperature": 25})

    def test_doc_telemetry_with_ts_example(self):
        r = self.pub("v1/devices/me/telemetry",
                     '{"ts":1451649600512, "values":{"key1":"value1", "key2":"value2"}}')
        self.assertEqual(r.returncode, 0)
        t = request(self.b, "telemetry.get", {"device": self.name, "withTs": True})
        self.assertEqual(t["key1"], {"ts": 1451649600512, "value": "value1"})

    def test_doc_attributes_example(self):
        r = self.pub("v1/devices/me/attributes", '{"attribute1": "value1", "attribute2": true}')
        self.assertEqual(r.returncode, 0)
        got = request(self.b, "attributes.get", {"device": self.name})["client"]
        self.assertEqual(got, {"attribute1": "value1", "attribute2": True})

    def test_doc_attribute_subscription_example(self):
        p = self.sub_until_subscribed("v1/devices/me/attributes")
        admin(self.b, "attributes", "set", self.name, '{"targetTemperature":22}')
        self.assertIn('v1/devices/me/attributes {"targetTemperature":22}', self.rest(p))

    def test_doc_server_rpc_example(self):
        p = self.sub_until_subscribed("v1/devices/me/rpc/request/+")
        out = {}
        t = threading.Thread(target=lambda: out.update(r=admin(self.b, "rpc", self.name, "setGpio",
                                                               '{"pin":4,"value":1}', "--oneway")))
        t.start()
        lines = self.rest(p)
        t.join(TIMEOUT)
        self.assertIn('v1/devices/me/rpc/request/', lines[0])
        self.assertTrue(lines[0].endswith(' {"method":"setGpio","params":{"pin":4,"value":1}}'))
        self.assertEqual(out["r"], {"delivered": True})

    # mosquitto_rr cannot be used: it subscribes to its exact response topic, and ThingsBoard
    # (hence the emulator) only accepts the `.../response/+` filters.

    def test_bad_token_exit_codes(self):
        base = ["-h", HOST, "-p", str(self.b.port), "-u", "wrong-token", "-t",
                "v1/devices/me/telemetry", "-m", "{}"]
        r = subprocess.run(["mosquitto_pub"] + base, capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 5)
        self.assertIn("not authorised", r.stderr)
        r = subprocess.run(["mosquitto_pub", "-V", "mqttv5"] + base, capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertIn("Bad User Name or Password", r.stderr)


if __name__ == "__main__":
    unittest.main()
