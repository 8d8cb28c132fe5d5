"""Server-side RPC, client-side RPC (getSessionLimits, handlers) and claiming (doc section 3, 6)."""

import json
import subprocess
import unittest

from emu import (ADMIN_TOOL, AdminError, DeviceTestCase, admin, connected_device, new_device, request,
                 shared_broker)

RPC_REQ = "v1/devices/me/rpc/request/"
RPC_RES = "v1/devices/me/rpc/response/"


def start_admin(b, *args):
    return subprocess.Popen([ADMIN_TOOL, "--state", b.state_dir, "--port", str(b.port)]
                            + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class ServerRpcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def setUp(self):
        self.name, self.token = new_device(self.b)
        self.d = connected_device(self.b, self.token, subs=[RPC_REQ + "+"])

    def tearDown(self):
        self.d.close()

    def test_two_way(self):
        p = start_admin(self.b, "rpc", self.name, "setGpio", '{"pin":4}')
        topic, payload, qos = self.d.expect()
        self.assertTrue(topic.startswith(RPC_REQ))
        self.assertEqual(payload, b'{"method":"setGpio","params":{"pin":4}}')
        self.assertEqual(qos, 1)
        rid = topic[len(RPC_REQ):]
        self.assertTrue(rid.isdigit())
        self.d.pub(RPC_RES + rid, b'{"pin":4,"value":1}')
        out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(json.loads(out), {"pin": 4, "value": 1})

    def test_one_way(self):
        out = admin(self.b, "rpc", self.name, "reboot", "{}", "--oneway")
        self.assertEqual(out, {"delivered": True})
        self.assertEqual(self.d.expect()[1], b'{"method":"reboot","params":{}}')

    def test_timeout_and_late_reply_dropped(self):
        p = start_admin(self.b, "rpc", self.name, "slow", "{}", "--timeout-ms", "300")
        topic, _, _ = self.d.expect()
        out, err = p.communicate(timeout=10)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("timeout", err)
        self.d.pub(RPC_RES + topic[len(RPC_REQ):], b'{"late":true}')  # dropped, no crash
        self.assertEqual(admin(self.b, "telemetry", self.name), {})

    def test_ids_are_a_per_device_counter(self):
        ids = []
        for _ in range(2):
            admin(self.b, "rpc", self.name, "m", "{}", "--oneway")
            ids.append(int(self.d.expect()[0][len(RPC_REQ):]))
        self.assertEqual(ids[1], ids[0] + 1)

    def test_rpc_waits_for_offline_device(self):
        name, token = new_device(self.b)
        p = start_admin(self.b, "rpc", name, "late", '{"a":1}', "--timeout-ms", "8000")
        # the request is pending before the device connects: wait until the emulator has it
        d = connected_device(self.b, token)
        try:
            d.sub(RPC_REQ + "+")
            topic, payload, _ = d.expect(timeout=8)
            self.assertEqual(payload, b'{"method":"late","params":{"a":1}}')
            d.pub(RPC_RES + topic[len(RPC_REQ):], b'"ok"')
            out, err = p.communicate(timeout=10)
            self.assertEqual(out.strip(), '"ok"')
        finally:
            d.close()

    def test_v2_rpc_topics(self):
        name, token = new_device(self.b)
        d = connected_device(self.b, token, subs=["v2/r/req/+"])
        try:
            p = start_admin(self.b, "rpc", name, "m2", "{}")
            topic, payload, _ = d.expect()
            self.assertTrue(topic.startswith("v2/r/req/"))
            d.pub("v2/r/res/" + topic.split("/")[-1], b'{"v2":true}')
            out, _ = p.communicate(timeout=10)
            self.assertEqual(json.loads(out), {"v2": True})
        finally:
            d.close()


class ClientRpcTest(DeviceTestCase):

    def test_get_session_limits_defaults(self):
        self.d.pub(RPC_REQ + "1", b'{"method":"getSessionLimits","params":{}}')
        self.assertEqual(self.d.expect(RPC_RES + "1")[1],
                         b'{"maxPayloadSize":65536,"maxInflightMessages":100,"rateLimits":'
                         b'{"messages":null,"telemetryMessages":null,"telemetryDataPoints":null}}')

    def test_get_session_limits_with_rate_limits_matches_doc(self):
        b2 = self.b
        request(b2, "settings.set", {"messages": "20:600", "telemetryMessages": "10:600",
                                     "telemetryDataPoints": "40:600"})
        try:
            self.d.pub(RPC_REQ + "2", b'{"method":"getSessionLimits","params":{}}')
            self.assertEqual(
                self.d.expect(RPC_RES + "2")[1],
                b'{"maxPayloadSize":65536,"maxInflightMessages":100,"rateLimits":{"messages":"20:600",'
                b'"telemetryMessages":"10:600","telemetryDataPoints":"40:600"}}')
        finally:
            request(b2, "settings.set", {"messages": None, "telemetryMessages": None,
                                         "telemetryDataPoints": None})

    def test_get_session_limits_v1_only(self):
        self.d.pub("v2/r/req/3", b'{"method":"getSessionLimits","params":{}}')
        self.d.pub("v1/devices/me/attributes/request/3", b"{}")  # barrier
        self.assertEqual(self.d.expect()[0], "v1/devices/me/attributes/response/3")

    def test_configured_handler(self):
        request(self.b, "rpc_handler.set", {"method": "getCurrentTime",
                                            "response": {"time": "${now}"}})
        request(self.b, "rpc_handler.set", {"method": "echo", "device": self.name,
                                            "response": {"echo": "${params}"}})
        self.d.pub(RPC_REQ + "4", b'{"method":"getCurrentTime","params":{}}')
        reply = json.loads(self.d.expect(RPC_RES + "4")[1])
        self.assertIsInstance(reply["time"], int)
        self.d.pub("v2/r/req/5", b'{"method":"echo","params":{"a":[1]}}')
        self.assertEqual(self.d.expect("v2/r/res/5")[1], b'{"echo":{"a":[1]}}')

    def test_unknown_method_gets_no_reply(self):
        self.d.pub(RPC_REQ + "6", b'{"method":"nobodyHome","params":{}}')
        self.d.pub("v1/devices/me/attributes/request/6", b"{}")  # barrier
        self.assertEqual(self.d.expect()[0], "v1/devices/me/attributes/response/6")


class ClaimTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def test_claim_with_secret_and_duration(self):
        name, token = new_device(self.b)
        d = connected_device(self.b, token)
        try:
            d.pub("v1/devices/me/claim", b'{"secretKey":"abc","durationMs":60000}')
            c = request(self.b, "claim.get", {"device": name})["claim"]
            self.assertEqual((c["secretKey"], c["durationMs"]), ("abc", 60000))
            self.assertEqual(request(self.b, "claim.accept", {"device": name, "secretKey": "abc"}),
                             {"result": "SUCCESS"})
        finally:
            d.close()

    def test_empty_claim_uses_defaults(self):
        name, token = new_device(self.b)
        d = connected_device(self.b, token)
        try:
            d.pub("v1/devices/me/claim", b"")
            c = request(self.b, "claim.get", {"device": name})["claim"]
            self.assertEqual((c["secretKey"], c["durationMs"]), ("", 86400000))
        finally:
            d.close()


class AdminErrorsTest(unittest.TestCase):
    def test_unknown_device(self):
        with self.assertRaises(AdminError):
            admin(shared_broker(), "telemetry", "no-such-device")


if __name__ == "__main__":
    unittest.main()
