// tbmqtt — the sans-I/O core: one ThingsBoard device session. It never does I/O, reads a clock
// or allocates. A transport feeds it events (connected, message, SUBACK, PUBACK, tick) and it
// answers through `transport_port` (publish, subscribe). App results arrive through
// `session_events`. Not thread-safe: the owner serialises calls (the Linux client uses a mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/json.hpp"
#include "tbmqtt/payload.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt {

class offline_queue;
class rate_limiter;

/// MQTT delivery guarantee. ThingsBoard supports 0 and 1 only.
enum class qos : std::uint8_t { at_most_once = 0, at_least_once = 1 };

/// Id of a published message as the transport numbered it (MQTT packet id; for QoS 0 whatever
/// the transport reports). Delivery results (on_delivered) carry the same id.
using message_id = std::uint16_t;

/// @brief What the core needs from an MQTT client. Porting guide:
/// - Called only from inside session methods, on the thread that calls the session.
/// - publish(): queue the message; return its packet id (QoS 1) or any id (QoS 0). Return
///   errc::not_connected when it cannot be queued, errc::again when the client's buffer is full.
///   The payload is only valid during the call: copy it if the message is sent later.
/// - subscribe(): send SUBSCRIBE for one filter; return its packet id. When the SUBACK arrives,
///   call session::on_suback(id, granted) with the granted QoS or 0x80 on refusal.
/// - After CONNACK call session::on_connected(); after a connection loss, on_disconnected().
///
///     struct my_port final : tbmqtt::transport_port {
///       tbmqtt::result<tbmqtt::message_id> publish(std::string_view topic,
///           tbmqtt::span<const std::byte> payload, tbmqtt::qos q) override {
///         int id = mqtt_publish(topic, payload.data(), payload.size(), int(q));
///         if (id < 0) return tbmqtt::errc::not_connected;
///         return tbmqtt::message_id(id);
///       }
///       ...
///     };
class transport_port {
 public:
  [[nodiscard]] virtual result<message_id> publish(std::string_view topic, span<const std::byte> payload,
                                                   qos q) noexcept = 0;
  [[nodiscard]] virtual result<message_id> subscribe(std::string_view filter, qos q) noexcept = 0;

 protected:
  ~transport_port() = default;
};

/// @brief A server-side RPC as received. Views are valid until the callback returns.
struct rpc_request {
  std::string_view id;      ///< Opaque request id from `v1/devices/me/rpc/request/{id}`.
  std::string_view method;  ///< Unescaped method name.
  json::value params;       ///< `params` member (absent if the server sent none).
};

/// @brief Results and server-initiated events, called on the thread that feeds the session.
/// Every method has an empty default. Views are valid until the callback returns.
class session_events {
 public:
  /// CONNACK received and every SUBACK received (a refusal is reported through on_error first).
  virtual void on_ready() noexcept {}
  /// A published message was acknowledged (QoS 1) or written (QoS 0).
  virtual void on_delivered(message_id) noexcept {}
  /// Answer to request_attributes(). On error `client` and `shared` are absent. Errors:
  /// timeout, disconnected, malformed (bad JSON, or not an object).
  virtual void on_attributes_response(std::uint32_t /*request_id*/, errc /*e*/, json::value /*client*/,
                                      json::value /*shared*/) noexcept {}
  /// Answer to call_rpc(): the server's JSON. Errors: timeout, disconnected, malformed,
  /// server_error (the reply was `{"error":..}`; `response` then holds it).
  virtual void on_rpc_response(std::uint32_t /*request_id*/, errc /*e*/, json::value /*response*/) noexcept {}
  /// A shared-attribute push matched subscription `subscription` (from subscribe_shared_attributes):
  /// `{"k":v,...}` or `{"deleted":["k"]}`.
  virtual void on_shared_attributes(std::size_t /*subscription*/, json::value /*update*/) noexcept {}
  /// A server-side RPC for a registered method (or any method, with the fallback on).
  /// Answer now or later with session::reply_rpc(request.id, json).
  virtual void on_rpc_request(const rpc_request& /*request*/) noexcept {}
  /// Something went wrong that no request owns: a refused subscription (context = filter), a
  /// malformed push or RPC request, an unknown response id, a message on an unknown topic
  /// (context = topic), an unknown RPC method (context = method; already answered with an error).
  virtual void on_error(errc /*e*/, std::string_view /*context*/) noexcept {}
  /// A message on a topic the core does not know. Return true if an extension handled it;
  /// returning false reports errc::unknown_topic through on_error.
  virtual bool on_other_message(std::string_view /*topic*/, span<const std::byte> /*payload*/) noexcept {
    return false;
  }
  /// A message of the offline queue (session::set_offline_queue) left it: acknowledged
  /// (e = errc{}), dropped by the full policy (errc::queue_full), or unsendable as stored
  /// (errc::malformed: damaged record; or the transport's error). `ticket` is what the publish
  /// call returned.
  virtual void on_forwarded(message_id /*ticket*/, errc /*e*/) noexcept {}

