// Where a client's session results go, shared by the Linux and ESP-IDF clients (client::impl and
// esp_client::impl derive from it): a message's outcome to the delivery callback its send left
// (by ticket), answers to the request's callback (by request id), shared-attribute updates to
// their subscription's handler (call_callbacks.hpp), server RPCs to their method's handler
// (rpc_dispatch.hpp), errors no request owns to the app's on_error handler; the client's
// device_runtime hears of every outcome and error first. It is also the client_port the gateway
// API reaches the client through, with the same on_error. on_ready (and what a platform does on
// it) stays with each client. Called with the client's lock held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "call_callbacks.hpp"
#include "gateway_state.hpp"
#include "rpc_dispatch.hpp"
#include "tbmqtt/device_api.hpp"
#include "tbmqtt/device_runtime.hpp"
#include "tbmqtt/session.hpp"

namespace tbmqtt::detail {

/// @tparam Impl The client's impl: derives from client_events<Impl> and has a device_runtime
/// member named `runtime`. lock(), unlock(), now_ms(), send_message() and publish_request()
/// (client_port) are the impl's.
template <class Impl>
class client_events : public session_events, public client_port {
 public:
  call_callbacks calls;          // delivery callbacks by ticket, answers by request id, updates
  rpc_dispatch rpcs;             // server RPC handlers by method
  error_callback error_handler;  // on_error(callback): errors no request owns

  void on_delivered(delivery_ticket ticket, errc e) noexcept override {
    runtime().on_delivered();
    (void)calls.delivered(ticket, e);
  }
  void on_attributes_response(std::uint32_t id, errc e, json::value client_section,
                              json::value shared) noexcept override {
    (void)calls.attributes(id, e, client_section, shared);
  }
  void on_rpc_response(std::uint32_t id, errc e, json::value response) noexcept override {
    (void)calls.rpc_response(id, e, response);
  }
  void on_shared_attributes(std::size_t subscription, json::value update) noexcept override {
    (void)calls.shared(subscription, update);
  }
  void on_rpc_request(const rpc_request& request) noexcept override { (void)rpcs.dispatch(request); }
  void on_error(errc e, std::string_view context) noexcept override {
    runtime().on_error(e);
    if (error_handler) error_handler(e, context);
  }

 protected:
  client_events() = default;
  ~client_events() = default;
  client_events(const client_events&) = delete;
  client_events& operator=(const client_events&) = delete;

 private:
  device_runtime& runtime() noexcept { return static_cast<Impl&>(*this).runtime; }
};

}  // namespace tbmqtt::detail
