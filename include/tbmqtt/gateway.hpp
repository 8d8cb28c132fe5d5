// tbmqtt — the ThingsBoard gateway API (thingsboard-protocol.md §7): a device flagged as a gateway
// speaks for sub-devices ("children") over `v1/gateway/*`. Sans-I/O like the session: it publishes
// through a tbmqtt::session, gets its inbound messages and time as a session_extension, never
// allocates, never reads a clock and is not thread-safe (call it where you call the session).
// Every gateway publish uses QoS 1, as the protocol asks.
//
//     struct app final : tbmqtt::gateway_listener {
//       tbmqtt::igateway* gw = nullptr;
//       void on_rpc_request(const tbmqtt::gateway_rpc_request& rpc) noexcept override {
//         (void)gw->reply_rpc(rpc.device, rpc.id, "{\"ok\":true}");   // now or later
//       }
//     } listener;
//     tbmqtt::gateway<8> gw{listener};                // 8 sub-devices, default payload buffer
//     listener.gw = &gw;
//     (void)gw.attach(session);                        // session.add_extension(gw) + subscriptions
//     (void)gw.connect_device("thermostat-1", "thermostat");
//     (void)gw.publish_telemetry("thermostat-1", "{\"temp\":21.5}");   // {"thermostat-1":[{"temp":21.5}]}
//
// Sub-devices the app connected (connect_device) are the gateway's "known" devices: shared-attribute
// pushes and RPCs reach the listener only for them (ThingsBoard forgets a gateway's children when
// its connection closes, so the gateway announces every known device again after each reconnect).
// Telemetry, attributes, attribute requests and claims may name any device; ThingsBoard creates a
// child the first time its name appears.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/json.hpp"
#include "tbmqtt/session.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt {

/// Gateway topics (thingsboard-protocol.md §7).
namespace topics {
inline constexpr std::string_view gateway_connect = "v1/gateway/connect";
inline constexpr std::string_view gateway_disconnect = "v1/gateway/disconnect";
inline constexpr std::string_view gateway_telemetry = "v1/gateway/telemetry";
/// Sub-device client attributes go up here; shared-attribute pushes come down here.
inline constexpr std::string_view gateway_attributes = "v1/gateway/attributes";
inline constexpr std::string_view gateway_attribute_request = "v1/gateway/attributes/request";
inline constexpr std::string_view gateway_attribute_response = "v1/gateway/attributes/response";
/// Server RPCs to sub-devices come down here; the replies go up here.
inline constexpr std::string_view gateway_rpc = "v1/gateway/rpc";
inline constexpr std::string_view gateway_claim = "v1/gateway/claim";
}  // namespace topics

/// Which attributes of a sub-device a request reads (`"client":true` or `false` on the wire).
enum class attribute_scope : std::uint8_t { client, shared };

/// @brief A server-side RPC for a sub-device, as received on `v1/gateway/rpc`:
/// `{"device":"A","data":{"id":7,"method":"m","params":{..}}}`. Views are valid until the
/// callback returns.
struct gateway_rpc_request {
  std::string_view device;  ///< Unescaped sub-device name (a connected device).
  std::uint32_t id = 0;     ///< `data.id`; pass it to reply_rpc.
  std::string_view method;  ///< Unescaped method name (cut to 64 bytes if longer).
  json::value params;       ///< `data.params` (absent if the server sent none).
};

/// @brief The answer to a sub-device attribute request (`v1/gateway/attributes/response`):
/// `{"id":1,"device":"A","value":v}` when one value was found, `{"id":1,"device":"A","values":{..}}`
/// for several, neither when nothing was found. Views are valid until the callback returns.
struct gateway_attributes_answer {
  std::string_view device;  ///< Unescaped device name as answered (empty on error).
  json::value value;        ///< The single value (absent unless the one-value form was sent).
  json::value values;       ///< An object of the values found (absent unless sent).
};

