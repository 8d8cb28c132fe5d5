"""The authentication examples a11..a31 (examples/linux/a*.cpp) against the real
`tbmqtt emulator start --tls`: each one connects with its own kind of credentials to a device
registered with exactly those, and its `{"example":"aNN"}` telemetry must be stored under that
device. One refused case per auth family (token, MQTT basic, X.509) must exit 3."""

import json
import os
import subprocess
import unittest

from emu import BUILD_DIR, CliEmulator, HOST, example_path, free_port, has_emulator_commands, unique

TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")
TIMEOUT = 30
EXAMPLES = ("a11_access_token", "a12_access_token_tls", "a21_basic_client_id", "a22_basic_user_password",
            "a23_basic_client_id_user_password", "a24_basic_tls", "a31_x509_certificate")



@unittest.skipUnless(has_emulator_commands(*EXAMPLES), "tbmqtt with `tbmqtt emulator` or the a* examples not built")
class AuthExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port, cls.tls_port, cls.x509_port = free_port(), free_port(), free_port()
        cls.emulator = CliEmulator(TBMQTT, ["--port", cls.port, "--tls", "--tls-port", cls.tls_port, "--x509-port", cls.x509_port], prefix='tbauthex-')
        cls.home, cls.env, cls.state = cls.emulator.home, cls.emulator.env, cls.emulator.state
        cls.proc, cls.start_output = cls.emulator.proc, cls.emulator.output
        cls.default_token = cls.emulator.default_token
        cls.certs = os.path.join(cls.home, "certs")
        cls.ca = os.path.join(cls.home, "tbmqtt-emulator", "ca.crt")

    @classmethod
    def tearDownClass(cls):
        cls.emulator.stop()

    # ---- helpers ------------------------------------------------------------------------------

    def ok(self, *args):
        r = subprocess.run([TBMQTT] + [str(a) for a in args], capture_output=True, text=True,
                           timeout=TIMEOUT, env=self.env)
        self.assertEqual(r.returncode, 0, "tbmqtt %s: %s" % (" ".join(map(str, args)), r.stderr))
        return json.loads(r.stdout) if r.stdout.strip() else None

    def device(self, **creds):
        """Registers a device with exactly these credentials; returns its name."""
        name = unique("authex")
        args = ["emulator", "device", "add", name]
        for k, v in creds.items():
            args += ["--" + k.replace("_", "-"), v]
        self.ok(*args)
        return name

    def issue(self, name):
        got = self.ok("emulator", "cert", "issue", name, "--out", self.certs)
        return got["certificate"], got["key"]

    def run_example(self, name, port, *args):
        return subprocess.run([example_path(name), HOST, str(port)] + [str(a) for a in args],
                              capture_output=True, text=True, timeout=TIMEOUT, env=self.env)

    def assert_sent(self, device, example, port, *args):
        r = self.run_example(example, port, *args)
        self.assertEqual(r.returncode, 0, "%s: %s%s" % (example, r.stdout, r.stderr))
        eid = example[:3]
        self.assertEqual(self.ok("emulator", "telemetry", device).get("example"), eid)
        self.assertNotEqual(self.ok("emulator", "telemetry", "default").get("example"), eid)

    def assert_refused(self, error, example, port, *args):
        """Exit 3 with the typed error printed."""
        r = self.run_example(example, port, *args)
        self.assertEqual(r.returncode, 3, "%s: %s%s" % (example, r.stdout, r.stderr))
        self.assertIn("connect failed: " + error, r.stderr)

    # ---- each example under its own device ----------------------------------------------------

    def test_a11_access_token(self):
        token = unique("a11-token")
        dev = self.device(token=token)
        self.assert_sent(dev, "a11_access_token", self.port, token)

    def test_a12_access_token_tls(self):
        token = unique("a12-token")
        dev = self.device(token=token)
        self.assert_sent(dev, "a12_access_token_tls", self.tls_port, self.ca, token)

    def test_a21_basic_client_id(self):
        cid = unique("a21-cid")
        dev = self.device(client_id=cid)
        self.assert_sent(dev, "a21_basic_client_id", self.port, cid)

    def test_a22_basic_user_password(self):
        user, password = unique("a22-user"), unique("a22-pass")
        dev = self.device(username=user, password=password)
        self.assert_sent(dev, "a22_basic_user_password", self.port, user, password)

    def test_a23_basic_client_id_user_password(self):
        cid, user, password = unique("a23-cid"), unique("a23-user"), unique("a23-pass")
        dev = self.device(client_id=cid, username=user, password=password)
        self.assert_sent(dev, "a23_basic_client_id_user_password", self.port, cid, user, password)

    def test_a24_basic_tls(self):
        cid, user, password = unique("a24-cid"), unique("a24-user"), unique("a24-pass")
        dev = self.device(client_id=cid, username=user, password=password)
        self.assert_sent(dev, "a24_basic_tls", self.tls_port, self.ca, cid, user, password)

    def test_a31_x509_certificate(self):
        name = unique("a31dev")
        crt, key = self.issue(name)
        dev = self.device(cert_file=crt)
        self.assert_sent(dev, "a31_x509_certificate", self.x509_port, self.ca, crt, key)

    # ---- refused: one per auth family ---------------------------------------------------------

    def test_unknown_token_exits_3(self):
        self.assert_refused("refused_credentials", "a11_access_token", self.port, unique("no-such-token"))

    def test_wrong_password_exits_3(self):
        user = unique("a22-user")
        self.device(username=user, password="right-password")
        self.assert_refused("refused_credentials", "a22_basic_user_password", self.port, user, "wrong-password")

    def test_unknown_client_id_exits_3(self):
        # a client id alone that no device has: CONNACK 2, identifier rejected (as ThingsBoard)
        self.assert_refused("identifier_rejected", "a21_basic_client_id", self.port, unique("no-such-cid"))

    def test_unknown_certificate_exits_3(self):
        crt, key = self.issue(unique("a31none"))
        self.assert_refused("refused_credentials", "a31_x509_certificate", self.x509_port, self.ca, crt, key)


if __name__ == "__main__":
    unittest.main()
