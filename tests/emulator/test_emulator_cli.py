"""The `tbmqtt emulator` admin commands a new user needs (issue 14), with the real `tbmqtt` binary:
`start --get-current-time` (so `tbmqtt rpc call getCurrentTime` answers on a fresh emulator),
`device list`, `attributes get`, `claim accept`, `rpc-handler set|remove`, persistent RPCs
(`rpc --persistent`, `rpc-status`, `rpc-list`), TBMQTT_EMULATOR_STATE, "listening" only once the
port is bound, a busy port as a clear error, and errors that say what to check."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from emu import BUILD_DIR, CliEmulator, Device, HOST, free_port, has_emulator_commands, unique

TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")
TIMEOUT = 20


@unittest.skipUnless(has_emulator_commands(), "build/bin/tbmqtt without `tbmqtt emulator`")
class EmulatorAdminCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.emulator = CliEmulator(TBMQTT, ["--port", cls.port, "--get-current-time"], prefix="tbadm-")
        cls.env, cls.state = cls.emulator.env, cls.emulator.state

    @classmethod
    def tearDownClass(cls):
        cls.emulator.stop()

    def tb(self, *args, env=None):
        return subprocess.run([TBMQTT] + [str(a) for a in args], capture_output=True, text=True,
                              timeout=TIMEOUT, env=env or self.env)

    def ok(self, *args, env=None):
        r = self.tb(*args, env=env)
        self.assertEqual(r.returncode, 0, "tbmqtt %s: %s" % (" ".join(map(str, args)), r.stderr))
        return json.loads(r.stdout)

    def err(self, code, *args, env=None):
        r = self.tb(*args, env=env)
        self.assertEqual(r.returncode, code, "tbmqtt %s: %r %r" % (" ".join(map(str, args)), r.stdout, r.stderr))
        return r.stderr.strip()

    def device(self):
        name = unique("admdev")
        d = self.ok("emulator", "device", "add", name)
        return name, d["credentials"]["token"]

    def as_device(self, token):
        return ["--port", self.port, "--token", token, "--timeout", "10"]

    # ---- start ----------------------------------------------------------------------------------

    def test_get_current_time_answers_on_a_fresh_emulator(self):
        self.assertIn('client-side RPC getCurrentTime answers {"time":"${now}"}\n', self.emulator.output)
        before = int(time.time() * 1000)
        got = self.ok("rpc", "call", "getCurrentTime", *self.as_device(self.emulator.default_token))
        self.assertGreaterEqual(got["time"], before)
        self.assertLessEqual(got["time"], int(time.time() * 1000))

    def test_a_busy_port_is_a_clear_error_and_nothing_is_listening_printed(self):
        other = tempfile.mkdtemp(prefix="tbbusy-")
        try:
            env = dict(os.environ, XDG_STATE_HOME=other)
            r = subprocess.run([TBMQTT, "emulator", "start", "--port", str(self.port)], capture_output=True,
                               text=True, timeout=TIMEOUT, env=env)
            self.assertNotEqual(r.returncode, 0)
            self.assertNotIn("listening", r.stdout)
            self.assertIn("127.0.0.1:%d is already in use" % self.port, r.stderr)
            self.assertIn("--port", r.stderr)
        finally:
            shutil.rmtree(other, ignore_errors=True)

    def test_state_dir_from_the_environment(self):
        env = dict(os.environ, TBMQTT_EMULATOR_STATE=self.state, XDG_STATE_HOME="/nonexistent")
        names = [d["name"] for d in self.ok("emulator", "device", "list", env=env)]
        self.assertIn("default", names)

    # ---- device list / attributes get -----------------------------------------------------------

    def test_device_list_shows_each_device_and_whether_it_is_connected(self):
        name, token = self.device()
        listed = {d["name"]: d for d in self.ok("emulator", "device", "list")}
        self.assertEqual(listed[name]["credentials"], {"type": "ACCESS_TOKEN", "token": token})
        self.assertFalse(listed[name]["active"])
        dev = Device(type("B", (), {"port": self.port})(), username=token)
        try:
            self.assertEqual(dev.connect(), 0)
            listed = {d["name"]: d for d in self.ok("emulator", "device", "list")}
            self.assertTrue(listed[name]["active"])
        finally:
            dev.close()

    def test_attributes_get_shows_all_three_scopes(self):
        name, token = self.device()
        self.ok("emulator", "attributes", "set", name, '{"mode":"eco"}')
        r = self.tb("attributes", "set", '{"fw":"v1"}', *self.as_device(token))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.ok("emulator", "attributes", "get", name),
                         {"client": {"fw": "v1"}, "shared": {"mode": "eco"}, "server": {}})

    # ---- claim accept -------------------------------------------------------------------------

    def test_claim_accept(self):
        name, token = self.device()
        self.assertEqual(self.ok("emulator", "claim", "accept", name), {"result": "FAILURE"})  # no request
        r = self.tb("claim", "--secret", "k", *self.as_device(token))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.ok("emulator", "claim", "accept", name, "--secret-key", "k"), {"result": "SUCCESS"})
        self.assertEqual(self.ok("emulator", "claim", "accept", name, "--secret-key", "k"), {"result": "CLAIMED"})

    # ---- rpc-handler ----------------------------------------------------------------------------

    def test_rpc_handler_set_and_remove(self):
        name, token = self.device()
        method = unique("m").replace("-", "_")
        got = self.ok("emulator", "rpc-handler", "set", method, '{"echo":"${params}","m":"${method}"}', "--device", name)
        self.assertIn(name + "/" + method, got)
        reply = self.ok("rpc", "call", method, '{"x":1}', *self.as_device(token))
        self.assertEqual(reply, {"echo": {"x": 1}, "m": method})
        self.ok("emulator", "rpc-handler", "remove", method, "--device", name)
        r = self.tb("rpc", "call", method, "{}", "--port", self.port, "--token", token, "--timeout", "1")
        self.assertEqual(r.returncode, 4, r.stderr)  # no handler: no answer, as ThingsBoard's rule chain

    def test_rpc_handler_get_current_time_flag_and_usage(self):
        got = self.ok("emulator", "rpc-handler", "set", "--get-current-time")
        self.assertEqual(got["getCurrentTime"], {"time": "${now}"})
        self.err(2, "emulator", "rpc-handler", "set", "onlymethod")
        self.err(2, "emulator", "rpc-handler", "set", "m", "not json")

    # ---- persistent RPC -------------------------------------------------------------------------

    def test_persistent_rpc_states(self):
        name, token = self.device()
        rpc_id = self.ok("emulator", "rpc", name, "setMode", '{"m":1}', "--persistent",
                         "--expiration-ms", "30000", "--retries", "2")["rpcId"]
        st = self.ok("emulator", "rpc-status", rpc_id)
        self.assertEqual((st["status"], st["maxRetries"], st["request"]), ("QUEUED", 2, {"method": "setMode", "params": {"m": 1}}))
        dev = Device(type("B", (), {"port": self.port})(), username=token)
        try:
            self.assertEqual(dev.connect(), 0)
            dev.sub("v1/devices/me/rpc/request/+")
            topic, _, _ = dev.expect()
            dev.pub("v1/devices/me/rpc/response/" + topic.rsplit("/", 1)[1], {"done": True})
            deadline = time.monotonic() + 10
            while self.ok("emulator", "rpc-status", rpc_id)["status"] != "SUCCESSFUL":
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
        finally:
            dev.close()
        listed = self.ok("emulator", "rpc-list", name)
        self.assertEqual([(r["rpcId"], r["status"], r["response"]) for r in listed], [(rpc_id, "SUCCESSFUL", {"done": True})])
        self.err(2, "emulator", "rpc", name, "m", "--retries", "1")  # --retries needs --persistent

    # ---- errors say what to check ---------------------------------------------------------------

    def test_errors_say_what_to_check(self):
        line = self.err(5, "emulator", "attributes", "get", unique("nodev"))
        self.assertIn("tbmqtt emulator device list", line)
        line = self.err(5, "emulator", "rpc-status", "no-such-id")
        self.assertIn("rpc --persistent", line)
        empty = tempfile.mkdtemp(prefix="tbnostate-")
        try:
            line = self.err(3, "emulator", "device", "list", "--state", empty)
            self.assertIn("TBMQTT_EMULATOR_STATE", line)
        finally:
            shutil.rmtree(empty, ignore_errors=True)
        line = self.err(3, "emulator", "device", "list", "--port", free_port())
        self.assertIn("is `tbmqtt emulator start` running", line)


if __name__ == "__main__":
    unittest.main()
