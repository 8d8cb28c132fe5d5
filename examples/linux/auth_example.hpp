// Shared by the Linux authentication examples a11..a31: `PROGRAM HOST PORT CREDENTIAL...` and
// the one thing each of them does once connected. Each example fills in its own credentials.
#pragma once

#include <tbmqtt/linux/client.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace example {

/// Sets host and port from HOST PORT; returns argv + 3 (the credential arguments), or nullptr
/// after printing the usage when there are not exactly `count` of them.
inline char** auth_args(int argc, char** argv, const char* usage, int count, tbmqtt::client_options& options) {
  if (argc != 3 + count) {
    std::fprintf(stderr, "usage: %s HOST PORT %s\n", argv[0], usage);
    return nullptr;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  options.host = argv[1];
  options.port = static_cast<std::uint16_t>(std::atoi(argv[2]));
  return argv + 3;
}

/// Sends `{"example":"<id>"}` once on the connected `device`, flushes. Exit status: 0 sent,
/// 1 not delivered.
inline int send_once(tbmqtt::client& device, const char* id) {
  const std::string json = std::string("{\"example\":\"") + id + "\"}";
  if (auto r = device.send_telemetry(json); !r) {
    std::fprintf(stderr, "%s: telemetry not sent: %s\n", id, tbmqtt::to_string(r.error()));
    return 1;
  }
  if (auto r = device.flush(std::chrono::seconds(5)); !r) {
    std::fprintf(stderr, "%s: telemetry not acknowledged: %s\n", id, tbmqtt::to_string(r.error()));
    return 1;
  }
  std::printf("%s: telemetry acknowledged\n", id);
  return 0;
}

/// Connects, then send_once. Exit status: 0 sent, 3 connection refused or failed (the typed
/// error is printed), 1 not delivered.
inline int send_once(const tbmqtt::client_options& options, const char* id) {
  tbmqtt::client device{options};
  if (auto r = device.connect(std::chrono::seconds(10)); !r) {
    std::fprintf(stderr, "%s: connect failed: %s\n", id, tbmqtt::to_string(r.error()));
    return 3;
  }
  std::printf("%s: connected\n", id);
  return send_once(device, id);
}

}  // namespace example