 protected:
  ~session_events() = default;
};

/// @brief A feature built on the session (OTA, data-point registry, gateway, ...) that needs
/// its events without going through the app. Added with session::add_extension; called on the
/// thread that feeds the session, before the app's session_events for the same event.
class session_extension {
 public:
  /// Connected and every SUBACK received.
  virtual void on_ready(std::uint32_t /*now_ms*/) noexcept {}
  /// The connection was lost.
  virtual void on_disconnected() noexcept {}
  /// Time passed (every session::tick).
  virtual void on_tick(std::uint32_t /*now_ms*/) noexcept {}
  /// Every shared-attribute push (`{"k":v}` or `{"deleted":[..]}`), whatever the app subscribed.
  virtual void on_shared_attributes(json::value /*update*/, std::uint32_t /*now_ms*/) noexcept {}
  /// An attribute response, timeout or disconnect for `request_id`. Return true when the
  /// request was this extension's own (then the app does not see it).
  virtual bool on_attributes_response(std::uint32_t /*request_id*/, errc /*e*/, json::value /*client*/,
                                      json::value /*shared*/, std::uint32_t /*now_ms*/) noexcept {
    return false;
  }
  /// A message on a topic the core does not handle itself. Return true to claim it.
  virtual bool on_message(std::string_view /*topic*/, span<const std::byte> /*payload*/,
                          std::uint32_t /*now_ms*/) noexcept {
    return false;
  }

  /// @brief Streaming (for messages too large to reassemble, such as OTA chunks): a message
  /// that arrives in fragments (session::on_message_fragment) is first offered here, before
  /// the session reassembles it. Return true to take it: its bytes then come through
  /// on_stream_fragment, in order and without gaps, and nothing is buffered; on_stream_end
  /// follows exactly once. `topic` is valid during this call only; `total` is the payload size.
  virtual bool on_stream_begin(std::string_view /*topic*/, std::size_t /*total*/, std::uint32_t /*now_ms*/) noexcept {
    return false;
  }
  /// Bytes [offset, offset + fragment.size()) of the taken message; valid during the call.
  virtual void on_stream_fragment(std::size_t /*offset*/, span<const std::byte> /*fragment*/,
                                  std::uint32_t /*now_ms*/) noexcept {}
  /// @brief The taken message is over: errc{} when all `total` bytes arrived; errc::malformed
  /// when a fragment was missing or out of order (the transport dropped one; the rest of the
  /// message is discarded); errc::disconnected when the connection dropped first.
  virtual void on_stream_end(errc /*e*/, std::uint32_t /*now_ms*/) noexcept {}

 protected:
  ~session_extension() = default;
};

