// h40 claiming device: asks the server to let a user claim this device, with a secret the user
// must present and how long the offer stands: {"secretKey":SECRET,"durationMs":DURATION_MS}.
// The server's PUBACK only means "received"; the user then claims the device (e.g. in the UI,
// with the secret printed on its label).
//   h40_claiming HOST PORT TOKEN SECRET [DURATION_MS=60000]
// Exit status: 0 delivered, 2 usage (no secret, duration not in 1..4294967295), 3 connect
// failed, 1 not sent, 4 not acknowledged.
#include <tbmqtt/linux/client.hpp>

#include "example_args.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  if (!example::options_from_args(argc, argv, "SECRET [DURATION_MS]", options)) return 2;
  const long long duration_ms = argc > 5 ? std::atoll(argv[5]) : 60000;
  if (argc < 5 || duration_ms <= 0 || duration_ms > 4294967295LL) {  // the protocol's durationMs is 32-bit here
    std::fprintf(stderr, "usage: %s HOST PORT TOKEN SECRET [DURATION_MS in 1..4294967295]\n", argv[0]);
    return 2;
  }
  const char* secret = argv[4];

  tbmqtt::client device{options};
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
