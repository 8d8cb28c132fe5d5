"""`tbmqtt fleet` end to end against the emulator: hundreds of devices in one process, bulk device
creation, the summary checked against what the emulator stored, provisioning, gateway mode, RPCs
answered, progress on a terminal, and a broker killed mid-run (the fleet reconnects)."""

import json
import os
import pty
import select
import signal
import stat
import subprocess
import tempfile
import time
import unittest

import emu

TBMQTT = emu.TBMQTT


@unittest.skipUnless(os.access(TBMQTT, os.X_OK), "no build/bin/tbmqtt")
class FleetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = emu.shared_broker()
        cls.tmp = tempfile.mkdtemp(prefix="tbfleet-")

    def tb(self, *args, broker=None, timeout=60):
        b = broker or self.b
        return subprocess.run([TBMQTT, "--port", str(b.port)] + [str(a) for a in args],
                              capture_output=True, text=True, timeout=timeout)

    def em(self, *args, broker=None):
        b = broker or self.b
        r = self.tb("emulator", "--state", b.state_dir, *args, broker=b)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def bulk(self, count, gateway=False, broker=None):
        prefix = emu.unique("fl") + "-"
        path = os.path.join(self.tmp, prefix + "tokens")
        args = ["device", "add", "--count", count, "--prefix", prefix, "--tokens-out", path]
        out = self.em(*(args + (["--gateway"] if gateway else [])), broker=broker)
        self.assertEqual(out, {"added": count, "prefix": prefix, "gateway": gateway, "tokensOut": path})
        return prefix, path

    def summary(self, r):
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.strip().splitlines()
        s = json.loads(lines[-1])
        self.assertTrue(s["summary"])
        return s, [json.loads(l) for l in lines[:-1]]

    def stats(self, prefix, broker=None):
        return self.em("stats", "--prefix", prefix, broker=broker)

    def test_tokens_file_shards_and_summary_match_the_server(self):
        prefix, path = self.bulk(300)
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(path) as f:
            self.assertEqual(len([l for l in f.read().splitlines() if l]), 300)
        # The tokens file is never overwritten, and nothing is added then.
        r = self.tb("emulator", "--state", self.b.state_dir, "device", "add", "--count", 5, "--prefix",
                    prefix + "x", "--tokens-out", path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("must not exist", r.stderr)
        self.assertEqual(self.stats(prefix + "x")["devices"], 0)

        # Two processes share the file (--shard 0/2 and 1/2): every device once.
        cmd = [TBMQTT, "--port", str(self.b.port), "fleet", "--tokens", path, "--name-prefix", prefix,
               "--count", "3", "--telemetry-every", "300ms", "--ramp", "2000", "--request-attributes",
               "--json-lines", "--payload", '{"t":{rand:10.0:30.0},"n":{seq},"d":"{device}"}']
        procs = [subprocess.Popen(cmd + ["--shard", "%d/2" % i], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for i in range(2)]
        results = [p.communicate(timeout=60) for p in procs]
        total = 0
        for p, (out, err) in zip(procs, results):
            s, progress = self.summary(subprocess.CompletedProcess(cmd, p.returncode, out, err))
            self.assertEqual(s["devices"], 150)
            self.assertEqual(s["connectedPeak"], 150)
            self.assertEqual(s["sent"], 450)
            self.assertEqual(s["acknowledged"], 450)
            self.assertEqual(s["attributeRequests"], 150)
            self.assertEqual(s["attributeRequestsFailed"], 0)
            self.assertEqual(s["errors"], {})
            for line in progress:
                self.assertLessEqual(line["connected"], 150)
            total += s["acknowledged"]
            self.assertEqual(err, "")  # no progress text when stderr is not a terminal
        server = self.stats(prefix)
        self.assertEqual(server["devices"], 300)
        self.assertEqual(server["telemetryMessages"], total)
        self.assertEqual(set(server["perDevice"].values()), {3})
        latest = self.em("telemetry", prefix + "7")
        self.assertEqual(latest["n"], 2)
        self.assertEqual(latest["d"], prefix + "7")
        self.assertTrue(10 <= latest["t"] <= 30)

    def test_bad_input_is_a_usage_error(self):
        prefix, path = self.bulk(2)
        for args, what in ((["--payload", '{"t":{rand:9}}'], "{rand:A:B} needs two numbers"),
                           (["--payload", '{"t":{rand:5:1}}'], "bad range"),
                           (["--payload", "[1,{seq}]"], "--payload"),
                           (["--shard", "2/2"], "--shard"),
                           (["--shard", "3/5"], "no token for shard"),
                           (["--rpc-reply", "{x}"], "--rpc-reply")):
            r = self.tb("fleet", "--tokens", path, "--count", 1, *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(what, r.stderr, args)
            self.assertEqual(r.stdout, "")
        self.assertEqual(self.stats(prefix)["telemetryMessages"], 0)  # nothing was sent

    def test_wire_format_options_reach_every_device(self):
        # Devices in a PROTOBUF profile: JSON on v1 would be refused, so what arrives proves the format.
        prefix, path = self.bulk(4)
        proto_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "proto")
        with open(os.path.join(proto_dir, "telemetry.proto")) as f:
            telemetry_proto = f.read()
        profile = emu.unique("flpb")
        emu.request(self.b, "device_profile.add", {"name": profile, "payloadType": "PROTOBUF",
                                                   "telemetryProto": telemetry_proto})
        for k in range(4):
            emu.request(self.b, "device.set_profile", {"device": prefix + str(k), "profile": profile})
        run = ["--tokens", path, "--name-prefix", prefix, "--count", 2, "--telemetry-every", "200ms",
               "--payload", '{"temperature":{rand:10.0:30.0},"uptimeS":{seq}}']
        # v2 short topics with protobuf payloads in the profile's schema.
        s, _ = self.summary(self.tb("--topics", "v2", "--payload", "protobuf", "--proto",
                                    os.path.join(proto_dir, "telemetry.proto"), "fleet", *run))
        self.assertEqual((s["acknowledged"], s["errors"]), (8, {}))
        self.assertEqual(self.stats(prefix)["telemetryMessages"], 8)
        latest = self.em("telemetry", prefix + "1")
        self.assertEqual(latest["uptimeS"], 1)
        self.assertTrue(10 <= latest["temperature"] <= 30)
        # v2/t/j: JSON whatever the profile says (--topics after the command works too).
        s, _ = self.summary(self.tb("fleet", "--topics", "v2j", *run))
        self.assertEqual((s["acknowledged"], s["errors"]), (8, {}))
        self.assertEqual(self.stats(prefix)["telemetryMessages"], 16)
        # fleet's --payload is its template: the format goes before the command; gateways stay v1 JSON.
        for args, what in ((["fleet", "--tokens", path, "--payload", "protobuf"], "before the command"),
                           (["--payload", "protobuf", "fleet", "--tokens", path], "--proto"),
                           (["--topics", "v2", "fleet", "--tokens", path, "--gateways", 1, "--per-gateway", 1],
                            "gateway mode")):
            r = self.tb(*args, "--count", 1)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(what, r.stderr, args)
        self.assertEqual(self.stats(prefix)["telemetryMessages"], 16)

    def test_provisioning(self):
        key, secret = emu.unique("pk"), emu.unique("ps")
        self.em("profile", "add", "--key", key, "--secret", secret)
        secret_file = os.path.join(self.tmp, key + ".secret")
        with open(secret_file, "w") as f:
            f.write(secret + "\n")
        prefix = emu.unique("pv") + "-"
        out = os.path.join(self.tmp, prefix + "tokens")
        r = self.tb("fleet", "--provision-key", key, "--provision-secret-file", secret_file, "--devices", 40,
                    "--name-prefix", prefix, "--tokens-out", out, "--count", 2, "--telemetry-every", "200ms")
        s, _ = self.summary(r)
        self.assertEqual(s["provisioned"], 40)
        self.assertEqual(s["provisionFailed"], 0)
        self.assertEqual(s["acknowledged"], 80)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        server = self.stats(prefix)
        self.assertEqual(server["devices"], 40)
        self.assertEqual(server["telemetryMessages"], 80)
        # A wrong secret: nothing provisioned, a typed failure.
        with open(secret_file, "w") as f:
            f.write("wrong\n")
        r = self.tb("fleet", "--provision-key", key, "--provision-secret-file", secret_file, "--devices", 3,
                    "--name-prefix", prefix + "bad-", "--count", 1)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("provision", r.stderr)

    def test_gateway_mode(self):
        prefix, path = self.bulk(3, gateway=True)
        # Rounds 1 ms apart: a gateway has far more than a session's default 32 messages in flight
        # (its sub-devices' connects and several rounds of 20); none may be refused or lost.
        r = self.tb("fleet", "--tokens", path, "--name-prefix", prefix, "--gateways", 3, "--per-gateway", 20,
                    "--count", 5, "--telemetry-every", "1ms")
        s, _ = self.summary(r)
        self.assertEqual(s["devices"], 3)
        self.assertEqual(s["gatewayChildren"], 60)
        self.assertEqual((s["acknowledged"], s["sendErrors"]), (300, 0), (s, r.stderr[-2000:]))
        server = self.stats(prefix)
        self.assertEqual(server["devices"], 63)  # the gateways and the sub-devices they created
        self.assertEqual(server["telemetryMessages"], 300)
        self.assertEqual(server["perDevice"][prefix + "2-19"], 5)

    def run_until_connected(self, args, n, broker=None):
        b = broker or self.b
        p = subprocess.Popen([TBMQTT, "--port", str(b.port), "fleet", "--json-lines"] + [str(a) for a in args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        self.wait_line(p, lambda l: l.get("connected") == n)
        return p

    def wait_line(self, p, predicate, deadline_s=20):
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            ready, _, _ = select.select([p.stdout], [], [], deadline - time.monotonic())
            if not ready:
                break
            line = p.stdout.readline()
            if not line:
                break
            if predicate(json.loads(line)):
                return
        self.fail("no progress line as expected before the deadline")

    def finish(self, p):
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        return self.summary(subprocess.CompletedProcess([], p.returncode, out, err))[0]

    def test_rpc_answered_echo_and_fixed_and_round_trips(self):
        prefix, path = self.bulk(20)
        method = emu.unique("ping")
        self.em("rpc-handler", "set", method, '{"pong":true}')
        p = self.run_until_connected(["--tokens", path, "--name-prefix", prefix, "--telemetry-every", "1s",
                                      "--rpc-call", method, "--rpc-every", "1s"], 20)
        self.assertEqual(self.em("rpc", prefix + "3", "anything", '{"a":[1,2]}'), {"a": [1, 2]})  # echo
        self.assertEqual(self.em("rpc", prefix + "11", "other", "{}"), {})
        self.wait_line(p, lambda l: l["rpcP50Ms"] is not None)
        s = self.finish(p)
        self.assertEqual(s["rpcAnswered"], 2)
        self.assertGreaterEqual(s["rpcCalls"], 1)
        self.assertEqual(s["rpcFailed"], 0)
        self.assertGreater(s["rpcP99Ms"], 0)
        self.assertGreaterEqual(s["rpcP99Ms"], s["rpcP50Ms"])

        p = self.run_until_connected(["--tokens", path, "--name-prefix", prefix, "--rpc-reply", '{"fixed":1}',
                                      "--devices", 5], 5)
        self.assertEqual(self.em("rpc", prefix + "4", "anything", '{"a":1}'), {"fixed": 1})
        self.assertEqual(self.finish(p)["rpcAnswered"], 1)

    def test_progress_on_a_terminal_and_summary_on_stdout(self):
        prefix, path = self.bulk(10)
        master, slave = pty.openpty()
        p = subprocess.Popen([TBMQTT, "--port", str(self.b.port), "fleet", "--tokens", path, "--name-prefix", prefix,
                              "--duration", "2500ms", "--telemetry-every", "200ms"],
                             stdout=subprocess.PIPE, stderr=slave, text=True)
        os.close(slave)
        out, _ = p.communicate(timeout=30)
        tty = b""
        while select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            tty += chunk
        os.close(master)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"connected 10/10", tty)
        self.assertIn(b"msg/s", tty)
        self.assertTrue(tty.endswith(b"\r\x1b[K"), tty[-40:])  # the line is erased at the end
        lines = out.strip().splitlines()
        self.assertEqual(len(lines), 1)  # stdout: the summary only
        self.assertEqual(json.loads(lines[0])["devices"], 10)

    def test_broker_killed_mid_run_the_fleet_reconnects(self):
        b = emu.Broker().start()
        self.addCleanup(b.cleanup)
        prefix, path = self.bulk(50, broker=b)
        p = self.run_until_connected(["--tokens", path, "--name-prefix", prefix, "--telemetry-every", "300ms",
                                      "--reconnect-min", "200ms", "--reconnect-max", "1s"], 50, broker=b)
        b.proc.kill()  # kill -9: no DISCONNECT, sockets reset
        b.proc.wait()
        self.wait_line(p, lambda l: l["connected"] < 50)
        b.start()  # same state dir and port: the devices are still there
        self.wait_line(p, lambda l: l["connected"] == 50)
        s = self.finish(p)
        self.assertGreaterEqual(s["lost"], 50)
        self.assertGreaterEqual(s["reconnects"], 50)
        self.assertEqual(s["connectedPeak"], 50)
        server = self.stats(prefix, broker=b)
        self.assertEqual(server["devices"], 50)
        self.assertGreater(server["telemetryMessages"], 0)  # counted since the restart
        self.assertLessEqual(server["telemetryMessages"], s["acknowledged"])


if __name__ == "__main__":
    unittest.main()
