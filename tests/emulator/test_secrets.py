"""Secrets never leak (issue "Provisioning, credential lifecycle, and transport security"): runs
provisioning and TLS sessions of the `tbmqtt` CLI against `tbmqtt emulator start --tls`, the
good ones and the failing ones (refused token and password, wrong CA, wrong key password,
provisioning NOT_FOUND), captures everything each prints on stdout and stderr, and looks for
every secret in it: access tokens, MQTT passwords, the provisioning secret, the claiming secret,
key passwords and the private keys' PEM bodies. The one exception is `tbmqtt provision` without
--save, which prints the new credentials because that is what the user asked for. The CLI has no
verbosity switch; the sessions cover the paths that print (results, errors, usage, --help)."""

import json
import os
import subprocess
import unittest

from emu import BUILD_DIR, CliEmulator, free_port, has_emulator_commands, unique

TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")
TIMEOUT = 30



def pem_body_lines(path):
    """The Base64 lines of a PEM file (what must never be printed of a private key)."""
    with open(path) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("-----") and ":" not in l]


@unittest.skipUnless(has_emulator_commands(), "build/bin/tbmqtt without `tbmqtt emulator`")
class SecretsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port, cls.tls_port, cls.x509_port = free_port(), free_port(), free_port()
        cls.emulator = CliEmulator(TBMQTT, ["--port", cls.port, "--tls", "--tls-port", cls.tls_port,
                                            "--x509-port", cls.x509_port], prefix="tbsecrets-")
        cls.home, cls.state = cls.emulator.home, cls.emulator.state
        cls.env = dict(cls.emulator.env)
        cls.env.pop("TBMQTT_KEY_PASSWORD", None)
        cls.ca = os.path.join(cls.state, "ca.crt")
        cls.sessions = []  # (description, stdout + stderr)

    @classmethod
    def tearDownClass(cls):
        cls.emulator.stop()

    # ---- helpers ------------------------------------------------------------------------------

    def emulator_cmd(self, *args):
        r = subprocess.run([TBMQTT, "emulator"] + [str(a) for a in args], capture_output=True, text=True,
                           timeout=TIMEOUT, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout) if r.stdout.strip() else None

    def session(self, expect_rc, *args, env=None):
        """Runs one CLI session; returns stdout + stderr (all of it, both streams)."""
        r = subprocess.run([TBMQTT] + [str(a) for a in args], capture_output=True, text=True, timeout=TIMEOUT,
                           env=dict(self.env, **(env or {})))
        self.assertEqual(r.returncode, expect_rc, "tbmqtt %s\nstdout %r\nstderr %r" % (args, r.stdout, r.stderr))
        return r.stdout, r.stderr

    def tls(self, port=None):
        return ["--tls", "--ca-file", self.ca, "--port", port or self.tls_port, "--timeout", "10"]

    def assert_no_secret(self, outputs, secrets):
        for what, text in outputs:
            for secret in secrets:
                self.assertNotIn(secret, text, "%s printed a secret" % what)

    def file(self, name, text):
        path = os.path.join(self.home, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    # ---- the test -----------------------------------------------------------------------------

    def test_no_session_prints_a_secret(self):
        outputs = []  # (description, everything printed)

        def run(what, expect_rc, *args, env=None):
            out, err = self.session(expect_rc, *args, env=env)
            outputs.append((what, out + err))
            return out, err

        # Provisioning over TLS: saved (prints where, not what), NOT_FOUND, and printed on purpose.
        key, secret, wrong_secret = unique("secretkey"), "PROV-SECRET-" + unique("s"), "WRONG-SECRET-" + unique("s")
        self.emulator_cmd("profile", "add", "--key", key, "--secret", secret)
        saved = os.path.join(self.home, "creds.json")
        run("provision --save", 0, *self.tls(), "provision", "--key", key, "--secret", secret,
            "--name", unique("prov"), "--save", saved)
        with open(saved) as f:
            provisioned_token = json.load(f)["token"]
        run("provision NOT_FOUND", 5, *self.tls(), "provision", "--key", key, "--secret", wrong_secret,
            "--name", unique("prov"))
        provisioned_password = "PROV-PW-" + unique("p")
        run("provision basic --save", 0, *self.tls(), "provision", "--key", key, "--secret", secret,
            "--name", unique("prov"), "--type", "basic", "--client-id", unique("pcid"), "--username", unique("pu"),
            "--password", provisioned_password, "--save", os.path.join(self.home, "basic.json"))
        printed, printed_err = self.session(0, *self.tls(), "provision", "--key", key, "--secret", secret,
                                            "--name", unique("prov"))
        printed_token = json.loads(printed)["token"]  # the exception: the user asked for them
        outputs.append(("provision (printed credentials, stderr)", printed_err))
        self.assertNotIn(secret, printed)

        # Token sessions over TLS: saved credentials, refused token, wrong CA.
        run("telemetry --credentials", 0, *self.tls(), "--credentials", saved, "telemetry", '{"secrets":1}')
        wrong_token = "WRONG-TOKEN-" + unique("t")
        run("refused token", 3, *self.tls(), "--token", wrong_token, "telemetry", '{"a":1}')
        run("refused token from env", 3, *self.tls(), "telemetry", '{"a":1}', env={"TBMQTT_TOKEN": wrong_token})
        other_ca = os.path.join(self.home, "other-ca.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", os.path.join(self.home, "other-ca.key"), "-out", other_ca,
                        "-days", "1", "-subj", "/CN=other"], check=True, capture_output=True, timeout=TIMEOUT)
        _, err = run("wrong CA", 3, "--tls", "--ca-file", other_ca, "--port", self.tls_port, "--token",
                     provisioned_token, "telemetry", '{"a":1}')
        self.assertIn("tls_unknown_ca", err)
        run("attributes get", 0, *self.tls(), "--token", provisioned_token, "attributes", "get")
        claim_secret = "CLAIM-SECRET-" + unique("c")
        run("claim", 0, *self.tls(), "--token", provisioned_token, "claim", "--secret", claim_secret)

        # MQTT basic: good and wrong password.
        password, wrong_password = "BASIC-PW-" + unique("p"), "WRONG-PW-" + unique("p")
        user, cid = unique("user"), unique("cid")
        self.emulator_cmd("device", "add", unique("basic"), "--client-id", cid, "--username", user,
                          "--password", password)
        basic = ["--client-id", cid, "--username", user]
        run("basic", 0, *self.tls(), *basic, "--password", password, "telemetry", '{"a":1}')
        run("basic refused", 3, *self.tls(), *basic, "--password", wrong_password, "telemetry", '{"a":1}')

        # Mutual TLS with an encrypted key: password from a file, from the environment, wrong.
        name = unique("x509secret")
        got = self.emulator_cmd("cert", "issue", name, "--out", os.path.join(self.home, "certs"))
        crt, plain_key = got["certificate"], got["key"]
        key_password, wrong_key_password = "KEY-PW-" + unique("k"), "WRONG-KEY-PW-" + unique("k")
        encrypted_key = os.path.join(self.home, "device.enc.key")
        subprocess.run(["openssl", "pkey", "-in", plain_key, "-aes256", "-passout", "pass:" + key_password,
                        "-out", encrypted_key], check=True, capture_output=True, timeout=TIMEOUT)
        self.emulator_cmd("device", "add", name, "--cert-file", crt)
        x509 = self.tls(self.x509_port) + ["--cert-file", crt, "--key-file", encrypted_key]
        pw_file = self.file("key-password", key_password + "\n")
        run("key password file", 0, *x509, "--key-password-file", pw_file, "telemetry", '{"mutual":1}')
        run("key password env", 0, *x509, "telemetry", '{"mutual":2}', env={"TBMQTT_KEY_PASSWORD": key_password})
        _, err = run("wrong key password", 3, *x509, "telemetry", '{"a":1}',
                     env={"TBMQTT_KEY_PASSWORD": wrong_key_password})
        self.assertIn("tls_bad_client_key", err)
        _, err = run("wrong key password file", 3, *x509, "--key-password-file",
                     self.file("wrong-key-password", wrong_key_password), "telemetry", '{"a":1}')
        self.assertIn("tls_bad_client_key", err)
        self.assertEqual(self.emulator_cmd("telemetry", name).get("mutual"), 2)

        # Help and usage errors with secrets around.
        run("--help", 0, "--help", env={"TBMQTT_TOKEN": wrong_token, "TBMQTT_KEY_PASSWORD": key_password})
        run("usage error", 2, "--token", wrong_token, "--password", password, "--qos", "3", "telemetry", "{}")

        secrets = [secret, wrong_secret, provisioned_token, provisioned_password, printed_token, wrong_token,
                   claim_secret, password, wrong_password, key_password, wrong_key_password]
        secrets += pem_body_lines(plain_key) + pem_body_lines(encrypted_key)
        self.assertGreater(len(outputs), 15)
        self.assert_no_secret(outputs, secrets)


if __name__ == "__main__":
    unittest.main()
