// Test fixture: a fault-injection TCP proxy on loopback, between a client and a broker. It
// forwards both directions and, on demand, adds latency, stalls (stops forwarding without
// closing: a half-open link), resets every connection periodically, delivers byte by byte, or
// truncates each connection mid-stream. Host-only test code; one poll() thread; everything it
// does is bounded (the destructor closes every socket and joins the thread).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>

namespace tbmqtt::testing {

class fault_proxy {
 public:
  /// Listens on 127.0.0.1:port() and connects each client to 127.0.0.1:`upstream_port`.
  explicit fault_proxy(std::uint16_t upstream_port);
  ~fault_proxy();
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  std::uint16_t port() const { return port_; }

  /// Delays every chunk by `delay` (both directions; 0: none).
  void set_latency(std::chrono::milliseconds delay) { latency_ms_ = static_cast<int>(delay.count()); }
  /// true: nothing is read or forwarded any more, and no socket is closed (new connections are
  /// accepted and stall too). false: forwarding resumes.
  void set_stalled(bool stalled) { stalled_ = stalled; }
  /// Resets (RST) every open connection every `period` (0: never).
  void set_reset_every(std::chrono::milliseconds period) { reset_every_ms_ = static_cast<int>(period.count()); }
  /// true: forwards one byte per send().
  void set_byte_by_byte(bool on) { byte_by_byte_ = on; }
  /// Closes each connection after it forwarded `bytes` client->server bytes, cutting the packet
  /// in progress (0: never).
  void set_truncate_after(std::size_t bytes) { truncate_after_ = bytes; }

  /// Connections accepted so far.
  int connections() const { return connections_; }
  /// Connections this proxy closed on purpose (periodic resets and truncations).
  int resets() const { return resets_; }

 private:
  void run();
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t upstream_;
  std::atomic<int> latency_ms_{0};
  std::atomic<bool> stalled_{false};
  std::atomic<int> reset_every_ms_{0};
  std::atomic<bool> byte_by_byte_{false};
  std::atomic<std::size_t> truncate_after_{0};
  std::atomic<int> connections_{0};
  std::atomic<int> resets_{0};
  std::atomic<bool> stopping_{false};
  int wake_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace tbmqtt::testing
