"""End-to-end tests of the `tbmqtt` command-line tool against a real mosquitto broker and a
ThingsBoard peer (tests/integration/peer/tb_peer.py).

Run: TBMQTT_CLI=build/bin/tbmqtt python3 -m unittest tests/integration/cli/test_cli.py
(or tests/integration/cli/run.sh BUILD_DIR). Nothing sleeps to wait: every wait is on an event
(broker log line, peer message, process output or exit) with a deadline.
"""

import json
import os
import queue
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "peer"))

from tb_peer import Broker, HoldingProxy, ThingsBoardPeer, free_port  # noqa: E402

CLI = os.environ.get("TBMQTT_CLI", "")
RUN_TIMEOUT = 30  # seconds: a hung CLI fails the test instead of hanging the suite
TOKEN = "A1_TEST_TOKEN"


class Cli:
    """A running `tbmqtt` (for watch / serve): stdout lines arrive in a queue."""

    def __init__(self, args, env=None, preexec_fn=None):
        self.proc = subprocess.Popen([CLI] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, preexec_fn=preexec_fn)
        self.lines = queue.Queue()
        self.stderr_lines = []
        self._stderr_done = threading.Event()
        self._readers = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._readers:
            t.start()

    def _read_stdout(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode().rstrip("\n"))
        self.lines.put(None)

    def _read_stderr(self):
        for raw in self.proc.stderr:
            self.stderr_lines.append(raw.decode().rstrip("\n"))
        self._stderr_done.set()

    def next_line(self, timeout=10):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no output line from tbmqtt within %ss (stderr: %s)" % (timeout, self.stderr_lines))
        if line is None:
            raise AssertionError("tbmqtt exited (rc=%s) instead of printing (stderr: %s)"
                                 % (self.proc.wait(), self.stderr_lines))
        return line

    def wait(self, timeout=RUN_TIMEOUT):
        rc = self.proc.wait(timeout=timeout)
        self._stderr_done.wait(timeout)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for t in self._readers:
            t.join(timeout=5)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                pipe.close()
            except (OSError, ValueError):
                pass


class CliTestCase(unittest.TestCase):
    broker = None
    peer = None

    @classmethod
    def setUpClass(cls):
        if not CLI or not os.access(CLI, os.X_OK):
            raise unittest.SkipTest("set TBMQTT_CLI to the tbmqtt binary (got %r)" % CLI)
        cls.broker = Broker().start()
        cls.peer = ThingsBoardPeer(cls.broker).start()

    @classmethod
    def tearDownClass(cls):
        if cls.peer:
            cls.peer.stop()
        if cls.broker:
            cls.broker.stop()

    def setUp(self):
        # A message an earlier test sent and did not wait for (e.g. one that only checks the broker's
        # log) must not land in this test's records.
        self.peer.barrier()
        self.peer.reset()
        self.client_id = "cli-" + self.id().rsplit(".", 1)[-1]
        self.running = []

    def tearDown(self):
        for c in self.running:
            c.kill()

    def base_args(self, port=None, token=TOKEN, client_id=None):
        args = ["--port", str(port or self.broker.port), "--client-id", client_id or self.client_id]
        if token is not None:
            args += ["--token", token]
        return args

    def run_cli(self, *args, stdin=None, port=None, token=TOKEN, env=None, raw=False):
        argv = [CLI] + (list(args) if raw else self.base_args(port, token) + list(args))
        return subprocess.run(argv, input=stdin, capture_output=True, timeout=RUN_TIMEOUT, env=env)

    def start_cli(self, *args, env=None, preexec_fn=None):
        c = Cli(self.base_args() + list(args), env=env, preexec_fn=preexec_fn)
        self.running.append(c)
        return c

    # ---- assertions ----------------------------------------------------------------------------

    def assert_ok(self, result):
        self.assertEqual(result.returncode, 0, "stderr: %r" % result.stderr)
        self.assertEqual(result.stderr, b"")

    def assert_fails(self, result, code, errc=None):
        """Exit `code`, and exactly one stderr line `tbmqtt: <what>: <errc name>`."""
        self.assertEqual(result.returncode, code, "stdout %r stderr %r" % (result.stdout, result.stderr))
        err = result.stderr.decode()
        self.assertTrue(err.startswith("tbmqtt: ") and err.endswith("\n"), repr(err))
        self.assertEqual(err.count("\n"), 1, repr(err))
        if errc:
            self.assertTrue(err.rstrip("\n").endswith(": " + errc), repr(err))
        self.assertNotIn(TOKEN, err)
        return err

    def assert_nothing_published(self):
        self.broker.barrier()
        self.assertFalse(self.broker.client_ever_connected(self.client_id), "the CLI connected")
        self.peer.barrier()
        self.assertEqual(self.peer.telemetry, [])


class TestUsage(CliTestCase):
    def test_help_exits_0_and_prints_to_stdout(self):
        r = self.run_cli("--help", raw=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"telemetry", r.stdout)
        self.assertEqual(r.stderr, b"")

    def test_missing_subcommand_is_a_usage_error(self):
        err = self.assert_fails(self.run_cli(raw=True), 2)
        self.assertTrue(err.startswith("tbmqtt: usage: "), err)
        self.assertNotIn("invalid_argument", err)

    def test_unknown_option_is_a_usage_error(self):
        err = self.assert_fails(self.run_cli("telemetry", "--bogus", "{}"), 2)
        self.assertIn("--bogus", err)
        self.assertEqual(err.count("(see --help)"), 1, err)

    def test_qos_2_is_a_usage_error(self):
        self.assert_fails(self.run_cli("--qos", "2", "telemetry", "{}"), 2)

    def test_group_without_subcommand_is_a_usage_error(self):
        self.assert_fails(self.run_cli("rpc"), 2)
        self.assert_fails(self.run_cli("attributes"), 2)

    def test_missing_credentials_is_a_usage_error(self):
        env = {k: v for k, v in os.environ.items() if k != "TBMQTT_TOKEN"}
        r = self.run_cli("--port", str(self.broker.port), "telemetry", "{}", raw=True, env=env)
        self.assert_fails(r, 2)

    def test_global_options_may_follow_the_subcommand(self):
        r = self.run_cli("telemetry", "--port", str(self.broker.port), "--token", TOKEN,
                         "--client-id", self.client_id, '{"after":1}', raw=True)
        self.assert_ok(r)
        self.peer.wait_until(lambda: self.peer.telemetry == [b'{"after":1}'])


