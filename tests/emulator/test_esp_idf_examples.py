"""The ESP-IDF examples (examples/esp-idf), built by the real ESP-IDF for IDF_TARGET=linux, against
the emulator with the checks of their Linux twins: the twins' test classes run with the ESP
executable in place of the Linux one (run_example overridden; settings passed as TBMQTT_*
variables, see esp_idf.py)."""

import json
import os
import shutil
import tempfile
import time
import unittest

import test_auth_examples as linux_auth
import test_gateway_sdk as linux_gateway
import test_provision_examples as linux_provision
from esp_idf import EspApp, require_esp_examples, run_until
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


@require_esp_examples(*AUTH_SETTINGS)
class EspAuthExamplesTest(linux_auth.AuthExamplesTest):
    def run_example(self, name, port, *args):
        env = dict(self.env)
        env.update(esp_settings(name, port, args))
        return run_until(name, env, SEND_ONCE)


HELPERS = ("h10_telemetry_upload", "h21_attributes_subscribe", "h22_attributes_request", "h20_attributes_update", "h30_server_rpc", "h31_client_rpc",
           "h40_claiming")


def now_ms():
    return int(time.time() * 1000)


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

    def run_example(self, example, done, token=None):
        r = run_until(example, self.env(token), {done: 0, r"connect failed: \w+": 3, r"not (sent|acknowledged)": 1})
        self.assertEqual(r.returncode, 0, r.stdout)
        return r

    def client_attributes(self):
        return request(self.b, "attributes.get", {"device": self.name})["client"]

    def rpc(self, method, params, *more):
        return admin(self.b, "rpc", self.name, method, json.dumps(params), *more)



