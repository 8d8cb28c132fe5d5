// Shared by the examples in examples/common (one source for Linux and ESP-IDF): which client the
// platform has, where an example's settings come from, how main waits for the client's thread
// (task), sleeps and reads the clocks, and the entry point. Everything else in those examples is
// the one client API (tbmqtt/device_api.hpp). Not part of the library.
//
// Settings. Each example names its settings, e.g. h10: MESSAGES (index 4) and PERIOD_MS (5).
//   Linux:    PROGRAM HOST PORT TOKEN [MESSAGES] [PERIOD_MS]: positional, argv[index]
//             (examples/linux/CMakeLists.txt builds them; the auth examples: PROGRAM HOST PORT
//             CREDENTIAL...).
//   ESP-IDF:  the connection from examples/esp-idf/common/example_settings.hpp (TBMQTT_URI,
//             TBMQTT_TOKEN, TBMQTT_CLIENT_ID, TBMQTT_USERNAME, TBMQTT_PASSWORD: at configure time,
//             or at run time on the linux target); every other setting NAME from TBMQTT_NAME at run
//             time on the linux target (TBMQTT_MESSAGES=3); otherwise the value the example
//             writes as the fallback.
// Exit. Linux: main returns the example's exit status. ESP-IDF linux target: the process ends
// with it too (so a run is tested as on Linux); on a chip app_main returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(ESP_PLATFORM)
#include "../esp-idf/common/example_platform.hpp"  // init_platform, unix_ms
#include "../esp-idf/common/example_settings.hpp"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "sdkconfig.h"
#include "tbmqtt/esp_idf/client.hpp"
#if defined(CONFIG_IDF_TARGET_LINUX)
#include <fcntl.h>
#include <unistd.h>

#include <cstdarg>

#include "esp_log.h"
#endif
#else
#include <condition_variable>
#include <mutex>
#include <thread>

#include "../linux/example_args.hpp"  // options_from_args, unix_ms, connect
#include "tbmqtt/linux/client.hpp"
#endif

namespace example {

#if defined(ESP_PLATFORM)
using device_client = tbmqtt::esp_client;
using device_options = tbmqtt::esp_client_options;

/// Setting `name` given at run time: TBMQTT_<name> on the linux target (null when unset or empty);
/// always null on a chip.
inline const char* run_time_setting(const char* name) {
#if defined(CONFIG_IDF_TARGET_LINUX)
  char variable[64];
  std::snprintf(variable, sizeof variable, "TBMQTT_%s", name);
  const char* value = std::getenv(variable);
  if (value != nullptr && *value != '\0') return value;
#endif
  (void)name;
  return nullptr;
}

/// The TLS material (CA_FILE, CERT_FILE, KEY_FILE: the PEM text of TBMQTT_CA_FILE, ... read at
/// configure time or, on the linux target, at run time) and the provisioning settings (KEY,
/// SECRET, DEVICE_NAME: TBMQTT_PROVISION_KEY, TBMQTT_PROVISION_SECRET, TBMQTT_DEVICE_NAME) from
/// example_settings.hpp; null for any other name.
inline const char* tls_and_provisioning_setting(const char* name, const char* fallback) {
  if (std::strcmp(name, "CA_FILE") == 0) return settings::ca_pem(fallback);
  if (std::strcmp(name, "CERT_FILE") == 0) return settings::cert_pem(fallback);
  if (std::strcmp(name, "KEY_FILE") == 0) return settings::key_pem(fallback);
  if (std::strcmp(name, "KEY") == 0) return settings::provision_key(fallback);
  if (std::strcmp(name, "SECRET") == 0) return settings::provision_secret(fallback);
  if (std::strcmp(name, "DEVICE_NAME") == 0) return settings::device_name(fallback);
  return nullptr;
}

/// Setting `name` (see the top of this file); `fallback` when not given.
inline const char* text_arg(int, char**, int, const char* name, const char* fallback) {
  if (std::strcmp(name, "TOKEN") == 0) return settings::token(fallback);
  if (std::strcmp(name, "CLIENT_ID") == 0) return settings::client_id(fallback);
  if (std::strcmp(name, "USERNAME") == 0) return settings::username(fallback);
  if (std::strcmp(name, "PASSWORD") == 0) return settings::password(fallback);
  if (const char* value = tls_and_provisioning_setting(name, fallback)) return value;
  const char* value = run_time_setting(name);
  return value != nullptr ? value : fallback;
}

/// Prints the usage: which settings the example reads.
inline void usage(char** argv, const char* arguments) {
  std::fprintf(stderr, "usage: %s: settings TBMQTT_URI and TBMQTT_<NAME> for %s\n", argv[0], arguments);
}

/// The server's URI; the client id unique on linux (TBMQTT_CLIENT_ID when set).
inline void server_settings(device_options& options) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a piped transcript stays readable
  options.uri = settings::uri("mqtt://thingsboard.local:1883");
  options.client_id = settings::client_id();  // unique on linux
}

