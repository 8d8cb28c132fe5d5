"""The ESP-IDF examples (examples/esp-idf), built by the real ESP-IDF for IDF_TARGET=linux, against
the emulator with the checks of their Linux builds. The examples that are one source for both
platforms (examples/common) run the Linux test classes unchanged with the ESP executable in place
of the Linux one (command() overridden, esp_idf.EspCommand: the Linux arguments become TBMQTT_*
settings; exit status, stdout and stderr compared as on Linux). The others (TLS, provisioning,
firmware) are twins: their Linux test classes run with run_example overridden, or their
own checks (settings passed as TBMQTT_* variables, see esp_idf.py)."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import test_auth_examples as linux_auth
import test_gateway_sdk as linux_gateway
import test_helper_examples as linux_helpers
import test_provision_examples as linux_provision
import test_registry as linux_registry
from esp_idf import EspApp, EspCommand, require_esp_examples, run_until
from emu import HOST, admin, messages, new_device, request, shared_broker, unique, wait_for

# The Linux twin's positional arguments, as the ESP example's variables.
AUTH_SETTINGS = {
    "a11_access_token": ("TBMQTT_TOKEN",),
    "a12_access_token_tls": ("TBMQTT_CA_FILE", "TBMQTT_TOKEN"),
    "a21_basic_client_id": ("TBMQTT_CLIENT_ID",),
    "a22_basic_user_password": ("TBMQTT_USERNAME", "TBMQTT_PASSWORD"),
    "a23_basic_client_id_user_password": ("TBMQTT_CLIENT_ID", "TBMQTT_USERNAME", "TBMQTT_PASSWORD"),
    "a24_basic_tls": ("TBMQTT_CA_FILE", "TBMQTT_CLIENT_ID", "TBMQTT_USERNAME", "TBMQTT_PASSWORD"),
    "a31_x509_certificate": ("TBMQTT_CA_FILE", "TBMQTT_CERT_FILE", "TBMQTT_KEY_FILE"),
}
# How an ESP example run ends: delivered (0, as the twin's exit status) or refused (3).
SEND_ONCE = {r"telemetry delivered": 0, r"connect failed: \w+": 3, r"telemetry not (sent|delivered)": 1}


def esp_settings(example, port, args):
    names = AUTH_SETTINGS[example]
    env = dict(zip(names, map(str, args)))
    env["TBMQTT_URI"] = "%s://%s:%s" % ("mqtts" if "TBMQTT_CA_FILE" in names else "mqtt", HOST, port)
    return env


# The authentication examples that are one source for both platforms (examples/common): run to
# their exit, as on Linux. The TLS ones are still ESP twins, run until they log an outcome.
COMMON_AUTH = ("a11_access_token", "a21_basic_client_id", "a22_basic_user_password", "a23_basic_client_id_user_password")


@require_esp_examples(*AUTH_SETTINGS)
class EspAuthExamplesTest(EspCommand, linux_auth.AuthExamplesTest):
    def run_example(self, name, port, *args):
        env = dict(self.env)
        env.update(esp_settings(name, port, args))
        if name in COMMON_AUTH:
            cmd, full = self.esp_command(name, (), env)
            return subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=linux_auth.TIMEOUT)
        return run_until(name, env, SEND_ONCE)


class EspDeviceCase(unittest.TestCase):
    """A fresh device on the shared emulator for each test; helpers to run an ESP example with it."""

    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def setUp(self):
        self.name, self.token = new_device(self.b)

    def env(self, token=None):
        return {"TBMQTT_URI": "mqtt://%s:%d" % (HOST, self.b.port), "TBMQTT_TOKEN": token or self.token}

    def start(self, example, token=None):
        app = EspApp(example, self.env(token))
        self.addCleanup(app.stop)
        return app

    def rpc(self, method, params, *more):
        return admin(self.b, "rpc", self.name, method, json.dumps(params), *more)


# The helper examples' Linux arguments after HOST PORT TOKEN, as their settings (TBMQTT_<NAME>).
HELPER_SETTINGS = {
    "hello_device": ("SECONDS",),
    "h10_telemetry_upload": ("MESSAGES", "PERIOD_MS"),
    "h20_attributes_update": ("FIRMWARE_VERSION",),
    "h21_attributes_subscribe": ("UPDATES", "SECONDS"),
    "h22_attributes_request": ("CLIENT_KEYS", "SHARED_KEYS"),
    "h30_server_rpc": ("CALLS", "SECONDS"),
    "h31_client_rpc": (),
    "h40_claiming": ("SECRET", "DURATION_MS"),
}


@require_esp_examples(*HELPER_SETTINGS)
class EspHelperExamplesTest(EspCommand, linux_helpers.HelperExamplesTest):
    """g00 (hello_device) and h10..h40: test_helper_examples' tests, on the ESP-IDF builds."""
    ESP_SETTINGS = HELPER_SETTINGS

    def command(self, example, args, token=None):
        return self.esp_command(example, args, {"TBMQTT_URI": "mqtt://%s:%d" % (HOST, self.b.port),
                                                "TBMQTT_TOKEN": token or self.token})


