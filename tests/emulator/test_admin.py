"""Admin library commands, `start`, and state surviving a broker restart."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

from emu import (ADMIN_TOOL, AdminError, Broker, admin, connected_device, free_port, new_device,
                 request, shared_broker)


class StartTest(unittest.TestCase):
    def test_start_prints_token_and_serves(self):
        state = tempfile.mkdtemp(prefix="tbemu-start-")
        port = free_port()
        env = dict(os.environ, TBMQTT_EMULATOR_PLUGIN="")
        p = subprocess.Popen([ADMIN_TOOL, "--state", state, "--port", str(port), "start"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            lines = [p.stdout.readline(), p.stdout.readline()]  # blocks until printed (deadline: below)
            self.assertIn("127.0.0.1:%d" % port, lines[0])
            self.assertTrue(lines[1].startswith("default device token: "))
            token = lines[1].split(": ", 1)[1].strip()
            conf = open(os.path.join(state, "mosquitto.conf")).read()
            for line in ("user root", "set_tcp_nodelay true", "max_queued_messages 0",
                         "listener %d 127.0.0.1" % port):
                self.assertIn(line, conf)
            b = Broker(state_dir=state, port=port)
            d = connected_device(b, token)
            d.pub("v1/devices/me/telemetry", b'{"hello":1}')
            d.close()
            # no --port: the admin client finds the port in the state dir
            out = subprocess.run([ADMIN_TOOL, "--state", state, "telemetry", "default"],
                                 capture_output=True, text=True, timeout=20)
            self.assertEqual(json.loads(out.stdout), {"hello": 1})
        finally:
            p.send_signal(signal.SIGINT)
            p.wait(timeout=10)
            shutil.rmtree(state, ignore_errors=True)
        self.assertEqual(p.returncode, 0)


class AdminCommandsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def test_device_add_forms(self):
        d = admin(self.b, "device", "add", "adm-tok-%d" % os.getpid(), "--token", "tok-%d" % os.getpid())
        self.assertEqual(d["credentials"], {"type": "ACCESS_TOKEN", "token": "tok-%d" % os.getpid()})
        d = admin(self.b, "device", "add", "adm-basic-%d" % os.getpid(), "--client-id", "c-%d" % os.getpid(),
                  "--username", "u", "--password", "p")
        self.assertEqual(d["credentials"]["type"], "MQTT_BASIC")
        with self.assertRaises(AdminError):  # name collision
            admin(self.b, "device", "add", "adm-tok-%d" % os.getpid())
        with self.assertRaises(AdminError):  # token collision
            admin(self.b, "device", "add", "other-%d" % os.getpid(), "--token", "tok-%d" % os.getpid())

    def test_attributes_set_reports_all_scopes(self):
        name, _ = new_device(self.b)
        out = admin(self.b, "attributes", "set", name, '{"a":1}')
        self.assertEqual(out, {"client": {}, "shared": {"a": 1}, "server": {}})

    def test_bad_json_is_an_error(self):
        name, _ = new_device(self.b)
        with self.assertRaises(AdminError):
            admin(self.b, "attributes", "set", name, "{nope")

    def test_wrong_admin_password_is_refused(self):
        state = tempfile.mkdtemp(prefix="tbemu-badadm-")
        try:
            with open(os.path.join(state, "admin.json"), "w") as f:
                json.dump({"username": "tbmqtt-admin", "password": "wrong", "port": self.b.port}, f)
            r = subprocess.run([ADMIN_TOOL, "--state", state, "telemetry", "default"],
                               capture_output=True, text=True, timeout=20)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("refused", r.stderr)
        finally:
            shutil.rmtree(state, ignore_errors=True)


class RestartTest(unittest.TestCase):
    def test_state_survives_restart(self):
        b = Broker().start()
        try:
            name, token = new_device(b)
            d = connected_device(b, token)
            d.pub("v1/devices/me/telemetry", b'{"t":1}')
            d.pub("v1/devices/me/attributes", b'{"c":2}')
            d.close()
            admin(b, "attributes", "set", name, '{"s":3}')
            request(b, "profile.add", {"key": "k-restart", "secret": "s"})
            b.stop()
            b.start()
            d = connected_device(b, token)
            d.pub("v1/devices/me/attributes/request/1", b"{}")
            self.assertEqual(d.expect("v1/devices/me/attributes/response/1")[1],
                             b'{"client":{"c":2},"shared":{"s":3}}')
            d.close()
            self.assertEqual(admin(b, "telemetry", name), {"t": 1})
            with self.assertRaises(AdminError):  # the profile survived too
                request(b, "profile.add", {"key": "k-restart", "secret": "s"})
        finally:
            b.cleanup()


if __name__ == "__main__":
    unittest.main()
