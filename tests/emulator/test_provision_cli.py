"""`tbmqtt provision` (doc section 4) end to end against the emulator: every credential type,
NOT_FOUND, FAILURE, the saved credentials file (mode 0600, secrets not printed) and the global
`--credentials FILE` option. Exit codes: 5 NOT_FOUND/FAILURE, 4 timeout, 3 unreachable."""

import base64
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import unittest

from emu import BUILD_DIR, admin, free_port, new_device, request, shared_broker, unique

TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")
TIMEOUT = 20


@unittest.skipUnless(os.access(TBMQTT, os.X_OK), "no build/bin/tbmqtt")
class ProvisionCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()
        cls.key, cls.secret = unique("clikey"), "S3cr3t"
        request(cls.b, "profile.add", {"key": cls.key, "secret": cls.secret})
        cls.dir = tempfile.mkdtemp(prefix="tbprov-")
        cls.env = dict(os.environ)
        cls.env.pop("TBMQTT_TOKEN", None)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def tb(self, *args, port=None):
        return subprocess.run([TBMQTT, "--port", str(port or self.b.port), "--timeout", "5"]
                              + [str(a) for a in args], capture_output=True, text=True,
                              timeout=TIMEOUT, env=self.env)

    def provision(self, *args, name=None, secret=None):
        return self.tb("provision", "--key", self.key, "--secret", secret or self.secret,
                       *(["--name", name] if name else []), *args)

    def ok(self, r):
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def path(self, name):
        return os.path.join(self.dir, name + ".json")

    def send_with(self, creds_file, name):
        self.ok(self.tb("--credentials", creds_file, "telemetry", '{"x":1}'))
        self.assertEqual(admin(self.b, "telemetry", name), {"x": 1})

    def test_server_generated_token_saved_0600_and_used(self):
        name, f = unique("pcli"), self.path(unique("srv"))
        r = self.ok(self.provision("--save", f, name=name))
        self.assertEqual(r.stdout, "")
        self.assertIn(f, r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(f).st_mode), 0o600)
        with open(f) as fh:
            saved = json.load(fh)
        self.assertEqual(saved["credentialsType"], "ACCESS_TOKEN")
        self.assertTrue(saved["token"])
        self.assertNotIn(saved["token"], r.stderr + r.stdout)
        self.assertEqual([n for n in os.listdir(self.dir) if ".tmp" in n], [])
        self.send_with(f, name)

    def test_device_token_printed_as_json_and_loadable(self):
        name, tok = unique("pcli"), unique("tok")
        r = self.ok(self.provision("--device-token", tok, name=name))
        self.assertEqual(json.loads(r.stdout), {"credentialsType": "ACCESS_TOKEN", "token": tok})
        f = self.path(unique("printed"))
        with open(os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:  # a private file
            fh.write(r.stdout)
        self.send_with(f, name)

    def test_mqtt_basic(self):
        name, cid, user = unique("pcli"), unique("cid"), unique("user")
        f = self.path(unique("basic"))
        r = self.ok(self.provision("--type", "basic", "--client-id", cid, "--username", user,
                                   "--password", "pw-secret", "--save", f, name=name))
        self.assertNotIn("pw-secret", r.stdout + r.stderr)
        with open(f) as fh:
            self.assertEqual(json.load(fh), {"credentialsType": "MQTT_BASIC", "clientId": cid,
                                             "username": user, "password": "pw-secret"})
        self.assertEqual(stat.S_IMODE(os.stat(f).st_mode), 0o600)
        self.send_with(f, name)

    def test_x509_returns_the_certificate_body(self):
        # Provisioning answers with the certificate body; connecting with a certificate is
        # covered by test_tls_x509.py (certificates signed by the emulator CA).
        # A body of its own: the emulator refuses a certificate another test registered already.
        body = base64.b64encode(("certificate-" + unique("x509")).encode()).decode()
        pem = os.path.join(self.dir, "dev.pem")
        with open(pem, "w") as fh:
            fh.write("-----BEGIN CERTIFICATE-----\n%s\n%s\n-----END CERTIFICATE-----\n" % (body[:8], body[8:]))
        r = self.ok(self.provision("--cert-file", pem, name=unique("pcli")))
        self.assertEqual(json.loads(r.stdout), {"credentialsType": "X509_CERTIFICATE", "certificate": body})

    def test_gateway(self):
        name = unique("pgw")
        r = self.ok(self.provision("--gateway", name=name))
        self.assertEqual(json.loads(r.stdout)["credentialsType"], "ACCESS_TOKEN")

    def test_bad_secret_is_not_found_exit_5(self):
        r = self.provision(name=unique("pcli"), secret="wrong")
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("provision_not_found", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_same_name_twice_is_failure_exit_5(self):
        name = unique("pcli")
        self.ok(self.provision(name=name))
        r = self.provision(name=name)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("provision_failed", r.stderr)

    def test_check_preprovisioned_then_already_provisioned(self):
        pkey = unique("cliprekey")
        request(self.b, "profile.add", {"key": pkey, "secret": "P", "strategy": "check-preprovisioned"})
        name, _ = new_device(self.b)
        f, tok = self.path(unique("pre")), unique("pretok")
        self.ok(self.tb("provision", "--key", pkey, "--secret", "P", "--name", name,
                        "--device-token", tok, "--save", f))
        self.send_with(f, name)
        r = self.tb("provision", "--key", pkey, "--secret", "P", "--name", name, "--device-token", unique("t"))
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("provision_failed", r.stderr)

    def test_unreachable_exit_3(self):
        r = self.tb("provision", "--key", self.key, "--secret", self.secret, port=free_port())
        self.assertEqual(r.returncode, 3, r.stderr)

    def test_silent_server_is_timeout_exit_4(self):
        with socket.socket() as srv:  # accepts TCP (backlog) but never answers CONNECT
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            r = subprocess.run([TBMQTT, "--port", str(srv.getsockname()[1]), "--timeout", "1", "provision",
                                "--key", self.key, "--secret", self.secret],
                               capture_output=True, text=True, timeout=TIMEOUT, env=self.env)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("timeout", r.stderr)

    def test_bad_credentials_file(self):
        f = self.path(unique("bad"))
        with open(os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
            fh.write('{"credentialsType":"ACCESS_TOKEN"}')
        r = self.tb("--credentials", f, "telemetry", '{"x":1}')
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertNotIn("accessible by others", r.stderr)  # refused for its content, not its mode


if __name__ == "__main__":
    unittest.main()
