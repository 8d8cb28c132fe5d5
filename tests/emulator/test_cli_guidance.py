"""What a new user hits (issue 15), through the `tbmqtt` command against the emulator: errors that
say what to check, data safety in provisioning, and the CLI's usability (keys, --version, typos,
--help, JSON error positions, durations, sample --on-change, ota --current-*, ota confirm)."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from emu import (AdminError, BUILD_DIR, CliEmulator, admin, free_port, has_emulator_commands, messages, new_device,
                 request, shared_broker, unique, wait_for)

TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")
TIMEOUT = 30


def env_without_token(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TBMQTT_")}
    env.update(extra)
    return env


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()
        cls.dir = tempfile.mkdtemp(prefix="tbguide-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def tb(self, *args, port=None, env=None, stdin=None):
        return subprocess.run([TBMQTT, "--port", str(port or self.b.port), "--timeout", "5s"]
                              + [str(a) for a in args], capture_output=True, text=True, input=stdin,
                              timeout=TIMEOUT, env=env or env_without_token())

    def fails(self, r, code, *texts):
        self.assertEqual(r.returncode, code, "stdout %r stderr %r" % (r.stdout, r.stderr))
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        for t in texts:
            self.assertIn(t, r.stderr)
        return r.stderr

    def ok(self, r):
        self.assertEqual(r.returncode, 0, r.stderr)
        return r


@unittest.skipUnless(os.access(TBMQTT, os.X_OK), "no build/bin/tbmqtt")
class ErrorsTest(Base):
    def test_connection_refused_says_nothing_listens(self):
        with socket.socket() as s:  # a port that was free a moment ago
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        err = self.fails(self.tb("--token", "t", "telemetry", "{}", port=port), 3,
                         "connection refused: nothing listens on port %d" % port, "check --host, --port")
        self.assertTrue(err.rstrip().endswith(": unreachable"), err)

    def test_name_not_resolved_says_check_host(self):
        self.fails(self.tb("--host", "no-such-host.invalid", "--token", "t", "telemetry", "{}"), 3,
                   "cannot resolve the host name no-such-host.invalid: check --host")

    def test_wrong_token_says_check_token_and_device(self):
        err = self.fails(self.tb("--token", unique("wrong"), "telemetry", "{}"), 3,
                         "check the token", "that the device exists", "refused_credentials")
        self.assertNotIn("wrong-", err)  # the token itself is never printed

    def test_provisioning_not_found_and_failed_say_what_to_check(self):
        key = unique("gkey")
        request(self.b, "profile.add", {"key": key, "secret": "S"})
        self.fails(self.tb("provision", "--key", key, "--secret", "wrong"), 5,
                   "check --key and --secret", "provision_not_found")
        name = unique("taken")
        self.ok(self.tb("provision", "--key", key, "--secret", "S", "--name", name))
        self.fails(self.tb("provision", "--key", key, "--secret", "S", "--name", name), 5,
                   "the device name may be taken", "provision_failed")

    def test_gateway_command_with_a_plain_device_asks_if_it_is_a_gateway(self):
        _, token = new_device(self.b)
        self.fails(self.tb("--token", token, "gateway", "connect", "child-1"), 5,
                   "is this device a gateway?", "subscription_refused")

    def test_payload_too_large_states_the_limit(self):
        _, token = new_device(self.b)
        self.fails(self.tb("--token", token, "attributes", "set", '{"blob":"%s"}' % ("x" * 70000)), 2,
                   "at most 65536 bytes", "payload_too_large")
        self.fails(self.tb("--token", token, "telemetry", '{"blob":"%s"}' % ("x" * 70000)), 2,
                   "tbmqtt: telemetry: argument 1 (a message may be at most 65536 bytes", "payload_too_large")


@unittest.skipUnless(has_emulator_commands(), "build/bin/tbmqtt without `tbmqtt emulator`")
class TlsErrorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port, cls.tls_port = free_port(), free_port()
        cls.emulator = CliEmulator(TBMQTT, ["--port", cls.port, "--tls", "--tls-port", cls.tls_port,
                                            "--x509-port", free_port()], prefix="tbguide-tls-")
        cls.ca = os.path.join(cls.emulator.state, "ca.crt")

    @classmethod
    def tearDownClass(cls):
        cls.emulator.stop()

    def tb(self, *args):
        return subprocess.run([TBMQTT, "--timeout", "5s", "--token", self.emulator.default_token]
                              + [str(a) for a in args], capture_output=True, text=True, timeout=TIMEOUT,
                              env=self.emulator.env)

    def test_plain_mqtt_to_the_tls_port_suggests_tls(self):
        r = self.tb("--port", self.tls_port, "telemetry", '{"a":1}')
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("does it expect TLS? try --tls", r.stderr)

    def test_tls_to_the_plain_port_says_the_port_does_not_speak_tls(self):
        r = self.tb("--port", self.port, "--tls", "--ca-file", self.ca, "telemetry", '{"a":1}')
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("the server does not speak TLS on this port?", r.stderr)

    def test_tls_to_the_tls_port_works(self):  # the hints above are not what a good setup gets
        r = self.tb("--port", self.tls_port, "--tls", "--ca-file", self.ca, "telemetry", '{"a":1}')
        self.assertEqual(r.returncode, 0, r.stderr)


@unittest.skipUnless(os.access(TBMQTT, os.X_OK), "no build/bin/tbmqtt")
class ProvisionSafetyTest(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = unique("skey")
        request(cls.b, "profile.add", {"key": cls.key, "secret": "S"})

    def test_save_onto_an_existing_file_is_refused_before_provisioning(self):
        f = os.path.join(self.dir, unique("creds") + ".json")
        with open(f, "w") as fh:
            fh.write('{"credentialsType":"ACCESS_TOKEN","token":"the-only-copy"}')
        name = unique("keep")
        err = self.fails(self.tb("provision", "--key", self.key, "--secret", "S", "--name", name, "--save", f), 2,
                         "exists", "--force")
        self.assertNotIn("invalid_argument", err)
        with open(f) as fh:
            self.assertIn("the-only-copy", fh.read())
        # Nothing was provisioned: the same name is still free.
        self.ok(self.tb("provision", "--key", self.key, "--secret", "S", "--name", name, "--save", f, "--force"))
        with open(f) as fh:
            self.assertNotIn("the-only-copy", fh.read())

    def test_exported_token_is_not_the_provisioned_token(self):
        f = os.path.join(self.dir, unique("life") + ".json")
        name = unique("envtok")
        env = env_without_token(TBMQTT_TOKEN="exported-token-of-another-device")
        r = self.tb("--credentials", f, "--provision-key", self.key, "--provision-secret", "S",
                    "--provision-name", name, "telemetry", '{"up":1}', env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(f) as fh:
            saved = json.load(fh)
        self.assertNotEqual(saved["token"], "exported-token-of-another-device")  # server-generated
        self.assertEqual(admin(self.b, "telemetry", name), {"up": 1})

    def test_explicit_token_is_the_provisioned_token(self):
        f = os.path.join(self.dir, unique("life") + ".json")
        name, tok = unique("explicit"), unique("chosen")
        r = self.tb("--credentials", f, "--provision-key", self.key, "--provision-secret", "S",
                    "--provision-name", name, "--token", tok, "telemetry", '{"up":2}',
                    env=env_without_token(TBMQTT_TOKEN="exported"))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(f) as fh:
            self.assertEqual(json.load(fh)["token"], tok)


@unittest.skipUnless(os.access(TBMQTT, os.X_OK), "no build/bin/tbmqtt")
class UsabilityTest(Base):
    def test_attributes_get_keys_space_or_comma_separated(self):
        name, token = new_device(self.b)
        self.ok(self.tb("--token", token, "attributes", "set", '{"fw":"v1","model":"m1","other":3}'))
        wait_for(lambda: request(self.b, "attributes.get", {"device": name})["client"].get("other"))
        admin(self.b, "attributes", "set", name, '{"mode":"eco","target":21}')
        for args in (["--client", "fw", "model", "--shared", "mode", "target"],
                     ["--client", "fw,model", "--shared", "mode,target"]):
            r = self.ok(self.tb("--token", token, "attributes", "get", *args))
            self.assertEqual(json.loads(r.stdout), {"client": {"fw": "v1", "model": "m1"},
                                                    "shared": {"mode": "eco", "target": 21}})

    def test_version(self):
        r = self.ok(self.tb("--version"))
        self.assertRegex(r.stdout.strip(), r"^tbmqtt \d+\.\d+\.\d+$")

    def test_typo_suggests_the_nearest_command(self):
        err = self.fails(self.tb("--token", "t", "telemetri", "{}"), 2, "did you mean 'telemetry'?")
        self.assertTrue(err.startswith("tbmqtt: usage: "), err)
        self.assertNotIn("invalid_argument", err)
        self.fails(self.tb("--token", "t", "attributes", "gett"), 2, "did you mean 'get'?")

    def test_usage_errors_have_no_errc_suffix(self):
        err = self.fails(self.tb("telemetry", "--bogus", "{}"), 2, "usage: ")
        self.assertNotIn("invalid_argument", err)
        err = self.fails(self.tb("telemetry", "{}"), 2, "no credentials")  # no token at all
        self.assertNotIn("invalid_argument", err)

    def test_each_command_help_shows_its_global_options_and_an_example(self):
        for cmd in (["telemetry"], ["attributes", "get"], ["rpc", "serve"], ["claim"], ["sample"], ["ota"],
                    ["ota", "confirm"], ["provision"], ["gateway", "connect"], ["gateway", "serve"], ["fleet"],
                    ["emulator", "start"], ["emulator", "device", "add"], ["emulator", "attributes", "set"],
                    ["emulator", "rpc"], ["emulator", "ota", "assign"], ["emulator", "profile", "add"]):
            r = self.ok(self.tb(*cmd, "--help"))
            self.assertIn("Global options it uses", r.stdout, cmd)
            self.assertIn("--host", r.stdout.split("Global options it uses")[1], cmd)
            example = r.stdout.split("Example:\n")[1].strip()
            self.assertTrue(example.startswith("tbmqtt ") or "| tbmqtt " in example, (cmd, example))
            self.assertIn(" ".join(cmd), example, cmd)

    def test_json_errors_say_where_and_why(self):
        _, token = new_device(self.b)
        self.fails(self.tb("--token", token, "attributes", "set", '{"a":1,}'), 2,
                   "line 1, column 8", "expected a member name in double quotes")
        self.fails(self.tb("--token", token, "rpc", "call", "m", '{"a":\n1 2}'), 2,
                   "line 2, column 3", "expected ',' or '}'")
        self.fails(self.tb("--token", token, "attributes", "set", "[1,2]"), 2, "expected an object", "got an array")

    def test_one_duration_syntax(self):
        _, token = new_device(self.b)
        for t in ("5", "5s", "5000ms", "0.1m"):
            self.ok(subprocess.run([TBMQTT, "--port", str(self.b.port), "--timeout", t, "--token", token,
                                    "claim", "--secret", "s", "--duration", "1m"], capture_output=True,
                                   text=True, timeout=TIMEOUT, env=env_without_token()))
        self.fails(self.tb("--token", token, "claim", "--secret", "s", "--duration", "soon"), 2,
                   "expected a duration like 500ms, 2s or 1m")
        self.fails(self.tb("--token", token, "sample", "--every", "2 weeks", "--point", "a=echo 1"), 2,
                   "expected a duration")
        # --every: plain ms as before; --heartbeat: plain seconds as before.
        r = self.ok(self.tb("--token", token, "sample", "--every", "10ms", "--count", "3", "--heartbeat", "1h",
                            "--on-change", "--point", "a=echo 1"))
        self.assertEqual(len(r.stdout.splitlines()), 1, r.stdout)

    def test_sample_on_change_uploads_text_and_booleans_when_they_change(self):
        name, token = new_device(self.b)
        state = os.path.join(self.dir, unique("state"))
        # The command prints on, on, off, off, on for rounds 1..5 (a counter file).
        script = ("n=$(cat %s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s; "
                  "case $n in 1|2|5) echo '\"on\"';; *) echo '\"off\"';; esac") % (state, state)
        r = self.ok(self.tb("--token", token, "sample", "--every", "20ms", "--count", "5",
                            "--on-change", "--point", "mode=" + script, "--point", "up=echo true"))
        uploads = [json.loads(l)["values"] for l in r.stdout.splitlines()]
        self.assertEqual(uploads, [{"mode": "on", "up": True}, {"mode": "off"}, {"mode": "on"}])
        self.assertEqual([m.get("mode") for m in wait_for(lambda: len(messages(self.b, name)) == 3
                                                          and messages(self.b, name))], ["on", "off", "on"])

    def test_ota_current_version_reported_and_installed_package_skipped_then_confirm(self):
        name, token = new_device(self.b)
        fw = os.path.join(self.dir, unique("fw") + ".bin")
        with open(fw, "wb") as f:
            f.write(b"image-" * 300)
        admin(self.b, "ota", "assign", name, fw, "--title", "myfw", "--version", "1.0.0")
        out = os.path.join(self.dir, unique("out") + ".bin")
        r = self.ok(self.tb("--token", token, "ota", "--out", out, "--current-title", "myfw",
                            "--current-version", "1.0.0", "--state", os.path.join(self.dir, unique("st"))))
        self.assertEqual(json.loads(r.stdout), {"title": "myfw", "version": "1.0.0", "installed": True})
        self.assertFalse(os.path.exists(out))
        self.assertIn("installed already", r.stderr)
        latest = admin(self.b, "telemetry", name)
        self.assertEqual((latest.get("current_fw_title"), latest.get("current_fw_version")), ("myfw", "1.0.0"))
        # A new version: downloaded; after the "restart", ota confirm reports it UPDATED.
        admin(self.b, "ota", "assign", name, fw, "--title", "myfw", "--version", "1.1.0")
        r = self.ok(self.tb("--token", token, "ota", "--out", out, "--current-title", "myfw",
                            "--current-version", "1.0.0", "--state", os.path.join(self.dir, unique("st"))))
        self.assertEqual(json.loads(r.stdout)["version"], "1.1.0")
        with open(out, "rb") as a, open(fw, "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.ok(self.tb("--token", token, "ota", "confirm", "--current-title", "myfw", "--current-version", "1.1.0"))
        states = admin(self.b, "ota", "state", name)
        self.assertEqual(states[-1]["state"], "UPDATED")
        latest = admin(self.b, "telemetry", name)
        self.assertEqual((latest.get("current_fw_title"), latest.get("current_fw_version")), ("myfw", "1.1.0"))


@unittest.skipUnless(os.access(TBMQTT, os.X_OK), "no build/bin/tbmqtt")
class GatewayServeTest(Base):
    def test_serve_keeps_sub_devices_connected_while_stdin_is_open(self):
        gw = unique("gw")
        token = admin(self.b, "device", "add", gw, "--gateway")["credentials"]["token"]
        child, spaced = unique("child"), unique("child with spaces")
        p = subprocess.Popen([TBMQTT, "--port", str(self.b.port), "--timeout", "5s", "--token", token, "gateway", "serve"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env_without_token())
        try:
            p.stdin.write("connect %s thermostat\n# a comment\n\nconnect %s\n" % (child, json.dumps(spaced)))
            p.stdin.flush()
            def active(name):
                try:
                    return request(self.b, "device.get", {"device": name}).get("active")
                except AdminError:  # not created yet
                    return False
            self.assertTrue(wait_for(lambda: active(child) and active(spaced)), "sub-devices not connected")
            p.stdin.write('telemetry %s {"temp":21.5}\nattributes %s {"fw":"v2"}\nbogus %s\ntelemetry %s {oops\n'
                          % (child, child, child, child))
            p.stdin.flush()
            self.assertTrue(wait_for(lambda: admin(self.b, "telemetry", child) == {"temp": 21.5}))
            # Still connected between commands: the session lasts as long as stdin.
            self.assertTrue(active(child))
            admin(self.b, "attributes", "set", child, '{"mode":"eco"}')
            line = p.stdout.readline()
            self.assertEqual(json.loads(line), {"device": child, "data": {"mode": "eco"}})
            p.stdin.write("disconnect %s\n" % child)
            p.stdin.close()
            p.wait(timeout=TIMEOUT)
            err = p.stderr.read()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 2, err)  # the first failure: the unknown command, a usage error
        self.assertIn("line 7: unknown command 'bogus'", err)
        self.assertIn("line 8: telemetry: not valid JSON", err)
        # Every other message was acknowledged: only the two bad lines failed.
        self.assertIn("2 line(s) failed, the others were delivered", err)
        self.assertEqual(len(err.splitlines()), 3, err)
        self.assertEqual(request(self.b, "attributes.get", {"device": child})["client"], {"fw": "v2"})
        self.assertFalse(request(self.b, "device.get", {"device": child})["active"])


if __name__ == "__main__":
    unittest.main()
