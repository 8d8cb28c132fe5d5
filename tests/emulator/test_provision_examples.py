"""The provisioning examples pd11..px00 (examples/common/p*.cpp) against the real
`tbmqtt emulator start --tls`: each one provisions with its own kind of request, saves the
credentials (mode 0600), connects with them and sends `{"example":"<id>"}`. Checked in the
emulator: the device exists with exactly the expected credentials and the telemetry is stored
under it; on disk: the saved file. px00 (the general flow, tbmqtt::provisioned_client) must not
provision on its second start, retries with the lifecycle's schedule, and a refused request or
refused saved credentials must exit with the typed error. test_esp_idf_examples runs these tests
again with the ESP-IDF build of each example (run_example and the storage checks overridden: the
credentials live in NVS there)."""

import base64
import json
import os
import shutil
import ssl
import stat
import subprocess
import tempfile
import unittest

from emu import BUILD_DIR, Broker, CliEmulator, HOST, cert_hash, example_path, free_port, has_emulator_commands, request, unique

TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")
TIMEOUT = 30
EXAMPLES = ("pd11_device_token", "pd12_device_token_tls", "pd21_basic_client_id", "pd22_basic_user_password",
            "pd23_basic_all_three", "pd24_basic_tls", "pd31_x509_certificate", "ps10_server_generated",
            "ps20_server_generated_tls", "px00_provisioning_flow")