/// @brief Settings of a session. Defaults match ThingsBoard's.
struct session_config {
  std::uint32_t request_timeout_ms = 10000;  ///< Attribute requests and client-side RPCs.
  std::uint32_t server_rpc_ttl_ms = 60000;   ///< How long an unanswered server RPC stays replyable.
  /// The server's max payload: outbound payloads are capped at it, and an inbound message larger
  /// than it is dropped with errc::payload_too_large (on_error, with its topic) before any of it is
  /// buffered, reassembled, streamed or parsed.
  std::size_t max_payload = TBMQTT_DEFAULT_MAX_PAYLOAD;
  qos control_qos = qos::at_least_once;                            ///< QoS of requests, replies and subscriptions.
  std::string_view telemetry_topic = "v1/devices/me/telemetry";    ///< Device profiles may rename it.
  std::string_view attributes_topic = "v1/devices/me/attributes";  ///< Device profiles may rename it.
  /// With a rate limiter (set_rate_limiter): ask the server for its limits (client RPC
  /// getSessionLimits) on every connect, and hold the offline queue until the answer (or the
  /// request timeout) so that the first burst is paced too.
  bool learn_session_limits = false;
  /// With a rate limiter: a telemetry/attributes publish that would have to wait for a rate
  /// limit fails with errc::again instead of waiting in the offline queue.
  bool fail_when_rate_limited = false;
};

/// @brief Connection state as the core sees it.
enum class session_state : std::uint8_t {
  disconnected,  ///< No connection (initial state).
  subscribing,   ///< CONNACK seen; waiting for SUBACKs.
  ready,         ///< Connected and every subscription granted.
};

/// @brief One ThingsBoard device session (sans-I/O).
class session {
 public:
  /// @param port    The transport; must outlive the session.
  /// @param events  Where results go; must outlive the session.
  session(transport_port& port, session_events& events, session_config config = {}) noexcept;
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // ---- inputs from the transport ------------------------------------------------------------

  /// CONNACK accepted: subscribes every registered filter (ThingsBoard keeps no session state).
  void on_connected(std::uint32_t now_ms) noexcept;
  /// Connection lost: every pending request ends with errc::disconnected.
  void on_disconnected() noexcept;
  /// One complete inbound message.
  void on_message(std::string_view topic, span<const std::byte> payload, std::uint32_t now_ms) noexcept;
  /// @brief One fragment of an inbound message (transports such as esp-mqtt deliver large
  /// messages in pieces). Fragments must arrive in order. The first fragment (offset 0) offers
  /// the message to the extensions (session_extension::on_stream_begin): one that takes it gets
  /// every fragment as it comes, with no buffer. Otherwise the message is reassembled and
  /// dispatched when offset + fragment size == total; one larger than the reassembly buffer is
  /// dropped and reported as errc::payload_too_large through on_error (context = topic).
  /// A fragment out of order, a changed total, or a new message before the previous one ended
  /// drops the partial message and reports errc::malformed (context = its topic).
  /// `topic` is only read with the first fragment (offset 0).
  void on_message_fragment(std::string_view topic, span<const std::byte> fragment, std::size_t offset,
                           std::size_t total, std::uint32_t now_ms) noexcept;
  /// @brief Memory for on_message_fragment (none by default: fragments are then dropped as too large).
  /// @pre The buffer outlives the session.
  void set_reassembly_buffer(span<std::byte> buffer) noexcept { reassembly_ = buffer; }
  /// SUBACK for a subscribe() id: `granted` is the granted QoS, or 0x80 for a refusal.
  void on_suback(message_id id, std::uint8_t granted) noexcept;
  /// PUBACK (QoS 1) or "written" (QoS 0) for a publish() id.
  void on_puback(message_id id) noexcept;
  /// Advances time: expires pending requests and stale server RPCs.
  void tick(std::uint32_t now_ms) noexcept;

  // ---- app commands -------------------------------------------------------------------------

