"""Provisioning (doc section 4): credential types, strategies and failure statuses."""

import json
import unittest

from emu import Device, Raw, admin, connected_device, new_device, request, shared_broker, unique

RESP = "/provision/response"


class ProvisionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()
        cls.key, cls.secret = unique("key"), "S"
        request(cls.b, "profile.add", {"key": cls.key, "secret": cls.secret})
        cls.pkey = unique("prekey")
        request(cls.b, "profile.add", {"key": cls.pkey, "secret": "P",
                                       "strategy": "check-preprovisioned"})

    def provision(self, body, subscribe=True):
        d = Device(self.b, username="provision")
        self.assertEqual(d.connect(), 0)
        try:
            if subscribe:
                d.sub(RESP)
            d.pub("/provision/request", body)
            return d.expect(RESP)[1]
        finally:
            d.close()

    def test_server_generated_token(self):
        name = unique("prov")
        r = json.loads(self.provision({"deviceName": name, "provisionDeviceKey": self.key,
                                       "provisionDeviceSecret": self.secret}))
        self.assertEqual((r["credentialsType"], r["status"]), ("ACCESS_TOKEN", "SUCCESS"))
        connected_device(self.b, r["credentialsValue"]).close()

    def test_device_supplied_token_is_byte_exact(self):
        tok = unique("ptok")
        payload = self.provision({"deviceName": unique("prov"), "provisionDeviceKey": self.key,
                                  "provisionDeviceSecret": self.secret,
                                  "credentialsType": "ACCESS_TOKEN", "token": tok})
        self.assertEqual(payload, ('{"credentialsValue":"%s","credentialsType":"ACCESS_TOKEN",'
                                   '"status":"SUCCESS"}' % tok).encode())

    def test_mqtt_basic(self):
        cid, user = unique("pc"), unique("pu")
        payload = self.provision({"deviceName": unique("prov"), "provisionDeviceKey": self.key,
                                  "provisionDeviceSecret": self.secret,
                                  "credentialsType": "MQTT_BASIC", "clientId": cid,
                                  "username": user, "password": "pw"})
        self.assertEqual(payload, ('{"credentialsValue":{"clientId":"%s","userName":"%s",'
                                   '"password":"pw"},"credentialsType":"MQTT_BASIC",'
                                   '"status":"SUCCESS"}' % (cid, user)).encode())
        r = Raw(self.b)
        try:
            self.assertEqual(r.connect(client_id=cid, username=user, password="pw"),
                             b"\x20\x02\x00\x00")
        finally:
            r.close()

    def test_x509_returns_base64_body(self):
        pem = "-----BEGIN CERTIFICATE-----\nTUlJQ2Vy\ndGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
        r = json.loads(self.provision({"deviceName": unique("prov"), "provisionDeviceKey": self.key,
                                       "provisionDeviceSecret": self.secret,
                                       "credentialsType": "X509_CERTIFICATE", "hash": pem}))
        self.assertEqual((r["credentialsValue"], r["credentialsType"], r["status"]),
                         ("TUlJQ2VydGlmaWNhdGU=", "X509_CERTIFICATE", "SUCCESS"))

    def test_bad_secret_is_not_found(self):
        self.assertEqual(self.provision({"deviceName": unique("prov"), "provisionDeviceKey": self.key,
                                         "provisionDeviceSecret": "wrong"}),
                         b'{"errorMsg":"Provision data was not found!","status":"NOT_FOUND"}')

    def test_existing_name_is_failure(self):
        name, _ = new_device(self.b)
        self.assertEqual(self.provision({"deviceName": name, "provisionDeviceKey": self.key,
                                         "provisionDeviceSecret": self.secret}),
                         b'{"errorMsg":"Failed to provision device!","status":"FAILURE"}')

    def test_colliding_token_is_failure(self):
        _, tok = new_device(self.b)
        r = json.loads(self.provision({"deviceName": unique("prov"), "provisionDeviceKey": self.key,
                                       "provisionDeviceSecret": self.secret,
                                       "credentialsType": "ACCESS_TOKEN", "token": tok}))
        self.assertEqual(r["status"], "FAILURE")

    def test_response_arrives_without_subscription(self):
        r = json.loads(self.provision({"deviceName": unique("prov"), "provisionDeviceKey": self.key,
                                       "provisionDeviceSecret": self.secret}, subscribe=False))
        self.assertEqual(r["status"], "SUCCESS")

    def test_missing_secret_gets_no_response_and_disconnect(self):
        d = Device(self.b, client_id="provision")
        self.assertEqual(d.connect(), 0)
        try:
            d.sub(RESP)
            d.c.publish("/provision/request", json.dumps({"provisionDeviceKey": self.key}), 1)
            self.assertTrue(d.disconnected.wait(5))
            self.assertTrue(d.msgs.empty())
        finally:
            d.close()

    def test_provision_session_cannot_use_device_topics(self):
        d = Device(self.b, username="provision")
        d.connect()
        try:
            self.assertEqual(d.sub("v1/devices/me/attributes"), [128])
        finally:
            d.close()

    def test_server_closes_after_reply(self):
        d = Device(self.b, username="provision")  # run_tests.sh sets provision_close_ms 1000
        d.connect()
        try:
            d.pub("/provision/request", {"deviceName": unique("prov"), "provisionDeviceKey": self.key,
                                         "provisionDeviceSecret": self.secret})
            d.expect(RESP)
            self.assertTrue(d.disconnected.wait(10))
        finally:
            d.close()

    def test_check_preprovisioned(self):
        name, _ = new_device(self.b)
        body = {"deviceName": name, "provisionDeviceKey": self.pkey, "provisionDeviceSecret": "P",
                "credentialsType": "ACCESS_TOKEN", "token": unique("pre")}
        r = json.loads(self.provision(body))
        self.assertEqual(r["status"], "SUCCESS")
        connected_device(self.b, body["token"]).close()
        # already provisioned
        self.assertEqual(json.loads(self.provision(body))["status"], "FAILURE")
        # unknown device
        body["deviceName"] = unique("absent")
        self.assertEqual(json.loads(self.provision(body))["status"], "FAILURE")

    def test_gateway_flag(self):
        name = unique("provgw")
        self.provision({"deviceName": name, "provisionDeviceKey": self.key,
                        "provisionDeviceSecret": self.secret, "gateway": True})
        self.assertTrue(request(self.b, "device.get", {"device": name})["gateway"])


if __name__ == "__main__":
    unittest.main()
