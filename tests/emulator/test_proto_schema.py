"""tools/tbmqtt_proto_schema.py and the core's protobuf codec against Google's protobuf (issue 18):
the device profile's .proto files in proto/ become the core's constant tables; a small program
built from src/core encodes JSON by them and prints messages as JSON, and python3-protobuf must
read and write the very same bytes and values (json_format, as ThingsBoard's JsonFormat)."""

import binascii
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from google.protobuf import json_format

from emu import admin, connected_device, new_device, request, shared_broker, unique, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PROTO_DIR = os.path.join(HERE, "proto")
TOOL = os.path.join(REPO, "tools", "tbmqtt_proto_schema.py")
SCHEMAS = ["telemetry", "attributes", "rpc_request", "rpc_response"]

PROGRAM = r'''
#include <cstdio>
#include <cstring>
#include <string>
%(includes)s
namespace pb = tbmqtt::protobuf;
static const pb::message_desc* pick(const char* n) {
%(picks)s
  return nullptr;
}
int main(int argc, char** argv) {
  if (argc != 4) return 2;
  const pb::message_desc* m = pick(argv[2]);
  if (!m) return 2;
  if (std::strcmp(argv[1], "encode") == 0) {
    std::byte out[4096];
    auto r = pb::encode_json(*m, argv[3], out);
    if (!r) { std::printf("error %%s\n", tbmqtt::to_string(r.error())); return 1; }
    for (std::size_t i = 0; i < r->size(); ++i) std::printf("%%02x", static_cast<unsigned>(r->data()[i]));
    std::printf("\n");
    return 0;
  }
  std::string hex = argv[3];
  std::byte in[4096];
  std::size_t n = hex.size() / 2;
  for (std::size_t i = 0; i < n; ++i) in[i] = static_cast<std::byte>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  char text[8192];
  pb::json_options o;
  o.include_defaults = true;
  o.int64_as_string = true;
  auto r = pb::decode_json(*m, tbmqtt::span<const std::byte>(in, n), text, o);
  if (!r) { std::printf("error %%s\n", tbmqtt::to_string(r.error())); return 1; }
  std::printf("%%.*s\n", static_cast<int>(r->size()), r->data());
  return 0;
}
'''


class ProtoSchemaToolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tbschema-")
        subprocess.run(["protoc", "-I", PROTO_DIR, "--python_out", cls.tmp]
                       + [s + ".proto" for s in SCHEMAS], check=True)
        sys.path.insert(0, cls.tmp)
        cls.py = {s: importlib.import_module(s + "_pb2") for s in SCHEMAS}
        includes, picks = [], []
        for s in SCHEMAS:
            out = os.path.join(cls.tmp, s + "_schema.hpp")
            subprocess.run(["/usr/bin/python3", TOOL, os.path.join(PROTO_DIR, s + ".proto"), "-o", out], check=True)
            includes.append('#include "%s"' % out)
            picks.append('  if (std::strcmp(n, "%s") == 0) return &%s_schema::schema;' % (s, s))
        src = os.path.join(cls.tmp, "codec.cpp")
        with open(src, "w") as f:
            f.write(PROGRAM % {"includes": "\n".join(includes), "picks": "\n".join(picks)})
        cls.exe = os.path.join(cls.tmp, "codec")
        core = [os.path.join(REPO, "src", "core", n) for n in ("protobuf.cpp", "json.cpp", "errc.cpp")]
        subprocess.run(["g++", "-std=c++17", "-O1", "-I", os.path.join(REPO, "include"), src] + core
                       + ["-o", cls.exe], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_codec(self, mode, schema, arg):
        r = subprocess.run([self.exe, mode, schema, arg], capture_output=True, text=True, timeout=10)
        return r.returncode, r.stdout.strip()

    def message_class(self, schema):
        mod = self.py[schema]
        names = [n for n in mod.DESCRIPTOR.message_types_by_name]
        return getattr(mod, names[-1])  # the last top-level message, as ThingsBoard picks

    def test_the_last_top_level_message_is_the_schema(self):
        with open(os.path.join(self.tmp, "rpc_request_schema.hpp")) as f:
            text = f.read()
        self.assertIn("schema = rpc_RpcRequestMsg;", text)
        with open(os.path.join(self.tmp, "telemetry_schema.hpp")) as f:
            self.assertIn('{"uptime_s", "uptimeS", 3', f.read())

    def test_encode_matches_google_protobuf(self):
        cases = [
            ("telemetry", {"temperature": 21.5, "humidity": 0, "uptimeS": "123456789012", "status": "ok \u00e9\"x"}),
            ("telemetry", {"temperature": -0.0, "uptimeS": -5}),
            ("attributes", {"firmwareVersion": "v1.2", "serialNumber": 2147483647}),
            ("rpc_request", {"method": "setGpio", "requestId": 7, "params": {"pin": 4, "value": True}}),
            ("rpc_response", {"pin": -1, "value": False}),
        ]
        for schema, value in cases:
            text = json.dumps(value)
            rc, out = self.run_codec("encode", schema, text)
            self.assertEqual(rc, 0, out)
            want = json_format.Parse(text, self.message_class(schema)(), ignore_unknown_fields=True).SerializeToString()
            self.assertEqual(binascii.unhexlify(out), want, (schema, text))

    def test_decode_matches_google_protobuf(self):
        cases = [
            ("telemetry", dict(temperature=1.25, uptime_s=-3, status="é")),
            ("telemetry", dict(humidity=0.0)),
            ("rpc_request", dict(method="m", requestId=0, params=dict(pin=-7))),
            ("attributes", dict()),
        ]
        for schema, fields in cases:
            msg = self.message_class(schema)(**fields)
            rc, out = self.run_codec("decode", schema, msg.SerializeToString().hex())
            self.assertEqual(rc, 0, out)
            want = json.loads(json_format.MessageToJson(msg, including_default_value_fields=True))
            self.assertEqual(json.loads(out), want, schema)

    def test_the_emulator_reads_what_the_core_writes(self):
        # The core encodes a reading by the generated table; the emulator (libprotobuf, the
        # profile's .proto) stores it as ThingsBoard would.
        b = shared_broker()
        prof = unique("coreprof")
        with open(os.path.join(PROTO_DIR, "telemetry.proto")) as f:
            request(b, "device_profile.add", {"name": prof, "payloadType": "PROTOBUF", "telemetryProto": f.read()})
        name, token = new_device(b)
        request(b, "device.set_profile", {"device": name, "profile": prof})
        rc, out = self.run_codec("encode", "telemetry", '{"temperature":19.25,"uptimeS":"42","status":"warm"}')
        self.assertEqual(rc, 0, out)
        d = connected_device(b, token)
        try:
            d.pub("v2/t", binascii.unhexlify(out))
            self.assertTrue(wait_for(lambda: admin(b, "telemetry", name).get("status") == "warm"))
            t = admin(b, "telemetry", name)
            self.assertEqual((t["temperature"], t["uptimeS"]), (19.25, 42))
        finally:
            d.close()

    def test_what_protobuf_refuses_the_codec_refuses(self):
        for bad in ["0a7f0102", "09000000", "0e00", "2202c328"]:
            with self.assertRaises(Exception):
                self.message_class("telemetry")().ParseFromString(binascii.unhexlify(bad))
            rc, out = self.run_codec("decode", "telemetry", bad)
            self.assertEqual((rc, out), (1, "error malformed"), bad)
        rc, out = self.run_codec("encode", "rpc_request", '{"params":"x"}')
        self.assertEqual((rc, out), (1, "error wrong_type"))


if __name__ == "__main__":
    unittest.main()
