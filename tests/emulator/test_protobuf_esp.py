"""The ESP client's wire option (issue 18) on the real ESP-IDF (linux target) against the emulator:
the esp_soak test app in mode `wire` (tests/esp_idf_linux/apps/esp_soak) sends telemetry and
client attributes, requests attributes, makes a client RPC, then answers a server RPC, an unknown
method (the library's error answer) and logs a shared-attribute push, on v2 topics with JSON and
with protobuf payloads in a PROTOBUF device profile's schemas; each result as the emulator sees it."""

import json
import os
import unittest

from esp_idf import EspApp, require_esp_examples
from emu import HOST, admin, new_device, request, shared_broker, unique, wait_for

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "proto")

# rpc_response.proto with a string field for error answers (the app's rpc_answer table).
RPC_RESPONSE_WITH_ERROR = """syntax = "proto3";
package rpc;

message RpcResponseMsg {
  int32 pin = 1;
  bool value = 2;
  string error = 3;
}
"""


def schema(name):
    with open(os.path.join(PROTO_DIR, name)) as f:
        return f.read()


@require_esp_examples("esp_soak")
class EspWireFormatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()
        cls.profile = unique("esppb")
        request(cls.b, "device_profile.add", {
            "name": cls.profile, "payloadType": "PROTOBUF", "telemetryProto": schema("telemetry.proto"),
            "attributesProto": schema("attributes.proto"), "rpcRequestProto": schema("rpc_request.proto"),
            "rpcResponseProto": RPC_RESPONSE_WITH_ERROR})
        cls.method = unique("espcall").replace("-", "_")
        request(cls.b, "rpc_handler.set", {"method": cls.method, "response": {"echo": "${params}", "m": "${method}"}})

    @classmethod
    def tearDownClass(cls):
        request(cls.b, "rpc_handler.set", {"method": cls.method, "response": None})

    def test_v2_json(self):
        self.run_features("v2", "json")

    def test_v2_protobuf(self):
        self.run_features("v2", "protobuf")

    def run_features(self, topics, payload):
        name, token = new_device(self.b)
        if payload == "protobuf":
            request(self.b, "device.set_profile", {"device": name, "profile": self.profile})
        request(self.b, "attributes.set", {"device": name, "scope": "shared", "attributes": {"mode": "eco"}})
        app = EspApp("esp_soak", {"TBMQTT_URI": "mqtt://%s:%d" % (HOST, self.b.port), "TBMQTT_TOKEN": token,
                                  "TBMQTT_CLIENT_ID": unique("espwire"), "TBMQTT_SOAK_MODE": "wire",
                                  "TBMQTT_WIRE_TOPICS": topics, "TBMQTT_WIRE_PAYLOAD": payload,
                                  "TBMQTT_WIRE_METHOD": self.method})
        self.addCleanup(app.stop)
        app.wait_for(r"soak: telemetry and attributes delivered")
        got = wait_for(lambda: admin(self.b, "telemetry", name))
        self.assertEqual({k: got.get(k) for k in ("temperature", "uptimeS", "status")},
                         {"temperature": 21.5, "uptimeS": 7, "status": "ok"})
        attrs = wait_for(lambda: request(self.b, "attributes.get", {"device": name})["client"])
        self.assertEqual((attrs.get("firmwareVersion"), attrs.get("serialNumber")), ("fw-1.2", 5))

        # The attribute response and the client RPC's answer, as the app's callbacks saw them.
        client = json.loads(app.wait_for(r"soak: client (\{.*\})$").group(1))
        shared = json.loads(app.wait_for(r"soak: shared (\{.*\})$").group(1))
        self.assertEqual((client, shared), ({"firmwareVersion": "fw-1.2"}, {"mode": "eco"}))
        answer = json.loads(app.wait_for(r"soak: rpc answer (\{.*\})$").group(1))
        self.assertEqual(answer, {"echo": {"tz": "UTC"}, "m": self.method})
        app.wait_for(r"soak: wire ready")

        # Server RPC answered by the app (params echoed through the response schema).
        answer = admin(self.b, "rpc", name, "setGpio", '{"pin":4,"value":true}')
        if payload == "protobuf":  # the server prints the response schema with its defaults
            self.assertEqual(answer.pop("error"), "")
        self.assertEqual(answer, {"pin": 4, "value": True})
        app.wait_for(r"setGpio answered")
        # An unknown method: the library's error answer reaches the server (protobuf: its `error` field).
        error = admin(self.b, "rpc", name, "reboot", "{}")
        self.assertEqual(error, {"error": "unknown method: reboot", **({"pin": 0, "value": False}
                                                                       if payload == "protobuf" else {})})

        # A shared-attribute push of the subscribed key.
        request(self.b, "attributes.set", {"device": name, "scope": "shared", "attributes": {"mode": "boost"}})
        self.assertEqual(json.loads(app.wait_for(r"soak: push (\{.*\})$").group(1)), {"mode": "boost"})


if __name__ == "__main__":
    unittest.main()
