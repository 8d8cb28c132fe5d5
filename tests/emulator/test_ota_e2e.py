"""`tbmqtt ota` end to end against the emulator: the real CLI binary downloads what
`ota assign` put on the device, and every test checks the written file byte for byte, the
emulator's OTA state history and, where it matters, the chunk requests the broker received
(mosquitto's `log_type all` logs each PUBLISH with its topic and payload length; the CLI runs with
its own --client-id so its requests can be told apart).

Each class runs its own broker: latency/drop settings are global to an emulator, and one test
restarts its broker."""

import hashlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from emu import BUILD_DIR, Broker, admin, request, unique

TBMQTT = os.path.join(BUILD_DIR, "bin", "tbmqtt")
RUN_TIMEOUT = 120
ALGORITHMS = ("MD5", "SHA256", "SHA384", "SHA512", "CRC32", "MURMUR3_32", "MURMUR3_128")
NORMAL = ["DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING"]


def has_ota_command():
    if not os.access(TBMQTT, os.X_OK):
        return False
    r = subprocess.run([TBMQTT, "ota", "--help"], capture_output=True, text=True, timeout=30)
    return r.returncode == 0


def image(n, seed=1):
    """n deterministic pseudo-random bytes (no repeating pattern a chunk mix-up could hide in)."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha512(b"%d-%d" % (seed, counter)).digest()
        counter += 1
    return bytes(out[:n])


def render_terminal(text):
    """The lines a terminal shows for `text`: \\r returns to column 0, printable characters
    overwrite, ESC [ K erases to the end of the line, \\n starts a new line."""
    lines, line, col, i = [], [], 0, 0
    while i < len(text):
        c = text[i]
        if text.startswith("\x1b[K", i):
            del line[col:]
            i += 3
            continue
        if c == "\r":
            col = 0
        elif c == "\n":
            lines.append("".join(line))
            line, col = [], 0
        else:
            if col < len(line):
                line[col] = c
            else:
                line.append(c)
            col += 1
        i += 1
    if line:
        lines.append("".join(line))
    return lines


class OtaCase(unittest.TestCase):
    """Helpers shared by the test classes; each class gets its own broker."""

    @classmethod
    def setUpClass(cls):
        cls.b = Broker().start()
        cls.tmp = tempfile.mkdtemp(prefix="tbota-")

    @classmethod
    def tearDownClass(cls):
        cls.b.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="case-", dir=self.tmp)
        self.state = os.path.join(self.dir, "state")
        self.out = os.path.join(self.dir, "image.bin")
        self.name = unique("ota")
        self.token = admin(self.b, "device", "add", self.name)["credentials"]["token"]

    def tearDown(self):
        request(self.b, "settings.set", {"latencyMs": None, "dropProbability": None})

    # ---- emulator side ----------------------------------------------------------------------

    def assign(self, data, alg="SHA256", title="fw", version="1.0", software=False, broker=None):
        path = os.path.join(self.dir, "pkg-%s-%s" % (title, version))
        with open(path, "wb") as f:
            f.write(data)
        args = ["ota", "assign", self.name, path, "--title", title, "--version", version,
                "--checksum-algorithm", alg] + (["--software"] if software else [])
        return admin(broker or self.b, *args)

    def history(self, kind="fw", broker=None):
        """The device's reported states (QUEUED and INITIATED, the assignment's own entries, left out)."""
        h = request(broker or self.b, "ota.state", {"device": self.name, "kind": kind})
        return [(e["state"], e.get("error")) for e in h if e["state"] not in ("QUEUED", "INITIATED")]

    def states(self, kind="fw", broker=None):
        return [s for s, _ in self.history(kind, broker)]

    def wait_states(self, expected, kind="fw", broker=None, timeout=10):
        """The history is written when the telemetry arrives: give the broker a moment."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.states(kind, broker)
            if got == expected or time.monotonic() > deadline:
                self.assertEqual(got, expected)
                return
            time.sleep(0.05)

    def settings(self, **kw):
        request(self.b, "settings.set", kw)

    def chunk_requests(self, client_id, kind="fw", broker=None):
        """[(request id, chunk, payload length)] the broker received from `client_id`, in order."""
        log = os.path.join((broker or self.b).state_dir, "mosquitto.log")
        pat = re.compile(r"Received PUBLISH from %s \(.*?'v2/%s/request/(\d+)/chunk/(\d+)', \.\.\. \((\d+) bytes\)\)"
                         % (re.escape(client_id), kind))
        out = []
        with open(log, errors="replace") as f:
            for line in f:
                m = pat.search(line)
                if m:
                    out.append(tuple(int(x) for x in m.groups()))
        return out

    # ---- the CLI ------------------------------------------------------------------------------

    def cli_args(self, client_id, *extra, broker=None):
        wait = [] if "--wait" in extra else ["--wait", "10"]
        return [TBMQTT, "--port", str((broker or self.b).port), "--token", self.token, "--client-id", client_id,
                "--timeout", "10", "ota", "--out", self.out, "--state", self.state] + wait + list(extra)

    def ota(self, *extra, client_id=None, broker=None):
        """Runs `tbmqtt ota` to the end; returns (CompletedProcess, client id)."""
        cid = client_id or unique("otacli")
        r = subprocess.run(self.cli_args(cid, *extra, broker=broker), capture_output=True, text=True,
                           timeout=RUN_TIMEOUT)
        return r, cid

    def spawn(self, *extra, broker=None):
        cid = unique("otacli")
        p = subprocess.Popen(self.cli_args(cid, *extra, broker=broker), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        p.lines = []
        p.cond = threading.Condition()

        def pump():
            for line in p.stderr:
                with p.cond:
                    p.lines.append(line)
                    p.cond.notify_all()

        p.pump = threading.Thread(target=pump, daemon=True)
        p.pump.start()
        return p, cid

    def wait_line(self, p, pattern, timeout=30):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with p.cond:
            while not any(rx.search(l) for l in p.lines):
                left = deadline - time.monotonic()
                if left <= 0 or p.poll() is not None:
                    self.fail("no stderr line %r: %r" % (pattern, p.lines))
                p.cond.wait(min(left, 0.2))

    def finish(self, p, timeout=RUN_TIMEOUT):
        try:
            out = p.stdout.read() if p.wait(timeout=timeout) is not None else ""
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail("tbmqtt ota did not finish: %r" % p.lines)
        p.pump.join(5)
        return p.returncode, out, "".join(p.lines)

    def assert_written(self, r, data, alg="SHA256", title="fw", version="1.0"):
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"title": title, "version": version, "size": len(data),
                                                "checksumAlgorithm": alg, "path": self.out})
        self.assert_file(data)

    def assert_file(self, data):
        with open(self.out, "rb") as f:
            got = f.read()
        self.assertEqual(len(got), len(data))
        self.assertTrue(got == data, "the written image differs from the assigned one")
        self.assertFalse(os.path.exists(self.out + ".part"))

    def checkpoint_offset(self, key="tb_fw_ckpt"):
        """The engine's checkpoint record ends with its 64-bit offset (src/core/ota_engine.cpp checkpoint_record)."""
        with open(os.path.join(self.state, key), "rb") as f:
            blob = f.read()
        self.assertEqual(struct.unpack_from("<I", blob, 0)[0], 0x54424F43)  # "TBOC"
        return struct.unpack_from("<Q", blob, len(blob) - 8)[0]


