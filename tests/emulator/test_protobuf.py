"""Device profiles with payload type PROTOBUF and the v2 short topics (issue 18): telemetry,
attributes, attribute requests/responses, shared-attribute pushes, server and client RPC in each of
v1 / v2 / v2-json (/j) / v2-protobuf (/p), and the server's answer to payloads that do not decode
(MqttTransportHandler.sendResponseForAdaptorErrorOrCloseContext). Payloads are built and read with
python3-protobuf from the .proto files in proto/ (compiled by protoc into a temporary directory)."""

import atexit
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import paho.mqtt.client as mqtt

from emu import (ADMIN_TOOL, TBMQTT, AdminError, Raw, admin, connected_device, has_emulator_commands, new_device,
                 request, shared_broker, unique, wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "proto")
# ThingsBoard's fixed transport messages: the emulator's own copy (the one copy in the tree).
TRANSPORT_DIR = os.path.join(HERE, "..", "..", "emulator", "plugin")
_out = tempfile.mkdtemp(prefix="tbpb-")
atexit.register(shutil.rmtree, _out, True)
subprocess.run(["protoc", "-I", PROTO_DIR, "--python_out", _out]
               + [f for f in sorted(os.listdir(PROTO_DIR)) if f.endswith(".proto")], check=True)
subprocess.run(["protoc", "-I", TRANSPORT_DIR, "--python_out", _out, "transport.proto"], check=True)
sys.path.insert(0, _out)
telemetry_pb2 = importlib.import_module("telemetry_pb2")
attributes_pb2 = importlib.import_module("attributes_pb2")
rpc_request_pb2 = importlib.import_module("rpc_request_pb2")
rpc_response_pb2 = importlib.import_module("rpc_response_pb2")
tp = importlib.import_module("transport_pb2")
telemetry_ts_pb2 = importlib.import_module("telemetry_ts_pb2")


def schema(name):
    with open(os.path.join(PROTO_DIR, name)) as f:
        return f.read()


def add_profile(b, **extra):
    name = unique("pbprof")
    args = {"name": name, "payloadType": "PROTOBUF", "telemetryProto": schema("telemetry.proto"),
            "attributesProto": schema("attributes.proto"), "rpcRequestProto": schema("rpc_request.proto"),
            "rpcResponseProto": schema("rpc_response.proto")}
    args.update(extra)
    request(b, "device_profile.add", args)
    return name


def proto_device(b, profile):
    name, token = new_device(b)
    request(b, "device.set_profile", {"device": name, "profile": profile})
    return name, token


def reading(**kw):
    return telemetry_pb2.SensorDataReading(**kw).SerializeToString()


def kv_value(kv):
    return {tp.BOOLEAN_V: kv.bool_v, tp.LONG_V: kv.long_v, tp.DOUBLE_V: kv.double_v, tp.STRING_V: kv.string_v,
            tp.JSON_V: kv.json_v and json.loads(kv.json_v)}[kv.type]


