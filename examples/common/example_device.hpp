// Shared by the examples in examples/common (one source for Linux and ESP-IDF): which client the
// platform has, its connection settings, a signal main() waits on, and the entry point. Everything
// else in those examples is the one client API (tbmqtt/device_api.hpp). Not part of the library.
//   Linux:    PROGRAM HOST PORT TOKEN [SECONDS]   (examples/linux/example_args.hpp)
//   ESP-IDF:  settings::uri / settings::token     (examples/esp-idf/common/example_settings.hpp:
//             TBMQTT_URI, TBMQTT_TOKEN at configure time, or at run time on the linux target)
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#if defined(ESP_PLATFORM)
#include "../esp-idf/common/example_client.hpp"
#include "../esp-idf/common/example_platform.hpp"
#include "../esp-idf/common/example_settings.hpp"
#include "tbmqtt/esp_idf/client.hpp"
#else
#include <condition_variable>
#include <mutex>

#include "../linux/example_args.hpp"
#include "tbmqtt/linux/client.hpp"
#endif

namespace example {

#if defined(ESP_PLATFORM)
using device_client = tbmqtt::esp_client;
using device_options = tbmqtt::esp_client_options;

/// Fills `options` (URI, token, client id) from the example settings; `seconds` from
/// TBMQTT_SECONDS (linux target) or `fallback`.
inline bool device_settings(int, char**, device_options& options, int& seconds, int fallback) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a piped transcript stays readable
  options.uri = settings::uri("mqtt://thingsboard.local:1883");
  options.access_token = settings::token("A1_TEST_TOKEN");
  options.client_id = settings::client_id();  // unique on linux
  const char* s = std::getenv("TBMQTT_SECONDS");
  seconds = s != nullptr && *s != '\0' ? std::atoi(s) : fallback;
  return true;
}

/// Something the client's task does that main waits for (a FreeRTOS semaphore).
class event {
 public:
  void arrive() { events_.arrive(); }
  bool wait(std::chrono::milliseconds timeout) { return events_.wait(1, static_cast<std::uint32_t>(timeout.count())); }

 private:
  countdown events_{1};
};

#define EXAMPLE_MAIN(run)          \
  extern "C" void app_main(void) { \
    example::init_platform();      \
    (void)run(0, nullptr);         \
  }
#else
using device_client = tbmqtt::client;
using device_options = tbmqtt::client_options;

/// Fills `options` from HOST PORT TOKEN and `seconds` from the optional 4th argument.
inline bool device_settings(int argc, char** argv, device_options& options, int& seconds, int fallback) {
  if (!options_from_args(argc, argv, "[SECONDS]", options)) return false;
  seconds = int_arg(argc, argv, 4, fallback);
  return true;
}

/// Something the client's network thread does that main waits for.
class event {
 public:
  void arrive() {
    std::lock_guard lock(m_);
    arrived_ = true;
    changed_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_);
    return changed_.wait_for(lock, timeout, [&] { return arrived_; });
  }

 private:
  std::mutex m_;
  std::condition_variable changed_;
  bool arrived_ = false;
};

#define EXAMPLE_MAIN(run) \
  int main(int argc, char** argv) { return run(argc, argv); }
#endif

}  // namespace example
