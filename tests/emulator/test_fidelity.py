"""The emulator against ThingsBoard's own code, case by case (issue 14).

Every test names the ThingsBoard source it reproduces: file and method in thingsboard/thingsboard
at commit dfe65d5abc3aa959aaa853952d74943fbd6867bd (2026-07-02). Paths are abbreviated:
  MqttTransportHandler   common/transport/mqtt/src/main/java/org/thingsboard/server/transport/mqtt/MqttTransportHandler.java
  AbstractGatewaySH      common/transport/mqtt/.../mqtt/session/AbstractGatewaySessionHandler.java
  JsonConverter          common/proto/src/main/java/org/thingsboard/server/common/adaptor/JsonConverter.java
  DefaultTransportApiS   application/.../service/transport/DefaultTransportApiService.java
  DeviceActorMP          application/.../actors/device/DeviceActorMessageProcessor.java
  ClaimDevicesSI         application/.../service/device/ClaimDevicesServiceImpl.java
  DeviceProvisionSI      application/.../service/device/DeviceProvisionServiceImpl.java
  DefaultOtaPSS          application/.../service/ota/DefaultOtaPackageStateService.java
  TbRateLimits           common/message/.../common/msg/tools/TbRateLimits.java
Where mosquitto 2.0.11 prevents the exact behaviour, the test checks the closest one and says why
(emulator/README.md, "Known deviations").
"""

import json
import re
import time
import unittest

from emu import (Device, Raw, admin, connected_device, new_device, request, shared_broker, unique,
                 wait_for)

PUBACK1 = b"\x40\x02\x00\x01"
PINGREQ = b"\xc0\x00"
PINGRESP = b"\xd0\x00"


def raw_device(broker, token, client_id=None):
    r = Raw(broker)
    ack = r.connect(client_id=client_id or unique("raw"), username=token)
    if ack != b"\x20\x02\x00\x00":
        r.close()
        raise AssertionError("CONNACK %r" % ack)
    return r


def still_connected(r):
    r.s.sendall(PINGREQ)
    return r.read_packet() == PINGRESP


def new_gateway(broker):
    name = unique("gw")
    d = admin(broker, "device", "add", name, "--gateway")
    return name, d["credentials"]["token"]


def latest(broker, name):
    return request(broker, "telemetry.get", {"device": name})


class CredentialsTest(unittest.TestCase):
    """DefaultTransportApiS.validateCredentials / validateUserNameCredentials /
    validateMqttCredentials; credential ids from DeviceCredentialsServiceImpl.formatSimpleMqttCredentials."""

    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def connack(self, **kw):
        r = Raw(self.b)
        try:
            return r.connect(**kw)
        finally:
            r.close()

    def device_of(self, **kw):
        """Connects, sends one telemetry key, returns the device that stored it (or None)."""
        r = Raw(self.b)
        try:
            if r.connect(**kw) != b"\x20\x02\x00\x00":
                return None
            key = unique("k").replace("-", "_")
            r.publish("v1/devices/me/telemetry", json.dumps({key: 1}).encode())
            self.assertEqual(r.read_packet(), PUBACK1)
        finally:
            r.close()
        for d in request(self.b, "device.list"):
            if key in latest(self.b, d["name"]):
                return d["name"]
        return None

    def test_client_id_and_user_name_select_the_basic_device_even_when_a_token_equals_the_user_name(self):
        # validateCredentials: with a user name, sha3(clientId|userName) is looked up first.
        shared = unique("shared")
        token_dev, _ = new_device(self.b, token=shared)
        cid = unique("cid")
        basic_dev, _ = new_device(self.b, client_id=cid, username=shared, password="pw")
        self.assertEqual(self.device_of(client_id=cid, username=shared, password="pw"), basic_dev)
        # Another client id falls back to validateUserNameCredentials: the token.
        self.assertEqual(self.device_of(client_id=unique("other"), username=shared, password="x"), token_dev)

    def test_right_client_id_and_user_name_with_a_wrong_password_is_refused_without_fallback(self):
        # validateCredentials: PASSWORD_MISMATCH -> getEmptyTransportApiResponse (no token lookup).
        shared = unique("shared")
        new_device(self.b, token=shared)
        cid = unique("cid")
        new_device(self.b, client_id=cid, username=shared, password="pw")
        self.assertEqual(self.connack(client_id=cid, username=shared, password="wrong"), b"\x20\x02\x00\x05")
        self.assertEqual(self.connack(client_id=cid, username=shared), b"\x20\x02\x00\x05")

    def test_a_user_name_switches_the_lookup_away_from_client_id_only_credentials(self):
        # validateCredentials: only an empty user name looks up sha3(clientId).
        cid = unique("cid-only")
        dev, _ = new_device(self.b, client_id=cid)
        self.assertEqual(self.device_of(client_id=cid), dev)
        self.assertEqual(self.connack(client_id=cid, username=unique("unknown")), b"\x20\x02\x00\x05")

    def test_user_name_only_basic_credentials_ignore_the_client_id(self):
        # validateUserNameCredentials: the MQTT_BASIC credential whose id is the user name.
        user = unique("user")
        dev, _ = new_device(self.b, username=user, password="pw")
        self.assertEqual(self.device_of(client_id=unique("any"), username=user, password="pw"), dev)
        self.assertEqual(self.connack(client_id=unique("any"), username=user, password="bad"), b"\x20\x02\x00\x05")

    def test_a_token_and_a_user_name_only_credential_cannot_share_an_id(self):
        # formatSimpleMqttCredentials: both have the user name / token as credentialsId (unique).
        shared = unique("id")
        new_device(self.b, token=shared)
        with self.assertRaises(Exception):
            new_device(self.b, username=shared, password="pw")


class SessionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def test_a_second_session_of_the_same_device_closes_the_first(self):
        # DeviceActorMP: sessions = LinkedHashMapRemoveEldest(max_concurrent_sessions_per_device)
        # -> notifyTransportAboutClosedSessionMaxSessionsLimit; thingsboard.yml
        # actors.session.max_concurrent_sessions_per_device: 1.
        _, token = new_device(self.b)
        first = connected_device(self.b, token)
        second = connected_device(self.b, token)
        try:
            self.assertTrue(first.disconnected.wait(5))
            self.assertFalse(second.disconnected.is_set())
            second.pub("v1/devices/me/telemetry", {"still": 1})
        finally:
            first.close()
            second.close()

    def test_another_device_cannot_take_over_a_client_id_in_use(self):
        # ThingsBoard does not key sessions by client id (MqttTransportHandler keeps one handler per
        # channel), so two devices may share one. mosquitto would drop the first session (MQTT
        # session takeover); the emulator refuses the newcomer with "identifier rejected" instead.
        _, t1 = new_device(self.b)
        _, t2 = new_device(self.b)
        cid = unique("shared-cid")
        first = raw_device(self.b, t1, client_id=cid)
        try:
            r = Raw(self.b)
            try:
                self.assertEqual(r.connect(client_id=cid, username=t2), b"\x20\x02\x00\x02")
                self.assertEqual(r.read_packet(), b"")
            finally:
                r.close()
            self.assertTrue(still_connected(first))
        finally:
            first.close()

    def test_the_same_device_may_reconnect_with_its_client_id(self):
        _, token = new_device(self.b)
        cid = unique("again")
        first = raw_device(self.b, token, client_id=cid)
        second = raw_device(self.b, token, client_id=cid)
        try:
            self.assertEqual(first.read_packet(), b"")  # taken over
            self.assertTrue(still_connected(second))
        finally:
            first.close()
            second.close()


class RpcIdTest(unittest.TestCase):
    def test_server_rpc_ids_start_at_zero_per_device(self):
        # DeviceActorMP: private int rpcSeq = 0; createToDeviceRpcRequestMsg .setRequestId(rpcSeq++).
        b = shared_broker()
        for _ in range(2):
            name, token = new_device(b)
            d = connected_device(b, token, subs=["v1/devices/me/rpc/request/+"])
            try:
                for expected in ("0", "1"):
                    admin(b, "rpc", name, "m", "{}", "--oneway")
                    topic, _, _ = d.expect()
                    self.assertEqual(topic, "v1/devices/me/rpc/request/" + expected)
            finally:
                d.close()


class ClaimTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def claim(self, d, body):
        d.pub("v1/devices/me/claim", body)

    def accept(self, name, secret):
        return request(self.b, "claim.accept", {"device": name, "secretKey": secret})["result"]

    def test_a_claimed_device_answers_claimed(self):
        # ClaimDevicesSI.claimDevice: customer already set -> ClaimResponse.CLAIMED (with or without
        # a claim request); registerClaimingInfo refuses a claimed device.
        name, token = new_device(self.b)
        d = connected_device(self.b, token)
        try:
            self.claim(d, {"secretKey": "s"})
            self.assertEqual(self.accept(name, "s"), "SUCCESS")
            self.assertEqual(self.accept(name, "s"), "CLAIMED")
            self.claim(d, {"secretKey": "s"})
            self.assertIsNone(request(self.b, "claim.get", {"device": name})["claim"])
            self.assertEqual(self.accept(name, "s"), "CLAIMED")
        finally:
            d.close()

    def test_a_second_claim_request_does_not_replace_a_pending_one(self):
        # ClaimDevicesSI.persistInCache: cache.putIfAbsent.
        name, token = new_device(self.b)
        d = connected_device(self.b, token)
        try:
            self.claim(d, {"secretKey": "first", "durationMs": 60000})
            self.claim(d, {"secretKey": "second", "durationMs": 120000})
            c = request(self.b, "claim.get", {"device": name})["claim"]
            self.assertEqual((c["secretKey"], c["durationMs"]), ("first", 60000))
            self.assertEqual(self.accept(name, "first"), "SUCCESS")
        finally:
            d.close()

    def test_a_wrong_secret_fails_and_drops_the_request(self):
        # ClaimDevicesSI.claimDevice: wrong secretKey -> FAILURE and cache.evict.
        name, token = new_device(self.b)
        d = connected_device(self.b, token)
        try:
            self.claim(d, {"secretKey": "k"})
            self.assertEqual(self.accept(name, "bad"), "FAILURE")
            self.assertEqual(self.accept(name, "k"), "FAILURE")
        finally:
            d.close()

    def test_a_zero_duration_is_the_system_duration(self):
        # ClaimDevicesSI.validateDurationMs; thingsboard.yml security.claim.duration 86400000.
        name, token = new_device(self.b)
        d = connected_device(self.b, token)
        try:
            self.claim(d, {"secretKey": "z", "durationMs": 0})
            self.assertEqual(request(self.b, "claim.get", {"device": name})["claim"]["durationMs"], 86400000)
        finally:
            d.close()


class TypingTest(unittest.TestCase):
    """JsonConverter.parseProtoValues / buildNumericKeyValueProto / isSimpleDouble."""

    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def test_numbers_are_typed_from_their_text(self):
        name, token = new_device(self.b)
        r = raw_device(self.b, token)
        try:
            body = (b'{"exp":1e3,"exp_frac":1.5e3,"big":12345678901234567890123,"u64":18446744073709551615,'
                    b'"max":9223372036854775807,"long_frac":0.12345678901234567,"dbl":2.50,"one":1.0,'
                    b'"tiny":1.5e-3,"s_exp":"1e3","s_big":"12345678901234567890","s_num":"42","s_dbl":"0.5"}')
            r.publish("v1/devices/me/telemetry", body)
            self.assertEqual(r.read_packet(), PUBACK1)
        finally:
            r.close()
        got = latest(self.b, name)
        expected = {"exp": 1000, "exp_frac": 1500, "big": "12345678901234567890123",
                    "u64": "18446744073709551615", "max": 9223372036854775807,
                    "long_frac": "0.12345678901234567", "dbl": 2.5, "one": 1.0, "tiny": 0.0015,
                    "s_exp": "1e3", "s_big": "12345678901234567890", "s_num": 42, "s_dbl": 0.5}
        self.assertEqual(got, expected)
        for k in ("exp", "exp_frac", "max", "s_num"):
            self.assertIs(type(got[k]), int, k)  # LONG_V
        for k in ("dbl", "one", "tiny", "s_dbl"):
            self.assertIs(type(got[k]), float, k)  # DOUBLE_V

    def test_attribute_nulls_are_skipped_and_the_other_keys_stored(self):
        # JsonConverter.convertToAttributesProto -> parseProtoValues: `else if (!element.isJsonNull())`.
        name, token = new_device(self.b)
        r = raw_device(self.b, token)
        try:
            r.publish("v1/devices/me/attributes", b'{"gone":null,"kept":1e2}')
            self.assertEqual(r.read_packet(), PUBACK1)
            self.assertTrue(still_connected(r))
        finally:
            r.close()
        self.assertEqual(request(self.b, "attributes.get", {"device": name})["client"], {"kept": 100})

    def test_telemetry_nulls_are_skipped(self):
        name, token = new_device(self.b)
        r = raw_device(self.b, token)
        try:
            r.publish("v1/devices/me/telemetry", b'{"n":null,"v":1}')
            self.assertEqual(r.read_packet(), PUBACK1)
        finally:
            r.close()
        self.assertEqual(latest(self.b, name), {"v": 1})


class GatewayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def setUp(self):
        self.gw_name, self.token = new_gateway(self.b)
        self.r = raw_device(self.b, self.token)

    def tearDown(self):
        self.r.close()

    def publish(self, topic, payload):
        self.r.publish(topic, payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        return self.r.read_packet()

    def assert_puback_then_closed(self, topic, payload):
        # MqttTransportHandler.handleGatewayPublishMsg: catch (RuntimeException) -> ack(...) then closeCtx.
        self.assertEqual(self.publish(topic, payload), PUBACK1)
        self.assertEqual(self.r.read_packet(), b"")

    def test_telemetry_with_no_array_value_gets_a_puback_then_the_connection_closes(self):
        # AbstractGatewaySH.onDeviceTelemetryJson: no entry left -> IllegalArgumentException.
        self.assert_puback_then_closed("v1/gateway/telemetry", {unique("c"): {"t": 1}})

    def test_connect_without_device_gets_a_puback_then_the_connection_closes(self):
        # AbstractGatewaySH.onDeviceConnectJson -> getDeviceName: get("device") is null (NPE).
        self.assert_puback_then_closed("v1/gateway/connect", {"type": "x"})

    def test_attributes_with_no_object_value_get_a_puback_then_the_connection_closes(self):
        # AbstractGatewaySH.onDeviceAttributesJson: no object entry -> IllegalArgumentException.
        self.assert_puback_then_closed("v1/gateway/attributes", {unique("c"): [1]})

    def test_entries_that_are_not_arrays_are_skipped_and_the_valid_ones_stored(self):
        # AbstractGatewaySH.onDeviceTelemetryJson: .filter(entry -> entry.getValue().isJsonArray()).
        good, bad = unique("good"), unique("bad")
        self.assertEqual(self.publish("v1/gateway/telemetry", {good: [{"t": 1}], bad: {"t": 2}}), PUBACK1)
        self.assertTrue(still_connected(self.r))
        self.assertEqual(latest(self.b, good), {"t": 1})
        self.assertNotIn(bad, [d["name"] for d in request(self.b, "device.list")])

    def test_telemetry_metadata_member_is_removed(self):
        # JsonConverter.convertToGatewayTelemetry: jo.remove("metadata") (connector, receivedTs,
        # publishedTs go to the gateway metrics, not to the device's telemetry).
        child = unique("meta")
        md = {"connector": "c", "receivedTs": 1, "publishedTs": 2}
        self.assertEqual(self.publish("v1/gateway/telemetry",
                                      {child: [{"t": 1, "metadata": md},
                                               {"ts": 1700000000000, "values": {"u": 2}, "metadata": md}]}),
                         PUBACK1)
        self.assertEqual(latest(self.b, child), {"t": 1, "u": 2})

    def test_one_requested_key_is_value_several_are_values(self):
        # JsonConverter.getJsonObjectForGateway -> addValues: "value" when one kv and not
        # isMultipleAttributesRequest (DeviceActorMP.handleGetAttributesRequest: key count > 1).
        child = unique("attrs")
        self.assertEqual(self.publish("v1/gateway/connect", {"device": child}), PUBACK1)
        request(self.b, "attributes.set", {"device": child, "attributes": {"a": 1, "b": 2}})
        self.r.close()  # one session per device: the paho session below replaces the raw one
        d = Device(self.b, username=self.token)
        d.connect()
        try:
            d.sub("v1/gateway/attributes/response")
            cases = [({"key": "a"}, {"value": 1}),
                     ({"keys": ["a"]}, {"value": 1}),
                     ({"keys": ["a", "b"]}, {"values": {"a": 1, "b": 2}}),
                     ({"keys": ["a", "zz"]}, {"values": {"a": 1}}),
                     ({"key": "zz"}, {}),
                     ({"keys": ["zz", "yy"]}, {})]
            for i, (ask, answer) in enumerate(cases):
                body = dict({"id": i, "device": child, "client": False}, **ask)
                d.pub("v1/gateway/attributes/request", body)
                _, payload, _ = d.expect("v1/gateway/attributes/response")
                self.assertEqual(json.loads(payload), dict({"id": i, "device": child}, **answer), ask)
        finally:
            d.close()

    def test_a_gateway_publishing_to_an_unknown_gateway_topic_gets_a_puback_and_stays(self):
        # MqttTransportHandler.handleGatewayPublishMsg: default -> ack(TOPIC_NAME_INVALID).
        self.assertEqual(self.publish("v1/gateway/nonsense", {"a": 1}), PUBACK1)
        self.assertTrue(still_connected(self.r))


class NonGatewayTest(unittest.TestCase):
    def test_a_non_gateway_device_publishing_to_gateway_topics_stays_connected_and_stores_nothing(self):
        # MqttTransportHandler.processPublish: gatewaySessionHandler == null -> only logged: no
        # PUBACK, session kept. mosquitto acknowledges every QoS 1 publish of a session it keeps,
        # so the emulator's PUBACK here is the one deviation (README).
        b = shared_broker()
        _, token = new_device(b)
        child = unique("child")
        r = raw_device(b, token)
        try:
            r.publish("v1/gateway/telemetry", json.dumps({child: [{"t": 1}]}).encode())
            self.assertEqual(r.read_packet(), PUBACK1)
            self.assertTrue(still_connected(r))
        finally:
            r.close()
        self.assertNotIn(child, [d["name"] for d in request(b, "device.list")])


class ProvisionNameTest(unittest.TestCase):
    def test_a_device_provisioned_without_a_name_gets_20_random_alphanumerics(self):
        # DeviceProvisionSI.processCreateDevice: StringUtils.randomAlphanumeric(20).
        b = shared_broker()
        key = unique("pk")
        admin(b, "profile", "add", "--key", key, "--secret", "S")
        d = Device(b, username="provision")
        d.connect()
        try:
            d.sub("/provision/response")
            d.pub("/provision/request", {"provisionDeviceKey": key, "provisionDeviceSecret": "S"})
            r = json.loads(d.expect("/provision/response")[1])
        finally:
            d.close()
        self.assertEqual(r["status"], "SUCCESS")
        names = [x["name"] for x in request(b, "device.list")
                 if x["credentials"].get("token") == r["credentialsValue"]]
        self.assertEqual(len(names), 1)
        self.assertRegex(names[0], r"^[A-Za-z0-9]{20}$")


class OtaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def test_assignment_goes_queued_then_initiated_before_the_attribute_push(self):
        # DefaultOtaPSS.send: target_fw_* telemetry and fw_state QUEUED; update(): fw_state INITIATED,
        # and updateAttributes() (the fw_* push) only in the callback of that save.
        import os
        import tempfile
        name, token = new_device(self.b)
        d = connected_device(self.b, token, subs=["v1/devices/me/attributes"])
        fd, path = tempfile.mkstemp()
        os.write(fd, b"x" * 100)
        os.close(fd)
        try:
            admin(self.b, "ota", "assign", name, path, "--title", "t", "--version", "1")
            push = json.loads(d.expect("v1/devices/me/attributes")[1])
            self.assertEqual(push["fw_title"], "t")
            states = [h["state"] for h in admin(self.b, "ota", "state", name)]
            self.assertEqual(states, ["QUEUED", "INITIATED"])
            got = request(self.b, "telemetry.series", {"device": name, "key": "fw_state"})
            self.assertEqual([p["value"] for p in got], ["QUEUED", "INITIATED"])
            t = latest(self.b, name)
            self.assertEqual((t["target_fw_title"], t["target_fw_version"]), ("t", "1"))
            self.assertIsInstance(t["target_fw_ts"], int)
        finally:
            d.close()
            os.unlink(path)

    def test_a_non_numeric_chunk_size_closes_without_an_error_message(self):
        # MqttTransportHandler.getOtaPackageCallback: Integer.parseInt(payload) throws
        # NumberFormatException -> exceptionCaught -> closeCtx; nothing is published.
        _, token = new_device(self.b)
        d = connected_device(self.b, token, subs=["v2/fw/error", "v2/fw/response/+/chunk/+"])
        try:
            d.c.publish("v2/fw/request/1/chunk/0", b"abc", 1)
            self.assertTrue(d.disconnected.wait(5))
            d.expect_nothing(0.2)
        finally:
            d.close()


class RateLimitTest(unittest.TestCase):
    def publish_until_closed(self, r, count):
        """Publishes `count` telemetry messages; returns how many got their PUBACK before a close."""
        for mid in range(1, count + 1):
            r.publish("v1/devices/me/telemetry", b'{"a":1}', mid=mid)
            if r.read_packet() != bytes([0x40, 2, 0, mid]):
                return mid - 1
        return count

    def test_a_bucket_starts_full_and_over_the_limit_closes_the_session(self):
        # TbRateLimits: Bandwidth.builder().capacity(cap): the bucket starts with `cap` tokens;
        # DefaultTransportService.checkLimits fails the callback -> closeCtx.
        b = shared_broker()
        _, token = new_device(b)
        request(b, "settings.set", {"messages": "3:3600"})  # refills 1 token per 20 minutes
        try:
            r = raw_device(b, token)
            try:
                self.assertEqual(self.publish_until_closed(r, 4), 3)
            finally:
                r.close()
        finally:
            request(b, "settings.set", {"messages": None})

    def test_tokens_come_back_continuously_not_when_a_window_ends(self):
        # TbRateLimits: refillGreedy(cap, seconds): cap/seconds tokens per second, continuously.
        # With "2:2", 1.2 s after the bucket is empty it holds a token; a fixed 2 s window would not.
        # The wait is the subject of the test (time refills the bucket), not a wait for an event.
        b = shared_broker()
        _, token = new_device(b)
        request(b, "settings.set", {"messages": "2:2"})
        try:
            r = raw_device(b, token)
            try:
                self.assertEqual(self.publish_until_closed(r, 2), 2)
                emptied = time.monotonic()
                time.sleep(max(0.0, emptied + 1.2 - time.monotonic()))
                r.publish("v1/devices/me/telemetry", b'{"a":1}', mid=3)
                self.assertEqual(r.read_packet(), bytes([0x40, 2, 0, 3]))
            finally:
                r.close()
        finally:
            request(b, "settings.set", {"messages": None})

    def test_gateway_limits_apply_to_sub_device_messages(self):
        # DefaultTransportRateLimitService.checkLimits: gatewayId != null -> GATEWAY_LIMITS.
        b = shared_broker()
        _, token = new_gateway(b)
        request(b, "settings.set", {"gatewayTelemetryDataPoints": "3:60"})
        try:
            r = raw_device(b, token)
            try:
                child = unique("c")
                r.publish("v1/gateway/telemetry", json.dumps({child: [{"a": 1, "b": 2}]}).encode(), mid=1)
                self.assertEqual(r.read_packet(), bytes([0x40, 2, 0, 1]))
                r.publish("v1/gateway/telemetry", json.dumps({child: [{"a": 1, "b": 2}]}).encode(), mid=2)
                self.assertEqual(r.read_packet(), b"")
            finally:
                r.close()
        finally:
            request(b, "settings.set", {"gatewayTelemetryDataPoints": None})


class PersistentRpcTest(unittest.TestCase):
    """DeviceActorMP.processRpcRequest / processRpcResponses / processRpcResponseStatus /
    processServerSideRpcTimeout; MqttTransportHandler.sendToDeviceRpcRequest."""

    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def send(self, name, **kw):
        args = {"device": name, "method": "m", "params": {"x": 1}, "persistent": True}
        args.update(kw)
        return request(self.b, "rpc.send", args)["rpcId"]

    def status(self, rpc_id):
        return request(self.b, "rpc.get", {"rpcId": rpc_id})

    def test_queued_then_sent_then_successful(self):
        name, token = new_device(self.b)
        rpc_id = self.send(name, timeoutMs=30000)
        self.assertEqual(self.status(rpc_id)["status"], "QUEUED")  # device offline
        d = connected_device(self.b, token, subs=["v1/devices/me/rpc/request/+"])
        try:
            topic, payload, _ = d.expect()
            self.assertEqual(json.loads(payload), {"method": "m", "params": {"x": 1}})
            self.assertEqual(self.status(rpc_id)["status"], "SENT")  # QoS 1: awaiting the PUBACK
            d.pub("v1/devices/me/rpc/response/" + topic.rsplit("/", 1)[1], {"ok": True})
            st = wait_for(lambda: (lambda s: s if s["status"] == "SUCCESSFUL" else None)(self.status(rpc_id)))
            self.assertEqual(st["response"], {"ok": True})
            self.assertEqual([h["status"] for h in st["history"]], ["QUEUED", "SENT", "SUCCESSFUL"])
        finally:
            d.close()
        self.assertEqual([r["rpcId"] for r in request(self.b, "rpc.list", {"device": name})], [rpc_id])

    def test_qos0_subscription_is_delivered_at_once(self):
        # sendToDeviceRpcRequest: !isAckExpected -> RpcStatus.DELIVERED.
        name, token = new_device(self.b)
        d = connected_device(self.b, token)
        d.sub("v1/devices/me/rpc/request/+", qos=0)
        try:
            rpc_id = self.send(name, timeoutMs=30000)
            d.expect()
            self.assertEqual(self.status(rpc_id)["status"], "DELIVERED")
        finally:
            d.close()

    def test_an_expiration_in_the_past_is_expired_and_never_sent(self):
        name, token = new_device(self.b)
        d = connected_device(self.b, token, subs=["v1/devices/me/rpc/request/+"])
        try:
            rpc_id = self.send(name, expirationTime=int(time.time() * 1000) - 1)
            self.assertEqual(self.status(rpc_id)["status"], "EXPIRED")
            d.expect_nothing(0.3)
        finally:
            d.close()

    def test_unanswered_until_the_expiration_time_is_expired(self):
        # processServerSideRpcTimeout: persisted -> RpcStatus.EXPIRED.
        name, _ = new_device(self.b)
        rpc_id = self.send(name, timeoutMs=300)
        st = wait_for(lambda: (lambda s: s if s["status"] == "EXPIRED" else None)(self.status(rpc_id)), 5)
        self.assertEqual([h["status"] for h in st["history"]], ["QUEUED", "EXPIRED"])

    def test_delivery_timeouts_retry_then_fail(self):
        # processRpcResponseStatus TIMEOUT: retries left -> retries + 1 (status TIMEOUT), sent again
        # on the next RPC subscription; none left -> FAILED with ThingsBoard's error text. The
        # emulator cannot see PUBACKs (no plugin event), so a session closing while the RPC is SENT
        # is its delivery timeout.
        name, token = new_device(self.b)
        rpc_id = self.send(name, timeoutMs=30000, retries=1)
        for attempt in range(2):
            d = connected_device(self.b, token, subs=["v1/devices/me/rpc/request/+"])
            topic, _, _ = d.expect()
            self.assertEqual(topic, "v1/devices/me/rpc/request/0")  # the same request id
            d.close()
            want = "TIMEOUT" if attempt == 0 else "FAILED"
            st = wait_for(lambda: (lambda s: s if s["status"] == want else None)(self.status(rpc_id)))
            self.assertIsNotNone(st, want)
        self.assertEqual(st["response"], {"error": "There was a Timeout and all retry attempts have been "
                                                   "exhausted. Retry attempts set: 1"})
        self.assertEqual([h["status"] for h in st["history"]], ["QUEUED", "SENT", "TIMEOUT", "SENT", "FAILED"])


if __name__ == "__main__":
    unittest.main()
