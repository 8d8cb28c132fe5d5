// h20 attributes update: publishes client attributes, first what the device is and how it is
// set up ({"model":"tbmqtt-h20","firmwareVersion":VERSION,"ledOn":false}), then one value that
// changed ({"ledOn":true}). The server merges them: the last value of each key wins.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    h20_attributes_update HOST PORT TOKEN [FIRMWARE_VERSION=1.0.0]
//   ESP-IDF:  examples/esp-idf/h20_attributes_update (TBMQTT_FIRMWARE_VERSION)
// Exit status: 0 delivered, 3 connect failed, 1 not sent (e.g. not_enough_space), 4 not acknowledged.
#include <chrono>
#include <cstdio>

#include "example_device.hpp"

namespace {

int h20_attributes_update(int argc, char** argv) {
  example::device_options options;
  if (!example::device_settings(argc, argv, "[FIRMWARE_VERSION]", options)) return 2;
  const char* firmware_version = example::text_arg(argc, argv, 4, "FIRMWARE_VERSION", "1.0.0");

  example::device_client device{options};
  if (!example::connect(device, "h20")) return 3;
  tbmqtt::attributes<96> info;  // a builder with its buffer inside: typed values, JSON escaping
  info.add("model", "tbmqtt-h20").add("firmwareVersion", firmware_version).add("ledOn", false);
  if (auto sent = device.send_attributes(info, tbmqtt::qos::at_least_once); !sent) {
    std::fprintf(stderr, "h20: attributes not sent: %s\n", tbmqtt::to_string(sent.error()));
    return 1;
  }
  if (auto sent = device.send_attributes(R"({"ledOn":true})"); !sent) {  // JSON text works too (validated)
    std::fprintf(stderr, "h20: ledOn not sent: %s\n", tbmqtt::to_string(sent.error()));
    return 1;
  }
  if (auto r = device.flush(std::chrono::seconds(5)); !r) {
    std::fprintf(stderr, "h20: not acknowledged: %s\n", tbmqtt::to_string(r.error()));
    return 4;
  }
  std::printf("h20: attributes delivered\n");
  return 0;
}

}  // namespace

EXAMPLE_MAIN(h20_attributes_update)