@require_esp_examples(*HELPERS)
class EspHelperExamplesTest(EspDeviceCase):
    """h10..h40; the ESP examples' values are fixed in main.cpp (the Linux twins take them as
    arguments), the checks of what arrived are the twins'."""

    def test_h10_uploads_each_message_with_the_device_timestamp(self):
        before = now_ms()
        self.run_example("h10_telemetry_upload", r"5 messages delivered")
        after = now_ms()
        got = wait_for(lambda: (lambda m: m if len(m) >= 5 else None)(messages(self.b, self.name)))
        self.assertEqual(got, [{"temperature": 20 + 0.5 * i, "humidity": 40 + i} for i in range(5)])
        stamps = sorted({p["ts"] for p in request(self.b, "telemetry.series", {"device": self.name})})
        self.assertTrue(before <= stamps[0] and stamps[-1] <= after, (before, stamps, after))
        self.assertTrue(all(b - a >= 990 for a, b in zip(stamps, stamps[1:])), stamps)  # period_ms 1000 apart

    def test_h10_unknown_token_is_refused_with_its_typed_error(self):
        r = run_until("h10_telemetry_upload", self.env(unique("no-such-token")), {r"connect failed: \w+": 3})
        self.assertEqual(r.returncode, 3, r.stdout)
        self.assertIn("h10_telemetry: connect failed: refused_credentials", r.stdout)

    def test_h20_client_attributes_arrive_merged(self):
        self.run_example("h20_attributes_update", r"attributes delivered")
        self.assertEqual(wait_for(self.client_attributes),
                         {"model": "tbmqtt-h20", "firmwareVersion": "1.0.0", "ledOn": True})

    def push(self, attributes):
        request(self.b, "attributes.set", {"device": self.name, "attributes": attributes})

    def test_h21_reacts_to_changes_of_its_keys_only(self):
        app = self.start("h21_attributes_subscribe")
        app.wait_for(r"h21_subscribe: connected")
        self.push({"other": 1})                    # touches neither key: not delivered
        self.push({"targetTemperature": 19.5})
        app.wait_for(r"targetTemperature = 19.5$")
        self.push({"targetTemperature": "hot"})   # wrong type: reported, ignored
        app.wait_for(r"targetTemperature ignored: wrong_type")
        self.push({"mode": "eco", "other": 2})
        app.wait_for(r"mode = eco$")
        app.wait_for(r"3 updates applied")
        self.assertNotIn("other", app.text())

    def test_h22_reads_the_requested_client_and_shared_keys(self):
        request(self.b, "attributes.set", {"device": self.name, "scope": "client",
                                           "attributes": {"firmwareVersion": "1.0.0", "ledOn": True, "serial": "S1"}})
        self.push({"targetTemperature": 21.5, "mode": "eco", "other": 1})
        app = self.start("h22_attributes_request")
        client = json.loads(app.wait_for(r"h22_request: client (\{.*\})$").group(1))
        shared = json.loads(app.wait_for(r"h22_request: shared (\{.*\})$").group(1))
        self.assertEqual((client, shared), ({"firmwareVersion": "1.0.0", "ledOn": True},
                                            {"targetTemperature": 21.5, "mode": "eco"}))

    def test_h30_answers_two_way_and_applies_one_way_calls(self):
        app = self.start("h30_server_rpc")
        app.wait_for(r"h30_server_rpc: connected")
        self.assertEqual(self.rpc("reboot", {}), {"error": "unknown method: reboot"})  # by the library
        self.assertEqual(self.rpc("getTemperature", {}), {"temperature": 21.5})
        app.wait_for(r"getTemperature answered")
        self.assertEqual(self.rpc("setLed", {"on": True}, "--oneway"), {"delivered": True})
        app.wait_for(r"LED on")
        app.wait_for(r"2 calls handled")  # the ESP example's `calls`

    def test_h30_wrong_parameter_type_is_reported_and_ignored(self):
        app = self.start("h30_server_rpc")
        app.wait_for(r"h30_server_rpc: connected")
        self.assertEqual(self.rpc("setLed", {"on": "yes"}, "--oneway"), {"delivered": True})
        app.wait_for(r"setLed ignored: wrong_type")

    def test_h31_stamps_telemetry_with_the_server_time(self):
        server_time = 1700000000000
        request(self.b, "rpc_handler.set", {"method": "getCurrentTime", "device": self.name,
                                            "response": {"time": server_time}})
        self.addCleanup(request, self.b, "rpc_handler.set", {"method": "getCurrentTime", "device": self.name,
                                                             "response": None})
        app = self.start("h31_client_rpc")
        m = app.wait_for(r"server time (\d+) \(device clock offset (-?\d+) ms\)")
        self.assertEqual(int(m.group(1)), server_time)
        offset = int(m.group(2))
        series = wait_for(lambda: request(self.b, "telemetry.series", {"device": self.name}))
        self.assertEqual(series, [{"ts": server_time, "key": "clockOffsetMs", "value": offset}])

    def test_h40_claim_request_arrives_and_the_secret_claims_the_device(self):
        self.run_example("h40_claiming", r"claim request delivered")
        claim = request(self.b, "claim.get", {"device": self.name})["claim"]
        self.assertEqual((claim["secretKey"], claim["durationMs"]), ("CHANGE-ME-label-secret", 60000))
        self.assertEqual(request(self.b, "claim.accept", {"device": self.name, "secretKey": "CHANGE-ME-label-secret"}),
                         {"result": "SUCCESS"})



@require_esp_examples("e10_timeseries")
class EspRegistryExamplesTest(EspDeviceCase):
    def test_e10_uploads_every_time_series_point(self):
        self.run_example("e10_timeseries", r"e10_timeseries: done")
        got = wait_for(lambda: (lambda m: m if len(m) >= 5 else None)(messages(self.b, self.name)))
        self.assertEqual(got, [{"temperature": 21.5 + 0.5 * i, "humidity": 40 + i, "status": "running"}
                               for i in range(5)])


@require_esp_examples("e20_client_attributes", "e30_shared_attributes")
class EspAttributeRegistryExamplesTest(EspDeviceCase):
    """e20 and e30 with the checks of their Linux twins (test_registry.py)."""

    def test_e20_initializes_from_the_server_and_uploads_client_attributes(self):
        request(self.b, "attributes.set", {"device": self.name, "scope": "client",
                                           "attributes": {"sendIntervalMs": 2500}})
        r = self.run_example("e20_client_attributes", r"client attributes uploaded: ok")
        self.assertIn("sendIntervalMs initialized from the server: 2500", r.stdout)
        client = wait_for(lambda: (lambda c: c if "firmwareVersion" in c else None)(self.client_attributes()))
        self.assertEqual(client, {"sendIntervalMs": 2500, "firmwareVersion": "1.0.0"})

    def test_e30_follows_shared_attribute_changes_and_deletion(self):
        request(self.b, "attributes.set", {"device": self.name, "attributes": {"targetTemperature": 21.5}})
        app = self.start("e30_shared_attributes")
        app.wait_for(r"e30_shared_attrs: ready$")
        app.wait_for(r"targetTemperature = 21.5$")
        request(self.b, "attributes.set", {"device": self.name, "attributes": {"targetTemperature": 19}})
        app.wait_for(r"targetTemperature = 19$")
        request(self.b, "attributes.set", {"device": self.name, "attributes": {"mode": "eco"}})
        app.wait_for(r"mode = eco$")
        request(self.b, "attributes.set", {"device": self.name, "attributes": {"targetTemperature": None}})
        app.wait_for(r"targetTemperature deleted$")


