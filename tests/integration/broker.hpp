// Test fixture: a real mosquitto broker on a free loopback port, and a test-side peer that
// plays the ThingsBoard server over plain MQTT. Host-only test code.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "tbmqtt/linux/client.hpp"

struct mosquitto;
struct mosquitto_message;

namespace tbmqtt::testing {

/// @brief A mosquitto process on 127.0.0.1:port(), stopped (SIGTERM, then SIGKILL) by the destructor.
class broker {
 public:
  /// @param extra_config Lines appended to the generated mosquitto.conf; `{dir}` stands for
  /// the broker's own temporary directory.
  explicit broker(std::string extra_config = {}, std::uint16_t port = 0);
  ~broker();
  broker(const broker&) = delete;
  broker& operator=(const broker&) = delete;

  std::uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }
  /// Kills the broker (SIGKILL) and waits for it to exit.
  void kill();
  /// Stops it gracefully (SIGTERM), waiting for it to exit.
  void stop();
  /// Starts it again on the same port with the same configuration.
  void start();
  /// Stops it gracefully (SIGTERM: a persistent broker saves its state) and starts it again.
  void restart();

 private:
  std::string dir_;
  std::uint16_t port_;
  pid_t pid_ = -1;
};

/// @brief A received message.
struct message {
  std::string topic;
  std::string payload;
  int qos = 0;
};

/// @brief A plain MQTT client playing ThingsBoard: it subscribes to `filter` (default
/// `v1/devices/me/#`), records everything, and can answer requests through `responder`.
class peer {
 public:
  using responder = std::function<void(peer&, const message&)>;
  /// With a `client_id` the peer keeps a persistent session (clean session off), so the broker
  /// queues messages for it while it is disconnected. It reconnects and resubscribes by itself.
  explicit peer(std::uint16_t port, std::string filter = "v1/devices/me/#", std::string client_id = {});
  ~peer();

  void publish(const std::string& topic, const std::string& payload, int qos = 1);
  /// Called on the peer's thread for each message (after it is recorded).
  void set_responder(responder r);
  /// Waits until `count` messages matched `topic_prefix`; returns them (all matches).
  std::vector<message> wait_for(const std::string& topic_prefix, std::size_t count,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<message> received(const std::string& topic_prefix = "");

 private:
  static void on_message(mosquitto*, void*, const ::mosquitto_message*);
  static void on_connect(mosquitto*, void*, int rc);
  std::string filter_;
  std::string probe_;
  mosquitto* mosq_ = nullptr;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<message> messages_;
  responder responder_;
};

/// Options for a device on `b`: a token, 2 s request timeout, fast reconnects (20..300 ms).
inline tbmqtt::client_options device_options(const broker& b) {
  using namespace std::chrono_literals;
  tbmqtt::client_options o;
  o.port = b.port();
  o.access_token = "TEST_TOKEN";
  o.request_timeout = 2s;
  o.reconnect_min = 20ms;
  o.reconnect_max = 300ms;
  return o;
}

/// Waits until `predicate` is true, polling every millisecond, up to `timeout`.
bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace tbmqtt::testing