/// @brief The one-value form of a gateway attribute answer (gateway_attributes_answer::value,
/// which names no key) as the object form `{"<key>":<value>}`, `key` being the one key that was
/// requested. @return A view of the object inside `out`, or errc::not_enough_space,
/// errc::invalid_argument (`value` absent, or `key` not UTF-8).
[[nodiscard]] result<std::string_view> write_single_attribute(span<char> out, std::string_view key,
                                                              json::value value) noexcept;

/// @brief What the app hears from a gateway, on the thread that feeds the session. Every method
/// has an empty default. Views are valid until the callback returns.
class gateway_listener {
 public:
  /// A shared-attribute push for connected sub-device `device`: `data` is `{"k":v,..}` or
  /// `{"deleted":["k",..]}`.
  virtual void on_attribute_update(std::string_view /*device*/, json::value /*data*/) noexcept {}
  /// A server RPC for a connected sub-device. Answer now or later with igateway::reply_rpc.
  virtual void on_rpc_request(const gateway_rpc_request& /*request*/) noexcept {}
  /// The answer to request_attributes() `request_id`. Errors (the answer's fields are then empty):
  /// timeout, disconnected, malformed (no `device`, or `values` is not an object), wrong_type
  /// (`device` is not a string).
  virtual void on_attributes_response(std::uint32_t /*request_id*/, errc /*e*/,
                                      const gateway_attributes_answer& /*answer*/) noexcept {}
  /// Server input nobody waits for was bad; `context` is the whole payload, so nothing is lost:
  /// malformed (not a JSON object, or a required member missing), wrong_type (a member of the
  /// wrong type), unknown_device (a push or RPC for a device that is not connected; an RPC is also
  /// answered `{"error":"unknown device: A"}`), unknown_request (an attribute answer whose id
  /// nobody waits for), queue_full (an RPC with no free slot; answered `{"error":"gateway busy"}`).
  virtual void on_error(errc /*e*/, std::string_view /*context*/) noexcept {}

 protected:
  ~gateway_listener() = default;
};

/// @brief Builds a `v1/gateway/telemetry` payload for one or several sub-devices; every device's
/// value is an array of entries:
///
///     tbmqtt::gateway_telemetry<256> t;
///     t.device("A").add("t", 1).device("B").at(1700000000000).add("u", 2);
///     // {"A":[{"t":1}],"B":[{"ts":1700000000000,"values":{"u":2}}]}
///
/// at(ts) starts a `{"ts":..,"values":{..}}` entry; add() without at() fills a plain `{..}` entry.
/// Name each device once. Never allocates.
class igateway_telemetry {
 public:
  /// Starts the entries of sub-device `name`.
  igateway_telemetry& device(std::string_view name) noexcept;
  /// Starts a new `{"ts":..,"values":{..}}` entry of the current device.
  igateway_telemetry& at(std::uint64_t ts_ms) noexcept;
  template <typename T>
  igateway_telemetry& add(std::string_view key, T value) noexcept {
    open_entry();
    writer_.key(key).value(value);
    return *this;
  }
  /// Adds a member whose value is JSON text, validated.
  igateway_telemetry& add_json(std::string_view key, std::string_view json_text) noexcept;
  /// @brief Closes the document (idempotent; adding afterwards is an error).
  /// @return The payload, or errc::not_enough_space, errc::invalid_argument (NaN, bad raw JSON, a
  /// value before any device(), or a device without values).
  [[nodiscard]] result<std::string_view> finish() noexcept;
  /// Forgets everything; the builder can be reused.
  void clear() noexcept;

 protected:
  explicit igateway_telemetry(span<char> buffer) noexcept : writer_(buffer) { clear(); }

 private:
  void open_entry() noexcept;
  void close_entry() noexcept;
  void close_device() noexcept;
  json::writer writer_;
  bool finished_ = false;
  bool device_open_ = false;
  bool device_empty_ = false;  // the open device has no entry yet
  bool entry_open_ = false;
  bool entry_has_ts_ = false;
  bool bad_ = false;  // a value came before any device(), or a device had none
  std::uint32_t devices_ = 0;
};

