"""Gateway API (doc section 7)."""

import json
import subprocess
import time
import unittest

from emu import ADMIN_TOOL, admin, connected_device, new_device, request, shared_broker, unique


class GatewayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def setUp(self):
        self.gw_name = unique("gw")
        d = admin(self.b, "device", "add", self.gw_name, "--gateway")
        self.gw = connected_device(self.b, d["credentials"]["token"],
                                   subs=["v1/gateway/attributes", "v1/gateway/rpc",
                                         "v1/gateway/attributes/response"])
        self.child = unique("child")

    def tearDown(self):
        self.gw.close()

    def test_connect_creates_child(self):
        self.gw.pub("v1/gateway/connect", {"device": self.child, "type": "thermostat"})
        d = request(self.b, "device.get", {"device": self.child})
        self.assertEqual((d["type"], d["parentGateway"]), ("thermostat", self.gw_name))
        self.gw.pub("v1/gateway/disconnect", {"device": self.child})

    def test_child_is_active_from_connect_until_disconnect_or_session_end(self):
        self.gw.pub("v1/gateway/connect", {"device": self.child})
        self.assertTrue(request(self.b, "device.get", {"device": self.child})["active"])
        self.gw.pub("v1/gateway/disconnect", {"device": self.child})
        self.assertFalse(request(self.b, "device.get", {"device": self.child})["active"])
        self.gw.pub("v1/gateway/connect", {"device": self.child})
        self.gw.close()
        deadline = time.monotonic() + 5
        while request(self.b, "device.get", {"device": self.child})["active"]:
            self.assertLess(time.monotonic(), deadline, "child still active after its gateway left")
            time.sleep(0.05)  # polling the emulator's state, with a deadline

    def test_telemetry_and_attributes(self):
        self.gw.pub("v1/gateway/telemetry", {self.child: [{"ts": 1, "values": {"t": 1}}, {"u": 2}]})
        self.assertEqual(admin(self.b, "telemetry", self.child), {"t": 1, "u": 2})
        self.gw.pub("v1/gateway/attributes", {self.child: {"k": "v"}})
        self.assertEqual(request(self.b, "attributes.get", {"device": self.child})["client"], {"k": "v"})

    def test_telemetry_value_must_be_array(self):
        self.gw.c.publish("v1/gateway/telemetry", json.dumps({self.child: {"t": 1}}), 1)
        self.assertTrue(self.gw.disconnected.wait(5))  # malformed on MQTT 3.1.1

    def test_attribute_request_single_and_multiple(self):
        self.gw.pub("v1/gateway/connect", {"device": self.child})
        admin(self.b, "attributes", "set", self.child, '{"a":1,"b":2}')
        self.gw.expect("v1/gateway/attributes")
        self.gw.pub("v1/gateway/attributes/request",
                    {"id": 1, "device": self.child, "client": False, "key": "a"})
        self.assertEqual(self.gw.expect("v1/gateway/attributes/response")[1],
                         ('{"id":1,"device":"%s","value":1}' % self.child).encode())
        self.gw.pub("v1/gateway/attributes/request",
                    {"id": 2, "device": self.child, "client": False, "keys": ["a", "b"]})
        self.assertEqual(self.gw.expect("v1/gateway/attributes/response")[1],
                         ('{"id":2,"device":"%s","values":{"a":1,"b":2}}' % self.child).encode())

    def test_shared_push_goes_through_gateway(self):
        self.gw.pub("v1/gateway/connect", {"device": self.child})
        admin(self.b, "attributes", "set", self.child, '{"k":"v"}')
        self.assertEqual(self.gw.expect("v1/gateway/attributes")[1],
                         ('{"device":"%s","data":{"k":"v"}}' % self.child).encode())

    def test_rpc_to_child(self):
        self.gw.pub("v1/gateway/connect", {"device": self.child})
        p = subprocess.Popen([ADMIN_TOOL, "--state", self.b.state_dir, "--port", str(self.b.port),
                              "rpc", self.child, "m", '{"x":1}'], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        _, payload, _ = self.gw.expect("v1/gateway/rpc")
        msg = json.loads(payload)
        self.assertEqual(msg["device"], self.child)
        self.assertEqual((msg["data"]["method"], msg["data"]["params"]), ("m", {"x": 1}))
        self.gw.pub("v1/gateway/rpc", {"device": self.child, "id": msg["data"]["id"],
                                       "data": {"ok": True}})
        out, err = p.communicate(timeout=10)
        self.assertEqual(json.loads(out), {"ok": True}, err)

    def test_claim(self):
        self.gw.pub("v1/gateway/claim", {self.child: {"secretKey": "s", "durationMs": 60000}})
        c = request(self.b, "claim.get", {"device": self.child})["claim"]
        self.assertEqual((c["secretKey"], c["durationMs"]), ("s", 60000))

    def test_non_gateway_cannot_use_gateway_topics(self):
        _, token = new_device(self.b)
        d = connected_device(self.b, token)
        try:
            self.assertEqual(d.sub("v1/gateway/rpc"), [128])
        finally:
            d.close()


if __name__ == "__main__":
    unittest.main()
