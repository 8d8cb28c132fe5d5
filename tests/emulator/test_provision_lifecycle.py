"""The provisioning credential lifecycle (tbmqtt::provisioned_client) end to end through
`tbmqtt --credentials FILE --provision-key K --provision-secret S ... telemetry`: the first start
provisions, saves (0600) and sends with the new credentials; later starts skip provisioning
(counted in the broker's log); refused saved credentials -> exit 6 and the file untouched, or
--reprovision; retries after 0, 1, 2 s until the profile exists or the emulator is up; the
--provision-attempts bound; SIGINT/SIGTERM during a retry wait. No secret is ever printed."""

import json
import os
import queue
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from emu import BUILD_DIR, Broker, admin, free_port, request, shared_broker, unique

TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")
TIMEOUT = 30
SECRET = "Pr0v-S3cret"


def provision_requests(broker):
    """How many provisioning requests the broker has received so far (from its log)."""
    try:
        with open(os.path.join(broker.state_dir, "mosquitto.log"), errors="replace") as f:
            return sum(1 for line in f if "Received PUBLISH" in line and "'/provision/request'" in line)
    except FileNotFoundError:
        return 0


class Running:
    """A tbmqtt process whose stderr lines are collected as they arrive."""

    def __init__(self, args, env):
        self.proc = subprocess.Popen([TBMQTT] + [str(a) for a in args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.lines = queue.Queue()
        self.stderr = []
        self.reader = threading.Thread(target=lambda: [self.lines.put(l) for l in self.proc.stderr], daemon=True)
        self.reader.start()

    def wait_line(self, text, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no stderr line with %r in %r" % (text, self.stderr))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.stderr.append(line)
            if text in line:
                return line

    def finish(self, timeout=TIMEOUT):
        """Waits for the exit; returns (exit code, stdout, all of stderr)."""
        rc = self.proc.wait(timeout=timeout)
        out = self.proc.stdout.read()
        self.reader.join(timeout=5)
        while not self.lines.empty():
            self.stderr.append(self.lines.get())
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc, out, "".join(self.stderr)


@unittest.skipUnless(os.access(TBMQTT, os.X_OK), "no build/bin/tbmqtt")
class ProvisionLifecycleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()
        cls.key = unique("lifekey")
        request(cls.b, "profile.add", {"key": cls.key, "secret": SECRET})
        cls.dir = tempfile.mkdtemp(prefix="tblife-")
        cls.env = dict(os.environ)
        for var in ("TBMQTT_TOKEN", "TBMQTT_PROVISION_SECRET"):
            cls.env.pop(var, None)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def path(self):
        return os.path.join(self.dir, unique("creds") + ".json")

    def args(self, creds, name, *extra, key=None, port=None):
        return (["--port", port or self.b.port, "--timeout", "5", "--credentials", creds,
                 "--provision-key", key or self.key, "--provision-secret", SECRET, "--provision-name", name]
                + list(extra))

    def tb(self, *args):
        return subprocess.run([TBMQTT] + [str(a) for a in args], capture_output=True, text=True,
                              timeout=TIMEOUT, env=self.env)

    def assert_no_secret(self, text, creds=None):
        self.assertNotIn(SECRET, text)
        if creds and os.path.exists(creds):
            with open(creds) as f:
                saved = json.load(f)
            for k in ("token", "password"):
                if saved.get(k):
                    self.assertNotIn(saved[k], text)

    def first_start(self, creds, name, value=1):
        before = provision_requests(self.b)
        r = self.tb(*self.args(creds, name), "telemetry", json.dumps({"n": value}))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("provisioned; credentials saved to " + creds, r.stderr)
        self.assertEqual(provision_requests(self.b), before + 1)
        self.assert_no_secret(r.stdout + r.stderr, creds)
        return r

    def test_first_start_provisions_saves_then_later_starts_skip_provisioning(self):
        creds, name = self.path(), unique("life")
        self.first_start(creds, name)
        self.assertEqual(stat.S_IMODE(os.stat(creds).st_mode), 0o600)
        with open(creds) as f:
            saved = json.load(f)
        self.assertEqual(saved["credentialsType"], "ACCESS_TOKEN")
        self.assertEqual(admin(self.b, "telemetry", name), {"n": 1})
        self.assertEqual([n for n in os.listdir(self.dir) if ".tmp" in n], [])

        before, mtime = provision_requests(self.b), os.stat(creds).st_mtime_ns
        for value in (2, 3):
            r = self.tb(*self.args(creds, name), "telemetry", json.dumps({"n": value}))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("provisioned", r.stderr)
            self.assertEqual(admin(self.b, "telemetry", name), {"n": value})
            self.assert_no_secret(r.stdout + r.stderr, creds)
        self.assertEqual(provision_requests(self.b), before)
        self.assertEqual(os.stat(creds).st_mtime_ns, mtime)

    def test_basic_credentials_chosen_by_the_device(self):
        creds, name, cid = self.path(), unique("lifebasic"), unique("cid")
        r = self.tb(*self.args(creds, name, "--provision-type", "basic"), "--client-id", cid,
                    "--username", unique("u"), "--password", "pw-" + cid, "telemetry", '{"b":1}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("pw-" + cid, r.stdout + r.stderr)
        with open(creds) as f:
            self.assertEqual(json.load(f)["clientId"], cid)
        self.assertEqual(admin(self.b, "telemetry", name), {"b": 1})

    def test_refused_saved_credentials_exit_6_file_untouched_then_reprovision(self):
        creds, name = self.path(), unique("liferef")
        self.first_start(creds, name)
        with open(creds, "rb") as f:
            original = f.read()
        mtime = os.stat(creds).st_mtime_ns
        request(self.b, "device.delete", {"device": name})

        before = provision_requests(self.b)
        plain = ["--port", self.b.port, "--timeout", "5", "--credentials", creds]
        for args, hint in ((self.args(creds, name), "--reprovision"), (plain, "stored_credentials_refused")):
            r = self.tb(*args, "telemetry", '{"n":2}')
            self.assertEqual(r.returncode, 6, r.stderr)
            self.assertIn("stored_credentials_refused", r.stderr)
            self.assertIn(hint, r.stderr)
            self.assert_no_secret(r.stdout + r.stderr, creds)
        self.assertEqual(provision_requests(self.b), before)
        with open(creds, "rb") as f:
            self.assertEqual(f.read(), original)
        self.assertEqual(os.stat(creds).st_mtime_ns, mtime)

        r = self.tb(*self.args(creds, name, "--reprovision"), "telemetry", '{"n":3}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("provisioned; credentials saved to " + creds, r.stderr)
        self.assertEqual(provision_requests(self.b), before + 1)
        with open(creds, "rb") as f:
            self.assertNotEqual(f.read(), original)
        self.assertEqual(stat.S_IMODE(os.stat(creds).st_mode), 0o600)
        self.assertEqual(admin(self.b, "telemetry", name), {"n": 3})
        self.assert_no_secret(r.stdout + r.stderr, creds)

    def test_profile_created_while_retrying(self):
        key, creds, name = unique("latekey"), self.path(), unique("lifelate")
        p = Running(self.args(creds, name, "--provision-attempts", "6", key=key) + ["telemetry", '{"late":1}'], self.env)
        p.wait_line("provisioning attempt 1 failed (provision_not_found); next in 0 s")
        request(self.b, "profile.add", {"key": key, "secret": SECRET})
        rc, out, err = p.finish()
        self.assertEqual(rc, 0, err)
        self.assertIn("provisioned; credentials saved to", err)
        self.assertEqual(admin(self.b, "telemetry", name), {"late": 1})
        self.assert_no_secret(out + err, creds)

    def test_emulator_down_then_up(self):
        port, key, creds, name = free_port(), unique("downkey"), self.path(), unique("lifedown")
        p = Running(self.args(creds, name, "--provision-attempts", "8", key=key, port=port)
                    + ["telemetry", '{"up":1}'], self.env)
        p.wait_line("provisioning attempt 1 failed (unreachable)")
        b = Broker(port=port).start()
        try:
            request(b, "profile.add", {"key": key, "secret": SECRET})
            rc, out, err = p.finish()
            self.assertEqual(rc, 0, err)
            self.assertEqual(admin(b, "telemetry", name), {"up": 1})
        finally:
            b.cleanup()

    def test_attempt_bound_gives_the_last_error_and_saves_nothing(self):
        creds, before = self.path(), provision_requests(self.b)
        started = time.monotonic()
        r = self.tb(*self.args(creds, unique("lifebound"), "--provision-attempts", "3", key=unique("nokey")),
                    "telemetry", "{}")
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("3 attempts, the --provision-attempts bound", r.stderr)
        self.assertIn("provision_not_found", r.stderr)
        self.assertEqual(r.stderr.count("provisioning attempt"), 2)  # waits 0 s, then 1 s
        self.assertLess(time.monotonic() - started, 10)
        self.assertEqual(provision_requests(self.b), before + 3)
        self.assertFalse(os.path.exists(creds))

    def test_signal_during_a_retry_wait_cancels_promptly(self):
        for sig, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
            creds = self.path()
            p = Running(self.args(creds, unique("lifesig"), key=unique("nokey")) + ["telemetry", "{}"], self.env)
            p.wait_line("next in 2 s")  # inside a two-second wait
            sent = time.monotonic()
            p.proc.send_signal(sig)
            rc, out, err = p.finish()
            self.assertLess(time.monotonic() - sent, 1.5)  # the wait had 2 s to go
            self.assertEqual(rc, 130, err)
            self.assertIn("provisioning interrupted by " + name, err)
            self.assertFalse(os.path.exists(creds))

    def test_usage_errors(self):
        creds = self.path()
        r = self.tb("--port", self.b.port, "--credentials", creds, "telemetry", "{}")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("no such file", r.stderr)
        r = self.tb("--port", self.b.port, "--provision-key", self.key, "telemetry", "{}")
        self.assertEqual(r.returncode, 2, r.stderr)
        r = self.tb("--port", self.b.port, "--credentials", creds, "--provision-key", self.key, "telemetry", "{}")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--provision-secret", r.stderr)
        self.assertFalse(os.path.exists(creds))


if __name__ == "__main__":
    unittest.main()