/// @brief An igateway_telemetry with a buffer of N bytes inside.
template <std::size_t N>
class gateway_telemetry : public igateway_telemetry {
 public:
  gateway_telemetry() noexcept : igateway_telemetry({storage_, N}) {}
  gateway_telemetry(const gateway_telemetry&) = delete;
  gateway_telemetry& operator=(const gateway_telemetry&) = delete;

 private:
  char storage_[N];
};

/// @brief Builds a `v1/gateway/attributes` payload: `{"A":{"k":"v"},"B":{"k":2}}`. Never allocates.
class igateway_attributes {
 public:
  /// Starts the attributes of sub-device `name`.
  igateway_attributes& device(std::string_view name) noexcept;
  template <typename T>
  igateway_attributes& add(std::string_view key, T value) noexcept {
    check_device();
    writer_.key(key).value(value);
    device_empty_ = false;
    return *this;
  }
  /// Adds a member whose value is JSON text, validated.
  igateway_attributes& add_json(std::string_view key, std::string_view json_text) noexcept;
  /// @brief Closes the document (idempotent). @return The payload, or errc::not_enough_space,
  /// errc::invalid_argument (as igateway_telemetry::finish).
  [[nodiscard]] result<std::string_view> finish() noexcept;
  void clear() noexcept;

 protected:
  explicit igateway_attributes(span<char> buffer) noexcept : writer_(buffer) { clear(); }

 private:
  void check_device() noexcept;
  json::writer writer_;
  bool finished_ = false;
  bool device_open_ = false;
  bool device_empty_ = false;
  bool bad_ = false;
  std::uint32_t devices_ = 0;
};

/// @brief An igateway_attributes with a buffer of N bytes inside.
template <std::size_t N>
class gateway_attributes : public igateway_attributes {
 public:
  gateway_attributes() noexcept : igateway_attributes({storage_, N}) {}
  gateway_attributes(const gateway_attributes&) = delete;
  gateway_attributes& operator=(const gateway_attributes&) = delete;

 private:
  char storage_[N];
};

/// @brief The capacity-erased gateway; use tbmqtt::gateway<> to get one with storage.
class igateway : public session_extension {
 public:
  igateway(const igateway&) = delete;
  igateway& operator=(const igateway&) = delete;

  /// @brief Binds the gateway to `s`: adds it as an extension (session::add_extension) and keeps
  /// `v1/gateway/attributes`, `v1/gateway/rpc` and `v1/gateway/attributes/response` subscribed.
  /// A second attach to the same session is a no-op. If `s` is ready, the connected devices are
  /// announced at once. A non-gateway device gets those subscriptions refused
  /// (errc::subscription_refused through session_events::on_error).
  /// @pre s outlives the gateway, or detach() is called first.
  /// @return ok, or errc::invalid_argument (attached to another session), errc::queue_full.
  [[nodiscard]] result<void> attach(session& s) noexcept;
  /// @brief Unbinds from the session; pending requests end with errc::cancelled. No-op when not attached.
  void detach() noexcept;

  /// @brief Connects sub-device `name`: `{"device":"A","type":"T"}` on `v1/gateway/connect`
  /// (`type` left out when empty). The device becomes known: its pushes and RPCs reach the listener,
  /// and it is announced again after every reconnect. While offline it is only remembered (and
  /// announced when the session is ready). Connecting a known device again re-sends the connect.
  /// @pre name is not empty.
  /// @return ok, or errc::not_enough_space (name or type longer than TBMQTT_GATEWAY_NAME_CAPACITY),
  /// errc::queue_full (no room for another device), errc::not_open (not attached), or the
  /// publish errors (again, payload_too_large, invalid_argument for text that is not UTF-8).
  [[nodiscard]] result<void> connect_device(std::string_view name, std::string_view type = {}) noexcept;
  /// @brief Disconnects sub-device `name`: `{"device":"A"}` on `v1/gateway/disconnect` (sent
  /// whether or not the device was connected here, while online). It stops being known: its open
  /// RPCs can no longer be answered.
  /// @pre name is not empty.
  /// @return ok, or errc::not_open (not attached), or the publish errors.
  [[nodiscard]] result<void> disconnect_device(std::string_view name) noexcept;
  /// @brief True when `name` is connected through this gateway (connect_device, no disconnect since).
  bool is_connected(std::string_view name) const noexcept;
  /// Number of connected sub-devices.
  std::size_t device_count() const noexcept;