@unittest.skipUnless(has_ota_command(), "build/bin/tbmqtt has no `ota` command")
class OtaDownloadTest(OtaCase):
    def test_every_checksum_algorithm(self):
        for i, alg in enumerate(ALGORITHMS):
            with self.subTest(alg=alg):
                self.setUp()  # a fresh device: its own history
                data = image(40000 + i, seed=i)
                self.assign(data, alg=alg)
                r, cid = self.ota()
                self.assert_written(r, data, alg=alg)
                self.wait_states(NORMAL)
                # 16 KiB chunks by default, each requested once
                self.assertEqual([c for _, c, _ in self.chunk_requests(cid)], [0, 1, 2])

    def test_sizes_around_the_chunk_size(self):
        chunk = 1024
        for size in (0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk + 5):
            with self.subTest(size=size):
                self.setUp()
                data = image(size, seed=size)
                self.assign(data, alg="SHA256")
                r, cid = self.ota("--chunk-size", str(chunk))
                self.assert_written(r, data)
                self.wait_states(NORMAL)
                reqs = self.chunk_requests(cid)
                self.assertEqual([c for _, c, _ in reqs], list(range((size + chunk - 1) // chunk)))
                self.assertTrue(all(n == len(str(chunk)) for _, _, n in reqs))

    def test_several_megabytes(self):
        data = image(5 * 1024 * 1024 + 123, seed=5)
        self.assign(data, alg="MD5")
        r, cid = self.ota("--chunk-size", "65536", "--window", "8")
        self.assert_written(r, data, alg="MD5")
        self.wait_states(NORMAL)
        self.assertEqual(len(self.chunk_requests(cid)), (len(data) + 65535) // 65536)
        self.assertIn("ota: 100%% %d/%d bytes\n" % (len(data), len(data)), r.stderr)

    def test_confirm_reports_updated_and_current_version(self):
        data = image(3000)
        self.assign(data, title="cam", version="v7.1")
        r, _ = self.ota("--confirm")
        self.assert_written(r, data, title="cam", version="v7.1")
        self.wait_states(NORMAL + ["UPDATED"])
        t = request(self.b, "telemetry.get", {"device": self.name})
        self.assertEqual((t.get("current_fw_title"), t.get("current_fw_version")), ("cam", "v7.1"))
        # nothing pending is left behind: a second run downloads again, without a rollback FAILED
        os.unlink(self.out)
        r, _ = self.ota()
        self.assert_written(r, data, title="cam", version="v7.1")
        self.wait_states(NORMAL + ["UPDATED"] + NORMAL)

    def test_second_run_without_confirm_downloads_again_cleanly(self):
        data = image(5000)
        self.assign(data)
        for _ in range(2):
            r, _ = self.ota()
            self.assert_written(r, data)
        self.wait_states(NORMAL + NORMAL)  # no FAILED "rolled back" from a stale pending record

    def test_software_package(self):
        data = image(20000, seed=9)
        self.assign(data, software=True, title="app", version="3")
        fw = self.ota("--wait", "1")[0]
        self.assertEqual(fw.returncode, 4, fw.stderr)  # no firmware assigned
        r, cid = self.ota("--software")
        self.assert_written(r, data, title="app", version="3")
        self.wait_states(NORMAL, kind="sw")
        self.assertEqual(len(self.chunk_requests(cid, kind="sw")), 2)

    def test_waits_for_an_assignment(self):
        data = image(70000)
        p, _ = self.spawn()
        time.sleep(1.0)  # connected and idle
        self.assertIsNone(p.poll())
        self.assign(data)
        code, out, err = self.finish(p)
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["size"], len(data))
        self.assert_file(data)

    def test_chunk_size_above_the_server_limit_is_capped(self):
        data = image(200000)
        self.assign(data)
        r, cid = self.ota("--chunk-size", "1000000")
        self.assert_written(r, data)
        self.wait_states(NORMAL)
        reqs = self.chunk_requests(cid)
        self.assertEqual([c for _, c, _ in reqs], [0, 1, 2, 3])  # 65536-byte chunks
        self.assertTrue(all(n == len("65536") for _, _, n in reqs), reqs)

    def test_progress_lines_when_not_a_terminal(self):
        data = image(100000)
        self.assign(data)
        r, _ = self.ota("--chunk-size", "4096")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stderr.splitlines()
        self.assertNotIn("\r", r.stderr)
        for s in NORMAL:
            self.assertIn("ota: " + s, lines)
        percents = [int(m.group(1)) for m in (re.match(r"ota: (\d+)% \d+/100000 bytes$", l) for l in lines) if m]
        self.assertEqual(percents, sorted(percents))
        self.assertEqual(percents[-1], 100)
        self.assertGreaterEqual(len(percents), 8)

    def test_progress_bar_on_a_terminal(self):
        import pty
        data = image(100000)
        self.assign(data)
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen(self.cli_args(unique("otacli"), "--chunk-size", "4096"), stdout=subprocess.PIPE,
                                 stderr=slave, text=True)
            os.close(slave)
            out, _ = p.communicate(timeout=RUN_TIMEOUT)
            err = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                err += chunk
        finally:
            os.close(master)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn(b"\r[##############################] 100% 100000/100000 bytes", err)
        self.assertEqual(json.loads(out)["size"], len(data))
        text = err.decode().replace("\r\n", "\n")  # the pty's output processing turns \n into \r\n
        # Each redraw is exactly one bar that erases what an earlier, longer one left (\033[K):
        # without it a shorter rate leaves stray text ("7.76 MB/ss/s").
        redraws = re.findall(r"\r([^\r\n]*)", text)
        self.assertGreaterEqual(len(redraws), 2, text)
        bar = re.compile(r"\[([#.]{30})\] +(\d+)% (\d+)/100000 bytes \d+\.\d\d MB/s\x1b\[K$")
        percents = []
        for r in redraws:
            m = bar.match(r)
            self.assertIsNotNone(m, "a redraw that is not one bar ending in an erase: %r" % r)
            self.assertEqual(m.group(1).count("#"), int(m.group(2)) * 30 // 100, r)
            percents.append(int(m.group(2)))
        self.assertEqual(percents, sorted(percents))
        # What the terminal shows: the bar's last state on a line of its own, the states around it
        # on theirs, nothing left over.
        screen = render_terminal(text)
        shown = [l for l in screen if l.startswith("[")]
        self.assertEqual(len(shown), 1, screen)
        self.assertRegex(shown[0], r"^\[#{30}\] 100% 100000/100000 bytes \d+\.\d\d MB/s$")
        self.assertEqual([l for l in screen if not l.startswith("[")],
                         ["ota: DOWNLOADING", "ota: DOWNLOADED", "ota: VERIFIED", "ota: UPDATING"], screen)
        self.assertLess(screen.index("ota: DOWNLOADING"), screen.index(shown[0]))
        self.assertLess(screen.index(shown[0]), screen.index("ota: DOWNLOADED"))

    # ---- failures ----------------------------------------------------------------------------

    def assert_failed(self, r, code, error_part):
        self.assertEqual(r.returncode, code, r.stderr)
        self.assertEqual(r.stdout, "")
        last = r.stderr.splitlines()[-1]
        self.assertTrue(last.startswith("tbmqtt: ota: FAILED: "), r.stderr)
        self.assertIn(error_part, last)
        self.assertFalse(os.path.exists(self.out))
        self.assertFalse(os.path.exists(self.out + ".part"))
        deadline = time.monotonic() + 10
        while self.states()[-1:] != ["FAILED"] and time.monotonic() < deadline:
            time.sleep(0.05)
        h = self.history()
        self.assertEqual(h[-1][0], "FAILED")
        self.assertIn(error_part, h[-1][1] or "")

    def test_corrupted_image_fails_with_exit_5(self):
        data = image(50000)
        self.assign(data, alg="SHA256")
        dev = request(self.b, "device.get", {"device": self.name})
        stored = os.path.join(self.b.state_dir, "ota", "%s-fw.bin" % dev["id"])
        corrupt = bytearray(data)
        corrupt[33333] ^= 0x01  # one bit, same size
        with open(stored, "wb") as f:
            f.write(corrupt)
        r, _ = self.ota()
        self.assert_failed(r, 5, "checksum mismatch")
        self.assertEqual(self.states(), ["DOWNLOADING", "DOWNLOADED", "FAILED"])

    def test_wrong_checksum_fails_for_every_algorithm(self):
        for alg in ALGORITHMS:
            with self.subTest(alg=alg):
                self.setUp()
                data = image(30000)
                out = self.assign(data, alg=alg)
                wrong = ("0" if out["checksum"][0] != "0" else "1") + out["checksum"][1:]
                request(self.b, "attributes.set", {"device": self.name, "attributes": {"fw_checksum": wrong}})
                r, _ = self.ota()
                self.assert_failed(r, 5, "checksum mismatch")

    def test_size_larger_than_the_file_fails(self):
        data = image(20000)
        self.assign(data)
        request(self.b, "attributes.set", {"device": self.name, "attributes": {"fw_size": 40000}})
        r, _ = self.ota()
        self.assert_failed(r, 5, "wrong size")

    def test_url_package_fails(self):
        self.assign(image(100))
        request(self.b, "attributes.set", {"device": self.name, "attributes": {"fw_url": "http://x/y.bin"}})
        r, _ = self.ota()
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("URL", r.stderr.splitlines()[-1])

    def test_no_assignment_within_wait_exits_4(self):
        t0 = time.monotonic()
        r, _ = self.ota("--wait", "1")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertLess(time.monotonic() - t0, 8)
        self.assertEqual(r.stderr.splitlines(), ["tbmqtt: ota: no package assigned: timeout"])
        self.assertEqual(self.states(), [])

    def test_refused_token_exits_3(self):
        self.token = "not-a-token"
        r, _ = self.ota()
        self.assertEqual(r.returncode, 3, r.stderr)

    def test_usage_exits_2(self):
        r = subprocess.run([TBMQTT, "--port", str(self.b.port), "--token", self.token, "ota"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        r = subprocess.run([TBMQTT, "--port", str(self.b.port), "--token", self.token, "ota", "--out", self.out,
                            "--window", "0"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_chunk_timeout_exits_4_and_the_next_run_resumes(self):
        data = image(1000000)
        self.assign(data)
        self.settings(latencyMs=20)
        args = ("--chunk-size", "4096", "--window", "1", "--chunk-timeout-ms", "200", "--max-retries", "1")
        p, cid1 = self.spawn(*args)
        self.wait_line(p, r"^ota: [1-9]\d%")
        self.settings(dropProbability=1.0)
        code, out, err = self.finish(p)
        self.assertEqual(code, 4, err)
        self.assertIn("no answer for chunk", err.splitlines()[-1])
        # A time-out says nothing against the bytes received: the partial file and the checkpoint
        # (the progress at the failure) are kept, and FAILED went out with its reason.
        offset = self.checkpoint_offset()
        self.assertGreaterEqual(offset, 100000)
        self.assertEqual(offset % 4096, 0)
        self.assertGreaterEqual(os.path.getsize(self.out + ".part"), offset)
        self.assertIn(offset // 4096, [c for _, c, _ in self.chunk_requests(cid1)])  # the chunk that never came
        self.settings(latencyMs=None, dropProbability=0.0)
        r, cid2 = self.ota(*args)
        self.assert_written(r, data)
        second = [c for _, c, _ in self.chunk_requests(cid2)]
        self.assertEqual(second, list(range(offset // 4096, (len(data) + 4095) // 4096)))  # only the missing ones
        self.wait_states(["DOWNLOADING", "FAILED"] + NORMAL)
        self.assertIn("no answer for chunk", self.history()[1][1])

    # ---- recovery ----------------------------------------------------------------------------

    def test_dropped_chunks_are_retried(self):
        data = image(512 * 1024, seed=3)
        self.assign(data, alg="CRC32")
        self.settings(latencyMs=10)
        p, cid = self.spawn("--chunk-size", "4096", "--window", "4", "--chunk-timeout-ms", "300",
                            "--max-retries", "12")
        self.wait_line(p, r"^ota: DOWNLOADING")
        self.settings(dropProbability=0.2)
        self.wait_line(p, r"^ota: [5-9]\d%")
        self.settings(dropProbability=0.0)
        code, out, err = self.finish(p)
        self.assertEqual(code, 0, err)
        self.assert_file(data)
        self.wait_states(NORMAL)
        chunks = [c for _, c, _ in self.chunk_requests(cid)]
        self.assertEqual(set(chunks), set(range(128)))
        retried = [c for c in set(chunks) if chunks.count(c) > 1]
        self.assertGreater(len(retried), 0, "no chunk was requested twice: nothing was dropped?")

    def test_killed_process_resumes_from_the_checkpoint(self):
        data = image(3 * 1024 * 1024, seed=4)
        self.assign(data, alg="SHA512")
        self.settings(latencyMs=20)
        p, cid1 = self.spawn("--chunk-size", "16384", "--window", "2")
        self.wait_line(p, r"^ota: [3-9]\d%")
        p.send_signal(signal.SIGKILL)
        self.finish(p)
        self.assertFalse(os.path.exists(self.out))
        offset = self.checkpoint_offset()
        first_run = self.chunk_requests(cid1)
        self.assertGreater(offset, 0)
        self.assertGreaterEqual(os.path.getsize(self.out + ".part"), offset)
        self.settings(latencyMs=None)
        r, cid2 = self.ota("--chunk-size", "16384", "--window", "2")
        self.assert_written(r, data, alg="SHA512")
        second = [c for _, c, _ in self.chunk_requests(cid2)]
        self.assertEqual(min(second), offset // 16384, "the second run must start at the checkpoint")
        self.assertEqual(sorted(second), list(range(offset // 16384, 192)))  # each chunk once
        self.assertGreater(len(first_run), 0)
        self.assertFalse(os.path.exists(os.path.join(self.state, "tb_fw_ckpt")))
        self.wait_states(["DOWNLOADING"] + NORMAL)

    def test_new_assignment_during_a_download_restarts_cleanly(self):
        a = image(3 * 1024 * 1024, seed=6)
        b = image(300000, seed=7)
        self.assign(a, version="1")
        self.settings(latencyMs=20)
        p, cid = self.spawn("--chunk-size", "16384", "--window", "2")
        self.wait_line(p, r"^ota: [2-9]\d%")
        self.assign(b, version="2", alg="MURMUR3_128")
        code, out, err = self.finish(p)
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out), {"title": "fw", "version": "2", "size": len(b),
                                           "checksumAlgorithm": "MURMUR3_128", "path": self.out})
        self.assert_file(b)
        self.wait_states(["DOWNLOADING"] + NORMAL)
        reqs = self.chunk_requests(cid)
        ids = sorted(set(r for r, _, _ in reqs))
        self.assertEqual(len(ids), 2, "a fresh request id for the new download")
        second = [c for r, c, _ in reqs if r == ids[1]]
        self.assertEqual(sorted(second), list(range((len(b) + 16383) // 16384)))
        self.assertEqual(second[0], 0)


@unittest.skipUnless(has_ota_command(), "build/bin/tbmqtt has no `ota` command")
class OtaBrokerRestartTest(OtaCase):
    def test_broker_restart_mid_download_resumes(self):
        data = image(3 * 1024 * 1024, seed=8)
        self.assign(data, alg="MURMUR3_32")
        self.settings(latencyMs=20)
        p, cid = self.spawn("--chunk-size", "16384", "--window", "2")
        self.wait_line(p, r"^ota: [2-9]\d%")
        self.b.stop()
        time.sleep(0.5)
        self.b.start()
        code, out, err = self.finish(p)
        self.assertEqual(code, 0, err)
        self.assert_file(data)
        self.wait_states(NORMAL)  # one download, never restarted
        chunks = [c for _, c, _ in self.chunk_requests(cid)]
        self.assertEqual(chunks.count(0), 1, "chunk 0 requested again: the download restarted")
        self.assertEqual(set(chunks), set(range(192)))
        self.assertLessEqual(len(chunks), 192 + 2)  # at most the in-flight window again


if __name__ == "__main__":
    unittest.main()
