"""OTA: package assignment, the 7 checksums, chunk serving and the state history (doc section 5)."""

import hashlib
import os
import tempfile
import unittest

from emu import admin, connected_device, new_device, request, shared_broker

ATTR = "v1/devices/me/attributes"


def package(data):
    f = tempfile.NamedTemporaryFile(delete=False, prefix="tbemu-pkg-")
    f.write(data)
    f.close()
    return f.name


class ChecksumTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def checksum(self, data, alg):
        name, _ = new_device(self.b)
        path = package(data)
        try:
            out = admin(self.b, "ota", "assign", name, path, "--title", "t", "--version", "1",
                        "--checksum-algorithm", alg)
        finally:
            os.unlink(path)
        shared = request(self.b, "attributes.get", {"device": name})["shared"]
        self.assertEqual(shared["fw_checksum"], out["checksum"])
        self.assertEqual(shared["fw_checksum_algorithm"], alg)
        return out["checksum"]

    def test_doc_vectors(self):
        self.assertEqual(self.checksum(b"123456789", "CRC32"), "2639f4cb")
        self.assertEqual(self.checksum(b"hello", "MURMUR3_32"), "47fa8b24")
        self.assertEqual(self.checksum(b"The quick brown fox jumps over the lazy dog", "MURMUR3_128"),
                         "6c1b07bc7bbc4be347939ac4a93c437a")

    def test_digest_algorithms(self):
        data = os.urandom(1000)
        for alg, h in (("MD5", hashlib.md5), ("SHA256", hashlib.sha256),
                       ("SHA384", hashlib.sha384), ("SHA512", hashlib.sha512)):
            self.assertEqual(self.checksum(data, alg), h(data).hexdigest())

    def test_murmur_tails(self):
        # lengths that exercise every tail branch must not crash and must be stable
        for n in range(0, 33):
            a = self.checksum(bytes(range(n)), "MURMUR3_128")
            self.assertEqual(len(a), 32)


class ChunkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.b = shared_broker()

    def setUp(self):
        self.name, self.token = new_device(self.b)
        self.data = bytes((i * 7) % 256 for i in range(10000))
        path = package(self.data)
        try:
            self.d = connected_device(self.b, self.token, subs=[ATTR, "v2/fw/response/+/chunk/+",
                                                                "v2/fw/error"])
            admin(self.b, "ota", "assign", self.name, path, "--title", "fw", "--version", "2.0")
        finally:
            os.unlink(path)

    def tearDown(self):
        self.d.close()

    def test_assignment_pushes_fw_attributes(self):
        _, payload, _ = self.d.expect(ATTR)
        self.assertEqual(payload, ('{"fw_title":"fw","fw_version":"2.0","fw_size":10000,'
                                   '"fw_checksum_algorithm":"SHA256","fw_checksum":"%s"}'
                                   % hashlib.sha256(self.data).hexdigest()).encode())

    def test_download_in_chunks(self):
        got = b""
        n = 0
        while True:
            self.d.pub("v2/fw/request/1/chunk/%d" % n, b"4096" if n == 0 else b"")
            topic, payload, _ = self.d.expect("v2/fw/response/1/chunk/%d" % n)
            got += payload
            n += 1
            if len(payload) < 4096:
                break
        self.assertEqual(got, self.data)
        self.assertEqual(n, 3)

    def test_past_end_is_empty(self):
        self.d.pub("v2/fw/request/7/chunk/3", b"4096")
        self.assertEqual(self.d.expect("v2/fw/response/7/chunk/3")[1], b"")

    def test_zero_size_returns_whole_file(self):
        self.d.pub("v2/fw/request/8/chunk/0", b"0")
        self.assertEqual(self.d.expect("v2/fw/response/8/chunk/0")[1], self.data)

    def test_chunk_over_max_payload_is_payload_too_large_and_disconnects(self):
        self.d.pub("v2/fw/request/9/chunk/0", b"70000")
        self.assertEqual(self.d.expect("v2/fw/error")[1], b"PAYLOAD_TOO_LARGE")
        self.assertTrue(self.d.disconnected.wait(5))

    def test_software_package_without_assignment_is_not_found(self):
        self.d.pub("v2/sw/request/1/chunk/0", b"100")
        self.assertEqual(self.d.expect("v2/fw/error")[1], b"NOT_FOUND")
        self.assertTrue(self.d.disconnected.wait(5))

    def test_state_history(self):
        for st in ("DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING"):
            self.d.pub("v1/devices/me/telemetry", {"fw_state": st})
        self.d.pub("v1/devices/me/telemetry", {"fw_state": "FAILED", "fw_error": "boom"})
        hist = admin(self.b, "ota", "state", self.name)
        self.assertEqual([h["state"] for h in hist],
                         ["QUEUED", "INITIATED", "DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING", "FAILED"])
        self.assertEqual(hist[-1]["error"], "boom")
        self.assertTrue(all(h["kind"] == "fw" for h in hist))


class SoftwareTest(unittest.TestCase):
    def test_software_assign_sets_sw_attributes(self):
        b = shared_broker()
        name, token = new_device(b)
        path = package(b"software!")
        try:
            admin(b, "ota", "assign", name, path, "--title", "app", "--version", "3", "--software",
                  "--checksum-algorithm", "CRC32")
        finally:
            os.unlink(path)
        shared = request(b, "attributes.get", {"device": name})["shared"]
        self.assertEqual(shared["sw_title"], "app")
        self.assertEqual(shared["sw_size"], 9)
        d = connected_device(b, token)
        try:
            d.pub("v2/sw/request/5/chunk/1", b"4")
            self.assertEqual(d.expect("v2/sw/response/5/chunk/1")[1], b"ware")
        finally:
            d.close()


if __name__ == "__main__":
    unittest.main()
