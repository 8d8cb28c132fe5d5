// g00 hello world, one source for Linux and ESP-IDF: connect with an access token, send telemetry,
// answer one server-side RPC ("getTemperature").
//   Linux:    hello_device HOST PORT TOKEN [SECONDS]         (built by CMake: examples/linux)
//   ESP-IDF:  examples/esp-idf/hello_device (TBMQTT_URI, TBMQTT_TOKEN, TBMQTT_SECONDS; see
//             examples/common/example_device.hpp)
#include <chrono>
#include <cstdio>

#include "example_device.hpp"

namespace {

int hello_device(int argc, char** argv) {
  example::device_options options;
  if (!example::device_settings(argc, argv, "[SECONDS]", options)) return 2;
  const long long seconds = example::number_arg(argc, argv, 4, "SECONDS", 30);
  example::event answered;  // declared before the client, whose thread calls it
  example::device_client device{options};

  (void)device.on_rpc("getTemperature", [&](const tbmqtt::server_rpc& rpc) {
    std::printf("device: RPC %s %s -> replying\n", rpc.method.c_str(), rpc.params_json.c_str());
    (void)device.reply_rpc(rpc.id, R"({"temperature":21.5})");
    answered.arrive();
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

  if (!answered.wait(std::chrono::seconds(seconds))) return 4;
  (void)device.flush(std::chrono::seconds(5));  // the reply
  return 0;
}

}  // namespace

EXAMPLE_MAIN(hello_device)
