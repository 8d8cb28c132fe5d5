// tbmqtt — OTA download throughput: one download of the package assigned to the device, through
// client::enable_ota with a file_sink, timed from DOWNLOADING to UPDATING. Prints one JSON line:
//   {"window":W,"chunkSize":C,"bytes":N,"seconds":S,"MBps":X,"requests":R}
// Run by bench/ota_throughput.py, which starts the emulator, assigns the image and sets latency.
//
//   bench_ota_throughput --port P --token T [--window W] [--chunk-size C] [--out PATH]
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "tbmqtt/linux/client.hpp"
#include "tbmqtt/linux/platform.hpp"

int main(int argc, char** argv) {
  std::string token, out = "/tmp/tbmqtt-ota-bench.bin";
  int port = 1883, window = 8;
  unsigned chunk = 16384;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--port")
      port = std::atoi(argv[i + 1]);
    else if (k == "--token")
      token = argv[i + 1];
    else if (k == "--window")
      window = std::atoi(argv[i + 1]);
    else if (k == "--chunk-size")
      chunk = static_cast<unsigned>(std::atol(argv[i + 1]));
    else if (k == "--out")
      out = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: %s --port P --token T [--window W] [--chunk-size C] [--out PATH]\n", argv[0]);
      return 2;
    }
  }
  tbmqtt::client_options options;
  options.port = static_cast<std::uint16_t>(port);
  options.access_token = token;
  tbmqtt::client device{options};
  tbmqtt::file_sink sink{out};
  tbmqtt::ota_config config;
  config.window = static_cast<std::uint8_t>(window);
  config.chunk_size = chunk;

  std::mutex m;
  std::condition_variable cv;
  bool done = false, failed = false;
  std::string error;
  std::chrono::steady_clock::time_point t0, t1;
  std::uint64_t bytes = 0;
  tbmqtt::ota_handlers h;
  h.on_state = [&](tbmqtt::ota_kind, tbmqtt::ota_state s, tbmqtt::errc, std::string_view detail) {
    std::lock_guard lock(m);
    if (s == tbmqtt::ota_state::downloading) t0 = std::chrono::steady_clock::now();
    if (s == tbmqtt::ota_state::downloaded) t1 = std::chrono::steady_clock::now();
    if (s == tbmqtt::ota_state::failed) failed = done = true, error = std::string(detail);
    cv.notify_all();
  };
  h.on_ready = [&](tbmqtt::ota_kind, const tbmqtt::ota_package& p) {
    std::lock_guard lock(m);
    bytes = p.size;
    done = true;  // after UPDATING: on_ready comes last
    cv.notify_all();
  };
  if (!device.enable_ota(config, sink, nullptr, h)) return 1;
  if (auto r = device.connect(std::chrono::seconds(10)); !r) {
    std::fprintf(stderr, "connect: %s\n", tbmqtt::to_string(r.error()));
    return 3;
  }
  std::unique_lock lock(m);
  if (!cv.wait_for(lock, std::chrono::minutes(10), [&] { return done; }) || failed) {
    std::fprintf(stderr, "download failed: %s\n", error.c_str());
    return 1;
  }
  const double s = std::chrono::duration<double>(t1 - t0).count();
  std::printf("{\"window\":%d,\"chunkSize\":%u,\"bytes\":%llu,\"seconds\":%.4f,\"MBps\":%.3f}\n", window, chunk,
              static_cast<unsigned long long>(bytes), s, static_cast<double>(bytes) / s / 1e6);
  std::remove(out.c_str());
  return 0;
}