@require_esp_examples("get_started")
class EspGetStartedTest(EspDeviceCase):
    """get_started (g00's ESP twin) with TBMQTT_URI/TBMQTT_TOKEN: telemetry arrives, ping -> pong."""

    def test_get_started_sends_telemetry_and_answers_ping(self):
        app = self.start("get_started")
        app.wait_for("connected to ThingsBoard")
        self.assertEqual(wait_for(lambda: messages(self.b, self.name) or None)[0], {"counter": 0})
        self.assertEqual(self.rpc("ping", {}), {"pong": True})
        self.assertEqual(self.rpc("reboot", {}), {"error": "unknown method: reboot"})  # by the library


@require_esp_examples("hello_device")
class EspHelloDeviceTest(EspDeviceCase):
    """hello_device: the one source shared with Linux (examples/common/hello_device.cpp; its Linux
    build is test_helper_examples' g00), built for the ESP-IDF linux target: the same transcript."""

    def test_hello_device_sends_telemetry_and_answers_one_rpc(self):
        app = EspApp("hello_device", dict(self.env(), TBMQTT_SECONDS="30"))
        self.addCleanup(app.stop)
        app.wait_for(r"^device: connected$")
        app.wait_for(r"^device: telemetry acknowledged$")
        self.assertEqual(wait_for(lambda: messages(self.b, self.name) or None),
                         [{"temperature": 21.5, "humidity": 40, "door_open": False}])
        self.assertEqual(self.rpc("getTemperature", {}), {"temperature": 21.5})
        app.wait_for(r"^device: RPC getTemperature \{\} -> replying$")


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
class EspGatewayBridgeTest(unittest.TestCase):
    """gateway_bridge (the catalog has no gateway; this is the twin of examples/linux/gateway_bridge.cpp)
    with the twin test's checks of what reached each sub-device."""
    twin = linux_gateway.GatewaySdkTest
    setUpClass, setUp, tearDown = _reuse(twin, "setUpClass"), _reuse(twin, "setUp"), _reuse(twin, "tearDown")
    device, wait_active = _reuse(twin, "device"), _reuse(twin, "wait_active")

    def test_example_gateway_bridge(self):
        prefix = unique("ebridge")
        thermostat, meter = prefix + "-thermostat", prefix + "-meter"
        app = EspApp("gateway_bridge", {"TBMQTT_URI": "mqtt://%s:%d" % (HOST, self.b.port), "TBMQTT_TOKEN": self.token,
                                        "TBMQTT_DEVICE_NAME": prefix})
        self.addCleanup(app.stop)
        app.wait_for(r"gateway_bridge: ready")
        self.assertEqual(admin(self.b, "telemetry", thermostat), {"temperature": 21.5, "heating": True})
        self.assertEqual(admin(self.b, "telemetry", meter), {"power": 1.25, "energy": 4711})
        self.assertEqual(request(self.b, "attributes.get", {"device": meter})["client"], {"model": "M-7"})
        self.assertEqual((self.device(thermostat)["type"], self.device(meter)["type"]), ("thermostat", "meter"))
        self.assertTrue(self.device(thermostat)["active"])
        self.assertFalse(self.device(meter)["active"])
        admin(self.b, "attributes", "set", thermostat, '{"target":22}')
        app.wait_for(r"%s attributes \{\"target\":22\}" % thermostat)
        reply = admin(self.b, "rpc", thermostat, "setTarget", '{"value":22}')
        self.assertEqual(reply, {"method": "setTarget", "accepted": True})
        app.wait_for(r"rpc setTarget for %s: \{\"value\":22\}" % thermostat)
        app.wait_for(r"gateway_bridge: done")
        self.wait_active(thermostat, active=False)


if __name__ == "__main__":
    unittest.main()