class TestConnection(CliTestCase):
    def test_unreachable_port_exits_3(self):
        r = self.run_cli("telemetry", '{"a":1}', port=free_port())
        self.assert_fails(r, 3, "unreachable")

    def test_token_comes_from_environment(self):
        env = dict(os.environ, TBMQTT_TOKEN="ENV_TOKEN_42")
        mark = self.broker.log_mark()
        r = self.run_cli("telemetry", '{"env":1}', token=None, env=env)
        self.assert_ok(r)
        line = self.broker.wait_for_connection(self.client_id, start=mark)
        self.assertIn("u'ENV_TOKEN_42'", line)
        self.peer.wait_until(lambda: self.peer.telemetry == [b'{"env":1}'])

    def secret_file(self, text, mode=0o600):
        fd, path = tempfile.mkstemp(prefix="tbmqtt-secret-")
        with os.fdopen(fd, "w") as fh:
            fh.write(text + "\n")
        os.chmod(path, mode)
        self.addCleanup(os.unlink, path)
        return path

    def test_token_comes_from_a_file_and_wins_over_the_environment(self):
        env = dict(os.environ, TBMQTT_TOKEN="ENV_TOKEN_42")
        mark = self.broker.log_mark()
        r = self.run_cli("--token-file", self.secret_file("FILE_TOKEN_7"), "telemetry", '{"f":1}', token=None, env=env)
        self.assert_ok(r)
        self.assertIn("u'FILE_TOKEN_7'", self.broker.wait_for_connection(self.client_id, start=mark))

    def test_unreadable_secret_file_exits_2(self):
        r = self.run_cli("--token-file", "/nonexistent/token", "telemetry", "{}", token=None)
        self.assertIn("--token-file", self.assert_fails(r, 2, "invalid_argument"))
        self.assert_nothing_published()

    def test_keepalive_reaches_the_broker(self):
        mark = self.broker.log_mark()
        self.assert_ok(self.run_cli("--keepalive", "7", "telemetry", '{"k":1}'))
        self.assertIn("k7,", self.broker.wait_for_connection(self.client_id, start=mark))

    def test_keepalive_below_libmosquittos_minimum_is_a_usage_error(self):
        self.assert_fails(self.run_cli("--keepalive", "2", "telemetry", "{}"), 2)
        self.assert_fails(self.run_cli("--keepalive", "1.5", "telemetry", "{}"), 2)

    def credentials_file(self, mode):
        path = self.secret_file('{"credentialsType":"ACCESS_TOKEN","token":"%s"}' % TOKEN, mode)
        return path

    def test_credentials_file_readable_by_others_is_refused_unless_allowed(self):
        for mode in (0o644, 0o640, 0o604, 0o660):
            creds = self.credentials_file(mode)
            r = self.run_cli("--credentials", creds, "telemetry", '{"c":0}', token=None)
            err = self.assert_fails(r, 2, "invalid_argument")
            self.assertIn("accessible by others (mode %04o)" % mode, err)
            self.assertNotIn(TOKEN, err)
        self.assert_nothing_published()
        r = self.run_cli("--credentials", creds, "--allow-readable-credentials", "telemetry", '{"c":1}', token=None)
        self.assert_ok(r)
        self.assert_ok(self.run_cli("--credentials", self.credentials_file(0o600), "telemetry", '{"c":2}', token=None))
        self.peer.wait_until(lambda: self.peer.telemetry == [b'{"c":1}', b'{"c":2}'])

    def test_qos_0_telemetry_is_written(self):
        r = self.run_cli("--qos", "0", "telemetry", '{"q":0}')
        self.assert_ok(r)
        self.peer.wait_until(lambda: self.peer.telemetry == [b'{"q":0}'])


class TestAuthentication(unittest.TestCase):
    """A broker that only knows user `device` / password `s3cret-pw`."""

    @classmethod
    def setUpClass(cls):
        if not CLI or not os.access(CLI, os.X_OK):
            raise unittest.SkipTest("set TBMQTT_CLI")
        cls.broker = Broker(users={"device": "s3cret-pw"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def run_cli(self, *args):
        return subprocess.run([CLI, "--port", str(self.broker.port)] + list(args),
                              capture_output=True, timeout=RUN_TIMEOUT)

    def test_bad_token_exits_3_without_printing_it(self):
        r = self.run_cli("--token", "WRONG_TOKEN_XYZ", "telemetry", '{"a":1}')
        self.assertEqual(r.returncode, 3, r.stderr)
        err = r.stderr.decode()
        self.assertEqual(err.count("\n"), 1, err)
        self.assertTrue(err.startswith("tbmqtt: ") and err.rstrip().endswith(": refused_credentials"), err)
        self.assertNotIn("WRONG_TOKEN_XYZ", err)

    def test_bad_password_exits_3_without_printing_it(self):
        r = self.run_cli("--username", "device", "--password", "not-the-pw", "telemetry", '{"a":1}')
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertNotIn("not-the-pw", r.stderr.decode())
        self.assertIn("refused_credentials", r.stderr.decode())

    def test_good_username_and_password_connect(self):
        r = self.run_cli("--username", "device", "--password", "s3cret-pw", "telemetry", '{"a":1}')
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_password_comes_from_a_file_or_the_environment_never_argv(self):
        with tempfile.NamedTemporaryFile("w", prefix="tbmqtt-pw-") as pw:
            pw.write("s3cret-pw\n")
            pw.flush()
            r = self.run_cli("--username", "device", "--password-file", pw.name, "telemetry", '{"a":1}')
            self.assertEqual(r.returncode, 0, r.stderr)
        env = dict(os.environ, TBMQTT_PASSWORD="s3cret-pw")
        r = subprocess.run([CLI, "--port", str(self.broker.port), "--username", "device", "telemetry", '{"a":2}'],
                           capture_output=True, timeout=RUN_TIMEOUT, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        env["TBMQTT_PASSWORD"] = "wrong-env-pw"
        r = subprocess.run([CLI, "--port", str(self.broker.port), "--username", "device", "telemetry", '{"a":3}'],
                           capture_output=True, timeout=RUN_TIMEOUT, env=env)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertNotIn(b"wrong-env-pw", r.stderr)


class TestTls(unittest.TestCase):
    """A TLS listener with a self-signed certificate for 127.0.0.1."""

    @classmethod
    def setUpClass(cls):
        if not CLI or not os.access(CLI, os.X_OK):
            raise unittest.SkipTest("set TBMQTT_CLI")
        if shutil.which("openssl") is None:
            raise unittest.SkipTest("openssl not installed")
        cls.dir = tempfile.mkdtemp(prefix="tb-tls-")
        cls.cert = os.path.join(cls.dir, "cert.pem")
        key = os.path.join(cls.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cls.cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        cls.broker = Broker(extra_config=["certfile %s" % cls.cert, "keyfile %s" % key]).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def run_cli(self, *args):
        return subprocess.run([CLI, "--port", str(self.broker.port), "--token", TOKEN, "--tls"] + list(args),
                              capture_output=True, timeout=RUN_TIMEOUT)

    def test_tls_with_ca_file_connects(self):
        r = self.run_cli("--ca-file", self.cert, "telemetry", '{"tls":1}')
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_tls_with_untrusted_certificate_exits_3(self):
        r = self.run_cli("telemetry", '{"tls":1}')  # system CAs do not know the self-signed cert
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stderr.count(b"\n"), 1, r.stderr)

    def test_wrong_ca_file_says_the_server_is_not_trusted(self):
        other = os.path.join(self.dir, "other.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", os.path.join(self.dir, "other.key"), "-out", other, "-days", "2",
                        "-subj", "/CN=other"], check=True, capture_output=True, timeout=60)
        r = self.run_cli("--ca-file", other, "telemetry", '{"tls":1}')
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stderr.decode(), "tbmqtt: connect to 127.0.0.1:%d (server certificate not trusted: "
                         "check --ca-file or --ca-dir): tls_unknown_ca\n" % self.broker.port)

    def test_certificate_for_another_host_name_says_so(self):
        r = self.run_cli("--host", "localhost", "--ca-file", self.cert, "telemetry", '{"tls":1}')
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stderr.decode(), "tbmqtt: connect to localhost:%d (server certificate not issued for "
                         "localhost): tls_hostname_mismatch\n" % self.broker.port)

    def test_tls_with_a_hashed_ca_directory_connects(self):
        cadir = os.path.join(self.dir, "cadir")
        os.makedirs(cadir, exist_ok=True)
        shutil.copy(self.cert, cadir)
        subprocess.run(["openssl", "rehash", cadir], check=True, capture_output=True, timeout=60)
        r = self.run_cli("--ca-dir", cadir, "telemetry", '{"tls":1}')
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_key_password_file_needs_a_key_file(self):
        pw = os.path.join(self.dir, "pw")
        with open(pw, "w") as f:
            f.write("pw\n")
        r = self.run_cli("--ca-file", self.cert, "--key-password-file", pw, "telemetry", '{"tls":1}')
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"--key-password-file needs --key-file", r.stderr)

    def test_tls_insecure_skips_verification(self):
        r = self.run_cli("--insecure", "telemetry", '{"tls":1}')
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_tls_options_without_tls_are_a_usage_error(self):
        for option in (["--insecure"], ["--ca-dir", self.dir]):
            r = subprocess.run([CLI, "--port", str(self.broker.port), "--token", TOKEN] + option + ["telemetry", "{}"],
                               capture_output=True, timeout=RUN_TIMEOUT)
            self.assertEqual(r.returncode, 2, r.stderr)