@unittest.skipUnless(has_emulator_commands(*EXAMPLES), "tbmqtt with `tbmqtt emulator` or the p* examples not built")
class ProvisionExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port, cls.tls_port, cls.x509_port = free_port(), free_port(), free_port()
        cls.emulator = CliEmulator(TBMQTT, ["--port", cls.port, "--tls", "--tls-port", cls.tls_port,
                                            "--x509-port", cls.x509_port], prefix="tbprovex-")
        cls.env = cls.emulator.env
        cls.ca = os.path.join(cls.emulator.state, "ca.crt")
        cls.certs = os.path.join(cls.emulator.home, "certs")
        cls.admin = Broker(state_dir=cls.emulator.state, port=cls.port)  # for emu.request, not started
        cls.key, cls.secret = unique("pex-key"), unique("pex-secret")
        cls.ok("emulator", "profile", "add", "--key", cls.key, "--secret", cls.secret)
        cls.dir = tempfile.mkdtemp(prefix="tbprovex-files-")

    @classmethod
    def tearDownClass(cls):
        cls.emulator.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    UNTRUSTED_CA_ERRORS = ("tls_unknown_ca",)  # what a server certificate from an unknown CA gives

    # ---- helpers ------------------------------------------------------------------------------

    @classmethod
    def ok(cls, *args):
        r = subprocess.run([TBMQTT] + [str(a) for a in args], capture_output=True, text=True,
                           timeout=TIMEOUT, env=cls.env)
        if r.returncode != 0:
            raise AssertionError("tbmqtt %s: %s" % (" ".join(map(str, args)), r.stderr))
        return json.loads(r.stdout) if r.stdout.strip() else None

    def run_example(self, example, port, name, *args, key=None, secret=None, creds=None):
        """Runs EXAMPLE HOST PORT KEY SECRET CREDENTIALS_FILE NAME ARGS; returns (result, file)."""
        creds = creds or os.path.join(self.dir, unique(example[:4]) + ".json")
        r = subprocess.run([example_path(example), HOST, str(port), key or self.key, secret or self.secret,
                            creds, name] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=TIMEOUT, env=self.env)
        return r, creds

    def device(self, name):
        """The emulator's summary of `name` (credentials included)."""
        return request(self.admin, "device.get", {"device": name})

    def devices(self):
        return sorted(d["name"] for d in request(self.admin, "device.list"))

    def saved_to(self, creds):
        """Where the example says it saved the credentials."""
        return creds

    def assert_nothing_saved(self, creds):
        self.assertFalse(os.path.exists(creds))

    def saved(self, path):
        """The saved credentials; the file must be mode 0600 with no temp file left beside it."""
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual([n for n in os.listdir(os.path.dirname(path)) if ".tmp" in n], [])
        with open(path) as f:
            return json.load(f)

    def assert_provisioned(self, example, port, name, *args, secrets=(), **kw):
        """Exit 0; the telemetry is under `name`; no secret printed. Returns (summary creds, saved)."""
        r, creds = self.run_example(example, port, name, *args, **kw)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, "%s: %s" % (example, out))
        self.assertIn("provisioned, credentials saved to " + self.saved_to(creds), r.stdout)
        eid = example[:4]
        self.assertEqual(self.ok("emulator", "telemetry", name).get("example"), eid)
        saved = self.saved(creds)
        for s in list(secrets) + [self.secret] + [saved.get(k) for k in ("token", "password")]:
            if s:
                self.assertNotIn(s, out)
        return self.device(name)["credentials"], saved

    # ---- device-supplied credentials ----------------------------------------------------------

    def test_pd11_device_token(self):
        name, token = unique("pd11dev"), unique("pd11-token")
        got, saved = self.assert_provisioned("pd11_device_token", self.port, name, token)
        self.assertEqual(got, {"type": "ACCESS_TOKEN", "token": token})
        self.assertEqual(saved, {"credentialsType": "ACCESS_TOKEN", "token": token})

    def test_pd12_device_token_tls(self):
        name, token = unique("pd12dev"), unique("pd12-token")
        got, saved = self.assert_provisioned("pd12_device_token_tls", self.tls_port, name, self.ca, token)
        self.assertEqual(got, {"type": "ACCESS_TOKEN", "token": token})
        self.assertEqual(saved, {"credentialsType": "ACCESS_TOKEN", "token": token})

    def test_pd21_basic_client_id(self):
        name, cid = unique("pd21dev"), unique("pd21-cid")
        got, saved = self.assert_provisioned("pd21_basic_client_id", self.port, name, cid)
        self.assertEqual(got, {"type": "MQTT_BASIC", "clientId": cid, "userName": "", "password": ""})
        self.assertEqual(saved, {"credentialsType": "MQTT_BASIC", "clientId": cid, "username": "", "password": ""})

    def test_pd22_basic_user_password(self):
        name, user, password = unique("pd22dev"), unique("pd22-user"), unique("pd22-pass")
        got, saved = self.assert_provisioned("pd22_basic_user_password", self.port, name, user, password,
                                             secrets=[password])
        self.assertEqual(got, {"type": "MQTT_BASIC", "clientId": "", "userName": user, "password": password})
        self.assertEqual(saved, {"credentialsType": "MQTT_BASIC", "clientId": "", "username": user,
                                 "password": password})

    def test_pd23_basic_all_three(self):
        name, cid, user, password = unique("pd23dev"), unique("pd23-cid"), unique("pd23-user"), unique("pd23-pass")
        got, saved = self.assert_provisioned("pd23_basic_all_three", self.port, name, cid, user, password,
                                             secrets=[password])
        self.assertEqual(got, {"type": "MQTT_BASIC", "clientId": cid, "userName": user, "password": password})
        self.assertEqual(saved, {"credentialsType": "MQTT_BASIC", "clientId": cid, "username": user,
                                 "password": password})

    def test_pd24_basic_tls(self):
        name, cid, user, password = unique("pd24dev"), unique("pd24-cid"), unique("pd24-user"), unique("pd24-pass")
        got, saved = self.assert_provisioned("pd24_basic_tls", self.tls_port, name, self.ca, cid, user, password,
                                             secrets=[password])
        self.assertEqual(got, {"type": "MQTT_BASIC", "clientId": cid, "userName": user, "password": password})
        self.assertEqual(saved["credentialsType"], "MQTT_BASIC")

    def test_pd31_x509_certificate(self):
        name = unique("pd31dev")
        issued = self.ok("emulator", "cert", "issue", name, "--out", self.certs)
        crt, key = issued["certificate"], issued["key"]
        got, saved = self.assert_provisioned("pd31_x509_certificate", self.tls_port, name, self.ca, crt, key,
                                             self.x509_port)
        self.assertEqual(got["type"], "X509_CERTIFICATE")
        self.assertEqual(got["hash"], cert_hash(crt))
        with open(crt) as f:
            body = base64.b64encode(ssl.PEM_cert_to_DER_cert(f.read())).decode()
        self.assertEqual(saved, {"credentialsType": "X509_CERTIFICATE", "certificate": body})

    def test_pd11_into_a_preprovisioned_device(self):
        # "Check for pre-provisioned devices": the device exists; provisioning sets its credentials.
        pkey, psecret = unique("pex-prekey"), unique("pex-presecret")
        self.ok("emulator", "profile", "add", "--key", pkey, "--secret", psecret, "--strategy", "check-preprovisioned")
        name, token = unique("pd11pre"), unique("pd11-pretoken")
        old = self.ok("emulator", "device", "add", name)["credentials"]["token"]
        got, _ = self.assert_provisioned("pd11_device_token", self.port, name, token, key=pkey, secret=psecret)
        self.assertEqual(got, {"type": "ACCESS_TOKEN", "token": token})
        self.assertNotEqual(old, token)

    # ---- server-generated credentials ---------------------------------------------------------

    def test_ps10_server_generated(self):
        name = unique("ps10dev")
        got, saved = self.assert_provisioned("ps10_server_generated", self.port, name)
        self.assertEqual(got["type"], "ACCESS_TOKEN")
        self.assertTrue(got["token"])
        self.assertEqual(saved, {"credentialsType": "ACCESS_TOKEN", "token": got["token"]})

    def test_ps20_server_generated_tls(self):
        name = unique("ps20dev")
        got, saved = self.assert_provisioned("ps20_server_generated_tls", self.tls_port, name, self.ca)
        self.assertEqual(got["type"], "ACCESS_TOKEN")
        self.assertEqual(saved, {"credentialsType": "ACCESS_TOKEN", "token": got["token"]})

    # ---- the general flow ---------------------------------------------------------------------

    def test_px00_second_start_uses_the_saved_credentials(self):
        name, creds = unique("px00dev"), os.path.join(self.dir, unique("px00") + ".json")
        got, saved = self.assert_provisioned("px00_provisioning_flow", self.port, name, creds=creds)
        self.assertEqual(saved, {"credentialsType": "ACCESS_TOKEN", "token": got["token"]})
        before = self.devices()
        points = len(request(self.admin, "telemetry.series", {"device": name, "key": "example"}))
        # A wrong secret: provisioning again would be refused (NOT_FOUND, exit 5), and a new
        # request under the same name would be FAILURE; success proves it did not provision.
        r, _ = self.run_example("px00_provisioning_flow", self.port, name, secret="not-the-secret", creds=creds)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("using saved credentials from", r.stdout)
        self.assertNotIn("provisioned", r.stdout)
        self.assertEqual(self.devices(), before)
        self.assertEqual(self.device(name)["credentials"], got)
        self.assertEqual(len(request(self.admin, "telemetry.series", {"device": name, "key": "example"})),
                         points + 1)

    def test_px00_unknown_key_retries_on_schedule_then_exits_5(self):
        # NOT_FOUND may be fixed by creating the profile later: retried after 0 s and 1 s, then
        # the attempt bound (3) ends it with the last error.
        name = unique("px00none")
        r, creds = self.run_example("px00_provisioning_flow", self.port, name, key=unique("no-such-key"))
        self.assertEqual(r.returncode, 5, r.stdout + r.stderr)
        self.assertIn("px00: provisioning attempt 1 failed: provision_not_found; next in 0 ms", r.stderr)
        self.assertIn("px00: provisioning attempt 2 failed: provision_not_found; next in 1000 ms", r.stderr)
        self.assertNotIn("attempt 3", r.stderr)
        self.assertIn("px00: failed: provision_not_found", r.stderr)
        self.assert_nothing_saved(creds)
        self.assertNotIn(name, self.devices())

    def test_px00_name_taken_exits_5_provision_failed_without_retrying(self):
        name = unique("px00taken")
        self.ok("emulator", "device", "add", name)
        r, creds = self.run_example("px00_provisioning_flow", self.port, name)
        self.assertEqual(r.returncode, 5, r.stdout + r.stderr)
        self.assertIn("px00: failed: provision_failed", r.stderr)
        self.assertNotIn("attempt", r.stderr)
        self.assert_nothing_saved(creds)

    def test_px00_refused_saved_credentials_exit_6_and_are_kept(self):
        # Saved credentials the server does not know: stored_credentials_refused (the CLI's exit
        # 6), no silent reprovisioning, the file untouched.
        creds = os.path.join(self.dir, unique("px00stale") + ".json")
        stale = {"credentialsType": "ACCESS_TOKEN", "token": unique("stale-token")}
        with open(creds, "w") as f:
            json.dump(stale, f)
        os.chmod(creds, 0o600)  # as saved: a file others can read is refused before any connection
        before = self.devices()
        r, _ = self.run_example("px00_provisioning_flow", self.port, unique("px00stale"), creds=creds)
        self.assertEqual(r.returncode, 6, r.stdout + r.stderr)
        self.assertIn("px00: failed: stored_credentials_refused", r.stderr)
        self.assertNotIn("provisioned", r.stdout)
        self.assertEqual(self.devices(), before)
        with open(creds) as f:
            self.assertEqual(json.load(f), stale)

    def test_ps20_untrusted_server_exits_3_tls_unknown_ca(self):
        # Verification is on: a CA that did not sign the emulator's certificate is refused.
        other = os.path.join(self.dir, "other-ca")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other",
                        "-keyout", other + ".key", "-out", other + ".crt"], capture_output=True, check=True,
                       timeout=TIMEOUT)
        name = unique("ps20untrusted")
        r, creds = self.run_example("ps20_server_generated_tls", self.tls_port, name, other + ".crt")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertRegex(r.stderr, "provisioning failed: (%s)\n" % "|".join(self.UNTRUSTED_CA_ERRORS))
        self.assert_nothing_saved(creds)
        self.assertNotIn(name, self.devices())

    def test_unreachable_server_exits_3(self):
        r, creds = self.run_example("ps10_server_generated", free_port(), unique("ps10none"))
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("provisioning failed: unreachable", r.stderr)
        self.assert_nothing_saved(creds)


if __name__ == "__main__":
    unittest.main()
