// Shared by the Linux examples: `PROGRAM HOST PORT TOKEN [more]` into client options, connecting
// with the typed error printed, and waiting in main() for events of the client's network thread.
#pragma once

#include <tbmqtt/linux/client.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>

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

/// The optional argument argv[index] as a number, or `fallback` when it is not given.
inline int int_arg(int argc, char** argv, int index, int fallback) {
  return argc > index ? std::atoi(argv[index]) : fallback;
}

/// The wall clock in Unix milliseconds (telemetry "ts").
inline std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

/// Connects `device` (10 s). On failure prints `<who>: connect failed: <errc>` (e.g.
/// refused_credentials, unreachable) and returns false; the examples then exit with 3.
inline bool connect(tbmqtt::client& device, const char* who) {
  if (auto r = device.connect(std::chrono::seconds(10)); !r) {
    std::fprintf(stderr, "%s: connect failed: %s\n", who, tbmqtt::to_string(r.error()));
    return false;
  }
  std::printf("%s: connected\n", who);
  return true;
}

/// Counts down events that arrive on the client's network thread (arrive()); main() waits for
/// all of them with a deadline (wait()).
class countdown {
 public:
  explicit countdown(int count) : left_(count) {}
  void arrive() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (left_ > 0 && --left_ == 0) all_arrived_.notify_all();
  }
  /// @return true when every event arrived within `timeout`, false on timeout.
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return all_arrived_.wait_for(lock, timeout, [&] { return left_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable all_arrived_;
  int left_;
};

}  // namespace example
