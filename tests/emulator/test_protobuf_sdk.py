"""The SDK's wire formats end to end (issue 18): every feature through the library and the `tbmqtt` CLI
(--topics v1|v2, --payload json|protobuf --proto FILE) against the emulator, in each combination
v1/v2 x JSON/protobuf. A protobuf device sits in a device profile with payload type PROTOBUF and the
schemas of proto/; the person's side stays JSON. One emulator for every combination."""

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from emu import TBMQTT, admin, free_port, new_device, request, shared_broker, unique, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "proto")
WAIT = 15


def proto(name):
    return os.path.join(PROTO_DIR, name)


def schema(name):
    with open(proto(name)) as f:
        return f.read()


COMBINATIONS = [("v1", "json"), ("v2", "json"), ("v1", "protobuf"), ("v2", "protobuf")]


class Lines:
    """A running `tbmqtt` command whose stdout lines land in a queue."""

    def __init__(self, args):
        self.p = subprocess.Popen([TBMQTT] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.q = queue.Queue()
        self.errors = queue.Queue()
        threading.Thread(target=self._pump, args=(self.p.stdout, self.q), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.p.stderr, self.errors), daemon=True).start()

    @staticmethod
    def _pump(stream, into):
        for line in stream:
            into.put(line)

    def error(self, timeout):
        try:
            return self.errors.get(timeout=timeout)
        except queue.Empty:
            return None

    def get(self, timeout):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        return "".join(self.errors.queue)


class WireFormatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()
        cls.profile = unique("sdkpb")
        request(cls.b, "device_profile.add", {
            "name": cls.profile, "payloadType": "PROTOBUF", "telemetryProto": schema("telemetry.proto"),
            "attributesProto": schema("attributes.proto"), "rpcRequestProto": schema("rpc_request.proto"),
            "rpcResponseProto": schema("rpc_response.proto")})

    def device(self, payload):
        name, token = new_device(self.b)
        if payload == "protobuf":
            request(self.b, "device.set_profile", {"device": name, "profile": self.profile})
        return name, token

    def wire(self, topics, payload):
        args = ["--port", str(self.b.port), "--topics", topics, "--payload", payload, "--timeout", "10"]
        if payload == "protobuf":
            args += ["--proto", proto("telemetry.proto"), "--attributes-proto", proto("attributes.proto"),
                     "--rpc-request-proto", proto("rpc_request.proto"),
                     "--rpc-response-proto", proto("rpc_response.proto")]
        return args

    def tb(self, token, topics, payload, *args):
        return subprocess.run([TBMQTT, *args, "--token", token, *self.wire(topics, payload)],
                              capture_output=True, text=True, timeout=60)

    def ok(self, *args):
        r = self.tb(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_every_feature_in_every_combination(self):
        for topics, payload in COMBINATIONS:
            with self.subTest(topics=topics, payload=payload):
                self.run_features(topics, payload)

    def run_features(self, topics, payload):
        name, token = self.device(payload)
        w = (token, topics, payload)

        # Telemetry and client attributes (the schema's fields; JSON keys are their json names).
        self.ok(*w, "telemetry", '{"temperature":21.5,"uptimeS":7,"status":"ok"}')
        got = wait_for(lambda: admin(self.b, "telemetry", name))
        self.assertEqual({k: got.get(k) for k in ("temperature", "uptimeS", "status")},
                         {"temperature": 21.5, "uptimeS": 7, "status": "ok"})
        self.ok(*w, "attributes", "set", '{"firmwareVersion":"fw-1.2","serialNumber":5}')
        attrs = wait_for(lambda: request(self.b, "attributes.get", {"device": name})["client"])
        self.assertEqual((attrs.get("firmwareVersion"), attrs.get("serialNumber")), ("fw-1.2", 5))

        # Attribute request: both sections, typed values back as JSON.
        request(self.b, "attributes.set", {"device": name, "scope": "shared", "attributes": {"mode": "eco", "n": 3}})
        got = json.loads(self.ok(*w, "attributes", "get", "--client", "firmwareVersion", "--shared", "mode,n"))
        self.assertEqual(got, {"client": {"firmwareVersion": "fw-1.2"}, "shared": {"mode": "eco", "n": 3}})

        # Shared-attribute pushes (and a deletion) while watching.
        watch = Lines(["attributes", "watch", "--token", token, *self.wire(topics, payload)])
        try:
            line, value, deadline = None, 0, time.monotonic() + WAIT
            while line is None and time.monotonic() < deadline:  # the push only goes once subscribed
                value += 1
                request(self.b, "attributes.set", {"device": name, "scope": "shared", "attributes": {"mode": "m%d" % value}})
                line = watch.get(0.5)
            self.assertIsNotNone(line, "no push printed")
            self.assertTrue(json.loads(line)["mode"].startswith("m"))
            request(self.b, "attributes.set", {"device": name, "scope": "shared", "attributes": {"n": None}})
            seen = []
            while (line := watch.get(WAIT)) is not None:
                seen.append(json.loads(line))
                if "deleted" in seen[-1]:
                    break
            self.assertIn({"deleted": ["n"]}, seen)
        finally:
            watch.stop()

        # Server RPC answered by `rpc serve` (echo of params: the response schema's fields).
        serve = Lines(["rpc", "serve", "--count", "1", "--token", token, *self.wire(topics, payload)])
        try:
            r = subprocess.run([TBMQTT, "emulator", "rpc", name, "setGpio", '{"pin":4,"value":true}',
                                "--state", self.b.state_dir, "--port", str(self.b.port)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout), {"pin": 4, "value": True})
            seen = json.loads(serve.get(WAIT))
            self.assertEqual((seen["method"], seen["params"]), ("setGpio", {"pin": 4, "value": True}))
        finally:
            serve.stop()

        # Client RPC with an answer from the emulator's handler.
        method = unique("m").replace("-", "_")
        request(self.b, "rpc_handler.set", {"method": method, "response": {"echo": "${params}", "m": "${method}"}})
        got = json.loads(self.ok(*w, "rpc", "call", method, '{"tz":"UTC"}'))
        self.assertEqual(got, {"echo": {"tz": "UTC"}, "m": method})

        # Claim (v1/devices/me/claim, transportapi.ClaimDevice with a PROTOBUF profile).
        self.ok(*w, "claim", "--secret", "s3cret", "--duration", "60s")
        claim = wait_for(lambda: request(self.b, "claim.get", {"device": name})["claim"])
        self.assertEqual((claim["secretKey"], claim["durationMs"]), ("s3cret", 60000))

    def test_uplink_that_does_not_fit_the_schema_is_refused_and_nothing_is_sent(self):
        name, token = self.device("protobuf")
        r = self.tb(token, "v2", "protobuf", "telemetry", '{"temperature":"warm"}')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("wrong_type", r.stderr)
        r = self.tb(token, "v2", "protobuf", "telemetry", '[{"temperature":1}]')
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(request(self.b, "telemetry.series", {"device": name}), [])

    def test_downlink_that_does_not_decode_is_reported_and_the_session_goes_on(self):
        # The device believes in protobuf, its profile is JSON: the server pushes JSON text.
        name, token = self.device("json")
        watch = Lines(["attributes", "watch", "--token", token, *self.wire("v2", "protobuf")])
        try:
            error, deadline = None, time.monotonic() + WAIT
            while error is None and time.monotonic() < deadline and watch.p.poll() is None:
                request(self.b, "attributes.set", {"device": name, "scope": "shared", "attributes": {"mode": unique("x")}})
                error = watch.error(0.5)
            self.assertIsNotNone(error)
            self.assertIn("v2/a: malformed", error)
            self.assertIsNone(watch.p.poll(), "the command keeps running")
            self.assertIsNone(watch.get(0))  # nothing printed for it
        finally:
            watch.stop()

    def test_usage_errors(self):
        _, token = self.device("json")
        r = self.tb(token, "v2", "json", "telemetry", '{"a":1}')
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([TBMQTT, "telemetry", '{"a":1}', "--token", token, "--port", str(self.b.port),
                            "--payload", "protobuf"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--proto", r.stderr)
        r = subprocess.run([TBMQTT, "telemetry", '{"a":1}', "--token", token, "--port", str(self.b.port),
                            "--payload", "protobuf", "--proto", "/nonexistent.proto"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent.proto", r.stderr)

    def test_telemetry_stored_while_offline_keeps_its_capture_time(self):
        # A profile whose telemetry schema has ThingsBoard's {"ts":..,"values":{..}} shape: what the
        # store keeps carries the time it was captured, not the time the server got it.
        profile = unique("sdkpbts")
        request(self.b, "device_profile.add", {"name": profile, "payloadType": "PROTOBUF",
                                               "telemetryProto": schema("telemetry_ts.proto")})
        name, token = new_device(self.b)
        request(self.b, "device.set_profile", {"device": name, "profile": profile})
        store = tempfile.mkdtemp(prefix="tbpbts-")
        self.addCleanup(shutil.rmtree, store, True)

        def tb(port, *args, stdin=None):
            return subprocess.run([TBMQTT, "--token", token, "--port", str(port), "--topics", "v2", "--payload",
                                   "protobuf", "--proto", proto("telemetry_ts.proto"), "--offline-store", store,
                                   *args], input=stdin, capture_output=True, text=True, timeout=60)

        unix_ms = lambda: int(time.time() * 1000)
        captured_from = unix_ms()
        r = tb(free_port(), "--timeout", "1", "telemetry", '{"temperature":7.5,"state":"idle"}',
               '{"values":{"temperature":8.5,"state":"busy"}}')  # nobody listens: both stay in the store
        captured_until = unix_ms()
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("2 message(s) kept", r.stderr)
        self.assertTrue(wait_for(lambda: unix_ms() > captured_until + 5))  # sent strictly later
        sent_from = unix_ms()
        r = tb(self.b.port, "--timeout", "10", "telemetry", "-", stdin="")  # reconnects: the store goes first
        self.assertEqual(r.returncode, 0, r.stderr)
        points = wait_for(lambda: (lambda s: s if len(s) >= 4 else None)(
            request(self.b, "telemetry.series", {"device": name})))
        self.assertEqual({(p["key"], p["value"]) for p in points},
                         {("temperature", 7.5), ("state", "idle"), ("temperature", 8.5), ("state", "busy")})
        for p in points:
            self.assertTrue(captured_from <= p["ts"] <= captured_until < sent_from, (p, captured_from, captured_until))


if __name__ == "__main__":
    unittest.main()
