"""The ESP-IDF examples (examples/esp-idf), built by the real ESP-IDF for IDF_TARGET=linux, against
the emulator with the checks of their Linux builds. The examples that are one source for both
platforms (examples/common) run the Linux test classes unchanged with the ESP executable in place
of the Linux one (command() overridden, esp_idf.EspCommand: the Linux arguments become TBMQTT_*
settings; exit status, stdout and stderr compared as on Linux; the provisioning examples keep
their credentials in NVS, checked in its emulated flash file). The other (firmware) is a
twin with their own checks (settings passed as TBMQTT_* variables, see esp_idf.py)."""

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
from esp_idf import EspApp, EspCommand, require_esp_examples
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


def esp_settings(example, port, args):
    names = AUTH_SETTINGS[example]
    env = dict(zip(names, map(str, args)))
    env["TBMQTT_URI"] = "%s://%s:%s" % ("mqtts" if "TBMQTT_CA_FILE" in names else "mqtt", HOST, port)
    return env


@require_esp_examples(*AUTH_SETTINGS)
class EspAuthExamplesTest(EspCommand, linux_auth.AuthExamplesTest):
    """a11..a31 (examples/common: one source for both platforms), run to their exit as on Linux."""

    def run_example(self, name, port, *args):
        env = dict(self.env)
        env.update(esp_settings(name, port, args))
        cmd, full = self.esp_command(name, (), env)
        return subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=linux_auth.TIMEOUT)


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
    "h40_claiming": ("CLAIM_SECRET", "DURATION_MS"),
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


# The provisioning examples' Linux arguments after HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME,
# as their settings (TBMQTT_<NAME>); pd31's X509_PORT becomes the device's URI (TBMQTT_DEVICE_URI).
PROVISION_SETTINGS = {
    "pd11_device_token": ("TOKEN",),
    "pd12_device_token_tls": ("CA_FILE", "TOKEN"),
    "pd21_basic_client_id": ("CLIENT_ID",),
    "pd22_basic_user_password": ("USERNAME", "PASSWORD"),
    "pd23_basic_all_three": ("CLIENT_ID", "USERNAME", "PASSWORD"),
    "pd24_basic_tls": ("CA_FILE", "CLIENT_ID", "USERNAME", "PASSWORD"),
    "pd31_x509_certificate": ("CA_FILE", "CERT_FILE", "KEY_FILE", "DEVICE_URI"),
    "ps10_server_generated": (),
    "ps20_server_generated_tls": ("CA_FILE",),
    "px00_provisioning_flow": (),
}


def _reuse(cls, name):
    """A helper of a Linux twin's test class (its emulator set-up and queries), not its tests."""
    member = cls.__dict__[name]
    return classmethod(member.__func__) if isinstance(member, classmethod) else member


def nvs_credentials(flash_file):
    """The credentials records (the core's JSON, as Linux saves them) in an emulated NVS flash file:
    NVS keeps a blob's bytes contiguous within a page, so each stored copy is found whole."""
    if not os.path.exists(flash_file):
        return []
    with open(flash_file, "rb") as f:
        data = f.read().decode("latin-1")
    found, at = [], data.find('{"credentialsType"')
    while at >= 0:
        found.append(json.JSONDecoder().raw_decode(data, at)[0])
        at = data.find('{"credentialsType"', at + 1)
    return found


@require_esp_examples(*PROVISION_SETTINGS)
class EspProvisionExamplesTest(EspCommand, linux_provision.ProvisionExamplesTest):
    """pd11..px00 (examples/common: one source for both platforms): test_provision_examples' tests
    on the ESP-IDF builds. The credentials live in NVS, whose emulated flash file takes the place of
    the Linux credentials file (the same path: px00's second start finds them there)."""
    ESP_SETTINGS = PROVISION_SETTINGS
    # esp-tls (IDF 5.5, mbedTLS 3.6) reads the verification flags only from the peer certificate
    # of a completed handshake, so after a failed one they are lost: only "a TLS failure" is known
    # (src/transport/esp_mqtt/esp_event_mapping.hpp, errc_from_esp_tls).
    UNTRUSTED_CA_ERRORS = ("tls_unknown_ca", "tls_error")

    def run_example(self, example, port, name, *args, key=None, secret=None, creds=None):
        creds = creds or os.path.join(self.dir, unique(example[:4]) + ".flash")
        names, args = PROVISION_SETTINGS[example], [str(a) for a in args]
        if "DEVICE_URI" in names:
            at = names.index("DEVICE_URI")
            args[at] = "mqtts://%s:%s" % (HOST, args[at])
        env = dict(self.env)
        env.update({"TBMQTT_URI": "%s://%s:%s" % ("mqtts" if "CA_FILE" in names else "mqtt", HOST, port),
                    "TBMQTT_PROVISION_KEY": key or self.key, "TBMQTT_PROVISION_SECRET": secret or self.secret,
                    "TBMQTT_DEVICE_NAME": name})
        cmd, full = self.esp_command(example, args, env)
        full["TBMQTT_FLASH_FILE"] = creds
        return subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=linux_provision.TIMEOUT), creds

    def saved_to(self, creds):
        return "NVS"

    def saved(self, path):
        """The credentials stored in NVS: one record, in the format Linux saves."""
        records = nvs_credentials(path)
        self.assertTrue(records, "no credentials in NVS (%s)" % path)
        self.assertEqual([r for r in records if r != records[0]], [])
        return records[0]

    def assert_nothing_saved(self, creds):
        self.assertEqual(nvs_credentials(creds), [])

    def test_px00_refused_saved_credentials_exit_6_and_are_kept(self):
        # Stored credentials the server no longer knows (the device deleted): exit 6, no silent
        # reprovisioning, the record in NVS untouched. (Linux writes a stale file instead.)
        name, flash = unique("epx00stale"), os.path.join(self.dir, unique("px00stale") + ".flash")
        _, stored = self.assert_provisioned("px00_provisioning_flow", self.port, name, creds=flash)
        request(self.admin, "device.delete", {"device": name})
        before = self.devices()
        r, _ = self.run_example("px00_provisioning_flow", self.port, name, creds=flash)
        self.assertEqual(r.returncode, 6, r.stdout + r.stderr)
        self.assertIn("px00: failed: stored_credentials_refused", r.stderr)
        self.assertNotIn("provisioned", r.stdout)
        self.assertEqual(self.devices(), before)
        self.assertEqual(self.saved(flash), stored)


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