/// The server and the access token (TOKEN). Always true: settings have their fallbacks.
inline bool device_settings(int argc, char** argv, const char*, device_options& options) {
  server_settings(options);
  options.access_token = text_arg(argc, argv, 3, "TOKEN", "A1_TEST_TOKEN");
  return true;
}

/// The server only (the authentication examples set their credentials). Always true.
inline bool server_settings(int, char**, const char*, int, device_options& options) {
  server_settings(options);
  return true;
}

/// Connects `device` (15 s: Wi-Fi may still be coming up). On failure prints `<who>: connect
/// failed: <errc>` (e.g. refused_credentials, unreachable) and returns false.
inline bool connect(device_client& device, const char* who) {
  if (auto r = device.connect(std::chrono::seconds(15)); !r) {
    std::fprintf(stderr, "%s: connect failed: %s\n", who, tbmqtt::to_string(r.error()));
    return false;
  }
  std::printf("%s: connected\n", who);
  return true;
}

/// One-way TLS, the server verified against `ca` (PEM text or a file): the URI is TBMQTT_URI (it
/// should say mqtts://), else mqtts://thingsboard.local:8883. Linux: tls.enabled and the CA.
inline void use_tls(device_options& options, const char* ca) {
  options.uri = settings::uri("mqtts://thingsboard.local:8883");
  options.tls.ca = ca;
}

/// Counts events the client's task delivers (arrive()); main waits until all `count` arrived, with
/// a deadline (wait()). A FreeRTOS counting semaphore: a task blocked on it lets the others run.
/// @pre Created after the scheduler started (in app_main or a task).
class event {
 public:
  explicit event(int count = 1)
      : count_(count > 0 ? static_cast<unsigned>(count) : 0u),
        semaphore_(xSemaphoreCreateCounting(count_ > 0 ? count_ : 1u, 0)) {}
  ~event() {
    if (semaphore_ != nullptr) vSemaphoreDelete(semaphore_);
  }
  event(const event&) = delete;
  event& operator=(const event&) = delete;
  void arrive() {
    if (semaphore_ != nullptr) xSemaphoreGive(semaphore_);
  }
  /// @return true when every event arrived within `timeout` (false also when out of memory).
  bool wait(std::chrono::milliseconds timeout) {
    if (semaphore_ == nullptr) return false;
    const TickType_t start = xTaskGetTickCount();
    const TickType_t budget = pdMS_TO_TICKS(timeout.count());
    for (unsigned i = 0; i < count_; ++i) {
      const TickType_t spent = xTaskGetTickCount() - start;
      if (spent > budget || xSemaphoreTake(semaphore_, budget - spent) != pdTRUE) return false;
    }
    return true;
  }

 private:
  unsigned count_;
  SemaphoreHandle_t semaphore_;
};

/// Lets the client's task run for `duration`.
inline void sleep(std::chrono::milliseconds duration) { vTaskDelay(pdMS_TO_TICKS(duration.count())); }

/// A monotonic clock in milliseconds (wraps after 49 days), for tbmqtt::registry.
inline std::uint32_t monotonic_ms() { return static_cast<std::uint32_t>(esp_timer_get_time() / 1000); }

#if defined(CONFIG_IDF_TARGET_LINUX)
inline std::FILE* log_file = nullptr;
inline int log_to_file(const char* format, va_list args) {
  const int n = std::vfprintf(log_file, format, args);
  std::fflush(log_file);
  return n;
}
#endif

/// On the linux target with TBMQTT_LOG_FILE set (from before main()), ESP_LOG's lines (the SDK's, esp-mqtt's, NVS's) go
/// to that file (appended, owner-only) instead of stdout: stdout and stderr then carry the
/// example's own lines only, as on Linux, and its tests compare them with the Linux build's.
inline void log_to_file_if_asked() {
#if defined(CONFIG_IDF_TARGET_LINUX)
  const char* path = std::getenv("TBMQTT_LOG_FILE");
  if (path == nullptr || *path == '\0') return;
  const int fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 || (log_file = ::fdopen(fd, "a")) == nullptr) {
    std::fprintf(stderr, "TBMQTT_LOG_FILE %s: cannot open\n", path);
    std::abort();
  }
  esp_log_set_vprintf(log_to_file);
#endif
}

#if defined(CONFIG_IDF_TARGET_LINUX)
// Before main(): the FreeRTOS port logs "Starting scheduler" before app_main runs.
__attribute__((constructor)) static void log_to_file_from_the_start() { log_to_file_if_asked(); }
#endif

