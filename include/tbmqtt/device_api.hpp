// tbmqtt — the handler forms of the device client API, the same on every platform
// (tbmqtt::client on Linux, tbmqtt::esp_client on ESP-IDF): std::function handlers and owned
// copies of what they are given. Hosted C++ (std::string, std::function), no OS headers; the
// protocol core (session and engines) never uses it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "tbmqtt/device_runtime.hpp"  // connection_event
#include "tbmqtt/errc.hpp"
#include "tbmqtt/json.hpp"
#include "tbmqtt/ota.hpp"  // ota_kind, ota_state, ota_package

namespace tbmqtt {

/// @brief A server-side RPC; owned copies, so it may be kept and answered later (reply_rpc).
struct server_rpc {
  std::string id;  ///< Pass to reply_rpc.
  std::string method;
  std::string params_json;  ///< Raw JSON of `params` ("" when absent).
};

/// Handles a server-side RPC (client::on_rpc, esp_client::on_rpc, on_any_rpc).
using rpc_handler = std::function<void(const server_rpc&)>;
/// Connection up/down events (on_connection).
using connection_callback = std::function<void(const connection_event&)>;
/// Errors no request owns (on_error).
using error_callback = std::function<void(errc, std::string_view context)>;
/// A message's outcome, once: errc{} (acknowledged, or written for QoS 0) or why it was lost.
using delivery_callback = std::function<void(errc)>;
/// An attribute request's answer: errc{} and the `client` / `shared` sections, or the error.
using attributes_callback = std::function<void(errc, json::value client, json::value shared)>;
/// A shared-attribute push touching the subscribed keys.
using attribute_update_callback = std::function<void(json::value update)>;
/// A client-side RPC's answer: errc{} and the server's JSON, or the error.
using rpc_response_callback = std::function<void(errc, json::value response)>;

/// @brief What the app hears from OTA (enable_ota; see tbmqtt/ota.hpp); each handler may be empty.
/// They run on the client's thread (task), as every other handler.
struct ota_handlers {
  std::function<void(ota_kind, ota_state, errc, std::string_view detail)> on_state;
  std::function<void(ota_kind, std::uint64_t received, std::uint64_t total)> on_progress;
  /// The image is verified and activated (state UPDATING): restart into it, then call
  /// confirm_ota() once the new version works.
  std::function<void(ota_kind, const ota_package&)> on_ready;
};

}  // namespace tbmqtt
