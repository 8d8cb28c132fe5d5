// tbmqtt fleet — the event loop: thousands of MQTT connections on one thread. Each connection is
// one libmosquitto client used through its non-threaded API (mosquitto_socket, loop_read,
// loop_write, loop_misc); one epoll set tells which sockets are ready. Knows MQTT, not
// ThingsBoard: fleet_device.cpp puts a core session on each link.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tbmqtt/span.hpp"

struct mosquitto;
struct mosquitto_message;

namespace tbmqtt::fleet {

/// Monotonic milliseconds since an arbitrary start.
std::uint64_t now_ms() noexcept;

/// @brief What a link reports. Called from event_loop::run_once / link methods on the loop's thread.
class link_events {
 public:
  virtual void on_connack(int code) noexcept = 0;  ///< MQTT CONNACK return code (0 accepted).
  virtual void on_lost(int rc) noexcept = 0;       ///< Connection gone (MOSQ_ERR_*, 0 after close()).
  virtual void on_message(std::string_view topic, span<const std::byte> payload) noexcept = 0;
  virtual void on_suback(int mid, int granted) noexcept = 0;
  virtual void on_puback(int mid) noexcept = 0;  ///< QoS 1: PUBACK; QoS 0: written.

 protected:
  ~link_events() = default;
};

class event_loop;

/// @brief One MQTT 3.1.1 connection on the loop. Not copyable; lives as long as its device.
class link {
 public:
  link(event_loop& loop, link_events& events);
  ~link();
  link(const link&) = delete;
  link& operator=(const link&) = delete;

  /// @brief Starts a non-blocking connect (TCP connect and CONNECT queued; the CONNACK comes
  /// through on_connack). `user`/`password` may be null. @return MOSQ_ERR_* (0: started).
  int open(const std::string& host, int port, const char* user, const char* password, int keepalive_s) noexcept;
  /// @brief Sends DISCONNECT (best effort) and closes the socket; no on_lost follows.
  void close() noexcept;
  /// @return MOSQ_ERR_*; `mid` gets the packet id.
  int publish(const char* topic, const void* payload, int size, int qos, int* mid) noexcept;
  int subscribe(const char* filter, int qos, int* mid) noexcept;
  bool is_open() const noexcept { return fd_ >= 0; }
  /// Bytes libmosquitto still has to write (0 when everything queued went out).
  bool want_write() const noexcept;

 private:
  friend class event_loop;
  void on_ready(std::uint32_t epoll_events) noexcept;  // from the loop
  void sync() noexcept;                                // flush and fix the epoll interest
  void misc() noexcept;                                // keep-alive (PINGREQ / timeout)
  void drop(int rc) noexcept;                          // socket closed by libmosquitto
  static void cb_connect(mosquitto*, void*, int);
  static void cb_disconnect(mosquitto*, void*, int);
  static void cb_message(mosquitto*, void*, const mosquitto_message*);
  static void cb_subscribe(mosquitto*, void*, int, int, const int*);
  static void cb_publish(mosquitto*, void*, int);

  event_loop& loop_;
  link_events& events_;
  mosquitto* mosq_ = nullptr;
  int fd_ = -1;
  std::uint32_t interest_ = 0;    // current epoll mask
  bool closing_ = false;          // our own close(): no on_lost
  bool close_requested_ = false;  // close() during reading_
  bool reading_ = false;          // inside loop_read (callbacks): writes wait for its end
  std::size_t index_ = 0;         // position in the loop's open list
};

/// @brief The loop: one epoll set and the list of open links (for keep-alive sweeps).
class event_loop {
 public:
  event_loop();
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  /// Waits up to `timeout_ms` for sockets and serves them; every second it also runs the
  /// keep-alive of every open link. @return the number of sockets served.
  int run_once(int timeout_ms) noexcept;
  std::size_t open_links() const noexcept { return open_.size(); }

 private:
  friend class link;
  void add(link& l) noexcept;
  void remove(link& l) noexcept;
  void watch(link& l, std::uint32_t events, bool first) noexcept;

  int epoll_fd_ = -1;
  std::vector<link*> open_;  // open links (swap-remove)
  std::uint64_t next_misc_ms_ = 0;
};

/// @brief Raises the soft open-file limit to the hard limit. @return the new soft limit.
std::uint64_t raise_open_file_limit() noexcept;

}  // namespace tbmqtt::fleet