def start_admin(b, *args):
    return subprocess.Popen([ADMIN_TOOL, "--state", b.state_dir, "--port", str(b.port)] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class ProfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def test_schema_that_does_not_compile_is_refused(self):
        with self.assertRaises(AdminError) as e:
            request(self.b, "device_profile.add", {"name": unique("bad"), "payloadType": "PROTOBUF",
                                                   "telemetryProto": 'syntax = "proto3"; message M { int32 = 1; }'})
        self.assertIn("invalid telemetryProto", str(e.exception))

    def test_proto2_is_refused_and_last_message_is_the_one(self):
        with self.assertRaises(AdminError):
            request(self.b, "device_profile.add", {"name": unique("p2"), "payloadType": "PROTOBUF",
                                                   "telemetryProto": 'syntax = "proto2"; message M { optional int32 a = 1; }'})
        out = request(self.b, "device_profile.add", {
            "name": unique("last"), "payloadType": "PROTOBUF",
            "telemetryProto": 'syntax = "proto3"; package x; message A { int32 a = 1; } message B { A a = 1; }'})
        self.assertEqual(out["telemetryProtoMessage"], "x.B")  # DynamicProtoUtils: the last message

    def test_unknown_profile_is_refused(self):
        name, _ = new_device(self.b)
        with self.assertRaises(AdminError):
            request(self.b, "device.set_profile", {"device": name, "profile": "no-such-profile"})


class ProtobufUplinkTest(unittest.TestCase):
    """A PROTOBUF-profile device: v1 and bare v2 topics are protobuf, /j JSON, /p protobuf."""

    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()
        cls.profile = add_profile(cls.b)

    def setUp(self):
        self.name, self.token = proto_device(self.b, self.profile)
        self.d = connected_device(self.b, self.token)

    def tearDown(self):
        self.d.close()

    def latest(self, key):
        return wait_for(lambda: admin(self.b, "telemetry", self.name).get(key))

    def test_telemetry_on_each_topic(self):
        # JsonFormat: lowerCamelCase names, every primitive field printed (defaults included),
        # int64 as a string that JsonConverter types back into a number.
        self.d.pub("v1/devices/me/telemetry", reading(temperature=21.5, uptime_s=7, status="ok"))
        self.assertEqual(self.latest("temperature"), 21.5)
        t = admin(self.b, "telemetry", self.name)
        self.assertEqual(t["uptimeS"], 7)
        self.assertEqual(t["status"], "ok")
        self.assertNotIn("humidity", t)  # proto3 optional, absent: not printed
        self.d.pub("v2/t", reading(temperature=22.5))
        self.assertTrue(wait_for(lambda: admin(self.b, "telemetry", self.name)["temperature"] == 22.5))
        self.assertEqual(admin(self.b, "telemetry", self.name)["uptimeS"], 0)  # default printed
        self.d.pub("v2/t/p", reading(humidity=40.0))
        self.assertEqual(self.latest("humidity"), 40.0)
        self.d.pub("v2/t/j", {"jsonKey": 5})  # the JSON adaptor, whatever the profile
        self.assertEqual(self.latest("jsonKey"), 5)

    def test_attributes_on_each_topic(self):
        for i, topic in enumerate(["v1/devices/me/attributes", "v2/a", "v2/a/p"]):
            self.d.pub(topic, attributes_pb2.SensorConfiguration(firmware_version="v1.%d" % i,
                                                                 serial_number=i + 1).SerializeToString())
            self.assertTrue(wait_for(lambda: request(self.b, "attributes.get", {"device": self.name})["client"]
                                     .get("firmwareVersion") == "v1.%d" % i), topic)
        self.assertEqual(request(self.b, "attributes.get", {"device": self.name})["client"]["serialNumber"], 3)
        self.d.pub("v2/a/j", {"mode": "eco"})
        self.assertTrue(wait_for(lambda: request(self.b, "attributes.get", {"device": self.name})["client"]
                                 .get("mode") == "eco"))

    def test_ts_and_values_schema(self):
        # JsonFormat prints the int64 ts as a string; JsonConverter reads it with getAsLong.
        b = self.b
        prof = add_profile(b, telemetryProto=schema("telemetry_ts.proto"))
        name, token = proto_device(b, prof)
        d = connected_device(b, token)
        try:
            msg = telemetry_ts_pb2.TimedReading(ts=1700000000123)
            msg.values.temperature = 7.5
            msg.values.state = "idle"
            d.pub("v2/t", msg.SerializeToString())
            self.assertTrue(wait_for(lambda: admin(b, "telemetry", name).get("state") == "idle"))
            points = request(b, "telemetry.series", {"device": name})
            self.assertEqual({(p["key"], p["ts"]) for p in points},
                             {("temperature", 1700000000123), ("state", 1700000000123)})
        finally:
            d.close()

    def test_wire_type_mismatch_is_an_unknown_field(self):
        # Field 1 sent as a varint where the schema has a double: protobuf keeps it as an unknown
        # field (no error, in Java as in C++), so the message is the defaults.
        self.d.pub("v2/t/p", bytes([0x08, 0x2a, 0x22, 0x02]) + b"hi")
        self.assertEqual(self.latest("status"), "hi")
        self.assertNotIn("temperature", admin(self.b, "telemetry", self.name))


class ProtobufDownlinkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()
        cls.profile = add_profile(cls.b)

    def setUp(self):
        self.name, self.token = proto_device(self.b, self.profile)
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.close()

    def test_attribute_request_response(self):
        request(self.b, "attributes.set", {"device": self.name, "attributes": {"target": 21, "label": "x"}})
        self.d = connected_device(self.b, self.token, subs=["v2/a/res/p/+", "v1/devices/me/attributes/response/+",
                                                             "v2/a/res/j/+"])
        self.d.pub("v1/devices/me/attributes", attributes_pb2.SensorConfiguration(serial_number=9).SerializeToString())
        wait_for(lambda: request(self.b, "attributes.get", {"device": self.name})["client"].get("serialNumber"))
        for req, res in [("v2/a/req/p/3", "v2/a/res/p/3"), ("v1/devices/me/attributes/request/4",
                                                            "v1/devices/me/attributes/response/4")]:
            self.d.pub(req, tp.AttributesRequest(clientKeys="serialNumber", sharedKeys="target").SerializeToString())
            _, payload, _ = self.d.expect(res)
            m = tp.GetAttributeResponseMsg.FromString(payload)
            self.assertEqual(m.requestId, int(req.rsplit("/", 1)[1]))
            self.assertEqual({a.kv.key: kv_value(a.kv) for a in m.clientAttributeList}, {"serialNumber": 9})
            self.assertEqual({a.kv.key: kv_value(a.kv) for a in m.sharedAttributeList}, {"target": 21})
            self.assertEqual(m.sharedAttributeList[0].kv.type, tp.LONG_V)
        # No keys at all: every attribute.
        self.d.pub("v2/a/req/p/5", b"")
        m = tp.GetAttributeResponseMsg.FromString(self.d.expect("v2/a/res/p/5")[1])
        self.assertEqual({a.kv.key for a in m.sharedAttributeList}, {"target", "label"})
        # /j answers JSON for the same device.
        self.d.pub("v2/a/req/j/6", {"sharedKeys": "label"})
        self.assertEqual(json.loads(self.d.expect("v2/a/res/j/6")[1]), {"shared": {"label": "x"}})

    def test_shared_attribute_push(self):
        self.d = connected_device(self.b, self.token, subs=["v2/a/p"])
        request(self.b, "attributes.set", {"device": self.name, "attributes": {"on": True, "cfg": {"a": 1}}})
        m = tp.AttributeUpdateNotificationMsg.FromString(self.d.expect("v2/a/p")[1])
        self.assertEqual({u.kv.key: kv_value(u.kv) for u in m.sharedUpdated}, {"on": True, "cfg": {"a": 1}})
        request(self.b, "attributes.set", {"device": self.name, "attributes": {"on": None}})
        m = tp.AttributeUpdateNotificationMsg.FromString(self.d.expect("v2/a/p")[1])
        self.assertEqual(list(m.sharedDeleted), ["on"])

    def test_v1_push_is_protobuf_for_a_protobuf_profile(self):
        self.d = connected_device(self.b, self.token, subs=["v1/devices/me/attributes"])
        request(self.b, "attributes.set", {"device": self.name, "attributes": {"n": 2.5}})
        m = tp.AttributeUpdateNotificationMsg.FromString(self.d.expect("v1/devices/me/attributes")[1])
        self.assertEqual(m.sharedUpdated[0].kv.double_v, 2.5)

    def test_server_rpc_round_trip(self):
        for sub, prefix, res in [("v2/r/req/p/+", "v2/r/req/p/", "v2/r/res/p/"),
                                 ("v1/devices/me/rpc/request/+", "v1/devices/me/rpc/request/",
                                  "v1/devices/me/rpc/response/")]:
            d = connected_device(self.b, self.token, subs=[sub])
            try:
                p = start_admin(self.b, "rpc", self.name, "setGpio", '{"pin":4,"value":true}')
                topic, payload, _ = d.expect()
                self.assertTrue(topic.startswith(prefix), topic)
                m = rpc_request_pb2.RpcRequestMsg.FromString(payload)
                self.assertEqual((m.method, m.requestId, m.params.pin, m.params.value),
                                 ("setGpio", int(topic[len(prefix):]), 4, True))
                d.pub(res + topic[len(prefix):], rpc_response_pb2.RpcResponseMsg(pin=4, value=True).SerializeToString())
                out, err = p.communicate(timeout=10)
                self.assertEqual(p.returncode, 0, err)
                self.assertEqual(json.loads(out), {"pin": 4, "value": True})
            finally:
                d.close()

    def test_server_rpc_that_does_not_fit_the_schema_fails(self):
        # ProtoConverter.convertToRpcRequest fails (params is a message, "x" a string):
        # onToDeviceRpcRequest answers the caller with an error and sends nothing.
        self.d = connected_device(self.b, self.token, subs=["v2/r/req/p/+"])
        with self.assertRaises(AdminError) as e:
            admin(self.b, "rpc", self.name, "setGpio", '"x"', "--timeout-ms", "3000")
        self.assertIn("Failed to convert device RPC command", str(e.exception))
        self.d.expect_nothing(0.3)

    def test_client_rpc(self):
        request(self.b, "rpc_handler.set", {"method": "pbEcho", "response": {"echo": "${params}"}})
        self.d = connected_device(self.b, self.token, subs=["v2/r/res/p/+", "v1/devices/me/rpc/response/+"])
        for req, res in [("v2/r/req/p/5", "v2/r/res/p/5"), ("v1/devices/me/rpc/request/6",
                                                            "v1/devices/me/rpc/response/6")]:
            self.d.pub(req, tp.RpcRequest(method="pbEcho", params='{"a":1}').SerializeToString())
            m = tp.ToServerRpcResponseMsg.FromString(self.d.expect(res)[1])
            self.assertEqual(m.requestId, int(res.rsplit("/", 1)[1]))
            self.assertEqual(json.loads(m.payload), {"echo": {"a": 1}})


class JsonDownlinkCompatibilityTest(unittest.TestCase):
    """useJsonPayloadFormatForDefaultDownlinkTopics: the v1 downlink is JSON, bare v2 stays protobuf."""

    def test_v1_json_v2_protobuf(self):
        b = shared_broker()
        name, token = proto_device(b, add_profile(b, enableCompatibilityWithJsonPayloadFormat=True,
                                                  useJsonPayloadFormatForDefaultDownlinkTopics=True))
        d = connected_device(b, token, subs=["v1/devices/me/attributes"])
        try:
            request(b, "attributes.set", {"device": name, "attributes": {"mode": "eco"}})
            self.assertEqual(json.loads(d.expect("v1/devices/me/attributes")[1]), {"mode": "eco"})
            # The last attribute subscription decides the family (attrSubTopicType): v2/a only now.
            self.assertEqual(d.sub("v2/a"), [1])
            request(b, "attributes.set", {"device": name, "attributes": {"mode": "away"}})
            topic, payload = d.expect()[0:2]
            self.assertEqual(topic, "v2/a")
            m = tp.AttributeUpdateNotificationMsg.FromString(payload)
            self.assertEqual(m.sharedUpdated[0].kv.string_v, "away")
            d.expect_nothing()
        finally:
            d.close()


class LastSubscriptionFamilyTest(unittest.TestCase):
    """MqttTransportHandler keeps one topic type per kind: pushes and server RPCs go to the family
    of the last subscription, and unsubscribing stops them."""

    def test_pushes_and_rpcs_follow_the_last_subscription_and_stop_on_unsubscribe(self):
        b = shared_broker()
        name, token = new_device(b)
        d = connected_device(b, token, subs=["v2/a/j", "v1/devices/me/attributes", "v1/devices/me/rpc/request/+",
                                             "v2/r/req/j/+"])
        try:
            request(b, "attributes.set", {"device": name, "attributes": {"k": 1}})
            self.assertEqual(d.expect()[0], "v1/devices/me/attributes")
            p = start_admin(b, "rpc", name, "ping", "{}", "--oneway")
            self.assertTrue(d.expect()[0].startswith("v2/r/req/j/"))
            self.assertEqual(p.wait(timeout=30), 0)
            d.expect_nothing()
            d.c.unsubscribe("v2/a/j")
            d.pub("v1/devices/me/telemetry", '{"x":1}')  # acknowledged: the UNSUBSCRIBE before it was handled
            request(b, "attributes.set", {"device": name, "attributes": {"k": 2}})
            d.expect_nothing()
        finally:
            d.close()


class JsonProfileOnProtoTopicsTest(unittest.TestCase):
    """A device without a PROTOBUF profile: /p uses the fixed transport messages where the server
    has them, and fails where it needs the profile's schema."""

    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def setUp(self):
        self.name, self.token = new_device(self.b)
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.close()

    def test_fixed_messages_work(self):
        request(self.b, "attributes.set", {"device": self.name, "attributes": {"k": "v"}})
        self.d = connected_device(self.b, self.token, subs=["v2/a/res/p/+", "v2/a/p", "v2/a/res/+"])
        self.d.pub("v2/a/req/p/1", tp.AttributesRequest(sharedKeys="k").SerializeToString())
        m = tp.GetAttributeResponseMsg.FromString(self.d.expect("v2/a/res/p/1")[1])
        self.assertEqual(m.sharedAttributeList[0].kv.string_v, "v")
        self.d.pub("v2/a/req/2", {"sharedKeys": "k"})  # bare v2: the profile's format, JSON
        self.assertEqual(json.loads(self.d.expect("v2/a/res/2")[1]), {"shared": {"k": "v"}})
        request(self.b, "attributes.set", {"device": self.name, "attributes": {"k": "w"}})
        m = tp.AttributeUpdateNotificationMsg.FromString(self.d.expect("v2/a/p")[1])
        self.assertEqual(m.sharedUpdated[0].kv.string_v, "w")

    def test_server_rpc_on_p_fails_without_a_schema(self):
        self.d = connected_device(self.b, self.token, subs=["v2/r/req/p/+"])
        with self.assertRaises(AdminError) as e:
            admin(self.b, "rpc", self.name, "m", "{}", "--timeout-ms", "3000")
        self.assertIn("Failed to convert device RPC command", str(e.exception))

    def test_v2_json_topics(self):
        self.d = connected_device(self.b, self.token, subs=["v2/r/req/+", "v2/r/res/j/+"])
        self.d.pub("v2/t", {"a": 1})
        self.d.pub("v2/t/j", {"b": 2})
        self.assertTrue(wait_for(lambda: admin(self.b, "telemetry", self.name) == {"a": 1, "b": 2}))
        p = start_admin(self.b, "rpc", self.name, "ping", "{}")
        topic, payload, _ = self.d.expect()
        self.assertEqual(json.loads(payload), {"method": "ping", "params": {}})
        self.d.pub("v2/r/res/" + topic.rsplit("/", 1)[1], {"pong": 1})
        out, _ = p.communicate(timeout=10)
        self.assertEqual(json.loads(out), {"pong": 1})


class BadProtobufTest(unittest.TestCase):
    """sendResponseForAdaptorErrorOrCloseContext: a payload the adaptor rejects closes an MQTT 3.1.1
    session, unless the profile has sendAckOnValidationException (then PUBACK, session kept)."""

    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def raw_publish(self, token, topic, payload):
        r = Raw(self.b)
        try:
            self.assertEqual(r.connect(client_id=unique("raw"), username=token)[:4], b"\x20\x02\x00\x00")
            r.publish(topic, payload, qos=1, mid=7)
            first = r.read_packet()
            if first:  # PUBACK, then the session must still answer a PINGREQ
                r.s.sendall(b"\xc0\x00")
                return first, r.read_packet()
            return first, None
        finally:
            r.close()

    def test_truncated_protobuf_closes_the_session(self):
        name, token = proto_device(self.b, add_profile(self.b))
        # 0x0a: field 1 length-delimited, length 0x7f, 2 bytes follow: truncated.
        for topic in ["v2/t/p", "v1/devices/me/telemetry", "v2/a", "v2/r/res/p/1", "v2/a/req/p/1", "v2/r/req/p/1"]:
            first, _ = self.raw_publish(token, topic, b"\x0a\x7f\x01\x02")
            self.assertEqual(first, b"", topic)
        self.assertEqual(admin(self.b, "telemetry", name), {})

    def test_send_ack_on_validation_exception(self):
        name, token = proto_device(self.b, add_profile(self.b, sendAckOnValidationException=True))
        first, ping = self.raw_publish(token, "v2/t/p", b"\xff\xff\xff")
        self.assertEqual(first, b"\x40\x02\x00\x07")
        self.assertEqual(ping, b"\xd0\x00")
        self.assertEqual(admin(self.b, "telemetry", name), {})

    def test_mqtt5_gets_a_puback_and_keeps_the_session(self):
        _, token = proto_device(self.b, add_profile(self.b))
        r = Raw(self.b)
        try:
            connack = r.connect(client_id=unique("raw5"), username=token, version=5)
            self.assertEqual((connack[0], connack[3]), (0x20, 0))
            r.publish("v2/t/p", b"\x0a\x7f\x01", qos=1, mid=9, version=5)
            puback = r.read_packet()
            self.assertEqual(puback[0], 0x40)
            self.assertEqual(puback[2:4], b"\x00\x09")
            r.s.sendall(b"\xc0\x00")
            self.assertEqual(r.read_packet(), b"\xd0\x00")
        finally:
            r.close()

    def test_json_device_on_p_topic_has_no_descriptor(self):
        _, token = new_device(self.b)
        first, _ = self.raw_publish(token, "v2/t/p", reading(temperature=1.0))
        self.assertEqual(first, b"")  # validateDescriptor: AdaptorException

    def test_json_on_a_protobuf_topic_with_compatibility(self):
        # BackwardCompatibilityAdaptor: protobuf first, then JSON.
        name, token = proto_device(self.b, add_profile(self.b, enableCompatibilityWithJsonPayloadFormat=True))
        d = connected_device(self.b, token)
        try:
            d.pub("v1/devices/me/telemetry", {"viaJson": 1})
            d.pub("v2/t", reading(temperature=3.0))
            self.assertTrue(wait_for(lambda: admin(self.b, "telemetry", name).get("temperature") == 3.0))
            self.assertEqual(admin(self.b, "telemetry", name)["viaJson"], 1)
        finally:
            d.close()


if __name__ == "__main__":
    unittest.main()


@unittest.skipUnless(has_emulator_commands(), "build/bin/tbmqtt has no emulator commands")
class CliDeviceProfileTest(unittest.TestCase):
    """`tbmqtt emulator device-profile add NAME --telemetry-proto FILE ...` and `... assign`."""

    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def tb(self, *args):
        return subprocess.run([TBMQTT, "emulator", *args, "--state", self.b.state_dir, "--port", str(self.b.port)],
                              capture_output=True, text=True, timeout=30)

    def test_add_assign_and_use(self):
        prof = unique("cliprof")
        r = self.tb("device-profile", "add", prof, "--telemetry-proto", os.path.join(PROTO_DIR, "telemetry.proto"),
                    "--send-ack-on-validation-exception")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["payloadType"], out["telemetryProtoMessage"], out["sendAckOnValidationException"]),
                         ("PROTOBUF", "telemetry.SensorDataReading", True))
        name, token = new_device(self.b)
        r = self.tb("device-profile", "assign", name, prof)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["deviceProfile"], prof)
        d = connected_device(self.b, token)
        try:
            d.pub("v2/t", reading(temperature=5.5))
            self.assertTrue(wait_for(lambda: admin(self.b, "telemetry", name).get("temperature") == 5.5))
        finally:
            d.close()

    def test_errors(self):
        r = self.tb("device-profile", "add", unique("x"), "--telemetry-proto", "/nonexistent.proto")
        self.assertEqual(r.returncode, 2, r.stderr)
        with tempfile.NamedTemporaryFile("w", suffix=".proto") as f:
            f.write('syntax = "proto3"; message M { int32 = 1; }')
            f.flush()
            r = self.tb("device-profile", "add", unique("x"), "--telemetry-proto", f.name)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("invalid telemetryProto", r.stderr)
        r = self.tb("device-profile", "assign", "no-such-device", "p")
        self.assertEqual(r.returncode, 5, r.stderr)