class TestTelemetry(CliTestCase):
    def test_each_argument_is_published_in_order(self):
        r = self.run_cli("telemetry", '{"temp":21.5}', '{"ts":1700000000000,"values":{"on":true}}')
        self.assert_ok(r)
        self.assertEqual(r.stdout, b"")
        self.peer.wait_until(lambda: len(self.peer.telemetry) == 2)
        self.assertEqual(self.peer.telemetry, [b'{"temp":21.5}', b'{"ts":1700000000000,"values":{"on":true}}'])

    def test_stdin_lines_all_arrive_in_order(self):
        n = 3000
        lines = ['{"seq":%d}' % i for i in range(n)]
        data = ("\n".join(lines[:10]) + "\n\n  \n" + "\n".join(lines[10:]) + "\n").encode()
        r = self.run_cli("telemetry", "-", stdin=data)
        self.assert_ok(r)
        self.peer.wait_until(lambda: len(self.peer.telemetry) >= n, 20, "%d telemetry messages" % n)
        self.assertEqual([p.decode() for p in self.peer.telemetry], lines)

    def test_stdin_exits_only_after_every_message_is_acknowledged(self):
        with HoldingProxy(self.broker) as proxy:
            c = Cli(["--port", str(proxy.port), "--token", TOKEN, "--client-id", self.client_id,
                     "--timeout", "30", "telemetry", "-"])
            self.running.append(c)
            c.proc.stdin.write(b'{"n":0}\n')
            c.proc.stdin.flush()
            self.peer.wait_until(lambda: len(self.peer.telemetry) == 1)  # connected and flowing
            proxy.hold()  # PUBACKs from now on stay in the proxy
            c.proc.stdin.write(b"".join(b'{"n":%d}\n' % i for i in range(1, 10)))
            c.proc.stdin.close()
            self.peer.wait_until(lambda: len(self.peer.telemetry) == 10)
            # Negative check: the process must not exit while its PUBACKs are held back.
            with self.assertRaises(subprocess.TimeoutExpired, msg="tbmqtt exited before its acks"):
                c.proc.wait(timeout=0.5)
            proxy.release()
            self.assertEqual(c.wait(), 0, c.stderr_lines)
            self.assertEqual(c.stderr_lines, [])

    def test_invalid_json_argument_exits_2_and_publishes_nothing(self):
        r = self.run_cli("telemetry", '{"ok":1}', '{"broken":')
        err = self.assert_fails(r, 2, "invalid_argument")
        self.assertIn("argument 2", err)
        self.assert_nothing_published()

    def test_an_explicit_token_wins_over_the_environment_wherever_it_is_given(self):
        env = dict(os.environ, TBMQTT_TOKEN="WRONG_TOKEN_XYZ")
        r = self.run_cli("--port", str(self.broker.port), "--client-id", self.client_id, "--token", TOKEN,
                         "telemetry", '{"env":2}', raw=True, env=env)
        self.assert_ok(r)
        self.peer.wait_until(lambda: self.peer.telemetry == [b'{"env":2}'])

    def test_a_json_array_argument_is_one_document(self):
        r = self.run_cli("telemetry", '[{"a":1,"x":2},{"b":2}]', '{"c":3}')
        self.assert_ok(r)
        self.peer.wait_until(lambda: len(self.peer.telemetry) == 2)
        self.assertEqual(self.peer.telemetry, [b'[{"a":1,"x":2},{"b":2}]', b'{"c":3}'])

    def test_json_that_is_not_telemetry_exits_2(self):
        self.assert_fails(self.run_cli("telemetry", '"just a string"'), 2, "invalid_argument")

    def test_payload_larger_than_the_server_limit_exits_2(self):
        big = '{"blob":"%s"}' % ("x" * 70000)
        self.assert_fails(self.run_cli("telemetry", big), 2, "payload_too_large")

    def test_empty_stdin_publishes_nothing_and_succeeds(self):
        self.assert_ok(self.run_cli("telemetry", "-", stdin=b""))
        self.peer.barrier()
        self.assertEqual(self.peer.telemetry, [])

    def test_invalid_stdin_line_exits_2_after_sending_the_lines_before(self):
        r = self.run_cli("telemetry", "-", stdin=b'{"a":1}\n{"b":2}\nnot json\n{"c":3}\n')
        err = self.assert_fails(r, 2, "invalid_argument")
        self.assertIn("line 3", err)
        self.peer.barrier()
        self.assertEqual(self.peer.telemetry, [b'{"a":1}', b'{"b":2}'])


class TestAttributes(CliTestCase):
    def test_set_publishes_client_attributes(self):
        self.assert_ok(self.run_cli("attributes", "set", '{"fw":"1.0","mode":"eco"}'))
        self.peer.wait_until(lambda: self.peer.attributes == [b'{"fw":"1.0","mode":"eco"}'])

    def test_set_invalid_json_exits_2(self):
        self.assert_fails(self.run_cli("attributes", "set", "{fw:1}"), 2, "invalid_argument")
        self.assert_nothing_published()

    def test_set_non_object_exits_2(self):
        self.assert_fails(self.run_cli("attributes", "set", "[1,2]"), 2, "invalid_argument")

    def test_get_prints_both_sections(self):
        self.peer.client_attributes = {"a": 1, "z": 0}
        self.peer.shared_attributes = {"b": "x", "y": [1, 2]}
        r = self.run_cli("attributes", "get", "--client", "a", "--shared", "b,y")
        self.assert_ok(r)
        self.assertEqual(json.loads(r.stdout), {"client": {"a": 1}, "shared": {"b": "x", "y": [1, 2]}})
        self.assertEqual(r.stdout.count(b"\n"), 1)
        self.assertEqual(len(self.peer.attribute_requests), 1)
        self.assertEqual(json.loads(self.peer.attribute_requests[0][1]), {"clientKeys": "a", "sharedKeys": "b,y"})

    def test_get_without_keys_asks_for_everything(self):
        self.peer.client_attributes = {"a": 1}
        self.peer.shared_attributes = {"b": 2}
        r = self.run_cli("attributes", "get")
        self.assert_ok(r)
        self.assertEqual(json.loads(r.stdout), {"client": {"a": 1}, "shared": {"b": 2}})
        self.assertEqual(json.loads(self.peer.attribute_requests[0][1]), {})

    def test_get_absent_section_prints_empty_object(self):
        self.peer.shared_attributes = {"b": True}
        r = self.run_cli("attributes", "get", "--client", "nope", "--shared", "b")
        self.assert_ok(r)
        self.assertEqual(r.stdout, b'{"client":{},"shared":{"b":true}}\n')

    def test_get_nothing_found_prints_two_empty_objects(self):
        r = self.run_cli("attributes", "get", "--shared", "missing")
        self.assert_ok(r)
        self.assertEqual(r.stdout, b'{"client":{},"shared":{}}\n')

    def test_get_pretty_reply_is_printed_on_one_line(self):
        self.peer.attribute_reply = lambda rid, p: b'{ "client" : { "a" : "x y" },\n "shared" : {"b": [1, 2]} }'
        r = self.run_cli("attributes", "get", "--client", "a")
        self.assert_ok(r)
        self.assertEqual(r.stdout, b'{"client":{"a":"x y"},"shared":{"b":[1,2]}}\n')

    def test_get_malformed_reply_exits_5(self):
        self.peer.attribute_reply = lambda rid, p: b'{"client":{"a":1'
        self.assert_fails(self.run_cli("attributes", "get", "--client", "a"), 5, "malformed")

    def test_get_reply_that_is_not_an_object_exits_5(self):
        self.peer.attribute_reply = lambda rid, p: b'[1,2,3]'
        self.assert_fails(self.run_cli("attributes", "get", "--client", "a"), 5)

    def test_get_without_reply_exits_4(self):
        self.peer.attribute_reply = lambda rid, p: None
        started = time.monotonic()
        r = self.run_cli("--timeout", "1", "attributes", "get", "--shared", "a")
        self.assert_fails(r, 4, "timeout")
        self.assertLess(time.monotonic() - started, 8)
        self.assertEqual(r.stdout, b"")

    def test_watch_prints_only_the_chosen_keys_and_exits_after_count(self):
        c = self.start_cli("attributes", "watch", "--keys", "a,b", "--count", "3")
        self.broker.wait_for_subscription(self.client_id, "v1/devices/me/attributes")
        self.peer.push_shared({"a": 1, "c": 2})
        self.assertEqual(json.loads(c.next_line()), {"a": 1})
        self.peer.push_shared({"c": 3})  # touches no watched key: nothing printed
        self.peer.push_shared({"deleted": ["b", "c"]})
        self.assertEqual(json.loads(c.next_line()), {"deleted": ["b"]})
        self.peer.push_shared({"deleted": ["c"]})
        self.peer.push_shared({"b": {"nested": [1, 2]}, "z": 0})
        self.assertEqual(c.next_line(), '{"b":{"nested":[1,2]}}')
        self.assertEqual(c.wait(), 0, c.stderr_lines)
        self.assertEqual(c.stderr_lines, [])

    def test_watch_without_keys_prints_every_update_on_one_line(self):
        c = self.start_cli("attributes", "watch", "--count", "2")
        self.broker.wait_for_subscription(self.client_id, "v1/devices/me/attributes")
        self.peer.push_shared(b'{ "fw_version" : "1.2",\n  "x": [1, 2] }')
        self.assertEqual(c.next_line(), '{"fw_version":"1.2","x":[1,2]}')
        self.peer.push_shared({"deleted": ["x"]})
        self.assertEqual(c.next_line(), '{"deleted":["x"]}')
        self.assertEqual(c.wait(), 0, c.stderr_lines)


