"""The real `tbmqtt` binary end to end: `tbmqtt emulator start` in the background (its own port and
state directory, found through XDG_STATE_HOME so that the admin commands need no flags at all),
the `tbmqtt emulator ...` admin commands, and the SDK's own subcommands (telemetry, attributes,
rpc, claim) as the device against the emulator.

Exit codes under test: 0 ok, 2 usage, 3 unreachable/refused, 4 timeout, 5 error reply."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from emu import ADMIN_TOOL, BUILD_DIR, CliEmulator, Device, HOST, free_port, has_emulator_commands, unique

TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")
TIMEOUT = 20  # seconds, for any one command



@unittest.skipUnless(has_emulator_commands(), "build/bin/tbmqtt without `tbmqtt emulator`")
class TbmqttEmulatorCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.emulator = CliEmulator(TBMQTT, ["--port", cls.port], prefix='tbcli-')
        cls.home, cls.env, cls.state = cls.emulator.home, cls.emulator.env, cls.emulator.state
        cls.proc, cls.start_output = cls.emulator.proc, cls.emulator.output
        cls.default_token = cls.emulator.default_token

    @classmethod
    def tearDownClass(cls):
        cls.emulator.stop()

    # ---- helpers ------------------------------------------------------------------------------

    def tb(self, *args, timeout=TIMEOUT):
        """Runs tbmqtt; returns CompletedProcess (text)."""
        return subprocess.run([TBMQTT] + [str(a) for a in args], capture_output=True, text=True,
                              timeout=timeout, env=self.env)

    def ok(self, *args):
        r = self.tb(*args)
        self.assertEqual(r.returncode, 0, "tbmqtt %s: %s" % (" ".join(map(str, args)), r.stderr))
        return json.loads(r.stdout) if r.stdout.strip() else None

    def err(self, code, *args, **kw):
        r = self.tb(*args, **kw)
        self.assertEqual(r.returncode, code, "tbmqtt %s: %r %r" % (" ".join(map(str, args)), r.stdout, r.stderr))
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("tbmqtt: "), r.stderr)
        return lines[0]

    def device(self, *creds):
        """Adds a device (no flags besides its credentials); returns (name, summary)."""
        name = unique("clidev")
        return name, self.ok("emulator", "device", "add", name, *creds)

    def as_device(self, token):
        return ["--port", self.port, "--token", token, "--timeout", "10"]

    def spawn(self, *args):
        return subprocess.Popen([TBMQTT] + [str(a) for a in args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env)

    def finish(self, p):
        try:
            out, errout = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            out, errout = p.communicate()
            self.fail("tbmqtt did not finish: %r %r" % (out, errout))
        self.assertEqual(p.returncode, 0, errout)
        return out

    # ---- start ---------------------------------------------------------------------------------

    def test_start_prints_address_and_token(self):
        self.assertIn("tbmqtt emulator listening on 127.0.0.1:%d (state: %s)\n" % (self.port, self.state),
                      self.start_output)
        self.assertRegex(self.default_token, r"^\S+$")
        with open(os.path.join(self.state, "admin.json")) as f:
            self.assertEqual(json.load(f)["port"], self.port)

    def test_default_device_connects_with_printed_token(self):
        r = self.tb("telemetry", '{"boot":1}', *self.as_device(self.default_token))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.ok("emulator", "telemetry", "default").get("boot"), 1)

    def test_explicit_state_and_port_flags(self):
        name, _ = self.device()
        got = self.ok("emulator", "telemetry", name, "--state", self.state, "--port", self.port)
        self.assertEqual(got, {})
        got = self.ok("--port", self.port, "emulator", "--state", self.state, "telemetry", name)
        self.assertEqual(got, {})

    # ---- device add ----------------------------------------------------------------------------

    def test_device_add_generated_token(self):
        name, d = self.device()
        self.assertEqual(d["name"], name)
        self.assertEqual(d["credentials"]["type"], "ACCESS_TOKEN")
        r = self.tb("telemetry", '{"t":1}', *self.as_device(d["credentials"]["token"]))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_device_add_token(self):
        token = unique("TOKEN")
        name, d = self.device("--token", token)
        self.assertEqual(d["credentials"], {"type": "ACCESS_TOKEN", "token": token})
        r = self.tb("telemetry", '{"t":2}', *self.as_device(token))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.ok("emulator", "telemetry", name), {"t": 2})

    def test_device_add_mqtt_basic(self):
        cid, user = unique("cid"), unique("user")
        name, d = self.device("--client-id", cid, "--username", user, "--password", "secret")
        self.assertEqual(d["credentials"], {"type": "MQTT_BASIC", "clientId": cid, "userName": user,
                                            "password": "secret"})
        r = self.tb("telemetry", '{"basic":true}', "--port", self.port, "--client-id", cid,
                    "--username", user, "--password", "secret")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.ok("emulator", "telemetry", name), {"basic": True})
        # wrong password: refused -> 3
        self.err(3, "telemetry", '{"basic":false}', "--port", self.port, "--client-id", cid,
                 "--username", user, "--password", "wrong")

    def test_device_add_certificate(self):
        d = tempfile.mkdtemp(prefix="tbcert-")
        try:
            pem = os.path.join(d, "dev.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", os.path.join(d, "dev.key"), "-out", pem, "-days", "1",
                            "-subj", "/CN=" + unique("cert")], check=True, capture_output=True, timeout=TIMEOUT)
            name, dev = self.device("--cert-file", pem)
            self.assertEqual(dev["credentials"]["type"], "X509_CERTIFICATE")
            self.assertRegex(dev["credentials"]["hash"], r"^\S+$")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_device_add_usage_errors(self):
        self.err(2, "emulator", "device", "add", unique("x"), "--token", "a", "--username", "b")
        self.err(2, "emulator", "device", "add", unique("x"), "--cert-file", "/nonexistent.pem")
        self.err(2, "emulator", "device", "add")

    def test_device_add_duplicate_name_is_error_reply(self):
        name, _ = self.device()
        self.err(5, "emulator", "device", "add", name)

    # ---- attributes ----------------------------------------------------------------------------

    def test_attributes_set_is_pushed_to_the_device(self):
        name, d = self.device()
        watch = self.spawn("attributes", "watch", "--count", "1", *self.as_device(d["credentials"]["token"]))
        # The watcher's subscription time is unknown: set a new value until it has seen one.
        sent = []
        deadline = time.monotonic() + TIMEOUT
        while watch.poll() is None and time.monotonic() < deadline:
            value = "eco-%d" % len(sent)
            res = self.ok("emulator", "attributes", "set", name, json.dumps({"mode": value}))
            self.assertEqual(res["shared"]["mode"], value)
            sent.append(value)
            try:
                watch.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
        out = self.finish(watch)
        update = json.loads(out.strip().splitlines()[0])
        self.assertIn(update.get("mode"), sent)

    def test_attributes_set_rejects_non_object(self):
        name, _ = self.device()
        self.err(2, "emulator", "attributes", "set", name, "[1,2]")
        self.err(2, "emulator", "attributes", "set", name, "{nope")

    def test_sdk_attributes_get_returns_what_the_emulator_stores(self):
        name, d = self.device()
        token = d["credentials"]["token"]
        r = self.tb("attributes", "set", '{"fw":"v1.0","build":"42","rssi":-60}', *self.as_device(token))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.ok("emulator", "attributes", "set", name, '{"mode":"eco","interval":5}')
        got = self.ok("attributes", "get", "--client", "fw,build", "--shared", "mode,interval", *self.as_device(token))
        # "42" comes back as 42: ThingsBoard's JsonConverter turns numeric strings into numbers.
        self.assertEqual(got, {"client": {"fw": "v1.0", "build": 42}, "shared": {"mode": "eco", "interval": 5}})
        got = self.ok("attributes", "get", "--shared", "mode", *self.as_device(token))
        self.assertEqual(got.get("shared"), {"mode": "eco"})
        self.assertFalse(got.get("client"))

    # ---- telemetry -----------------------------------------------------------------------------

    def test_device_telemetry_shows_in_emulator_telemetry(self):
        name, d = self.device()
        r = self.tb("telemetry", '{"temperature":21.5,"door":"open"}', '{"humidity":40}',
                    *self.as_device(d["credentials"]["token"]))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.ok("emulator", "telemetry", name),
                         {"temperature": 21.5, "door": "open", "humidity": 40})

    # ---- rpc -----------------------------------------------------------------------------------

    def test_rpc_echo_through_rpc_serve(self):
        name, d = self.device()
        serve = self.spawn("rpc", "serve", "--count", "1", *self.as_device(d["credentials"]["token"]))
        # The emulator keeps the RPC pending until the device subscribes: no ordering needed.
        r = self.tb("emulator", "rpc", name, "echo", '{"a":1}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"a": 1})
        seen = json.loads(self.finish(serve).strip())
        self.assertEqual((seen["method"], seen["params"]), ("echo", {"a": 1}))

    def test_rpc_oneway(self):
        name, d = self.device()
        serve = self.spawn("rpc", "serve", "--count", "1", *self.as_device(d["credentials"]["token"]))
        self.assertEqual(self.ok("emulator", "rpc", name, "reboot", "--oneway"), {"delivered": True})
        seen = json.loads(self.finish(serve).strip())
        self.assertEqual((seen["method"], seen["params"]), ("reboot", {}))

    def test_rpc_timeout_offline_device(self):
        name, _ = self.device()
        line = self.err(4, "emulator", "rpc", name, "ping", "--timeout-ms", "300")
        self.assertIn("timeout", line)

    def test_rpc_timeout_silent_device(self):
        name, d = self.device()
        dev = Device(type("B", (), {"port": self.port})(), username=d["credentials"]["token"])
        try:
            self.assertEqual(dev.connect(), 0)
            self.assertEqual(dev.sub("v1/devices/me/rpc/request/+"), [1])
            start = time.monotonic()
            self.err(4, "emulator", "rpc", name, "ping", "{}", "--timeout-ms", "500")
            self.assertLess(time.monotonic() - start, 10)
            topic, payload, _ = dev.msgs.get(timeout=5)  # it was delivered, just never answered
            self.assertTrue(topic.startswith("v1/devices/me/rpc/request/"))
            self.assertEqual(json.loads(payload)["method"], "ping")
        finally:
            dev.c.disconnect()
            dev.c.loop_stop()

    def test_rpc_bad_params_is_usage(self):
        name, _ = self.device()
        self.err(2, "emulator", "rpc", name, "m", "{bad")

    def test_sdk_rpc_call_get_session_limits(self):
        _, d = self.device()
        got = self.ok("rpc", "call", "getSessionLimits", *self.as_device(d["credentials"]["token"]))
        self.assertEqual(got["maxPayloadSize"], 65536)
        self.assertEqual(got["maxInflightMessages"], 100)
        self.assertIn("rateLimits", got)
        self.assertNotIn("gatewayRateLimits", got)

    # ---- ota -----------------------------------------------------------------------------------

    def test_ota_assign_and_state(self):
        name, d = self.device()
        fw = os.path.join(self.home, unique("fw") + ".bin")
        with open(fw, "wb") as f:
            f.write(b"firmware-image-" * 100)
        got = self.ok("emulator", "ota", "assign", name, fw, "--title", "demo-fw", "--version", "1.2.3")
        self.assertEqual((got["title"], got["version"], got["size"], got["checksumAlgorithm"]),
                         ("demo-fw", "1.2.3", 1500, "SHA256"))
        self.assertEqual(len(got["checksum"]), 64)
        got = self.ok("emulator", "ota", "assign", name, fw, "--title", "demo-sw", "--version", "2",
                      "--checksum-algorithm", "CRC32", "--software")
        self.assertEqual(got["checksumAlgorithm"], "CRC32")
        token = d["credentials"]["token"]
        shared = self.ok("attributes", "get", "--shared", "fw_title,fw_version,fw_size,sw_title",
                         *self.as_device(token))["shared"]
        self.assertEqual(shared, {"fw_title": "demo-fw", "fw_version": "1.2.3", "fw_size": 1500,
                                  "sw_title": "demo-sw"})
        r = self.tb("telemetry", '{"fw_state":"DOWNLOADING"}', '{"fw_state":"FAILED","fw_error":"bad checksum"}',
                    *self.as_device(token))
        self.assertEqual(r.returncode, 0, r.stderr)
        states = self.ok("emulator", "ota", "state", name)
        self.assertEqual([(s["kind"], s["state"]) for s in states],
                         [("fw", "QUEUED"), ("fw", "INITIATED"), ("sw", "QUEUED"), ("sw", "INITIATED"),
                          ("fw", "DOWNLOADING"), ("fw", "FAILED")])
        self.assertEqual(states[-1]["error"], "bad checksum")

    def test_ota_usage_errors(self):
        name, _ = self.device()
        self.err(2, "emulator", "ota", "assign", name, "/nonexistent.bin", "--title", "t", "--version", "1")
        fw = os.path.join(self.home, unique("fw"))
        with open(fw, "wb") as f:
            f.write(b"x")
        self.err(2, "emulator", "ota", "assign", name, fw, "--title", "t")  # no --version
        self.err(2, "emulator", "ota", "assign", name, fw, "--title", "t", "--version", "1",
                 "--checksum-algorithm", "SHA1")
        self.err(5, "emulator", "ota", "assign", unique("nodev"), fw, "--title", "t", "--version", "1")

    # ---- profile -------------------------------------------------------------------------------

    def test_profile_add(self):
        key = unique("key")
        self.assertEqual(self.ok("emulator", "profile", "add", "--key", key, "--secret", "s3"),
                         {"name": key, "key": key, "strategy": "allow-create"})
        key2 = unique("key")
        got = self.ok("emulator", "profile", "add", "--key", key2, "--secret", "s", "--strategy",
                      "check-preprovisioned")
        self.assertEqual(got["strategy"], "check-preprovisioned")
        self.err(2, "emulator", "profile", "add", "--key", unique("k"), "--secret", "s", "--strategy", "maybe")
        self.err(2, "emulator", "profile", "add", "--key", unique("k"))

    def test_profile_add_then_provision(self):
        key = unique("key")
        self.ok("emulator", "profile", "add", "--key", key, "--secret", "s3")
        dev = Device(type("B", (), {"port": self.port})(), username="provision")
        try:
            self.assertEqual(dev.connect(), 0)
            dev.sub("/provision/response")
            name = unique("prov")
            dev.pub("/provision/request", {"deviceName": name, "provisionDeviceKey": key,
                                           "provisionDeviceSecret": "s3"})
            _, payload, _ = dev.msgs.get(timeout=5)
            reply = json.loads(payload)
            self.assertEqual(reply["status"], "SUCCESS")
        finally:
            dev.c.disconnect()
            dev.c.loop_stop()
        self.assertEqual(self.ok("emulator", "telemetry", name), {})

    # ---- error exits ---------------------------------------------------------------------------

    def test_unknown_device_is_5(self):
        nodev = unique("nodev")
        for args in (["telemetry", nodev], ["attributes", "set", nodev, '{"a":1}'], ["rpc", nodev, "m"],
                     ["ota", "state", nodev]):
            line = self.err(5, "emulator", *args)
            self.assertIn("device not found", line)

    def test_wrong_port_is_3(self):
        self.err(3, "emulator", "telemetry", "default", "--port", free_port())

    def test_no_state_dir_is_3(self):
        empty = tempfile.mkdtemp(prefix="tbnostate-")
        try:
            self.err(3, "emulator", "telemetry", "default", "--state", empty)
        finally:
            shutil.rmtree(empty, ignore_errors=True)

    def test_wrong_admin_password_is_3(self):
        other = tempfile.mkdtemp(prefix="tbbadadmin-")
        try:
            with open(os.path.join(other, "admin.json"), "w") as f:
                json.dump({"username": "tbmqtt-admin", "password": "wrong", "host": HOST, "port": self.port}, f)
            line = self.err(3, "emulator", "telemetry", "default", "--state", other)
            self.assertIn("refused", line)
        finally:
            shutil.rmtree(other, ignore_errors=True)

    def test_usage_is_2(self):
        self.err(2, "emulator")
        self.err(2, "emulator", "frobnicate")
        self.err(2, "emulator", "rpc", "onlydevice")

    # ---- the SDK CLI as the device --------------------------------------------------------------

    def test_sdk_bad_token_is_3(self):
        self.err(3, "telemetry", '{"a":1}', *self.as_device(unique("no-such-token")))

    def test_sdk_claim(self):
        name, d = self.device()
        r = self.tb("claim", "--secret", "k3y", "--duration-ms", "60000", *self.as_device(d["credentials"]["token"]))
        self.assertEqual(r.returncode, 0, r.stderr)
        got = subprocess.run([ADMIN_TOOL, "--state", self.state, "request", "claim.get",
                              json.dumps({"device": name})], capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(got.returncode, 0, got.stderr)
        claim = json.loads(got.stdout)["claim"]
        self.assertEqual((claim["secretKey"], claim["durationMs"]), ("k3y", 60000))


if __name__ == "__main__":
    unittest.main()