  /// @brief Publishes telemetry JSON text to `v1/devices/me/telemetry` after validating it (an
  /// object, `{"ts":..,"values":{..}}`, or an array of those).
  /// While disconnected, QoS 1 messages are handed to the transport (which may queue them for
  /// the next connection) and QoS 0 messages fail with errc::not_connected.
  /// @return The message id, or errc::invalid_argument (not a JSON object/array),
  /// errc::payload_too_large, errc::not_connected, errc::again.
  [[nodiscard]] result<message_id> publish_telemetry(std::string_view json_text, qos q) noexcept;
  /// @brief Publishes a built telemetry payload (no re-validation; never allocates).
  [[nodiscard]] result<message_id> publish_telemetry(telemetry_builder& payload, qos q) noexcept;
  /// @brief Publishes client attributes (a flat JSON object) to `v1/devices/me/attributes`.
  /// @return As publish_telemetry; errc::invalid_argument unless the text is a JSON object.
  [[nodiscard]] result<message_id> publish_attributes(std::string_view json_text, qos q) noexcept;
  [[nodiscard]] result<message_id> publish_attributes(attributes_builder& payload, qos q) noexcept;

  /// @brief Requests attributes on `v1/devices/me/attributes/request/{id}` with
  /// `{"clientKeys":"a,b","sharedKeys":"c"}` (empty lists are left out; both empty asks for all).
  /// The answer comes through session_events::on_attributes_response with the same id.
  /// @return The request id, or errc::queue_full, errc::not_connected, errc::not_enough_space.
  [[nodiscard]] result<std::uint32_t> request_attributes(std::string_view client_keys, std::string_view shared_keys,
                                                         std::uint32_t now_ms) noexcept;

  /// @brief Calls a server method on `v1/devices/me/rpc/request/{id}` with
  /// `{"method":"m","params":<params_json>}` (params `{}` when empty).
  /// The answer comes through session_events::on_rpc_response with the same id.
  /// @return The request id, or errc::invalid_argument (params not JSON), errc::queue_full,
  /// errc::not_connected, errc::not_enough_space.
  [[nodiscard]] result<std::uint32_t> call_rpc(std::string_view method, std::string_view params_json,
                                               std::uint32_t now_ms) noexcept;
  /// @brief Same as call_rpc but nobody waits for an answer (one-way device RPC).
  [[nodiscard]] result<message_id> notify_rpc(std::string_view method, std::string_view params_json) noexcept;

  /// @brief Answers a server RPC on `v1/devices/me/rpc/response/{request_id}`.
  /// @return The message id, or errc::unknown_request (never received, already answered, or
  /// expired after server_rpc_ttl_ms), errc::invalid_argument (not JSON),
  /// errc::payload_too_large, errc::not_connected.
  [[nodiscard]] result<message_id> reply_rpc(std::string_view request_id, std::string_view json_text) noexcept;

  /// @brief Sends a claim request `{"secretKey":"s","durationMs":N}` to `v1/devices/me/claim`
  /// (secretKey left out when empty; durationMs when 0). The PUBACK only means "queued".
  [[nodiscard]] result<message_id> claim(std::string_view secret_key, std::uint32_t duration_ms) noexcept;

  /// @brief Registers a server-side RPC method. Requests for it reach on_rpc_request; requests
  /// for unregistered methods are answered `{"error":"unknown method: m"}` (unless the fallback
  /// is on). The first registration subscribes to `v1/devices/me/rpc/request/+`.
  /// @pre `method` outlives the session (it is stored as a view).
  /// @return ok, or errc::queue_full.
  [[nodiscard]] result<void> add_rpc_method(std::string_view method) noexcept;
  /// @brief Sends every server RPC to on_rpc_request, registered or not.
  void set_rpc_fallback(bool on) noexcept;

  /// @brief Subscribes to shared-attribute pushes for `keys` ("k1,k2"; empty means all keys).
  /// A push reaches on_shared_attributes once per matching subscription; a deletion matches
  /// when a deleted key is in the list.
  /// @pre `keys` outlives the session (it is stored as a view).
  /// @return The subscription index, or errc::queue_full.
  [[nodiscard]] result<std::size_t> subscribe_shared_attributes(std::string_view keys) noexcept;

