// h40 claiming device: asks the server to let a user claim this device, with a secret the user
// must present and how long the offer stands: {"secretKey":CLAIM_SECRET,"durationMs":DURATION_MS}.
// The server's PUBACK only means "received"; the user then claims the device (e.g. in the UI,
// with the secret printed on its label).
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    h40_claiming HOST PORT TOKEN [CLAIM_SECRET=CHANGE-ME-label-secret] [DURATION_MS=60000]
//   ESP-IDF:  examples/esp-idf/h40_claiming (TBMQTT_CLAIM_SECRET, TBMQTT_DURATION_MS)
// Exit status: 0 delivered, 2 usage (duration not in 1..4294967295), 3 connect failed,
// 1 not sent, 4 not acknowledged.
#include <chrono>
#include <cstdio>

#include "example_device.hpp"

namespace {

int h40_claiming(int argc, char** argv) {
  example::device_options options;
  if (!example::device_settings(argc, argv, "[CLAIM_SECRET] [DURATION_MS]", options)) return 2;
  const char* secret = example::text_arg(argc, argv, 4, "CLAIM_SECRET", "CHANGE-ME-label-secret");
  const long long duration_ms = example::number_arg(argc, argv, 5, "DURATION_MS", 60000);
  if (duration_ms <= 0 || duration_ms > 4294967295LL) {  // the protocol's durationMs is 32-bit here
    example::usage(argv, "TOKEN [CLAIM_SECRET] [DURATION_MS in 1..4294967295]");
    return 2;
  }

  example::device_client device{options};
  if (!example::connect(device, "h40")) return 3;
  if (auto sent = device.claim(secret, std::chrono::milliseconds(duration_ms)); !sent) {
    std::fprintf(stderr, "h40: claim not sent: %s\n", tbmqtt::to_string(sent.error()));
    return 1;
  }
  if (auto r = device.flush(std::chrono::seconds(5)); !r) {
    std::fprintf(stderr, "h40: not acknowledged: %s\n", tbmqtt::to_string(r.error()));
    return 4;
  }
  std::printf("h40: claim request delivered (valid for %lld ms)\n", duration_ms);
  return 0;
}

}  // namespace

EXAMPLE_MAIN(h40_claiming)
