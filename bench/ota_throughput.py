#!/usr/bin/python3
"""OTA throughput (MB/s) of a 4 MB image through the emulator, stop-and-wait (window 1) against
pipelined windows, at 0 ms and 20 ms added latency (the emulator's `latencyMs` setting delays
every server->device message, i.e. each chunk reply), all in one run.

    bench/ota_throughput.py BUILD_DIR [--size BYTES] [--repeats R] [--chunk-size C]
                                      [--windows 1,2,4,8,16,32] [--latencies 0,20]

Starts its own broker with the emulator plugin (tests/emulator/emu.py), runs
BUILD_DIR/bin/bench_ota_throughput once per (latency, window, repeat) and prints the median."""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import json

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--size", type=int, default=4 * 1024 * 1024)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chunk-size", type=int, default=16384)
    ap.add_argument("--windows", default="1,2,4,8,16,32")
    ap.add_argument("--latencies", default="0,20")
    a = ap.parse_args()
    build = os.path.abspath(a.build_dir)
    os.environ["EMU_BUILD_DIR"] = build
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "emulator"))
    import emu  # noqa: E402  (reads EMU_BUILD_DIR at import)

    bench = os.path.join(build, "bin", "bench_ota_throughput")
    if not os.access(bench, os.X_OK):
        sys.exit("ota_throughput.py: %s not built" % bench)
    class QuietBroker(emu.Broker):
        def write_config(self):  # the per-PUBLISH debug log would slow the broker down
            conf = super().write_config()
            with open(conf) as f:
                text = f.read().replace("log_type all", "log_type error")
            with open(conf, "w") as f:
                f.write(text)
            return conf

    broker = QuietBroker().start()
    work = tempfile.mkdtemp(prefix="tbota-bench-")
    try:
        name = "bench"
        token = emu.admin(broker, "device", "add", name)["credentials"]["token"]
        img = os.path.join(work, "image.bin")
        with open(img, "wb") as f:
            f.write(os.urandom(a.size))
        emu.admin(broker, "ota", "assign", name, img, "--title", "bench", "--version", "1")
        windows = [int(w) for w in a.windows.split(",")]
        latencies = [int(l) for l in a.latencies.split(",")]
        results = {}
        for lat in latencies:
            emu.request(broker, "settings.set", {"latencyMs": lat if lat > 0 else None})
            for w in windows:
                runs = []
                for _ in range(a.repeats):
                    r = subprocess.run([bench, "--port", str(broker.port), "--token", token, "--window", str(w),
                                        "--chunk-size", str(a.chunk_size), "--out", os.path.join(work, "out.bin")],
                                       capture_output=True, text=True, timeout=900)
                    if r.returncode != 0:
                        sys.exit("bench_ota_throughput failed: %s" % r.stderr)
                    runs.append(json.loads(r.stdout)["MBps"])
                results[(lat, w)] = statistics.median(runs)
                print("latency %3d ms  window %2d  %8.2f MB/s  (runs: %s)"
                      % (lat, w, results[(lat, w)], ", ".join("%.2f" % x for x in runs)), flush=True)
        print()
        print("| added latency | " + " | ".join("window %d" % w for w in windows) + " | best / window 1 |")
        print("|---|" + "---|" * (len(windows) + 1))
        for lat in latencies:
            base = results[(lat, 1)] if (lat, 1) in results else None
            best = max(results[(lat, w)] for w in windows)
            ratio = "%.1fx" % (best / base) if base else "-"
            print("| %d ms | " % lat + " | ".join("%.2f" % results[(lat, w)] for w in windows) + " | %s |" % ratio)
        print("\n(%d-byte image, %d-byte chunks, MB = 10^6 bytes, median of %d runs)"
              % (a.size, a.chunk_size, a.repeats))
    finally:
        broker.cleanup()
        import shutil
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
