"""TLS and X.509 device authentication (protocol doc section 1) with the real
`tbmqtt emulator start --tls`: one-way TLS with an access token, a wrong CA, device certificates
issued by `tbmqtt emulator cert issue` (mosquitto only accepts client certificates that chain to the
emulator CA, see emulator/README.md), an unknown certificate, and the SDK CLI over both listeners."""

import json
import os
import queue
import ssl
import subprocess
import unittest

import paho.mqtt.client as mqtt

from emu import BUILD_DIR, CliEmulator, HOST, cert_hash, free_port, has_emulator_commands, unique

TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")
TIMEOUT = 20




@unittest.skipUnless(has_emulator_commands(), "build/bin/tbmqtt without `tbmqtt emulator`")
class TlsX509Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port, cls.tls_port, cls.x509_port = free_port(), free_port(), free_port()
        cls.emulator = CliEmulator(TBMQTT, ["--port", cls.port, "--tls", "--tls-port", cls.tls_port, "--x509-port", cls.x509_port], prefix='tbtls-')
        cls.home, cls.env, cls.state = cls.emulator.home, cls.emulator.env, cls.emulator.state
        cls.proc, cls.start_output = cls.emulator.proc, cls.emulator.output
        cls.default_token = cls.emulator.default_token
        cls.certs = os.path.join(cls.home, "certs")
        cls.ca = os.path.join(cls.state, "ca.crt")

    @classmethod
    def tearDownClass(cls):
        cls.emulator.stop()

    # ---- helpers ------------------------------------------------------------------------------

    def tb(self, *args):
        return subprocess.run([TBMQTT] + [str(a) for a in args], capture_output=True, text=True,
                              timeout=TIMEOUT, env=self.env)

    def ok(self, *args):
        r = self.tb(*args)
        self.assertEqual(r.returncode, 0, "tbmqtt %s: %s" % (" ".join(map(str, args)), r.stderr))
        return json.loads(r.stdout) if r.stdout.strip() else None

    def issue(self, name):
        """A device certificate signed by the emulator CA: (cert path, key path)."""
        got = self.ok("emulator", "cert", "issue", name, "--out", self.certs)
        self.assertEqual(got["ca"], self.ca)
        return got["certificate"], got["key"]

    def x509_device(self):
        name = unique("x509dev")
        crt, key = self.issue(name)
        added = self.ok("emulator", "device", "add", name, "--cert-file", crt)
        self.assertEqual(added["credentials"]["type"], "X509_CERTIFICATE")
        self.assertEqual(added["credentials"]["hash"], cert_hash(crt))
        return name, crt, key

    def connect(self, port, ca=None, cert=None, key=None, username=None, protocol=mqtt.MQTTv311, wait=10):
        """paho over TLS; returns (client, CONNACK code or None when none came in `wait` seconds).
        Handshake errors raise ssl.SSLError."""
        c = mqtt.Client(client_id=unique("tls"), protocol=protocol)
        c.tls_set(ca_certs=ca or self.ca, certfile=cert, keyfile=key)
        if username is not None:
            c.username_pw_set(username)
        acks = queue.Queue()
        c.on_connect = lambda cl, u, flags, rc, props=None: acks.put(rc)
        c.connect(HOST, port, keepalive=30)
        c.loop_start()
        try:
            rc = acks.get(timeout=wait)
        except queue.Empty:
            rc = None
        return c, rc

    def publish_telemetry(self, c, payload):
        info = c.publish("v1/devices/me/telemetry", json.dumps(payload), qos=1)
        info.wait_for_publish()

    def close(self, c):
        c.disconnect()
        c.loop_stop()

    # ---- tests --------------------------------------------------------------------------------

    def test_start_creates_ca_and_prints_it(self):
        self.assertIn("CA certificate: %s\n" % self.ca, self.start_output)
        for f in ("ca.crt", "ca.key", "server.crt", "server.key"):
            self.assertTrue(os.path.exists(os.path.join(self.state, f)), f)
        with open(os.path.join(self.state, "mosquitto.conf")) as f:
            conf = f.read()
        self.assertIn("listener %d 127.0.0.1\n" % self.tls_port, conf)
        self.assertIn("require_certificate false\n", conf)

    def test_one_way_tls_with_token(self):
        c, rc = self.connect(self.tls_port, username=self.default_token)
        try:
            self.assertEqual(rc, 0)
            self.publish_telemetry(c, {"tlsToken": 7})
        finally:
            self.close(c)
        self.assertEqual(self.ok("emulator", "telemetry", "default").get("tlsToken"), 7)

    def test_one_way_tls_unknown_token_is_refused(self):
        c, rc = self.connect(self.tls_port, username="no-such-token")
        self.close(c)
        self.assertEqual(rc, 5)

    def test_wrong_ca_fails_the_handshake(self):
        other = os.path.join(self.home, "other-ca")
        os.makedirs(other, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", os.path.join(other, "ca.key"), "-out", os.path.join(other, "ca.crt"),
                        "-days", "1", "-subj", "/CN=other"], check=True, capture_output=True)
        with self.assertRaises(ssl.SSLError):
            self.connect(self.tls_port, ca=os.path.join(other, "ca.crt"), username=self.default_token)

    def test_x509_device_connects_and_its_telemetry_is_stored(self):
        name, crt, key = self.x509_device()
        c, rc = self.connect(self.x509_port, cert=crt, key=key, username="ignored-username")
        try:
            self.assertEqual(rc, 0)
            self.publish_telemetry(c, {"x509": 1})
        finally:
            self.close(c)
        self.assertEqual(self.ok("emulator", "telemetry", name).get("x509"), 1)
        self.assertNotIn("x509", self.ok("emulator", "telemetry", "default"))

    def test_x509_device_without_username(self):
        name, crt, key = self.x509_device()
        c, rc = self.connect(self.x509_port, cert=crt, key=key)
        self.close(c)
        self.assertEqual(rc, 0)

    def test_unknown_certificate_is_refused(self):
        crt, key = self.issue(unique("unregistered"))
        c, rc = self.connect(self.x509_port, cert=crt, key=key)
        self.close(c)
        self.assertEqual(rc, 5)
        # even with a valid token as username: the certificate decides
        c, rc = self.connect(self.x509_port, cert=crt, key=key, username=self.default_token)
        self.close(c)
        self.assertEqual(rc, 5)

    def test_self_signed_certificate_fails_the_handshake(self):
        # ThingsBoard would accept it (the hash identifies the device); mosquitto requires the chain.
        d = os.path.join(self.home, "selfsigned")
        os.makedirs(d, exist_ok=True)
        crt, key = os.path.join(d, "dev.crt"), os.path.join(d, "dev.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=self"],
                       check=True, capture_output=True)
        self.ok("emulator", "device", "add", unique("selfsigned"), "--cert-file", crt)
        try:
            # TLS 1.3: the server rejects the certificate after the client's handshake completed
            c, rc = self.connect(self.x509_port, cert=crt, key=key, wait=2)
            self.close(c)
        except (ssl.SSLError, OSError):
            return
        self.assertNotEqual(rc, 0)

    def test_unknown_certificate_mqtt5_is_not_authorized(self):
        crt, key = self.issue(unique("unregistered5"))
        c, rc = self.connect(self.x509_port, cert=crt, key=key, protocol=mqtt.MQTTv5)
        self.close(c)
        self.assertEqual(rc, 0x87)

    # ---- the SDK CLI --------------------------------------------------------------------------

    def test_cli_tls_with_token(self):
        r = self.tb("--tls", "--ca-file", self.ca, "--port", self.tls_port, "--token", self.default_token,
                    "--timeout", "10", "telemetry", '{"cliTls":3}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.ok("emulator", "telemetry", "default").get("cliTls"), 3)

    def test_cli_tls_with_certificate_only(self):
        name, crt, key = self.x509_device()
        r = self.tb("--tls", "--ca-file", self.ca, "--port", self.x509_port, "--cert-file", crt, "--key-file", key,
                    "--timeout", "10", "telemetry", '{"cliCert":4}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.ok("emulator", "telemetry", name).get("cliCert"), 4)

    def test_cli_certificate_from_another_ca_is_refused_in_tls(self):
        d = os.path.join(self.home, "foreign")
        os.makedirs(d, exist_ok=True)
        crt, key = os.path.join(d, "dev.crt"), os.path.join(d, "dev.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=foreign"],
                       check=True, capture_output=True)
        r = self.tb("--tls", "--ca-file", self.ca, "--port", self.x509_port, "--cert-file", crt, "--key-file", key,
                    "--timeout", "10", "telemetry", '{"a":1}')
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stderr, "tbmqtt: connect to 127.0.0.1:%d (the server refused the client certificate or "
                         "needs one: check --cert-file): tls_client_certificate_refused\n" % self.x509_port)

    def test_cli_unknown_certificate_exits_3(self):
        crt, key = self.issue(unique("clinone"))
        r = self.tb("--tls", "--ca-file", self.ca, "--port", self.x509_port, "--cert-file", crt, "--key-file", key,
                    "--timeout", "10", "telemetry", '{"a":1}')
        self.assertEqual(r.returncode, 3, r.stderr)


if __name__ == "__main__":
    unittest.main()
