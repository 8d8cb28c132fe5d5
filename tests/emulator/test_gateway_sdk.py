"""The SDK's gateway API end to end against the emulator: `tbmqtt gateway ...` and the example
examples/common/gateway_bridge.cpp, run with a gateway device's token. The emulator's admin shows
what reached each sub-device (telemetry, attributes, claim, `active` while connected)."""

import json
import os
import subprocess
import time
import unittest

from emu import BUILD_DIR, WAIT, AdminError, admin, connected_device, new_device, request, shared_broker, unique

TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")
TIMEOUT = 20  # seconds, for any one command


def example_path(name):
    for d in (os.path.join(BUILD_DIR, "bin"), os.path.join(BUILD_DIR, "examples", "linux")):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


@unittest.skipUnless(os.access(TBMQTT, os.X_OK), "build/bin/tbmqtt is not built")
class GatewaySdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def setUp(self):
        self.gw_name = unique("sdkgw")
        self.token = admin(self.b, "device", "add", self.gw_name, "--gateway")["credentials"]["token"]
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.communicate()

    # ---- helpers ------------------------------------------------------------------------------

    def args(self, *args, token=None):
        return [TBMQTT, "--port", str(self.b.port), "--token", token or self.token, "--timeout", "10"] + \
            [str(a) for a in args]

    def tb(self, *args, token=None):
        return subprocess.run(self.args(*args, token=token), capture_output=True, text=True, timeout=TIMEOUT)

    def ok(self, *args):
        r = self.tb(*args)
        self.assertEqual(r.returncode, 0, "tbmqtt %s: %s" % (" ".join(map(str, args)), r.stderr))
        return r.stdout

    def spawn(self, *args):
        p = subprocess.Popen(self.args(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def finish(self, p):
        out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, err)
        return [json.loads(line) for line in out.splitlines()], err

    def device(self, name):
        return request(self.b, "device.get", {"device": name})

    def wait_active(self, name, active=True, proc=None):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                self.fail("process ended early: %r" % (proc.communicate(),))
            try:
                if self.device(name)["active"] == active:
                    return
            except AdminError:  # not created yet
                pass
            time.sleep(0.05)  # polling the emulator's state, with a deadline
        self.fail("%s never became %s" % (name, "active" if active else "inactive"))

    # ---- tbmqtt gateway -------------------------------------------------------------------------

    def test_connect_creates_the_sub_device_under_the_gateway(self):
        child = unique("child")
        self.ok("gateway", "connect", child, "--type", "thermostat")
        d = self.device(child)
        self.assertEqual((d["type"], d["parentGateway"]), ("thermostat", self.gw_name))

    def test_telemetry_arrives_under_the_sub_device(self):
        child = unique("child")
        self.ok("gateway", "telemetry", child, '{"t":1}')
        self.ok("gateway", "telemetry", child, '[{"ts":1700000000000,"values":{"u":2.5}},{"v":"x"}]')
        self.assertEqual(admin(self.b, "telemetry", child), {"t": 1, "u": 2.5, "v": "x"})
        series = request(self.b, "telemetry.series", {"device": child, "key": "u"})
        self.assertEqual([(e["ts"], e["value"]) for e in series], [(1700000000000, 2.5)])
        self.assertEqual(self.device(child)["parentGateway"], self.gw_name)

    def test_attributes_set_and_get_for_a_sub_device(self):
        child = unique("child")
        self.ok("gateway", "attributes", "set", child, '{"k":"v","n":3}')
        self.assertEqual(request(self.b, "attributes.get", {"device": child})["client"], {"k": "v", "n": 3})
        admin(self.b, "attributes", "set", child, '{"s":1,"z":"x"}')
        out = self.ok("gateway", "attributes", "get", child, "--client", "k", "--shared", "s,z,missing")
        self.assertEqual(json.loads(out), {"client": {"k": "v"}, "shared": {"s": 1, "z": "x"}})
        out = self.ok("gateway", "attributes", "get", child, "--shared", "missing")
        self.assertEqual(json.loads(out), {"client": {}, "shared": {}})
        # ThingsBoard's two answer shapes (JsonConverter.addValues): a repeated key is one key and is
        # answered with "value"; several keys with one found are answered with "values".
        out = self.ok("gateway", "attributes", "get", child, "--shared", "s,s")
        self.assertEqual(json.loads(out), {"client": {}, "shared": {"s": 1}})
        out = self.ok("gateway", "attributes", "get", child, "--shared", "z,missing")
        self.assertEqual(json.loads(out), {"client": {}, "shared": {"z": "x"}})

    def test_watch_prints_a_shared_attribute_push_to_a_sub_device(self):
        child = unique("child")
        p = self.spawn("gateway", "attributes", "watch", child, "--count", "1")
        self.wait_active(child, proc=p)
        admin(self.b, "attributes", "set", child, '{"mode":"eco"}')
        lines, _ = self.finish(p)
        self.assertEqual(lines, [{"device": child, "data": {"mode": "eco"}}])

    def test_rpc_serve_answers_rpcs_for_each_sub_device(self):
        a, b = unique("child"), unique("child")
        p = self.spawn("gateway", "rpc", "serve", a, b, "--count", "2", "--exec", "cat")
        self.wait_active(a, proc=p)
        self.wait_active(b, proc=p)
        reply_a = admin(self.b, "rpc", a, "setTarget", '{"x":1}')
        reply_b = admin(self.b, "rpc", b, "reboot")
        lines, _ = self.finish(p)
        self.assertEqual([(l["device"], l["method"], l["params"]) for l in lines],
                         [(a, "setTarget", {"x": 1}), (b, "reboot", {})])
        self.assertEqual(reply_a, lines[0])  # --exec cat: the request line is the reply
        self.assertEqual(reply_b, lines[1])

    def test_rpc_for_a_sub_device_not_served_is_answered_with_unknown_device(self):
        served, other = unique("child"), unique("child")
        self.ok("gateway", "connect", other)  # a child of this gateway, not served below
        p = self.spawn("gateway", "rpc", "serve", served, "--count", "1")
        self.wait_active(served, proc=p)
        self.assertEqual(admin(self.b, "rpc", other, "m"), {"error": "unknown device: " + other})
        self.assertEqual(admin(self.b, "rpc", served, "m", '{"echo":true}'), {"echo": True})
        lines, err = self.finish(p)
        self.assertEqual(len(lines), 1)
        self.assertIn("unknown_device", err)

    def test_disconnect_ends_the_sub_device_connection(self):
        # ThingsBoard keeps one session per device (actors.session.max_concurrent_sessions_per_device
        # = 1), so the command's own session replaces the gateway's other one; the child is inactive
        # afterwards either way. (The disconnect payload itself is checked in tests/unit/test_gateway_engine.cpp.)
        child = unique("child")
        g = connected_device(self.b, self.token)
        try:
            g.pub("v1/gateway/connect", {"device": child})
            self.wait_active(child)
            self.ok("gateway", "disconnect", child)
            self.wait_active(child, active=False)
        finally:
            g.close()

    def test_claim_a_sub_device(self):
        child = unique("child")
        self.ok("gateway", "claim", child, "--secret", "s3cret", "--duration-ms", "60000")
        c = request(self.b, "claim.get", {"device": child})["claim"]
        self.assertEqual((c["secretKey"], c["durationMs"]), ("s3cret", 60000))

    def test_a_plain_device_is_refused_the_gateway_topics(self):
        _, token = new_device(self.b)
        r = self.tb("gateway", "connect", unique("child"), token=token)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("subscription_refused", r.stderr)

    def test_usage_errors_exit_2(self):
        child = unique("child")
        for args in (("gateway", "attributes", "get", child),
                     ("gateway", "telemetry", child, "{bad"),
                     ("gateway", "attributes", "set", child, "[1"),
                     ("gateway", "telemetry", child, "42")):
            r = self.tb(*args)
            self.assertEqual(r.returncode, 2, "%r: %s" % (args, r.stderr))
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)

    # ---- examples/common/gateway_bridge.cpp ------------------------------------------------------

    def bridge_command(self, args, token=None):
        """The example's command line and environment (None: inherited); the ESP-IDF test's differs."""
        return [example_path("gateway_bridge"), "127.0.0.1", str(self.b.port), token or self.token] + \
            [str(a) for a in args], None

    @unittest.skipUnless(example_path("gateway_bridge"), "gateway_bridge is not built")
    def test_example_gateway_bridge(self):
        self.check_gateway_bridge()

    def check_gateway_bridge(self):
        prefix = unique("bridge")
        thermostat, meter = prefix + "-thermostat", prefix + "-meter"
        cmd, env = self.bridge_command((prefix, 20))
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        self.assertEqual(p.stdout.readline(), "bridge: connected\n", p.stderr.read() if p.poll() else "")
        self.assertTrue(p.stdout.readline().startswith("bridge: ready"), p.stderr.read() if p.poll() else "")
        self.assertEqual(admin(self.b, "telemetry", thermostat), {"temperature": 21.5, "heating": True})
        self.assertEqual(admin(self.b, "telemetry", meter), {"power": 1.25, "energy": 4711})
        self.assertEqual(request(self.b, "attributes.get", {"device": meter})["client"], {"model": "M-7"})
        self.assertEqual((self.device(thermostat)["type"], self.device(meter)["type"]), ("thermostat", "meter"))
        self.assertTrue(self.device(thermostat)["active"])
        self.assertFalse(self.device(meter)["active"])
        admin(self.b, "attributes", "set", thermostat, '{"target":22}')
        reply = admin(self.b, "rpc", thermostat, "setTarget", '{"value":22}')
        self.assertEqual(reply, {"method": "setTarget", "accepted": True})
        out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(err, "")
        self.assertIn("bridge: %s attributes {\"target\":22}" % thermostat, out)
        self.assertIn("bridge: rpc setTarget for %s: {\"value\":22}" % thermostat, out)
        self.assertTrue(out.rstrip().endswith("bridge: done"), out)
        self.wait_active(thermostat, active=False)

    @unittest.skipUnless(example_path("gateway_bridge"), "gateway_bridge is not built")
    def test_example_gateway_bridge_with_a_plain_device_token_fails_to_connect(self):
        self.check_gateway_bridge_refused()

    def check_gateway_bridge_refused(self):
        _, token = new_device(self.b)  # not a gateway: the v1/gateway/* subscriptions are refused
        cmd, env = self.bridge_command(("plain", 1), token=token)
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stderr, "bridge: connect failed: subscription_refused\n")


if __name__ == "__main__":
    unittest.main()