  /// @brief Adds an MQTT filter that is kept subscribed across reconnects (for extensions such
  /// as OTA or gateway). Messages on it reach session_events::on_other_message.
  /// @pre `filter` outlives the session.
  /// @return ok, or errc::queue_full.
  [[nodiscard]] result<void> add_subscription(std::string_view filter) noexcept;

  /// @brief Adds an extension; it stays until remove_extension.
  /// @pre `extension` outlives the session, or is removed first.
  /// @return ok, or errc::queue_full (more than TBMQTT_MAX_EXTENSIONS).
  [[nodiscard]] result<void> add_extension(session_extension& extension) noexcept;
  /// @brief Removes an extension added with add_extension (no-op if it is not there); the
  /// others keep their order. Not from inside one of the extensions' hooks.
  void remove_extension(session_extension& extension) noexcept;

  /// @brief Publishes any payload to any topic, capped at max_payload (for extensions).
  [[nodiscard]] result<message_id> publish_raw(std::string_view topic, std::string_view payload, qos q) noexcept;

  session_state state() const noexcept { return state_; }
  /// Number of attribute requests and client RPCs still waiting.
  std::size_t pending_requests() const noexcept;
  const session_config& config() const noexcept { return config_; }
  /// @brief Updates the outbound payload cap (for example from getSessionLimits).
  void set_max_payload(std::size_t bytes) noexcept { config_.max_payload = bytes; }

  /// @brief Store-and-forward (tbmqtt/offline_queue.hpp): from now on every QoS 1 telemetry and
  /// attributes publish is stored in `queue` first (also while disconnected) and sent from it in
  /// order once ready; each is erased on its PUBACK. Those publish calls then return the
  /// queue's ticket (not a packet id), the outcome arrives as session_events::on_forwarded, and
  /// they fail with the queue's errors (errc::queue_full, errc::transport_error, ...).
  /// QoS 0 and every other message bypass the queue. nullptr turns it off.
  /// @pre `queue` is open() and outlives the session (or is unset first).
  void set_offline_queue(offline_queue* queue) noexcept;
  offline_queue* queue() const noexcept { return queue_; }

  /// @brief Rate-limit pacing (tbmqtt/rate_limit.hpp): messages from the offline queue go out
  /// only when `limiter` allows (they wait there, in order); every other message is counted.
  /// Without an offline queue nothing waits: with config().fail_when_rate_limited a publish
  /// over the limit fails with errc::again, otherwise it goes and is counted. The rules come
  /// from the app (rate_limiter::set) and, with learn_session_limits, from the server.
  /// @pre `limiter` outlives the session (or is unset first). nullptr turns pacing off.
  void set_rate_limiter(rate_limiter* limiter) noexcept { limiter_ = limiter; }

 private:
  enum class request_kind : std::uint8_t { none, attributes, rpc, session_limits };
  struct pending_request {
    std::uint32_t id = 0;
    std::uint32_t deadline_ms = 0;
    request_kind kind = request_kind::none;
  };
  struct subscription {
    std::string_view filter;
    message_id packet_id = 0;
    bool pending = false;
  };
  struct open_server_rpc {
    char id[TBMQTT_RPC_ID_CAPACITY] = {};
    std::uint8_t id_size = 0;
    std::uint32_t expires_ms = 0;
    bool used = false;
  };

