// tbmqtt — the portable device runtime (issue 13 item 3): the part of a device client that is the
// same on every platform, around one session. The platform gives it a small OS adapter (its lock,
// a wake-up for threads that wait, its clocks) and drives it from its network loop; the runtime
// owns the rest: the tick (session and attached data-point registry), attach/detach, the
// connection state and the first outcome a connect() waits for, connection events, and the flush
// condition (nothing waits for its outcome). No OS calls, no heap, no exceptions.
//
//     struct linux_os final : tbmqtt::runtime_os { ... std::recursive_mutex, condition_variable ... };
//     tbmqtt::device_runtime runtime{session, os, 50};
//     // network loop, with the lock held:  runtime.tick();
//     // session_events::on_ready:          runtime.on_ready();
//     // connection lost:                   runtime.on_connection_lost(reason);
//     // connect():                         runtime.begin_connect(); wait until runtime.outcome_known()
//     // flush():                           wait until runtime.idle()
//
// Every method is called with the platform's lock held (runtime_os::lock), except where noted.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tbmqtt/errc.hpp"

namespace tbmqtt {

class session;
class iregistry;

/// @brief Connection events: up (connected and subscribed), or down with the reason.
struct connection_event {
  bool connected;  ///< true: connected and subscribed; false: connection lost or refused.
  errc reason;     ///< Why it went down (errc{} when up).
};

/// @brief What a platform gives the runtime. Porting guide: lock()/unlock() guard the session
/// (recursive: callbacks may call back into the client); wake() tells every thread waiting for a
/// connect outcome or a flush to look again (a condition variable's notify_all, a FreeRTOS
/// semaphore give); now_ms() is a monotonic clock; unix_ms() the wall clock, 0 while unknown.
class runtime_os {
 public:
  virtual void lock() noexcept = 0;
  virtual void unlock() noexcept = 0;
  virtual void wake() noexcept = 0;
  virtual std::uint32_t now_ms() noexcept = 0;
  virtual std::uint64_t unix_ms() noexcept = 0;

 protected:
  ~runtime_os() = default;
};

/// @brief Told of connection events (on the thread that drives the runtime, lock held).
class connection_listener {
 public:
  virtual void on_connection(const connection_event& event) noexcept = 0;

 protected:
  ~connection_listener() = default;
};

/// @brief The platform-independent part of a device client (see the file comment).
class device_runtime {
 public:
  /// @param core         The session; outlives the runtime.
  /// @param os           The platform's adapter; outlives the runtime.
  /// @param tick_period_ms How often tick() ticks the session and the registry (at least 1).
  device_runtime(session& core, runtime_os& os, std::uint32_t tick_period_ms) noexcept;
  device_runtime(const device_runtime&) = delete;
  device_runtime& operator=(const device_runtime&) = delete;

  /// @brief Runs `f()` with the platform's lock held (from any thread; the lock is recursive).
  template <class F>
  decltype(auto) with_lock(F&& f) {
    struct guard {
      runtime_os& os;
      explicit guard(runtime_os& o) : os(o) { os.lock(); }
      ~guard() { os.unlock(); }
    } held{os_};
    return f();
  }

  // ---- the driver loop ----------------------------------------------------------------------
  /// @brief Ticks the session (request time-outs, the offline queue's commits and resends) and
  /// the attached registry, when tick_period_ms passed since the last time.
  void tick() noexcept;

  // ---- the data-point registry ----------------------------------------------------------------
  /// @brief Attaches `points` to the session (one registry at a time: another one is detached
  /// first; the same one again only updates `tick`) and, unless `tick` is false, ticks it.
  /// @return ok, or the registry's error (errc::queue_full, errc::invalid_argument).
  [[nodiscard]] result<void> attach(iregistry& points, bool tick = true) noexcept;
  void detach() noexcept;
  iregistry* attached() const noexcept { return points_; }

  // ---- connection ----------------------------------------------------------------------------
  /// @brief A connect() starts waiting for its first outcome (forgets an older one and any
  /// earlier connection: a refusal before this connect's first ready is its outcome).
  void begin_connect() noexcept;
  /// True once the connect() has its outcome (ready, refused, or an error before the first ready).
  bool outcome_known() const noexcept { return outcome_set_; }
  errc outcome() const noexcept { return outcome_; }
  /// @brief The session is ready (session_events::on_ready): the outcome is ok, the listener
  /// hears "up".
  void on_ready() noexcept;
  /// @brief A connection attempt was refused (CONNACK, TLS): the first one is the outcome of a
  /// waiting connect(); the listener hears "down" with `reason`.
  void on_refused(errc reason) noexcept;
  /// @brief An attempt failed without a refusal (unreachable): only the outcome of a waiting
  /// connect() before the first ready; no event (nobody refused us).
  void on_attempt_failed(errc reason) noexcept;
  /// @brief A ready connection dropped: the listener hears "down" (errc{} becomes
  /// errc::disconnected). A connection that was not ready yet drops silently.
  void on_connection_lost(errc reason) noexcept;
  /// @brief An error the session reported (session_events::on_error): a refused subscription
  /// before the first ready is the outcome of a waiting connect().
  void on_error(errc e) noexcept;
  bool ready() const noexcept { return ready_; }
  bool ever_connected() const noexcept { return ever_connected_; }
  /// @brief Where connection events go (nullptr: nowhere).
  void set_listener(connection_listener* listener) noexcept { listener_ = listener; }

  // ---- flush ---------------------------------------------------------------------------------
  /// True when no message waits for its outcome (and, with `with_store`, the session's offline
  /// queue is empty).
  bool idle(bool with_store = true) const noexcept;
  /// @brief A flush() starts (true) or stops (false) waiting; while one waits, each delivery
  /// outcome that leaves the runtime idle wakes it.
  void flush_waiting(bool on) noexcept;
  /// @brief A message's outcome arrived (session_events::on_delivered).
  void on_delivered() noexcept;

 private:
  void set_outcome(errc e) noexcept;
  void tell(const connection_event& e) noexcept {
    if (listener_ != nullptr) listener_->on_connection(e);
  }
  session& core_;
  runtime_os& os_;
  connection_listener* listener_ = nullptr;
  iregistry* points_ = nullptr;
  std::uint32_t tick_period_ms_;
  std::uint32_t last_tick_ms_ = 0;
  std::size_t flush_waiters_ = 0;
  errc outcome_{};
  bool outcome_set_ = true;  // nobody waits
  bool ready_ = false;
  bool ever_connected_ = false;
  bool tick_points_ = false;
};

}  // namespace tbmqtt
