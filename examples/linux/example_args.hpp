// Shared by the Linux examples: `PROGRAM HOST PORT TOKEN [more]` into client options.
#pragma once

#include <tbmqtt/client.hpp>

#include <cstdio>
#include <cstdlib>

namespace example {

/// Fills `options` from HOST PORT TOKEN; prints the usage and returns false when they are missing.
/// Also makes stdout line-buffered, so that a piped transcript stays readable.
inline bool options_from_args(int argc, char** argv, const char* more_usage, tbmqtt::client_options& options) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s HOST PORT TOKEN %s\n", argv[0], more_usage);
    return false;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  options.host = argv[1];
  options.port = static_cast<std::uint16_t>(std::atoi(argv[2]));
  options.access_token = argv[3];
  return true;
}

}  // namespace example
