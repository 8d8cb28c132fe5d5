// The fault-injection proxy (fault_proxy.hpp) as a program, for tests that drive other programs
// through it (tests/integration/cli: the tbmqtt CLI under connection resets).
//
//   fault_proxy UPSTREAM_PORT [--latency MS] [--reset-every MS] [--byte-by-byte] [--truncate-after BYTES]
//
// Prints "port N" once it listens, then forwards until its stdin closes; then prints
// "connections C resets R" and exits 0. Loopback only.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fault_proxy.hpp"

int main(int argc, char** argv) {
  using tbmqtt::testing::fault_proxy;
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s UPSTREAM_PORT [--latency MS] [--reset-every MS] [--byte-by-byte] "
                 "[--truncate-after BYTES]\n",
                 argv[0]);
    return 2;
  }
  fault_proxy proxy(static_cast<std::uint16_t>(std::atoi(argv[1])));
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--latency" && has_value)
      proxy.set_latency(std::chrono::milliseconds(std::atoi(argv[++i])));
    else if (arg == "--reset-every" && has_value)
      proxy.set_reset_every(std::chrono::milliseconds(std::atoi(argv[++i])));
    else if (arg == "--truncate-after" && has_value)
      proxy.set_truncate_after(static_cast<std::size_t>(std::atoll(argv[++i])));
    else if (arg == "--byte-by-byte")
      proxy.set_byte_by_byte(true);
    else {
      std::fprintf(stderr, "fault_proxy: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  std::printf("port %u\n", static_cast<unsigned>(proxy.port()));
  std::fflush(stdout);
  char buffer[256];
  while (std::fread(buffer, 1, sizeof buffer, stdin) > 0) {}
  std::printf("connections %d resets %d\n", proxy.connections(), proxy.resets());
  std::fflush(stdout);
  return 0;
}