  result<std::uint32_t> start_request(request_kind kind, std::uint32_t now_ms) noexcept;
  pending_request* find_request(std::uint32_t id, request_kind kind) noexcept;
  void finish_request(pending_request& request) noexcept { request.kind = request_kind::none; }
  void end_request(pending_request& request, errc e, std::uint32_t now_ms) noexcept;
  void deliver_attributes(std::uint32_t id, errc e, json::value client, json::value shared,
                          std::uint32_t now_ms) noexcept;
  std::uint32_t last_now_ms_ = 0;  // for inputs without a time of their own (on_disconnected)
  result<message_id> send(std::string_view topic, std::string_view payload, qos q) noexcept;
  result<message_id> send_data(bool attributes, std::string_view payload, qos q) noexcept;
  void pump_queue() noexcept;
  void request_session_limits() noexcept;
  void apply_session_limits(span<const std::byte> payload) noexcept;
  bool rate_limited(bool telemetry, std::string_view payload) noexcept;
  result<void> ensure_subscribed(std::string_view filter) noexcept;
  void subscribe_entry(subscription& entry) noexcept;
  void check_ready() noexcept;
  void handle_shared_attributes(span<const std::byte> payload) noexcept;
  void handle_attribute_response(std::uint32_t id, span<const std::byte> payload) noexcept;
  void handle_rpc_response(std::uint32_t id, span<const std::byte> payload) noexcept;
  void handle_rpc_request(std::string_view id, span<const std::byte> payload, std::uint32_t now_ms) noexcept;
  bool subscription_matches(std::string_view keys, json::value update) const noexcept;
  result<message_id> encode_rpc(std::string_view topic, std::string_view method, std::string_view params_json) noexcept;

  transport_port& port_;
  session_events& events_;
  session_config config_;
  session_state state_ = session_state::disconnected;
  std::uint32_t next_request_id_ = 1;
  pending_request requests_[TBMQTT_MAX_PENDING_REQUESTS];
  subscription subscriptions_[TBMQTT_MAX_SUBSCRIPTIONS];
  std::size_t subscription_count_ = 0;
  std::string_view rpc_methods_[TBMQTT_MAX_RPC_METHODS];
  std::size_t rpc_method_count_ = 0;
  bool rpc_fallback_ = false;
  open_server_rpc open_rpcs_[TBMQTT_MAX_OPEN_SERVER_RPCS];
  std::string_view attribute_keys_[TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS];
  session_extension* extensions_[TBMQTT_MAX_EXTENSIONS] = {};
  std::size_t extension_count_ = 0;
  span<std::byte> reassembly_;
  char reassembly_topic_[TBMQTT_TOPIC_CAPACITY] = {};
  std::size_t reassembly_topic_size_ = 0;
  std::size_t reassembled_ = 0;  // bytes of the current message so far
  std::size_t reassembly_total_ = 0;
  bool reassembling_ = false;
  session_extension* streaming_ = nullptr;  // took the message being reassembled (no buffer then)
  void drop_partial_message(errc e, bool report) noexcept;
  std::size_t attribute_subscription_count_ = 0;
  offline_queue* queue_ = nullptr;
  rate_limiter* limiter_ = nullptr;
  bool limits_pending_ = false;  // getSessionLimits asked, not answered: the queue waits
};

/// @brief True when `now` has reached `deadline` on a wrapping 32-bit millisecond clock
/// (valid while the two are less than 2^31 ms, about 24 days, apart).
constexpr bool time_reached(std::uint32_t now_ms, std::uint32_t deadline_ms) noexcept {
  return static_cast<std::int32_t>(now_ms - deadline_ms) >= 0;
}

/// @brief Delay before reconnect attempt `attempt` (0-based): min·2^attempt capped at max,
/// then "equal jitter" from `random` (any 32-bit random number): a value in [d/2, d].
constexpr std::uint32_t reconnect_delay_ms(std::uint32_t attempt, std::uint32_t min_ms, std::uint32_t max_ms,
                                           std::uint32_t random) noexcept {
  std::uint64_t delay = min_ms;
  for (std::uint32_t i = 0; i < attempt && delay != 0 && delay < max_ms; ++i) delay *= 2;
  if (delay > max_ms) delay = max_ms;
  const std::uint64_t half = delay / 2;
  return static_cast<std::uint32_t>(half + (half == 0 ? 0 : random % (delay - half + 1)));
}

}  // namespace tbmqtt
