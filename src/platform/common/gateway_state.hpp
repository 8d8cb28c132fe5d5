// The gateway API's bookkeeping (tbmqtt/gateway_client.hpp), shared by the Linux and ESP-IDF
// clients: the core gateway engine on the client's session, RPC handlers by sub-device, attribute
// answers by request id. Each client reaches it through client::gateway() / esp_client::gateway()
// and gives it a client_port: its lock, its clock, its error reporting and its way of sending
// (the delivery callbacks by ticket, call_callbacks.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tbmqtt/function_ref.hpp"
#include "tbmqtt/gateway.hpp"
#include "tbmqtt/gateway_client.hpp"
#include "tbmqtt/session.hpp"

namespace tbmqtt::detail {

/// @brief What a client gives the APIs built on its session beside it (the gateway API). The
/// lock, clock and error signatures are runtime_os's and session_events's: a client's impl that
/// is both implements each once.
class client_port {
 public:
  /// The client's (recursive) lock.
  virtual void lock() noexcept = 0;
  virtual void unlock() noexcept = 0;
  /// The monotonic clock in ms (request time-outs).
  virtual std::uint32_t now_ms() noexcept = 0;
  /// Errors nobody waits for: to the client's on_error handler.
  virtual void on_error(errc e, std::string_view context) noexcept = 0;
  /// @brief Runs `publish()` (an engine call sending one message) with the lock held, as the
  /// client's own send_* do, and keeps `done` for the message's outcome (by its ticket).
  virtual result<delivery_ticket> send_message(function_ref<result<delivery_ticket>()> publish,
                                               delivery_callback done) = 0;
  /// @brief Runs `attempt()` (an engine call that may publish, returning its error or errc{})
  /// with the lock held, as the client's own requests do (ESP-IDF: from another task, errc::again
  /// while connected waits for esp-mqtt's room and tries again).
  virtual errc publish_request(function_ref<errc()> attempt) = 0;

 protected:
  ~client_port() = default;
};

/// @brief The gateway engine of one client and the app's handlers; the gateway_client is its face.
/// Everything runs with the client's lock held (the engine's listener calls come from the
/// client's thread, with the lock held).
class gateway_state : public gateway_listener {
 public:
  /// @brief A gateway for up to `Devices` sub-devices building messages of up to `PayloadBytes`,
  /// attached to `core` (an attach failure goes to port.on_error). @pre The client's lock is held.
  template <std::size_t Devices, std::size_t PayloadBytes>
  static std::unique_ptr<gateway_state> make(client_port& port, session& core);
  /// @brief As make(), but null when the memory cannot be had (ESP-IDF: no exceptions).
  template <std::size_t Devices, std::size_t PayloadBytes>
  static std::unique_ptr<gateway_state> make_nothrow(client_port& port, session& core) noexcept;
  /// @brief The gateway a client hands out when it has none (out of memory): no engine, every
  /// call fails with errc::out_of_memory (is_connected: false; handlers are not kept). One for
  /// the process, created on first use without the heap.
  static gateway_state& unavailable() noexcept;

  virtual ~gateway_state() = default;
  gateway_state(const gateway_state&) = delete;
  gateway_state& operator=(const gateway_state&) = delete;

  gateway_client& api() noexcept { return api_; }
  /// @brief Ends every waiting attribute request with errc::cancelled (the client goes away).
  void cancel_all();

 protected:
  explicit gateway_state(client_port& port) : port_(port) {}
  void set_engine(igateway& engine, session& core);

 private:
  friend class tbmqtt::gateway_client;
  struct pending_answer {
    std::vector<std::string> keys;  // as requested: names the value of a one-value answer
    gateway_client::attributes_callback done;
  };
  // Runs `body()` with the client's lock held.
  template <typename F>
  auto locked(F&& body) {
    std::lock_guard<client_port> held(port_);  // lock() and unlock(): a BasicLockable
    return body();
  }

  // Sends one message through the client's port: `publish(engine)` under the lock, `done` kept
  // for its outcome. @return Its ticket, or the engine's error.
  template <typename Publish>
  result<delivery_ticket> send(Publish&& publish, delivery_callback&& done) {
    if (engine_ == nullptr) return errc::out_of_memory;  // unavailable()
    auto call = [&] { return publish(*engine_); };
    return port_.send_message(call, std::move(done));
  }

  // ---- gateway_listener (lock held) ----
  void on_attribute_update(std::string_view device, json::value data) noexcept override;
  void on_rpc_request(const gateway_rpc_request& request) noexcept override;
  void on_attributes_response(std::uint32_t id, errc e, const gateway_attributes_answer& answer) noexcept override;
  void on_error(errc e, std::string_view context) noexcept override { port_.on_error(e, context); }

  client_port& port_;
  igateway* engine_ = nullptr;
  gateway_client api_{*this};
  std::unordered_map<std::uint32_t, pending_answer> answers_;
  std::map<std::string, gateway_client::rpc_handler, std::less<>> rpc_handlers_;
  gateway_client::rpc_handler any_rpc_;
  gateway_client::update_handler update_;
};

template <std::size_t Devices, std::size_t PayloadBytes>
std::unique_ptr<gateway_state> gateway_state::make(client_port& port, session& core) {
  struct with_engine final : gateway_state {
    with_engine(client_port& p, session& s) : gateway_state(p), engine(*this) { set_engine(engine, s); }
    ~with_engine() override { engine.detach(); }  // the session outlives its extension's use
    tbmqtt::gateway<Devices, PayloadBytes> engine;
  };
  return std::make_unique<with_engine>(port, core);
}

template <std::size_t Devices, std::size_t PayloadBytes>
std::unique_ptr<gateway_state> gateway_state::make_nothrow(client_port& port, session& core) noexcept {
  struct with_engine final : gateway_state {
    with_engine(client_port& p, session& s) : gateway_state(p), engine(*this) { set_engine(engine, s); }
    ~with_engine() override { engine.detach(); }
    tbmqtt::gateway<Devices, PayloadBytes> engine;
  };
  return std::unique_ptr<gateway_state>(new (std::nothrow) with_engine(port, core));
}

}  // namespace tbmqtt::detail
