// tbmqtt — the seams of a device session: the transport port (what the core asks of an MQTT
// client), the app's events, the shape every feature engine has (session_extension), the
// session's settings and state, and the wrapping millisecond clock. Portable, no OS headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/json.hpp"
#include "tbmqtt/span.hpp"
#include "tbmqtt/wire_format.hpp"

namespace tbmqtt {

/// MQTT delivery guarantee. ThingsBoard supports 0 and 1 only.
enum class qos : std::uint8_t { at_most_once = 0, at_least_once = 1 };

/// MQTT packet id: what a transport numbers its packets with (transport_port::publish and
/// subscribe, session::on_puback / on_suback / on_publish_failed). 16 bits, reused by the
/// transport as soon as a packet is acknowledged: it names a packet on the wire, never a message
/// for the app. Messages are named by their delivery_ticket.
using message_id = std::uint16_t;

/// @brief The delivery ticket of a message: what every publish / send_* / claim / reply_rpc call
/// returns and what session_events::on_delivered(ticket, errc) reports the outcome of. One
/// counter for every message, whatever is configured (direct sends and the offline queue's
/// messages alike: a stored message's ticket is its sequence number, ticket_of(sequence)).
/// A distinct type (not an integer, not a message_id) so that a ticket and a packet id cannot be
/// mixed. 32 bits wide: it wraps after 2^32 messages (about 500 days at 100 messages/s), and the
/// tickets of the messages pending at any time are distinct as long as fewer than 2^32 are
/// pending (far more than any queue holds); a ticket may repeat only after its message's outcome
/// was reported, 2^32 messages later.
enum class delivery_ticket : std::uint32_t {};

/// The ticket of the message with sequence number `sequence` (the offline queue's numbers and
/// the publisher's one counter): its low 32 bits.
constexpr delivery_ticket ticket_of(std::uint64_t sequence) noexcept {
  return static_cast<delivery_ticket>(static_cast<std::uint32_t>(sequence));
}

/// The number of a ticket (to print or log it).
constexpr std::uint32_t to_underlying(delivery_ticket ticket) noexcept { return static_cast<std::uint32_t>(ticket); }

/// @brief One message sent and not acknowledged yet: its transport packet id and its ticket
/// (session::set_delivery_slots).
struct delivery_slot {
  delivery_ticket ticket{};
  message_id packet_id = 0;
  std::uint8_t state = 0;  ///< 0 free, 1 QoS 1 (waits for its PUBACK), 2 QoS 0 (waits to be written)
};

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
  /// @brief The outcome of a published message, once: `ticket` is what the publish call returned.
  /// errc{}: acknowledged (QoS 1) or written (QoS 0). Otherwise it is lost: errc::queue_full
  /// (dropped by the offline queue's drop_oldest policy), errc::malformed (its stored record is
  /// damaged), errc::disconnected (a QoS 0 message the connection took down before it was
  /// written, or a message whose packet id the transport gave to a newer one), errc::timeout (the
  /// transport gave up on it), errc::cancelled (the session's owner ended it), or the transport's
  /// error when it refused a stored message. Messages recovered from an earlier run's offline
  /// store get tickets the app never saw.
  virtual void on_delivered(delivery_ticket /*ticket*/, errc /*e*/) noexcept {}
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

 protected:
  ~session_events() = default;
};

/// @brief The shape of every feature engine. The session's dispatcher routes inbound topics and
/// connection events to its engines in turn: first the built-in ones (shared attributes,
/// attribute requests, server RPC, client RPC: src/core/*_engine.cpp), then those added with
/// session::add_extension (OTA, data-point registry, gateway, ...). Called on the thread that
/// feeds the session, before the app's session_events for the same event.
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
  /// Topic family (v1 / v2) and payload format (JSON / protobuf) of this connection
  /// (tbmqtt/wire_format.hpp). With a v2 family, telemetry_topic and attributes_topic left at their
  /// v1 defaults become the family's (`v2/t`, `v2/a`, ...).
  wire_format wire;
};

/// @brief Whether a message on `topic` counts as telemetry (for the telemetry rate limits and
/// data-point counts): the one place that decides it, for direct sends and the offline queue alike.
constexpr bool is_telemetry(const session_config& config, std::string_view topic) noexcept {
  return topic == config.telemetry_topic;
}

/// @brief Connection state as the core sees it.
enum class session_state : std::uint8_t {
  disconnected,  ///< No connection (initial state).
  subscribing,   ///< CONNACK seen; waiting for SUBACKs.
  ready,         ///< Connected and every subscription granted.
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

/// @brief A client's reconnect schedule over a wrapping ms clock: after each loss or failed
/// attempt (failed()), the next attempt is due reconnect_delay_ms(n, min, max, random) later, n
/// counting the attempts since the session was last up (ready() starts from min again). The ESP
/// client drives esp-mqtt's reconnects with it (auto-reconnect off); the Linux client computes
/// the same delays with reconnect_delay_ms. Not thread-safe (the owner's lock).
class reconnect_backoff {
 public:
  /// `seed`: any value (e.g. the clock at start-up); it only spreads devices' attempts.
  constexpr reconnect_backoff(std::uint32_t min_ms, std::uint32_t max_ms, std::uint32_t seed) noexcept
      : min_ms_(min_ms), max_ms_(max_ms), random_(seed != 0 ? seed : 0x9E3779B9u) {}
  /// @brief A connection dropped or an attempt failed at `now_ms`: the next attempt is due
  /// after the returned delay (a later failure before it replaces the schedule).
  std::uint32_t failed(std::uint32_t now_ms) noexcept {
    random_ ^= random_ << 13;  // xorshift32: jitter only, not secrets
    random_ ^= random_ >> 17;
    random_ ^= random_ << 5;
    const std::uint32_t delay = reconnect_delay_ms(attempt_, min_ms_, max_ms_, random_);
    if (attempt_ < 64) ++attempt_;  // min·2^64 is past any cap
    due_ms_ = now_ms + delay;
    scheduled_ = true;
    return delay;
  }
  /// True when an attempt is scheduled and its time has come.
  constexpr bool due(std::uint32_t now_ms) const noexcept { return scheduled_ && time_reached(now_ms, due_ms_); }
  constexpr bool scheduled() const noexcept { return scheduled_; }
  /// The scheduled attempt was started (or is no longer wanted).
  constexpr void cancel() noexcept { scheduled_ = false; }
  /// The session is up: the next loss waits min·[1/2, 1] again.
  constexpr void ready() noexcept { attempt_ = 0; }
  /// Attempts scheduled since the session was last up.
  constexpr std::uint32_t attempt() const noexcept { return attempt_; }

 private:
  std::uint32_t min_ms_;
  std::uint32_t max_ms_;
  std::uint32_t random_;
  std::uint32_t attempt_ = 0;
  std::uint32_t due_ms_ = 0;
  bool scheduled_ = false;
};
}  // namespace tbmqtt