  /// @brief Publishes telemetry JSON text for one sub-device: the text (`{..}`, `{"ts":..,"values":{..}}`
  /// or an array of those) becomes `{"A":[..]}` (an object is wrapped in an array).
  /// @return The message id, or errc::invalid_argument (not telemetry JSON), errc::not_enough_space
  /// (payload buffer), errc::payload_too_large, errc::not_open (not attached), errc::again.
  [[nodiscard]] result<delivery_ticket> publish_telemetry(std::string_view device, std::string_view json_text) noexcept;
  /// @brief Publishes a built multi-device telemetry payload (never allocates, no re-validation).
  [[nodiscard]] result<delivery_ticket> publish_telemetry(igateway_telemetry& payload) noexcept;
  /// @brief Publishes client attributes (a JSON object) of one sub-device as `{"A":{..}}`.
  /// @return As publish_telemetry; errc::invalid_argument unless the text is a JSON object.
  [[nodiscard]] result<delivery_ticket> publish_attributes(std::string_view device,
                                                           std::string_view json_text) noexcept;
  [[nodiscard]] result<delivery_ticket> publish_attributes(igateway_attributes& payload) noexcept;

  /// @brief Reads attributes of sub-device `device` on `v1/gateway/attributes/request`:
  /// `{"id":N,"device":"A","client":true|false,"key":"k"}` for one key, `"keys":["a","b"]` for a
  /// comma-separated list. The answer reaches gateway_listener::on_attributes_response with the
  /// returned id (or a timeout after session_config::request_timeout_ms).
  /// @return The request id, or errc::invalid_argument (empty device or key list),
  /// errc::queue_full, errc::not_open (not attached), errc::not_connected (offline), errc::not_enough_space.
  [[nodiscard]] result<std::uint32_t> request_attributes(std::string_view device, attribute_scope scope,
                                                         std::string_view keys, std::uint32_t now_ms) noexcept;

  /// @brief Answers RPC `id` of sub-device `device`: `{"device":"A","id":7,"data":<json_text>}`
  /// on `v1/gateway/rpc`.
  /// @return The message id, or errc::unknown_request (no such open RPC: never received, already
  /// answered, expired after session_config::server_rpc_ttl_ms, or its device disconnected),
  /// errc::invalid_argument (not JSON), errc::not_enough_space, errc::payload_too_large,
  /// errc::not_open (not attached), errc::not_connected.
  [[nodiscard]] result<delivery_ticket> reply_rpc(std::string_view device, std::uint32_t id,
                                                  std::string_view json_text) noexcept;
  /// @brief Answers RPC `id` of sub-device `device` with `{"error":"<message>"}` (the message is
  /// cut to 128 bytes, or left out if the cut would split a UTF-8 sequence and make it invalid).
  /// @return As reply_rpc.
  [[nodiscard]] result<delivery_ticket> reply_rpc_error(std::string_view device, std::uint32_t id,
                                                        std::string_view message) noexcept;

  /// @brief Claims sub-device `device`: `{"A":{"secretKey":"s","durationMs":N}}` on
  /// `v1/gateway/claim` (secretKey left out when empty, durationMs when 0). The PUBACK only means
  /// "queued". @return The message id, or errc::invalid_argument (empty device), the publish errors.
  [[nodiscard]] result<delivery_ticket> claim(std::string_view device, std::string_view secret_key,
                                              std::uint32_t duration_ms) noexcept;

