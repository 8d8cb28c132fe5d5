"""CONNACK codes and credential forms (protocol doc section 1)."""

import unittest

import paho.mqtt.client as mqtt

from emu import Device, Raw, new_device, shared_broker, unique


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def raw_connack(self, version=4, **kw):
        r = Raw(self.b)
        try:
            ack = r.connect(version=version, **kw)
            closed = r.read_packet() == b"" if ack[3:4] != b"\x00" else None
            return ack, closed
        finally:
            r.close()

    def test_access_token_is_accepted(self):
        _, token = new_device(self.b)
        ack, _ = self.raw_connack(client_id="any", username=token)
        self.assertEqual(ack, b"\x20\x02\x00\x00")

    def test_access_token_ignores_password(self):
        _, token = new_device(self.b)
        ack, _ = self.raw_connack(client_id="any", username=token, password="whatever")
        self.assertEqual(ack, b"\x20\x02\x00\x00")

    def test_unknown_token_is_refused_5_and_closed(self):
        ack, closed = self.raw_connack(client_id="x", username="no-such-token")
        self.assertEqual(ack, b"\x20\x02\x00\x05")
        self.assertTrue(closed)

    def test_unknown_token_mqtt5_is_bad_username_or_password(self):
        ack, closed = self.raw_connack(version=5, client_id="x", username="no-such-token")
        self.assertEqual(ack, b"\x20\x03\x00\x86\x00")
        self.assertTrue(closed)

    def test_unknown_client_id_only_is_identifier_rejected(self):
        ack, closed = self.raw_connack(client_id=unique("nobody"))
        self.assertEqual(ack, b"\x20\x02\x00\x02")
        self.assertTrue(closed)

    def test_unknown_client_id_only_mqtt5_is_0x85(self):
        ack, _ = self.raw_connack(version=5, client_id=unique("nobody"))
        self.assertEqual(ack, b"\x20\x03\x00\x85\x00")

    def test_no_credentials_at_all_is_not_authorized(self):
        ack, _ = self.raw_connack(version=5, client_id="")
        self.assertEqual(ack[:4], b"\x20\x03\x00\x87")
        ack, _ = self.raw_connack(version=4, client_id="")
        self.assertEqual(ack, b"\x20\x02\x00\x05")

    def test_mqtt_basic_client_id_only(self):
        cid = unique("basic-cid")
        new_device(self.b, client_id=cid)
        ack, _ = self.raw_connack(client_id=cid)
        self.assertEqual(ack, b"\x20\x02\x00\x00")

    def test_mqtt_basic_username_password(self):
        user = unique("user")
        new_device(self.b, username=user, password="pw")
        self.assertEqual(self.raw_connack(client_id="c1", username=user, password="pw")[0],
                         b"\x20\x02\x00\x00")
        self.assertEqual(self.raw_connack(client_id="c1", username=user, password="bad")[0],
                         b"\x20\x02\x00\x05")
        self.assertEqual(self.raw_connack(version=5, client_id="c1", username=user,
                                          password="bad")[0], b"\x20\x03\x00\x86\x00")
        # A stored password is required.
        self.assertEqual(self.raw_connack(client_id="c1", username=user)[0], b"\x20\x02\x00\x05")

    def test_mqtt_basic_all_three(self):
        cid, user = unique("cid3"), unique("user3")
        new_device(self.b, client_id=cid, username=user, password="pw3")
        self.assertEqual(self.raw_connack(client_id=cid, username=user, password="pw3")[0],
                         b"\x20\x02\x00\x00")
        self.assertEqual(self.raw_connack(client_id="other", username=user, password="pw3")[0],
                         b"\x20\x02\x00\x05")

    def test_paho_mqtt5_sees_refusal(self):
        d = Device(self.b, username="nope", protocol=mqtt.MQTTv5)
        try:
            self.assertEqual(d.connect(), 0x86)
        finally:
            d.close()

    def test_subscribe_wildcard_fails(self):
        _, token = new_device(self.b)
        d = Device(self.b, username=token)
        d.connect()
        try:
            self.assertEqual(d.sub("#"), [128])
            self.assertEqual(d.sub("v1/devices/me/telemetry"), [128])
            self.assertEqual(d.sub("v1/devices/me/attributes", 1), [1])
        finally:
            d.close()


if __name__ == "__main__":
    unittest.main()
