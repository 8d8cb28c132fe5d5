// h10 telemetry upload: sends time-series data periodically, each message stamped with the
// device's clock: {"ts":<Unix ms>,"values":{"temperature":20.5,"humidity":41}} (on ESP-IDF once
// SNTP has set the clock; before that without "ts", and the server stamps it). The values are a
// made-up sensor: temperature 20 + 0.5 per message, humidity 40 + 1 per message.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    h10_telemetry_upload HOST PORT TOKEN [MESSAGES=5] [PERIOD_MS=1000]
//   ESP-IDF:  examples/esp-idf/h10_telemetry_upload (TBMQTT_MESSAGES, TBMQTT_PERIOD_MS)
// Exit status: 0 every message delivered, 3 connect failed, 1 not sent, 4 not acknowledged.
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "example_device.hpp"

namespace {

int h10_telemetry_upload(int argc, char** argv) {
  example::device_options options;
  if (!example::device_settings(argc, argv, "[MESSAGES] [PERIOD_MS]", options)) return 2;
  const long long messages = example::number_arg(argc, argv, 4, "MESSAGES", 5);
  const std::chrono::milliseconds period{example::number_arg(argc, argv, 5, "PERIOD_MS", 1000)};

  example::device_client device{options};
  if (!example::connect(device, "h10")) return 3;
  for (int i = 0; i < messages; ++i) {
    if (i > 0) example::sleep(period);
    const double temperature = 20.0 + 0.5 * i;
    const int humidity = 40 + i;
    tbmqtt::telemetry<128> t;                                               // built in place: no allocation
    if (const std::uint64_t now = example::unix_ms(); now != 0) t.at(now);  // 0: clock not set yet
    t.add("temperature", temperature).add("humidity", humidity);
    if (auto sent = device.send_telemetry(t); !sent) {  // e.g. not_enough_space, payload_too_large
      std::fprintf(stderr, "h10: message %d not sent: %s\n", i + 1, tbmqtt::to_string(sent.error()));
      return 1;
    }
    std::printf("h10: sent temperature %.1f, humidity %d\n", temperature, humidity);
  }
  if (auto r = device.flush(std::chrono::seconds(5)); !r) {  // wait for every PUBACK
    std::fprintf(stderr, "h10: not acknowledged: %s\n", tbmqtt::to_string(r.error()));
    return 4;
  }
  std::printf("h10: %lld messages delivered\n", messages);
  return 0;
}

}  // namespace

EXAMPLE_MAIN(h10_telemetry_upload)