  /// Attribute requests still waiting.
  std::size_t pending_requests() const noexcept;

 protected:
  struct device_slot {
    char name[TBMQTT_GATEWAY_NAME_CAPACITY] = {};
    char type[TBMQTT_GATEWAY_NAME_CAPACITY] = {};
    std::uint8_t name_size = 0;
    std::uint8_t type_size = 0;
    bool used = false;
    bool announced = false;  // the connect went out on the current connection
    std::string_view name_view() const noexcept { return {name, name_size}; }
    std::string_view type_view() const noexcept { return {type, type_size}; }
  };

  igateway(gateway_listener& listener, span<device_slot> devices, span<char> payload) noexcept
      : listener_(listener), devices_(devices), payload_(payload) {}
  ~igateway() = default;

 private:
  // session_extension hooks, defined inline: with no out-of-line virtual function the vtable is
  // emitted where it is used, so an app built with RTTI links against a core built without.
  void on_ready(std::uint32_t /*now_ms*/) noexcept override { announce_all(); }
  void on_disconnected() noexcept override { lose_connection(); }
  void on_tick(std::uint32_t now_ms) noexcept override { expire(now_ms); }
  bool on_message(std::string_view topic, span<const std::byte> payload, std::uint32_t now_ms) noexcept override {
    return handle(topic, payload, now_ms);
  }

  struct pending_request {
    std::uint32_t id = 0;
    std::uint32_t deadline_ms = 0;
    bool used = false;
  };
  struct open_rpc {
    std::uint32_t id = 0;
    std::uint32_t expires_ms = 0;
    std::uint8_t device = 0;  // index into devices_
    bool used = false;
  };

  void announce_all() noexcept;
  void lose_connection() noexcept;
  void expire(std::uint32_t now_ms) noexcept;
  bool handle(std::string_view topic, span<const std::byte> payload, std::uint32_t now_ms) noexcept;
  void handle_attribute_update(std::string_view text) noexcept;
  void handle_rpc(std::string_view text, std::uint32_t now_ms) noexcept;
  void handle_attribute_response(std::string_view text) noexcept;
  void end_requests(errc e) noexcept;
  result<delivery_ticket> announce(device_slot& slot) noexcept;
  result<delivery_ticket> send(std::string_view topic, std::string_view payload) noexcept;
  result<delivery_ticket> send_wrapped(std::string_view topic, std::string_view device, std::string_view json_text,
                                       bool wrap_in_array) noexcept;
  void reply_error(std::string_view device, std::uint32_t id, std::string_view prefix, std::string_view what) noexcept;
  device_slot* find_device(std::string_view name) noexcept;
  const device_slot* find_device(std::string_view name) const noexcept;

  gateway_listener& listener_;
  span<device_slot> devices_;
  span<char> payload_;
  session* session_ = nullptr;
  std::uint32_t next_request_id_ = 1;
  pending_request requests_[TBMQTT_GATEWAY_MAX_PENDING_REQUESTS];
  open_rpc rpcs_[TBMQTT_GATEWAY_MAX_OPEN_RPCS];
};

/// @brief A gateway for up to `Devices` connected sub-devices, building messages in a
/// `PayloadBytes` buffer. No heap.
template <std::size_t Devices = TBMQTT_GATEWAY_MAX_DEVICES, std::size_t PayloadBytes = TBMQTT_GATEWAY_PAYLOAD_CAPACITY>
class gateway final : public igateway {
  static_assert(Devices > 0 && Devices <= 255, "a gateway keeps 1..255 sub-devices");

 public:
  /// @pre listener outlives the gateway.
  explicit gateway(gateway_listener& listener) noexcept
      : igateway(listener, {devices_storage_, Devices}, {payload_storage_, PayloadBytes}) {}

 private:
  device_slot devices_storage_[Devices];
  char payload_storage_[PayloadBytes];
};

}  // namespace tbmqtt
