"""Telemetry, attributes, attribute requests, shared pushes, isolation, limits (doc sections 2, 3, 6)."""

import json
import unittest

import paho.mqtt.client as mqtt

from emu import Device, DeviceTestCase, Raw, admin, connected_device, new_device, request, shared_broker

ATTR = "v1/devices/me/attributes"
REQ = "v1/devices/me/attributes/request/"
RES = "v1/devices/me/attributes/response/"


class DataTest(DeviceTestCase):

    def test_telemetry_object(self):
        self.d.pub("v1/devices/me/telemetry", b'{"temp":21.5,"on":true,"s":"txt"}')
        self.assertEqual(admin(self.b, "telemetry", self.name), {"temp": 21.5, "on": True, "s": "txt"})

    def test_telemetry_with_ts_and_array(self):
        self.d.pub("v1/devices/me/telemetry",
                   b'[{"ts":1700000000000,"values":{"a":1}},{"b":2},{"ts":5,"c":3}]')
        latest = request(self.b, "telemetry.get", {"device": self.name, "withTs": True})
        self.assertEqual(latest["a"], {"ts": 1700000000000, "value": 1})
        self.assertEqual(latest["b"]["value"], 2)
        # ts without values is not the ts form: both keys are plain values
        self.assertEqual(latest["ts"]["value"], 5)
        self.assertEqual(latest["c"]["value"], 3)

    def test_telemetry_value_conversions(self):
        self.d.pub("v1/devices/me/telemetry",
                   b'{"n":"42","f":"2.50","neg":"-7","notnum":"1e3","gone":null,"obj":{"x":[1,2]}}')
        t = admin(self.b, "telemetry", self.name)
        self.assertEqual(t, {"n": 42, "f": 2.5, "neg": -7, "notnum": "1e3", "obj": {"x": [1, 2]}})

    def test_time_series_is_kept(self):
        for v in range(3):
            self.d.pub("v1/devices/me/telemetry", {"ts": 1000 + v, "values": {"k": v}})
        series = request(self.b, "telemetry.series", {"device": self.name, "key": "k"})
        self.assertEqual([e["value"] for e in series], [0, 1, 2])

    def test_v2_short_telemetry_topic(self):
        self.d.pub("v2/t", b'{"short":1}')
        self.assertEqual(admin(self.b, "telemetry", self.name)["short"], 1)

    def test_attribute_request_response_is_byte_exact(self):
        self.d.pub(ATTR, b'{"a":1,"b":"x"}')
        admin(self.b, "attributes", "set", self.name, '{"fw_version":"1.2","other":true}')
        self.d.pub(REQ + "1", b'{"clientKeys":"a","sharedKeys":"fw_version,missing"}')
        topic, payload, qos = self.d.expect(RES + "1")
        self.assertEqual(payload, b'{"client":{"a":1},"shared":{"fw_version":"1.2"}}')
        self.assertEqual(qos, 1)  # no subscription: QoS 1

    def test_attribute_request_variants(self):
        self.d.pub(ATTR, b'{"a":1}')
        admin(self.b, "attributes", "set", self.name, '{"s":"v"}')
        self.d.sub(RES + "+", 0)
        self.d.pub(REQ + "2", b"{}")
        self.assertEqual(self.d.expect(RES + "2")[1:], (b'{"client":{"a":1},"shared":{"s":"v"}}', 0))
        self.d.pub(REQ + "3", b'{"sharedKeys":"s"}')
        self.assertEqual(self.d.expect(RES + "3")[1], b'{"shared":{"s":"v"}}')
        self.d.pub(REQ + "4", b'{"clientKeys":"nope"}')
        self.assertEqual(self.d.expect(RES + "4")[1], b"{}")
        self.d.pub("v2/a/req/5", b'{"clientKeys":"a"}')
        self.assertEqual(self.d.expect("v2/a/res/5")[1], b'{"client":{"a":1}}')

    def test_shared_attribute_push(self):
        self.assertEqual(self.d.sub(ATTR), [1])
        admin(self.b, "attributes", "set", self.name, '{"fw_version":"1.2"}')
        self.assertEqual(self.d.expect(ATTR)[1], b'{"fw_version":"1.2"}')
        admin(self.b, "attributes", "set", self.name, '{"fw_version":null}')
        self.assertEqual(self.d.expect(ATTR)[1], b'{"deleted":["fw_version"]}')

    def test_no_push_without_subscription(self):
        admin(self.b, "attributes", "set", self.name, '{"k":1}')
        self.d.pub(REQ + "9", b'{"sharedKeys":"k"}')  # the barrier: ordered after any push
        self.assertEqual(self.d.expect()[0], RES + "9")

    def test_two_devices_are_isolated(self):
        name2, token2 = new_device(self.b)
        d2 = connected_device(self.b, token2, subs=[ATTR, RES + "+", "v1/devices/me/rpc/request/+"])
        self.d.sub(ATTR)
        self.d.sub(RES + "+")
        try:
            admin(self.b, "attributes", "set", self.name, '{"only":"one"}')
            self.assertEqual(self.d.expect(ATTR)[1], b'{"only":"one"}')
            self.d.pub(REQ + "7", b"{}")
            self.d.expect(RES + "7")
            self.d.pub("v1/devices/me/telemetry", b'{"x":1}')
            d2.expect_nothing(0.5)
            self.assertNotIn("x", admin(self.b, "telemetry", name2))
        finally:
            d2.close()

    def test_malformed_telemetry_closes_mqtt311_connection(self):
        self.d.c.publish("v1/devices/me/telemetry", b"{not json", 1)
        self.assertTrue(self.d.disconnected.wait(5))

    def test_malformed_telemetry_mqtt5_keeps_connection(self):
        d5 = connected_device(self.b, self.token, protocol=mqtt.MQTTv5)
        try:
            d5.pub("v1/devices/me/telemetry", b"{not json")
            d5.pub(REQ + "1", b"{}")
            d5.expect(RES + "1")
            self.assertFalse(d5.disconnected.is_set())
        finally:
            d5.close()

    def test_unknown_topic_keeps_connection(self):
        self.d.pub("v1/devices/me/nonsense", b"{}")
        self.d.pub(REQ + "1", b"{}")
        self.d.expect(RES + "1")

    def test_message_over_max_payload_closes_connection(self):
        r = Raw(self.b)
        try:
            self.assertEqual(r.connect(client_id="big", username=self.token), b"\x20\x02\x00\x00")
            r.publish("v1/devices/me/telemetry", b'{"k":"' + b"x" * 60000 + b'"}', mid=1)
            self.assertEqual(r.read_packet(), b"\x40\x02\x00\x01")  # PUBACK: under the limit
            r.publish("v1/devices/me/telemetry", b'{"k":"' + b"x" * 66000 + b'"}', mid=2)
            self.assertEqual(r.read_packet(), b"")  # closed
        finally:
            r.close()

    def test_client_attribute_values_are_converted(self):
        self.d.pub(ATTR, b'{"fw":"1.0","mode":"eco"}')
        got = request(self.b, "attributes.get", {"device": self.name})["client"]
        self.assertEqual(json.dumps(got, separators=(",", ":")), '{"fw":1.0,"mode":"eco"}')


if __name__ == "__main__":
    unittest.main()
