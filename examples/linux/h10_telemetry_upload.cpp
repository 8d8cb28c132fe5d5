// h10 telemetry upload: sends time-series data periodically, each message stamped with the
// device's clock: {"ts":<Unix ms>,"values":{"temperature":20.5,"humidity":41}}. The values are
// a made-up sensor: temperature 20 + 0.5 per message, humidity 40 + 1 per message.
//   h10_telemetry_upload HOST PORT TOKEN [MESSAGES=5] [PERIOD_MS=1000]
// Exit status: 0 every message delivered, 3 connect failed, 1 not sent, 4 not acknowledged.
#include <tbmqtt/linux/client.hpp>

#include "example_args.hpp"

#include <chrono>
#include <cstdio>
#include <thread>

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  if (!example::options_from_args(argc, argv, "[MESSAGES] [PERIOD_MS]", options)) return 2;
  const int messages = example::int_arg(argc, argv, 4, 5);
  const std::chrono::milliseconds period{example::int_arg(argc, argv, 5, 1000)};

  tbmqtt::client device{options};
  if (!example::connect(device, "h10")) return 3;
  for (int i = 0; i < messages; ++i) {
    if (i > 0) std::this_thread::sleep_for(period);
    const double temperature = 20.0 + 0.5 * i;
    const int humidity = 40 + i;
    tbmqtt::telemetry<128> t;  // built in place: no allocation
    t.at(example::unix_ms()).add("temperature", temperature).add("humidity", humidity);
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
  std::printf("h10: %d messages delivered\n", messages);
  return 0;
}