REGISTRY_SETTINGS = {"e10_timeseries": ("MESSAGES",), "e20_client_attributes": (), "e30_shared_attributes": ("SECONDS",)}


@require_esp_examples(*REGISTRY_SETTINGS)
class EspRegistryExamplesTest(EspCommand, linux_registry.RegistryExamplesTest):
    """e10, e20, e30: test_registry's tests of the examples, on the ESP-IDF builds."""
    ESP_SETTINGS = REGISTRY_SETTINGS
    test_rbe_temperature_sends_only_exceptions_and_follows_remote_thresholds = None  # Linux only

    def command(self, name, token, args):
        return self.esp_command(name, args, {"TBMQTT_URI": "mqtt://%s:%d" % (HOST, self.b.port), "TBMQTT_TOKEN": token})


@require_esp_examples("get_started")
class EspGetStartedTest(EspDeviceCase):
    """get_started (g00's ESP twin) with TBMQTT_URI/TBMQTT_TOKEN: telemetry arrives, ping -> pong."""

    def test_get_started_sends_telemetry_and_answers_ping(self):
        app = self.start("get_started")
        app.wait_for("connected to ThingsBoard")
        self.assertEqual(wait_for(lambda: messages(self.b, self.name) or None)[0], {"counter": 0})
        self.assertEqual(self.rpc("ping", {}), {"pong": True})
        self.assertEqual(self.rpc("reboot", {}), {"error": "unknown method: reboot"})  # by the library