class TestInboundLimit(CliTestCase):
    """--mqtt5-inbound-limit (client_options::mqtt5_max_packet_size): the broker never sends a
    message over the limit, so a huge attribute push costs the CLI no memory. The yardstick is the
    same push to the same command without the option, measured in the same run."""

    BIG = 32 << 20  # bytes

    def watch_peak_rss(self, *options):
        """Runs `attributes watch --count 1` with `options`, pushes a BIG attribute, one just over
        the 64 KiB payload limit and then {"after":1}; returns (printed line, stderr lines, peak RSS
        in KiB of the CLI process)."""
        c = self.start_cli(*options, "attributes", "watch", "--count", "1")
        self.broker.wait_for_subscription(self.client_id, "v1/devices/me/attributes")
        self.peer.push_shared(b'{"big":"' + b"x" * self.BIG + b'"}')
        self.peer.push_shared(b'{"near":"' + b"x" * 65536 + b'"}')  # over max_payload, within the 2 KiB room
        self.peer.push_shared({"after": 1})
        line = c.next_line(timeout=60)
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:  # wait4: the exit status and the process's own peak RSS (ru_maxrss, KiB)
            pid, status, usage = os.wait4(c.proc.pid, os.WNOHANG)
            if pid == c.proc.pid:
                break
            self.assertLess(time.monotonic(), deadline, "tbmqtt did not exit after printing")
            time.sleep(0.02)
        c.proc.returncode = os.waitstatus_to_exitcode(status)
        c._stderr_done.wait(10)
        self.assertEqual(c.proc.returncode, 0, c.stderr_lines)
        return line, c.stderr_lines, usage.ru_maxrss

    def test_with_the_option_a_huge_push_never_reaches_the_cli(self):
        line, err, limited = self.watch_peak_rss("--mqtt5-inbound-limit")
        self.assertEqual(line, '{"after":1}')
        # The 32 MB push was discarded by the broker (no error can tell); the one just over the
        # limit arrived and was dropped, typed and with its topic.
        self.assertEqual(err, ["tbmqtt: attributes watch: dropped a message from the server on "
                               "v1/devices/me/attributes: over the 65536-byte limit: payload_too_large"])
        self.broker.wait_for_log(lambda l: "Dropping too large outgoing PUBLISH" in l, 10, "mosquitto to drop the push")

        self.peer.reset()
        self.client_id += "-3"
        line, err, unlimited = self.watch_peak_rss()  # the yardstick: MQTT 3.1.1, no limit
        self.assertEqual(line, '{"after":1}')
        self.assertEqual(len(err), 2, err)  # both oversized pushes arrived and were dropped, typed
        self.assertTrue(all(e.endswith("over the 65536-byte limit: payload_too_large") for e in err), err)
        print("\n[ inbound limit ] a %d MB attribute push: peak RSS %d KiB with --mqtt5-inbound-limit, %d KiB "
              "without" % (self.BIG >> 20, limited, unlimited), file=sys.stderr)
        self.assertGreater(unlimited - limited, (self.BIG >> 10) * 3 // 4)  # most of the push never came in

    def test_the_option_is_in_the_help_of_commands_that_receive(self):
        for command in (["attributes", "watch"], ["rpc", "serve"]):
            r = self.run_cli(*command, "--help", raw=True)
            self.assertIn(b"--mqtt5-inbound-limit", r.stdout)


class TestRpcServe(CliTestCase):
    RPC_FILTER = "v1/devices/me/rpc/request/+"

    def serve(self, *args):
        c = self.start_cli("rpc", "serve", *args)
        self.broker.wait_for_subscription(self.client_id, self.RPC_FILTER)
        return c

    def test_echo_replies_with_params_and_prints_requests(self):
        c = self.serve("--count", "2")
        rid = self.peer.send_rpc("setGpio", {"pin": 4, "on": True}, request_id=17)
        self.assertEqual(json.loads(c.next_line()), {"id": "17", "method": "setGpio", "params": {"pin": 4, "on": True}})
        self.assertEqual(json.loads(self.peer.wait_rpc_reply(rid)), {"pin": 4, "on": True})
        rid = self.peer.send_rpc("ping", request_id=18)
        self.assertEqual(c.next_line(), '{"id":"18","method":"ping","params":null}')
        self.assertEqual(self.peer.wait_rpc_reply(rid), b"{}")
        self.assertEqual(c.wait(), 0, c.stderr_lines)
        self.assertEqual(c.stderr_lines, [])

    def test_request_line_escapes_the_method_and_keeps_any_params(self):
        c = self.serve("--count", "1")
        rid = self.peer.send_rpc(payload=b'{"method":"a\\"b\\u00e9","params": [1, "two" ,null]}')
        line = c.next_line()
        self.assertEqual(json.loads(line), {"id": rid, "method": 'a"b\u00e9', "params": [1, "two", None]})
        self.assertIn('"params":[1,"two",null]', line)
        self.assertEqual(self.peer.wait_rpc_reply(rid), b'[1, "two" ,null]')
        self.assertEqual(c.wait(), 0, c.stderr_lines)

    def test_exits_only_after_replies_are_acknowledged(self):
        c = self.serve("--count", "1")
        rid = self.peer.send_rpc("m", [1, 2, 3])
        self.assertEqual(c.wait(), 0, c.stderr_lines)
        self.peer.barrier()  # an acknowledged reply has been accepted by the broker
        self.assertEqual(self.peer.rpc_replies.get(rid), b"[1,2,3]")

    def test_exec_replies_with_the_command_output(self):
        c = self.serve("--count", "1", "--exec", 'read req; printf \'{"got":%s}\\n\' "$req"')
        rid = self.peer.send_rpc("getTime", {"tz": "UTC"})
        line = c.next_line()
        self.assertEqual(json.loads(line), {"id": rid, "method": "getTime", "params": {"tz": "UTC"}})
        self.assertEqual(json.loads(self.peer.wait_rpc_reply(rid)), {"got": json.loads(line)})
        self.assertEqual(c.wait(), 0, c.stderr_lines)

    def test_exec_bad_output_replies_error_and_keeps_serving(self):
        c = self.serve("--count", "2", "--exec",
                       'if grep -q "\\"bad\\""; then echo this is not json; else echo \'{"ok":true}\'; fi')
        rid = self.peer.send_rpc("bad")
        c.next_line()
        reply = json.loads(self.peer.wait_rpc_reply(rid))
        self.assertIn("error", reply)
        rid = self.peer.send_rpc("good")
        c.next_line()
        self.assertEqual(json.loads(self.peer.wait_rpc_reply(rid)), {"ok": True})
        self.assertEqual(c.wait(), 0)
        self.assertEqual(len(c.stderr_lines), 1, c.stderr_lines)
        self.assertTrue(c.stderr_lines[0].startswith("tbmqtt: ") and c.stderr_lines[0].endswith(": malformed"))

    def test_exec_failing_command_replies_error_and_keeps_serving(self):
        c = self.serve("--count", "2", "--exec", 'cat >/dev/null; echo \'{"ok":1}\'; exit 3')
        for method in ("a", "b"):
            rid = self.peer.send_rpc(method, {"x": 1})
            c.next_line()
            reply = json.loads(self.peer.wait_rpc_reply(rid))
            self.assertIn("error", reply)
        self.assertEqual(c.wait(), 0)
        self.assertEqual(len(c.stderr_lines), 2, c.stderr_lines)
        self.assertIn("status 3", c.stderr_lines[0])
        # The command's own failure (not the server's, not the OS's): errc::command_failed.
        for line in c.stderr_lines:
            self.assertTrue(line.endswith(": command_failed"), line)

    def test_exec_killed_by_a_signal_is_command_failed(self):
        c = self.serve("--count", "1", "--exec", "cat >/dev/null; kill -9 $$")
        rid = self.peer.send_rpc("a")
        c.next_line()
        self.assertIn("error", json.loads(self.peer.wait_rpc_reply(rid)))
        self.assertEqual(c.wait(), 0)
        self.assertEqual(len(c.stderr_lines), 1, c.stderr_lines)
        self.assertIn("status 137", c.stderr_lines[0])
        self.assertTrue(c.stderr_lines[0].endswith(": command_failed"), c.stderr_lines)

    @staticmethod
    def set_soft_limit(pid, resource_id, soft, as_user=None):
        """prlimit(pid, resource_id, (soft or the hard limit, hard)); from a helper process running
        `as_user` (a preexec_fn) when the CLI runs as another user (prlimit needs the same user)."""
        code = ("import resource, sys\n"
                "pid, rid = int(sys.argv[1]), int(sys.argv[2])\n"
                "hard = resource.prlimit(pid, rid)[1]\n"
                "resource.prlimit(pid, rid, (hard if sys.argv[3] == 'hard' else int(sys.argv[3]), hard))\n")
        r = subprocess.run([sys.executable, "-c", code, str(pid), str(resource_id), str(soft)],
                           preexec_fn=as_user, capture_output=True, timeout=RUN_TIMEOUT)
        if r.returncode != 0:
            raise AssertionError("prlimit failed: %r" % r.stderr)

    def serve_then_limit(self, resource_id, limit, as_user=None):
        """`rpc serve --exec` that, once subscribed, has `resource_id` lowered to `limit(pid)`
        (prlimit on the running process: the limit hits the exec, not the start-up)."""
        c = self.start_cli("rpc", "serve", "--count", "2", "--exec", "cat >/dev/null; echo '{\"ok\":1}'",
                           preexec_fn=as_user)
        self.broker.wait_for_subscription(self.client_id, self.RPC_FILTER)
        self.set_soft_limit(c.proc.pid, resource_id, limit(c.proc.pid), as_user)
        return c

    def assert_cannot_start_then_recovers(self, c, resource_id, as_user=None):
        rid = self.peer.send_rpc("a")
        c.next_line()
        self.assertEqual(json.loads(self.peer.wait_rpc_reply(rid)), {"error": "exec command could not be started"})
        self.set_soft_limit(c.proc.pid, resource_id, "hard", as_user)
        rid = self.peer.send_rpc("b")  # the limit lifted: the next request runs the command again
        c.next_line()
        self.assertEqual(json.loads(self.peer.wait_rpc_reply(rid)), {"ok": 1})
        self.assertEqual(c.wait(), 0, c.stderr_lines)
        self.assertEqual(len(c.stderr_lines), 1, c.stderr_lines)
        self.assertRegex(c.stderr_lines[0], r"^tbmqtt: rpc serve: request \S+: cannot start exec command: system_error$")

    def test_exec_without_file_descriptors_for_its_pipes_is_system_error(self):
        import resource

        def lowest_free_fd(pid):  # a soft limit at the lowest free number refuses any new descriptor
            used = {int(n) for n in os.listdir("/proc/%d/fd" % pid)}
            return next(n for n in range(len(used) + 1) if n not in used)

        c = self.serve_then_limit(resource.RLIMIT_NOFILE, lowest_free_fd)
        self.assert_cannot_start_then_recovers(c, resource.RLIMIT_NOFILE)

    def test_exec_when_fork_fails_is_system_error(self):
        import resource
        # RLIMIT_NPROC does not bind root: run the CLI as `nobody` then (root may set its limit).
        drop = None
        if os.geteuid() == 0:
            def drop():
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
        c = self.serve_then_limit(resource.RLIMIT_NPROC, lambda pid: 1, as_user=drop)  # it runs itself: fork fails
        self.assert_cannot_start_then_recovers(c, resource.RLIMIT_NPROC, as_user=drop)

    def test_exec_when_the_shell_cannot_be_executed_is_system_error(self):
        import errno
        import resource
        # execve itself fails (E2BIG) when its argument and environment strings outgrow the first
        # page of the new stack and RLIMIT_STACK forbids growing it, as root too. The CLI started
        # with the normal limit and keeps its own (already mapped) stack: only its exec fails.
        env = dict(os.environ, TBMQTT_TEST_PADDING="x" * 16384)
        c = self.start_cli("rpc", "serve", "--count", "2", "--exec", "cat >/dev/null; echo '{\"ok\":1}'", env=env)
        self.broker.wait_for_subscription(self.client_id, self.RPC_FILTER)
        self.set_soft_limit(c.proc.pid, resource.RLIMIT_STACK, 4096)
        failed = self.peer.send_rpc("a")
        c.next_line()
        self.assertEqual(json.loads(self.peer.wait_rpc_reply(failed)), {"error": "exec command could not be started"})
        self.set_soft_limit(c.proc.pid, resource.RLIMIT_STACK, "hard")
        rid = self.peer.send_rpc("b")  # the limit lifted: the next request runs the command again
        c.next_line()
        self.assertEqual(json.loads(self.peer.wait_rpc_reply(rid)), {"ok": 1})
        self.assertEqual(c.wait(), 0, c.stderr_lines)
        # Not "failed with status 127" (command_failed): the command never ran.
        self.assertEqual(c.stderr_lines, ["tbmqtt: rpc serve: request %s: cannot start exec command (/bin/sh: %s): "
                                          "system_error" % (failed, os.strerror(errno.E2BIG))])

    def test_exec_command_that_exits_127_itself_is_command_failed(self):
        c = self.serve("--count", "1", "--exec", "cat >/dev/null; exit 127")
        rid = self.peer.send_rpc("a")
        c.next_line()
        self.assertEqual(json.loads(self.peer.wait_rpc_reply(rid)), {"error": "exec command failed with status 127"})
        self.assertEqual(c.wait(), 0, c.stderr_lines)
        self.assertEqual(c.stderr_lines, ["tbmqtt: rpc serve: request %s: exec command failed with status 127: "
                                          "command_failed" % rid])

    def test_exec_command_that_ignores_stdin(self):
        c = self.serve("--count", "1", "--exec", "echo 42")
        # Nearly the largest request the client accepts (max payload 64 KiB; larger ones are
        # dropped as payload_too_large), about a whole pipe buffer of stdin the command never reads.
        rid = self.peer.send_rpc("n", {"big": "x" * 65400})
        c.next_line()
        self.assertEqual(self.peer.wait_rpc_reply(rid), b"42")
        self.assertEqual(c.wait(), 0, c.stderr_lines)


class GatewayWatcher:
    """Records what the broker passes on for ``v1/gateway/connect``, ``.../telemetry`` and
    ``.../attributes``."""

    def __init__(self, broker):
        import paho.mqtt.client as mqtt
        self.messages = queue.Queue()
        subscribed = threading.Event()
        c = mqtt.Client(client_id="gw-watcher-%d" % os.getpid(), protocol=mqtt.MQTTv311)
        c.on_connect = lambda client, userdata, flags, rc: client.subscribe(
            [("v1/gateway/connect", 1), ("v1/gateway/telemetry", 1), ("v1/gateway/attributes", 1)])
        c.on_subscribe = lambda *args: subscribed.set()
        c.on_message = lambda client, userdata, msg: self.messages.put((msg.topic, json.loads(msg.payload)))
        c.connect(broker.host, broker.port, 60)
        c.loop_start()
        self.client = c
        if not subscribed.wait(10):
            self.stop()
            raise AssertionError("the gateway watcher did not subscribe")

    def next(self, timeout=10):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no gateway message within %ss" % timeout)

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()


class TestGatewayServe(CliTestCase):
    """`gateway serve` reports each message's outcome: a bad line or an unacknowledged message is
    one failed line on stderr (named by its line), the exit code that of the first failure."""

    def test_every_message_acknowledged_exits_0(self):
        watcher = GatewayWatcher(self.broker)
        self.addCleanup(watcher.stop)
        # Telemetry only: a plain broker would pass an attributes message back to the gateway on
        # v1/gateway/attributes, its topic for shared-attribute pushes (tests/emulator covers them).
        r = self.run_cli("gateway", "serve",
                         stdin=b'connect dev-1 thermostat\ntelemetry dev-1 {"temp":21.5}\n'
                               b'telemetry dev-1 [{"ts":1700000000000,"values":{"temp":22}}]\n')
        self.assert_ok(r)
        self.assertEqual(watcher.next(), ("v1/gateway/connect", {"device": "dev-1", "type": "thermostat"}))
        self.assertEqual(watcher.next(), ("v1/gateway/telemetry", {"dev-1": [{"temp": 21.5}]}))
        self.assertEqual(watcher.next(),
                         ("v1/gateway/telemetry", {"dev-1": [{"ts": 1700000000000, "values": {"temp": 22}}]}))

    def test_messages_not_acknowledged_are_named_by_their_line(self):
        proxy = HoldingProxy(self.broker)
        self.addCleanup(proxy.close)
        watcher = GatewayWatcher(self.broker)
        self.addCleanup(watcher.stop)
        c = Cli(self.base_args(port=proxy.port) + ["--timeout", "2s", "gateway", "serve"])
        self.running.append(c)
        c.proc.stdin.write(b"connect dev-1\n")  # read once connected: its announcement says so
        c.proc.stdin.flush()
        self.assertEqual(watcher.next(), ("v1/gateway/connect", {"device": "dev-1"}))
        proxy.hold()  # no acknowledgement reaches the CLI from now on
        c.proc.stdin.write(b'telemetry dev-1 {"temp":1}\n# a comment\nattributes dev-1 {"fw":"2"}\n')
        c.proc.stdin.close()
        self.assertEqual(c.wait(), 4, c.stderr_lines)  # timeout
        self.assertEqual(c.stderr_lines, [
            "tbmqtt: gateway serve: line 2: telemetry dev-1: not acknowledged: timeout",
            "tbmqtt: gateway serve: line 4: attributes dev-1: not acknowledged: timeout",
            "tbmqtt: gateway serve: 2 line(s) failed, the others were delivered "
            "(first: line 2: telemetry dev-1: not acknowledged): timeout"])

    def test_a_bad_line_fails_first_and_the_acknowledged_ones_are_not_reported(self):
        watcher = GatewayWatcher(self.broker)
        self.addCleanup(watcher.stop)
        r = self.run_cli("gateway", "serve",
                         stdin=b'connect dev-2\nbogus dev-2\ntelemetry dev-2 {"n":1}\ntelemetry dev-2 {oops\n')
        self.assertEqual(r.returncode, 2, r.stderr)  # the first failure: an unknown command (usage)
        self.assertEqual(r.stderr.decode().splitlines(), [
            "tbmqtt: gateway serve: line 2: unknown command 'bogus' (connect, disconnect, telemetry, attributes): "
            "invalid_argument",
            "tbmqtt: gateway serve: line 4: telemetry: not valid JSON (line 1, column 2 at 'o': expected a member "
            "name in double quotes): invalid_argument",
            "tbmqtt: gateway serve: 2 line(s) failed, the others were delivered (first: line 2: unknown command "
            "'bogus' (connect, disconnect, telemetry, attributes)): invalid_argument"])
        self.assertEqual(watcher.next(), ("v1/gateway/connect", {"device": "dev-2"}))
        self.assertEqual(watcher.next(), ("v1/gateway/telemetry", {"dev-2": [{"n": 1}]}))


class TestRpcCall(CliTestCase):
    def test_call_prints_the_response(self):
        self.peer.rpc_reply = lambda rid, method, params: {"time": 1700000000, "echo": params}
        r = self.run_cli("rpc", "call", "getTime", '{"tz":"UTC"}')
        self.assert_ok(r)
        self.assertEqual(json.loads(r.stdout), {"time": 1700000000, "echo": {"tz": "UTC"}})
        self.assertEqual(r.stdout.count(b"\n"), 1)
        self.assertEqual(json.loads(self.peer.rpc_calls[0][1]), {"method": "getTime", "params": {"tz": "UTC"}})

    def test_call_without_params_sends_empty_object(self):
        self.peer.rpc_reply = lambda rid, method, params: b"true"
        r = self.run_cli("rpc", "call", "ping")
        self.assert_ok(r)
        self.assertEqual(r.stdout, b"true\n")
        self.assertEqual(json.loads(self.peer.rpc_calls[0][1]), {"method": "ping", "params": {}})

    def test_error_reply_is_printed_and_exits_5(self):
        self.peer.rpc_reply = lambda rid, method, params: {"error": "no such method"}
        r = self.run_cli("rpc", "call", "nope")
        self.assert_fails(r, 5, "server_error")
        self.assertEqual(json.loads(r.stdout), {"error": "no such method"})

    def test_malformed_reply_exits_5(self):
        self.peer.rpc_reply = lambda rid, method, params: b"{oops"
        self.assert_fails(self.run_cli("rpc", "call", "m"), 5, "malformed")

    def test_no_reply_exits_4(self):
        r = self.run_cli("--timeout", "1", "rpc", "call", "slow")
        self.assert_fails(r, 4, "timeout")
        self.assertEqual(r.stdout, b"")

    def test_invalid_params_exit_2(self):
        self.assert_fails(self.run_cli("rpc", "call", "m", "{nope"), 2, "invalid_argument")
        self.broker.barrier()
        self.assertFalse(self.broker.client_ever_connected(self.client_id))


class TestClaim(CliTestCase):
    def test_claim_payload_is_exact(self):
        self.assert_ok(self.run_cli("claim", "--secret", "abc", "--duration-ms", "60000"))
        self.peer.wait_until(lambda: self.peer.claims)
        self.assertEqual(self.peer.claims, [b'{"secretKey":"abc","durationMs":60000}'])

    def test_claim_without_duration_leaves_it_out(self):
        self.assert_ok(self.run_cli("claim", "--secret", 'q"x'))
        self.peer.wait_until(lambda: self.peer.claims)
        self.assertEqual(self.peer.claims, [b'{"secretKey":"q\\"x"}'])

    def test_claim_needs_a_secret(self):
        self.assert_fails(self.run_cli("claim"), 2)

    def test_claim_secret_comes_from_a_file_or_the_environment(self):
        with tempfile.NamedTemporaryFile("w", prefix="tbmqtt-claim-") as f:
            f.write("from-file\n")
            f.flush()
            self.assert_ok(self.run_cli("claim", "--secret-file", f.name))
        self.assert_ok(self.run_cli("claim", env=dict(os.environ, TBMQTT_CLAIM_SECRET="from-env")))
        self.peer.wait_until(lambda: len(self.peer.claims) == 2)
        self.assertEqual(self.peer.claims, [b'{"secretKey":"from-file"}', b'{"secretKey":"from-env"}'])


class TestOfflineStore(CliTestCase):
    """--offline-store DIR: store-and-forward across runs, broker outages and kill -9."""

    def setUp(self):
        super().setUp()
        self.store = tempfile.mkdtemp(prefix="tbmqtt-cli-store-")
        self.addCleanup(shutil.rmtree, self.store, True)

    def stored_records(self):
        """The live messages in the store's log, oldest first (an independent reader of the format
        in tbmqtt/offline_queue.hpp: CRC-framed records in seg-*.log, a watermark record marks the
        messages below it done)."""
        data, watermark = [], 0
        for name in sorted(f for f in os.listdir(self.store) if f.startswith("seg-") and f.endswith(".log")):
            with open(os.path.join(self.store, name), "rb") as f:
                b = f.read()
            off = 0
            while off + 20 <= len(b):
                size, seq = struct.unpack_from("<IQ", b, off + 4)
                (crc,) = struct.unpack_from("<I", b, off + 16)
                payload = b[off + 20:off + 20 + size]
                if b[off] != ord("T") or len(payload) < size or zlib.crc32(b[off:off + 16] + payload) != crc:
                    break  # the torn tail
                if b[off + 1] in (1, 2):
                    data.append((seq, payload))
                elif b[off + 1] == 0x10:
                    watermark = max(watermark, seq)
                off += 20 + size
        return [p for seq, p in data if seq >= watermark]

    def values(self, payloads):
        """Stored telemetry arrives stamped with its capture time: {"ts":..,"values":V} -> V as text."""
        out = []
        for p in payloads:
            doc = json.loads(p)
            self.assertIn("ts", doc, p)
            out.append(json.dumps(doc["values"], separators=(",", ":")))
        return out

    def test_messages_stored_with_the_broker_down_survive_kill_9_and_arrive_in_order(self):
        self.check_kill_9_loses_nothing()

    def test_without_fsync_messages_still_survive_kill_9(self):
        self.check_kill_9_loses_nothing("--offline-no-fsync")

    def check_kill_9_loses_nothing(self, *store_options):
        lines = ['{"seq":%d}' % i for i in range(40)]
        c = Cli(self.base_args(port=free_port()) + ["--offline-store", self.store] + list(store_options)
                + ["telemetry", "-"])
        self.running.append(c)
        c.proc.stdin.write(("\n".join(lines) + "\n").encode())
        c.proc.stdin.flush()  # stdin stays open: the CLI is still reading when it is killed
        deadline = time.monotonic() + 20
        while len(self.stored_records()) < len(lines) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(len(self.stored_records()), len(lines))
        c.kill()  # SIGKILL
        self.assertEqual(c.proc.returncode, -9)
        r = self.run_cli("--offline-store", self.store, "telemetry", "-", stdin=b"")
        self.assert_ok(r)
        self.peer.wait_until(lambda: len(self.peer.telemetry) >= len(lines), 20, "the stored telemetry")
        self.assertEqual(self.values(self.peer.telemetry), lines)
        self.assertEqual(self.stored_records(), [])

    def test_an_unreachable_broker_keeps_the_messages_and_the_next_run_sends_them_first(self):
        r = self.run_cli("--offline-store", self.store, "--timeout", "2", "telemetry", '{"a":1}', '{"a":2}',
                         port=free_port())
        err = self.assert_fails(r, 3, "unreachable")
        self.assertIn("2 message(s) kept in " + self.store, err)
        self.assert_ok(self.run_cli("--offline-store", self.store, "telemetry", '{"a":3}'))
        self.peer.wait_until(lambda: len(self.peer.telemetry) >= 3)
        self.assertEqual(self.values(self.peer.telemetry), ['{"a":1}', '{"a":2}', '{"a":3}'])

    def test_attributes_set_is_stored_while_the_broker_is_down(self):
        r = self.run_cli("--offline-store", self.store, "--timeout", "2", "attributes", "set", '{"fw":"2"}',
                         port=free_port())
        self.assert_fails(r, 3, "unreachable")
        self.assert_ok(self.run_cli("--offline-store", self.store, "telemetry", "-", stdin=b""))
        self.peer.wait_until(lambda: self.peer.attributes)
        self.assertEqual(self.peer.attributes, [b'{"fw":"2"}'])

    def test_a_full_store_with_refuse_fails_with_queue_full_and_keeps_the_first(self):
        r = self.run_cli("--offline-store", self.store, "--offline-max", "2", "--offline-full", "refuse",
                         "--timeout", "1", "telemetry", '{"a":1}', '{"a":2}', '{"a":3}', port=free_port())
        err = self.assert_fails(r, 1, "queue_full")
        self.assertIn("is full (2 message(s) kept, --offline-max 2, --offline-full refuse): 2 stored or sent; "
                      "argument 3 and everything after it not stored", err)
        self.assertEqual(len(self.stored_records()), 2)
        self.assert_ok(self.run_cli("--offline-store", self.store, "telemetry", "-", stdin=b""))
        self.peer.wait_until(lambda: len(self.peer.telemetry) >= 2)
        self.assertEqual(self.values(self.peer.telemetry), ['{"a":1}', '{"a":2}'])

    def test_a_full_store_drops_the_oldest_by_default(self):
        r = self.run_cli("--offline-store", self.store, "--offline-max", "2", "--timeout", "2",
                         "telemetry", '{"a":1}', '{"a":2}', '{"a":3}', port=free_port())
        err = self.assert_fails(r, 3, "unreachable")
        self.assertIn("(2 message(s) kept in %s; 1 oldest message(s) dropped: the store was full (--offline-max 2, "
                      "--offline-full drop-oldest))" % self.store, err)
        self.assert_ok(self.run_cli("--offline-store", self.store, "--offline-max", "2", "telemetry", "-", stdin=b""))
        self.peer.wait_until(lambda: len(self.peer.telemetry) >= 2)
        self.assertEqual(self.values(self.peer.telemetry), ['{"a":2}', '{"a":3}'])

    def first_arrivals(self):
        seen, out = set(), []
        for v in self.values(self.peer.telemetry):
            if v not in seen:
                seen.add(v)
                out.append(v)
        return out

    def test_d1_with_the_broker_up_a_long_stdin_streams_through_a_small_store_and_loses_nothing(self):
        lines = ['{"n":%d}' % i for i in range(2000)]
        r = self.run_cli("--offline-store", self.store, "--offline-max", "100", "telemetry", "-",
                         stdin=("\n".join(lines) + "\n").encode())
        self.assert_ok(r)
        self.peer.wait_until(lambda: len(self.first_arrivals()) >= len(lines), 20, "2000 messages")
        self.assertEqual(self.first_arrivals(), lines)
        self.assertEqual(self.stored_records(), [])

    def test_2000_numbered_messages_through_a_proxy_that_resets_every_250ms_none_lost_or_reordered(self):
        """Issue 16's fault-proxy run through the CLI: a generator feeds `telemetry -` with an
        offline store while tests/integration/fault_proxy.cpp (built as bin/fault_proxy) resets the
        connection every 250 ms; the peer counts. Duplicates only after a reset, at most the in-flight
        window (16) per reset."""
        proxy_bin = os.path.join(os.path.dirname(CLI), "fault_proxy")
        self.assertTrue(os.access(proxy_bin, os.X_OK), "build target fault_proxy first: " + proxy_bin)
        proxy = subprocess.Popen([proxy_bin, str(self.broker.port), "--latency", "3", "--reset-every", "250"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(proxy.stdout.close)
        self.addCleanup(proxy.stdin.close)
        self.addCleanup(lambda: proxy.poll() is None and (proxy.kill(), proxy.wait()))
        port = int(proxy.stdout.readline().split()[1])
        lines = ['{"n":%d}' % i for i in range(2000)]
        c = Cli(self.base_args(port=port) + ["--offline-store", self.store, "--timeout", "60s", "telemetry", "-"])
        self.running.append(c)

        def generate():
            for line in lines:
                c.proc.stdin.write((line + "\n").encode())
            c.proc.stdin.close()
        threading.Thread(target=generate, daemon=True).start()
        self.assertEqual(c.wait(timeout=90), 0, c.stderr_lines)
        self.peer.wait_until(lambda: len(self.first_arrivals()) >= len(lines), 20, "2000 messages")
        proxy.stdin.close()
        stats = proxy.stdout.readline().split()  # connections C resets R
        self.assertEqual(proxy.wait(10), 0)
        connections, resets = int(stats[1]), int(stats[3])
        arrivals = self.values(self.peer.telemetry)
        duplicates = len(arrivals) - len(set(arrivals))
        print("\n[ cli through resets ] %d connections, %d resets: %d distinct, %d duplicates"
              % (connections, resets, len(set(arrivals)), duplicates), file=sys.stderr)
        self.assertGreaterEqual(resets, 2)  # the fault really happened
        self.assertEqual(self.first_arrivals(), lines)  # none lost, none reordered
        self.assertLessEqual(duplicates, resets * 16)
        self.assertEqual(self.stored_records(), [])

    def test_a_full_store_waits_for_a_broker_that_comes_up_within_the_timeout(self):
        """The first connect fails (nothing listens yet); the store fills; the broker appears
        within --timeout: the CLI connects again and nothing is dropped."""
        gate = socket.socket()
        gate.bind(("127.0.0.1", 0))  # not listening yet: connections are refused
        self.addCleanup(gate.close)
        lines = ['{"n":%d}' % i for i in range(30)]
        c = Cli(self.base_args(port=gate.getsockname()[1])
                + ["--offline-store", self.store, "--offline-max", "10", "--timeout", "20s", "telemetry", "-"])
        self.running.append(c)
        c.proc.stdin.write(("\n".join(lines) + "\n").encode())
        c.proc.stdin.close()
        deadline = time.monotonic() + 10
        while len(self.stored_records()) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(len(self.stored_records()), 10)  # full, and waiting
        gate.listen(4)

        def forward():  # the "broker coming up": this port now leads to the broker
            while True:
                try:
                    client, _ = gate.accept()
                except OSError:
                    return
                upstream = socket.create_connection((self.broker.host, self.broker.port))
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=pump, args=(a, b), daemon=True).start()

        def pump(a, b):
            while True:
                try:
                    data = a.recv(65536)
                    if not data:
                        break
                    b.sendall(data)
                except OSError:
                    break
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=forward, daemon=True).start()
        self.assertEqual(c.wait(), 0, c.stderr_lines)
        self.peer.wait_until(lambda: len(self.first_arrivals()) >= len(lines), 20, "30 messages")
        self.assertEqual(self.first_arrivals(), lines)

    def test_d2_a_slow_producer_streams_with_an_offline_store(self):
        c = self.start_cli("--offline-store", self.store, "telemetry", "-")
        for i in range(3):
            c.proc.stdin.write(b'{"slow":%d}\n' % i)
            c.proc.stdin.flush()  # stdin stays open: each line must go before EOF
            self.peer.wait_until(lambda: len(self.peer.telemetry) == i + 1, 10, "line %d before EOF" % i)
        c.proc.stdin.close()
        self.assertEqual(c.wait(), 0, c.stderr_lines)
        self.assertEqual(self.values(self.peer.telemetry), ['{"slow":0}', '{"slow":1}', '{"slow":2}'])

    def test_d3_stored_with_a_larger_offline_max_all_arrive_with_the_default_in_order(self):
        lines = ['{"n":%d}' % i for i in range(2000)]
        r = self.run_cli("--offline-store", self.store, "--offline-max", "3000", "--timeout", "2", "telemetry", "-",
                         stdin=("\n".join(lines) + "\n").encode(), port=free_port())
        err = self.assert_fails(r, 3, "unreachable")
        self.assertIn("2000 message(s) kept in", err)
        self.assertEqual(len(self.stored_records()), 2000)
        self.assert_ok(self.run_cli("--offline-store", self.store, "telemetry", "-", stdin=b""))  # default max 1000
        self.peer.wait_until(lambda: len(self.first_arrivals()) >= len(lines), 20, "2000 messages")
        self.assertEqual(self.first_arrivals(), lines)
        self.assertEqual(self.stored_records(), [])

    def test_d4_a_second_process_on_the_same_store_gets_store_locked(self):
        first = Cli(self.base_args(port=free_port()) + ["--offline-store", self.store, "telemetry", "-"])
        self.running.append(first)
        first.proc.stdin.write(b'{"first":1}\n')
        first.proc.stdin.flush()
        deadline = time.monotonic() + 10
        while len(self.stored_records()) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(len(self.stored_records()), 1)  # the first one holds the store now
        r = self.run_cli("--offline-store", self.store, "telemetry", '{"second":1}')
        err = self.assert_fails(r, 1, "store_locked")
        self.assertIn("offline store %s is in use by another process (pid %d)" % (self.store, first.proc.pid), err)
        first.proc.stdin.close()
        self.assertEqual(first.wait(), 3)  # the broker it was given is down: it keeps its message
        self.assert_ok(self.run_cli("--offline-store", self.store, "telemetry", "-", stdin=b""))
        self.peer.wait_until(lambda: self.peer.telemetry)
        self.assertEqual(self.values(self.peer.telemetry), ['{"first":1}'])

    def test_an_offline_store_that_cannot_be_created_is_a_storage_error(self):
        blocker = os.path.join(self.store, "a-file")
        with open(blocker, "w") as f:
            f.write("x")
        r = self.run_cli("--offline-store", os.path.join(blocker, "queue"), "telemetry", '{"a":1}')
        err = self.assert_fails(r, 1, "storage_error")
        self.assertIn("offline store %s: cannot be created or locked" % os.path.join(blocker, "queue"), err)
        self.assertEqual(self.peer.telemetry, [])

    def test_telemetry_stored_during_an_outage_keeps_its_capture_time(self):
        before = int(time.time() * 1000)
        r = self.run_cli("--offline-store", self.store, "--timeout", "2", "telemetry", '{"t":1}', '[{"t":2},{"t":3}]',
                         port=free_port())
        self.assert_fails(r, 3, "unreachable")
        stored_by = int(time.time() * 1000)  # the broker can deliver only after this
        self.assert_ok(self.run_cli("--offline-store", self.store, "telemetry", "-", stdin=b""))
        self.peer.wait_until(lambda: len(self.peer.telemetry) >= 2)
        first = json.loads(self.peer.telemetry[0])
        self.assertEqual(first["values"], {"t": 1})
        self.assertTrue(before <= first["ts"] <= stored_by, (before, first["ts"], stored_by))
        second = json.loads(self.peer.telemetry[1])
        self.assertEqual([e["values"] for e in second], [{"t": 2}, {"t": 3}])
        self.assertTrue(all(before <= e["ts"] <= stored_by for e in second), second)

    def test_pace_without_an_offline_store_is_a_usage_error(self):
        self.assert_fails(self.run_cli("--pace", "telemetry", '{"a":1}'), 2)

    def test_offline_store_with_qos_0_is_a_usage_error(self):
        self.assert_fails(self.run_cli("--offline-store", self.store, "--qos", "0", "telemetry", '{"a":1}'), 2)


if __name__ == "__main__":
    unittest.main()
