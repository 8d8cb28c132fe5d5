// g00 hello world: connect with an access token, send telemetry, answer one server-side RPC.
//   hello_device HOST PORT TOKEN [SECONDS]
#include <tbmqtt/linux/client.hpp>

#include "example_args.hpp"

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  if (!example::options_from_args(argc, argv, "[SECONDS]", options)) return 2;
  const auto wait = std::chrono::seconds(argc > 4 ? std::atoi(argv[4]) : 30);
  tbmqtt::client device{options};

  std::mutex m;
  std::condition_variable answered;
  bool done = false;
  (void)device.on_rpc("getTemperature", [&](const tbmqtt::server_rpc& rpc) {
    std::printf("device: RPC %s %s -> replying\n", rpc.method.c_str(), rpc.params_json.c_str());
    (void)device.reply_rpc(rpc.id, R"({"temperature":21.5})");
    std::lock_guard lock(m);
    done = true;
    answered.notify_all();
  });
  if (auto r = device.connect(std::chrono::seconds(10)); !r) {
    std::fprintf(stderr, "device: connect failed: %s\n", tbmqtt::to_string(r.error()));
    return 3;
  }
  std::printf("device: connected\n");

  tbmqtt::telemetry<128> t;
  t.add("temperature", 21.5).add("humidity", 40).add("door_open", false);
  if (auto r = device.send_telemetry(t); !r) return 1;
  (void)device.flush(std::chrono::seconds(5));
  std::printf("device: telemetry acknowledged\n");

  std::unique_lock lock(m);
  if (!answered.wait_for(lock, wait, [&] { return done; })) return 4;
  lock.unlock();
  (void)device.flush(std::chrono::seconds(5));
  return 0;
}