@require_esp_examples("firmware_update")
class EspFirmwareUpdateTest(unittest.TestCase):
    """firmware_update on linux: esp-mqtt + the OTA engine + NVS checkpoints + mbedTLS hashes,
    downloading into a file (the chip's partition sink, activation and rollback are chip-only)."""

    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def setUp(self):
        self.name, self.token = new_device(self.b)
        self.dir = tempfile.mkdtemp(prefix="tbespfw-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.image = os.path.join(self.dir, "firmware.bin")

    def assign(self, data, version):
        path = os.path.join(self.dir, "package")
        with open(path, "wb") as f:
            f.write(data)
        admin(self.b, "ota", "assign", self.name, path, "--title", "fw", "--version", version,
              "--checksum-algorithm", "SHA256")

    def states(self):
        return [e["state"] for e in request(self.b, "ota.state", {"device": self.name, "kind": "fw"})
                if e["state"] not in ("QUEUED", "INITIATED")]  # the assignment's own entries

    def test_downloads_verifies_and_activates_the_assigned_image(self):
        data = os.urandom(100000)
        self.assign(data, "2.0")
        app = EspApp("firmware_update", {"TBMQTT_URI": "mqtt://%s:%d" % (HOST, self.b.port), "TBMQTT_TOKEN": self.token,
                                         "TBMQTT_FIRMWARE_FILE": self.image, "TBMQTT_OTA_CHUNK_SIZE": 1024})
        self.addCleanup(app.stop)
        app.wait_for(r"version 2\.0 activated", timeout=90)
        with open(self.image, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(os.stat(self.image).st_mode & 0o777, 0o600)
        self.assertEqual(wait_for(lambda: (lambda s: s if "UPDATING" in s else None)(self.states())),
                         ["DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING"])

    def test_download_resumes_after_a_kill_from_the_nvs_checkpoint(self):
        data = os.urandom(200000)
        self.assign(data, "3.0")
        request(self.b, "settings.set", {"latencyMs": 10})  # slow enough to be killed mid-way
        self.addCleanup(request, self.b, "settings.set", {"latencyMs": None})
        flash = os.path.join(self.dir, "flash.bin")
        env = {"TBMQTT_URI": "mqtt://%s:%d" % (HOST, self.b.port), "TBMQTT_TOKEN": self.token,
               "TBMQTT_FIRMWARE_FILE": self.image, "TBMQTT_OTA_CHUNK_SIZE": 1024}
        first = EspApp("firmware_update", env, flash_file=flash)
        self.addCleanup(first.stop)
        first.wait_for(r"downloaded (6[6-9]\d{3}|[7-9]\d{4}|1\d{5}) / 200000", timeout=90)  # past the 64 KiB checkpoint
        first.kill()  # power loss mid-download
        second = EspApp("firmware_update", env, flash_file=flash)
        self.addCleanup(second.stop)
        resumed_at = int(second.wait_for(r"downloaded (\d+) / 200000", timeout=60).group(1))
        self.assertGreaterEqual(resumed_at, 65536, first.text() + "\n----\n" + second.text())  # not from 0: the NVS checkpoint
        second.wait_for(r"version 3\.0 activated", timeout=90)
        with open(self.image, "rb") as f:
            self.assertEqual(f.read(), data)


PROVISIONING = ("pd11_device_token", "pd12_device_token_tls", "pd21_basic_client_id", "pd22_basic_user_password",
                "pd23_basic_all_three", "pd24_basic_tls", "pd31_x509_certificate", "ps10_server_generated",
                "ps20_server_generated_tls", "px00_provisioning_flow")


def _reuse(cls, name):
    """A helper of a Linux twin's test class (its emulator set-up and queries), not its tests."""
    member = cls.__dict__[name]
    return classmethod(member.__func__) if isinstance(member, classmethod) else member


@require_esp_examples(*PROVISIONING)
class EspProvisionExamplesTest(unittest.TestCase):
    """The provisioning examples with the twin's emulator (profile, TLS and X.509 ports) and its
    checks of the device the emulator created; the credentials are stored in NVS (the emulated
    flash file), which px00 reads again on its second start."""
    twin = linux_provision.ProvisionExamplesTest
    setUpClass, tearDownClass, ok = _reuse(twin, "setUpClass"), _reuse(twin, "tearDownClass"), _reuse(twin, "ok")
    device, devices = _reuse(twin, "device"), _reuse(twin, "devices")

    def provision(self, example, port, name, env=None, flash_file=None, ca=False, secret=None):
        settings = {"TBMQTT_URI": "%s://%s:%s" % ("mqtts" if ca else "mqtt", HOST, port),
                    "TBMQTT_PROVISION_KEY": self.key, "TBMQTT_PROVISION_SECRET": secret or self.secret,
                    "TBMQTT_DEVICE_NAME": name}
        if ca:
            settings["TBMQTT_CA_FILE"] = self.ca
        settings.update(env or {})
        full = dict(self.env)
        full.update(settings)
        return run_until(example, full, {r"telemetry delivered": 0, r"(provisioning )?failed: \w+": 5,
                                         r"connect failed: \w+": 3}, flash_file=flash_file)

    def assert_provisioned_esp(self, example, port, name, **kw):
        r = self.provision(example, port, name, **kw)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(self.ok("emulator", "telemetry", name).get("example"), example[:4])
        self.assertNotIn(self.secret, r.stdout)
        return r, self.device(name)["credentials"]

    def test_pd11_device_token(self):
        name, token = unique("epd11dev"), unique("epd11-token")
        r, got = self.assert_provisioned_esp("pd11_device_token", self.port, name, env={"TBMQTT_TOKEN": token})
        self.assertIn("provisioned; credentials stored in NVS", r.stdout)
        self.assertEqual(got, {"type": "ACCESS_TOKEN", "token": token})

    def test_pd12_device_token_tls(self):
        name, token = unique("epd12dev"), unique("epd12-token")
        _, got = self.assert_provisioned_esp("pd12_device_token_tls", self.tls_port, name, ca=True,
                                             env={"TBMQTT_TOKEN": token})
        self.assertEqual(got, {"type": "ACCESS_TOKEN", "token": token})

    def test_pd21_basic_client_id(self):
        name, cid = unique("epd21dev"), unique("epd21-cid")
        _, got = self.assert_provisioned_esp("pd21_basic_client_id", self.port, name, env={"TBMQTT_CLIENT_ID": cid})
        self.assertEqual(got, {"type": "MQTT_BASIC", "clientId": cid, "userName": "", "password": ""})

    def test_pd22_basic_user_password(self):
        name, user, password = unique("epd22dev"), unique("epd22-user"), unique("epd22-pass")
        r, got = self.assert_provisioned_esp("pd22_basic_user_password", self.port, name,
                                             env={"TBMQTT_USERNAME": user, "TBMQTT_PASSWORD": password})
        self.assertEqual(got, {"type": "MQTT_BASIC", "clientId": "", "userName": user, "password": password})
        self.assertNotIn(password, r.stdout)

    def test_pd23_basic_all_three(self):
        name, cid, user, password = unique("epd23dev"), unique("epd23-cid"), unique("epd23-user"), unique("epd23-pass")
        r, got = self.assert_provisioned_esp("pd23_basic_all_three", self.port, name, env={
            "TBMQTT_CLIENT_ID": cid, "TBMQTT_USERNAME": user, "TBMQTT_PASSWORD": password})
        self.assertEqual(got, {"type": "MQTT_BASIC", "clientId": cid, "userName": user, "password": password})
        self.assertNotIn(password, r.stdout)

    def test_pd24_basic_tls(self):
        name, cid, user, password = unique("epd24dev"), unique("epd24-cid"), unique("epd24-user"), unique("epd24-pass")
        r, got = self.assert_provisioned_esp("pd24_basic_tls", self.tls_port, name, ca=True, env={
            "TBMQTT_CLIENT_ID": cid, "TBMQTT_USERNAME": user, "TBMQTT_PASSWORD": password})
        self.assertEqual(got, {"type": "MQTT_BASIC", "clientId": cid, "userName": user, "password": password})
        self.assertNotIn(password, r.stdout)

    def test_ps20_server_generated_tls(self):
        name = unique("eps20dev")
        r, got = self.assert_provisioned_esp("ps20_server_generated_tls", self.tls_port, name, ca=True)
        self.assertEqual(got["type"], "ACCESS_TOKEN")
        self.assertTrue(got["token"])
        self.assertNotIn(got["token"], r.stdout)

    def test_pd31_x509_certificate(self):
        name = unique("epd31dev")
        got = self.ok("emulator", "cert", "issue", name, "--out", self.certs)
        _, creds = self.assert_provisioned_esp("pd31_x509_certificate", self.tls_port, name, ca=True, env={
            "TBMQTT_CERT_FILE": got["certificate"], "TBMQTT_KEY_FILE": got["key"],
            "TBMQTT_DEVICE_URI": "mqtts://%s:%s" % (HOST, self.x509_port)})
        self.assertEqual(creds["type"], "X509_CERTIFICATE")
        self.assertEqual(creds["hash"], linux_provision.cert_hash(got["certificate"]))

    def test_ps10_server_generated(self):
        name = unique("eps10dev")
        r, got = self.assert_provisioned_esp("ps10_server_generated", self.port, name)
        self.assertEqual(got["type"], "ACCESS_TOKEN")
        self.assertNotIn(got["token"], r.stdout)

    def test_px00_second_start_uses_the_credentials_stored_in_nvs(self):
        name = unique("epx00dev")
        flash = os.path.join(self.dir, unique("px00") + ".flash")
        r, got = self.assert_provisioned_esp("px00_provisioning_flow", self.port, name, flash_file=flash)
        self.assertIn("provisioned; credentials stored in NVS", r.stdout)
        before = self.devices()
        points = len(request(self.admin, "telemetry.series", {"device": name, "key": "example"}))
        # A wrong secret: provisioning again would be refused; success proves it did not provision.
        r = self.provision("px00_provisioning_flow", self.port, name, flash_file=flash, secret="not-the-secret")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("using the credentials stored in NVS", r.stdout)
        self.assertEqual(self.devices(), before)
        self.assertEqual(self.device(name)["credentials"], got)
        self.assertEqual(len(request(self.admin, "telemetry.series", {"device": name, "key": "example"})), points + 1)

    def test_px00_unknown_key_retries_on_schedule(self):
        name = unique("epx00none")
        full = dict(self.env)
        full.update({"TBMQTT_URI": "mqtt://%s:%s" % (HOST, self.port), "TBMQTT_PROVISION_KEY": unique("no-such-key"),
                     "TBMQTT_PROVISION_SECRET": self.secret, "TBMQTT_DEVICE_NAME": name})
        r = run_until("px00_provisioning_flow", full, {r"attempt 2 failed: \w+; next in \d+ ms": 5})
        self.assertEqual(r.returncode, 5, r.stdout)
        self.assertIn("provisioning attempt 1 failed: provision_not_found; next in 0 ms", r.stdout)
        self.assertIn("provisioning attempt 2 failed: provision_not_found; next in 1000 ms", r.stdout)
        self.assertNotIn(name, self.devices())


@require_esp_examples("gateway_bridge")
class EspGatewayBridgeTest(EspCommand, unittest.TestCase):
    """gateway_bridge (one source for both platforms: examples/common/gateway_bridge.cpp, on
    esp_client::gateway()): test_gateway_sdk's checks of the example, on the ESP-IDF build."""
    ESP_SETTINGS = {"gateway_bridge": ("PREFIX", "SECONDS")}
    twin = linux_gateway.GatewaySdkTest
    setUpClass, setUp, tearDown = _reuse(twin, "setUpClass"), _reuse(twin, "setUp"), _reuse(twin, "tearDown")
    device, wait_active = _reuse(twin, "device"), _reuse(twin, "wait_active")
    check_gateway_bridge = _reuse(twin, "check_gateway_bridge")
    check_gateway_bridge_refused = _reuse(twin, "check_gateway_bridge_refused")

    def bridge_command(self, args, token=None):
        return self.esp_command("gateway_bridge", args, {"TBMQTT_URI": "mqtt://%s:%d" % (HOST, self.b.port),
                                                         "TBMQTT_TOKEN": token or self.token})

    def test_example_gateway_bridge(self):
        self.check_gateway_bridge()

    def test_example_gateway_bridge_with_a_plain_device_token_fails_to_connect(self):
        self.check_gateway_bridge_refused()


if __name__ == "__main__":
    unittest.main()