/// The end of an example run: on the linux target the process ends with the exit status `code`
/// (as the Linux build's main returns it); on a chip app_main returns.
inline void finish(const char* name, int code) {
#if defined(CONFIG_IDF_TARGET_LINUX)
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(code);
#else
  std::printf("%s: finished (%d)\n", name, code);
#endif
}

#define EXAMPLE_MAIN(run)                \
  extern "C" void app_main(void) {       \
    example::init_platform();            \
    static char name[] = #run;           \
    char* argv[] = {name, nullptr};      \
    example::finish(name, run(1, argv)); \
  }
#else
using device_client = tbmqtt::client;
using device_options = tbmqtt::client_options;

/// Setting argv[index], or `fallback` when not given.
inline const char* text_arg(int argc, char** argv, int index, const char*, const char* fallback) {
  return argc > index ? argv[index] : fallback;
}

/// Prints the usage: PROGRAM HOST PORT `arguments`.
inline void usage(char** argv, const char* arguments) {
  std::fprintf(stderr, "usage: %s HOST PORT %s\n", argv[0], arguments);
}

/// HOST PORT TOKEN into `options`; prints the usage (`more` after TOKEN) and returns false when
/// they are missing.
inline bool device_settings(int argc, char** argv, const char* more, device_options& options) {
  return options_from_args(argc, argv, more, options);
}

/// HOST PORT into `options` and exactly `count` more arguments (the credentials, `usage_text`);
/// prints the usage and returns false otherwise.
inline bool server_settings(int argc, char** argv, const char* usage_text, int count, device_options& options) {
  if (argc != 3 + count) {
    usage(argv, usage_text);
    return false;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  options.host = argv[1];
  options.port = static_cast<std::uint16_t>(std::atoi(argv[2]));
  return true;
}

/// One-way TLS on HOST PORT, the server verified against `ca` (PEM text or a file).
inline void use_tls(device_options& options, const char* ca) {
  options.tls.enabled = true;
  options.tls.ca = ca;
}

/// Counts events the client's network thread delivers (arrive()); main waits until all `count`
/// arrived, with a deadline (wait()).
class event {
 public:
  explicit event(int count = 1) : left_(count) {}
  void arrive() {
    std::lock_guard lock(m_);
    if (left_ > 0 && --left_ == 0) changed_.notify_all();
  }
  /// @return true when every event arrived within `timeout`.
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_);
    return changed_.wait_for(lock, timeout, [&] { return left_ <= 0; });
  }

 private:
  std::mutex m_;
  std::condition_variable changed_;
  int left_;
};

inline void sleep(std::chrono::milliseconds duration) { std::this_thread::sleep_for(duration); }

inline std::uint32_t monotonic_ms() {
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

#define EXAMPLE_MAIN(run) \
  int main(int argc, char** argv) { return run(argc, argv); }
#endif

/// Setting `name` as a number (see text_arg); `fallback` when not given.
inline long long number_arg(int argc, char** argv, int index, const char* name, long long fallback) {
  const char* text = text_arg(argc, argv, index, name, nullptr);
  return text != nullptr ? std::atoll(text) : fallback;
}

/// What an example falls back to where a chip build has no TLS material configured (TBMQTT_CA_FILE,
/// TBMQTT_CERT_FILE, TBMQTT_KEY_FILE at configure time): paste the PEM text here (Linux takes
/// the files as arguments).
inline const char* const pasted_ca =
    "-----BEGIN CERTIFICATE-----\n...paste your server's CA certificate here...\n-----END CERTIFICATE-----\n";
inline const char* const pasted_certificate =
    "-----BEGIN CERTIFICATE-----\n...paste the device certificate here...\n-----END CERTIFICATE-----\n";
inline const char* const pasted_private_key =
    "-----BEGIN PRIVATE KEY-----\n...paste the device private key here...\n-----END PRIVATE KEY-----\n";

/// Sends {"example":"<id>"} once on the connected `device` and waits for its PUBACK. Exit status:
/// 0 delivered, 1 not delivered.
inline int send_once(device_client& device, const char* id) {
  char json[48];
  std::snprintf(json, sizeof json, "{\"example\":\"%s\"}", id);
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

/// The authentication examples' run (a11..a31): connects with `options`, whose credentials are
/// the point, sends {"example":"<id>"} once and waits for its PUBACK. Exit status: 0 delivered,
/// 3 connection refused or failed (the typed error printed, e.g. refused_credentials,
/// identifier_rejected), 1 not delivered.
inline int connect_and_send_once(const device_options& options, const char* id) {
  device_client device{options};
  if (!connect(device, id)) return 3;
  return send_once(device, id);
}

}  // namespace example
