// tbmqtt — the sans-I/O core: one ThingsBoard device session. It never does I/O, reads a clock
// or allocates. A transport feeds it events (connected, message, SUBACK, PUBACK, tick) and it
// answers through `transport_port` (publish, subscribe). App results arrive through
// `session_events`. Not thread-safe: the owner serialises calls (the Linux client uses a mutex).
// The session is a façade: a dispatcher routes each inbound topic to one feature engine
// (tbmqtt/detail/*_engine.hpp, src/core/*_engine.cpp), and every engine sends through one
// publisher (tbmqtt/detail/publisher.hpp). docs/architecture.md draws the picture.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/detail/attribute_request_engine.hpp"
#include "tbmqtt/detail/claim_engine.hpp"
#include "tbmqtt/detail/client_rpc_engine.hpp"
#include "tbmqtt/detail/reassembler.hpp"
#include "tbmqtt/detail/server_rpc_engine.hpp"
#include "tbmqtt/detail/session_context.hpp"
#include "tbmqtt/detail/shared_attributes_engine.hpp"
#include "tbmqtt/detail/upload_engine.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/json.hpp"
#include "tbmqtt/payload.hpp"
#include "tbmqtt/session_ports.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt {

class ioffline_queue;
class rate_limiter;

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
  void set_reassembly_buffer(span<std::byte> buffer) noexcept { reassembly_.set_buffer(buffer); }
  /// SUBACK for a subscribe() id: `granted` is the granted QoS, or 0x80 for a refusal.
  void on_suback(message_id id, std::uint8_t granted) noexcept;
  /// PUBACK (QoS 1) or "written" (QoS 0) for the packet id transport_port::publish returned.
  void on_puback(message_id id) noexcept;
  /// The transport gave up on packet `id` (it expired from its outbox: errc::timeout): the
  /// message's outcome is `e`. A message of the offline queue stays stored (sent again later).
  void on_publish_failed(message_id id, errc e) noexcept { ctx_.out.on_publish_failed(id, e); }
  /// Advances time: expires pending requests and stale server RPCs.
  void tick(std::uint32_t now_ms) noexcept;

  // ---- app commands -------------------------------------------------------------------------

  /// @brief Publishes telemetry JSON text to `v1/devices/me/telemetry` after validating it (an
  /// object, `{"ts":..,"values":{..}}`, or an array of those).
  /// While disconnected, QoS 1 messages are handed to the transport (which may queue them for
  /// the next connection) and QoS 0 messages fail with errc::not_connected.
  /// Every publish call (telemetry, attributes, claim, RPC replies, publish_raw) returns a
  /// delivery ticket from one counter, whatever is configured; the message's outcome arrives once
  /// as session_events::on_delivered(ticket, errc).
  /// @return The ticket, or errc::invalid_argument (not a JSON object/array),
  /// errc::payload_too_large, errc::not_connected, errc::again (over a rate limit with
  /// fail_when_rate_limited, or every delivery slot is waiting: set_delivery_slots); with an
  /// offline queue the queue's errors (errc::queue_full, errc::transport_error, ...).
  [[nodiscard]] result<delivery_ticket> publish_telemetry(std::string_view json_text, qos q) noexcept;
  /// @brief Publishes a built telemetry payload (no re-validation; never allocates).
  [[nodiscard]] result<delivery_ticket> publish_telemetry(itelemetry& payload, qos q) noexcept;
  /// @brief Publishes client attributes (a flat JSON object) to `v1/devices/me/attributes`.
  /// @return As publish_telemetry; errc::invalid_argument unless the text is a JSON object.
  [[nodiscard]] result<delivery_ticket> publish_attributes(std::string_view json_text, qos q) noexcept;
  [[nodiscard]] result<delivery_ticket> publish_attributes(iattributes& payload, qos q) noexcept;

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
  [[nodiscard]] result<delivery_ticket> notify_rpc(std::string_view method, std::string_view params_json) noexcept;

  /// @brief Answers a server RPC on `v1/devices/me/rpc/response/{request_id}`.
  /// @return The message id, or errc::unknown_request (never received, already answered, or
  /// expired after server_rpc_ttl_ms), errc::invalid_argument (not JSON),
  /// errc::payload_too_large, errc::not_connected.
  [[nodiscard]] result<delivery_ticket> reply_rpc(std::string_view request_id, std::string_view json_text) noexcept;

  /// @brief Sends a claim request `{"secretKey":"s","durationMs":N}` to `v1/devices/me/claim`
  /// (secretKey left out when empty; durationMs when 0). The PUBACK only means "queued".
  [[nodiscard]] result<delivery_ticket> claim(std::string_view secret_key, std::uint32_t duration_ms) noexcept;

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
  [[nodiscard]] result<delivery_ticket> publish_raw(std::string_view topic, std::string_view payload, qos q) noexcept;

  session_state state() const noexcept { return ctx_.state; }
  /// Number of attribute requests and client RPCs still waiting.
  std::size_t pending_requests() const noexcept;
  const session_config& config() const noexcept { return ctx_.config; }
  /// @brief Updates the outbound payload cap (for example from getSessionLimits).
  void set_max_payload(std::size_t bytes) noexcept { ctx_.config.max_payload = bytes; }

  /// @brief Store-and-forward (tbmqtt/offline_queue.hpp): from now on every QoS 1 telemetry and
  /// attributes publish is stored in `queue` first (also while disconnected) and sent from it in
  /// order once ready; each is erased on its PUBACK. Their tickets come from the same counter as
  /// every other message's (a stored message's ticket is ticket_of(its sequence number)), and
  /// their outcome arrives through on_delivered like every other's; they fail with the queue's errors
  /// (errc::queue_full, errc::storage_error, ...). QoS 0 and every other message bypass the
  /// queue. nullptr turns it off.
  /// @pre `queue` is open() and outlives the session (or is unset first).
  void set_offline_queue(ioffline_queue* queue) noexcept;
  ioffline_queue* queue() const noexcept { return ctx_.out.queue(); }

  /// @brief Memory for the messages sent directly (not through the offline queue) that wait for
  /// their outcome: TBMQTT_MAX_IN_FLIGHT of them by default; when all are waiting, a publish
  /// fails with errc::again. 65536 slots or more map every packet id (the Linux client).
  /// @pre Nothing waits (before the first publish); `slots` outlives the session.
  void set_delivery_slots(span<delivery_slot> slots) noexcept { ctx_.out.set_slots(slots); }
  /// Messages sent directly whose outcome is not reported yet (the offline queue's are its size()).
  std::size_t unacknowledged() const noexcept { return ctx_.out.unacknowledged(); }
  /// @brief Reports every message sent directly and not acknowledged as `e` now (the owner
  /// stops: errc::cancelled). Stored messages stay in the offline queue.
  void abandon_deliveries(errc e) noexcept { ctx_.out.abandon(e); }

  /// @brief Rate-limit pacing (tbmqtt/rate_limit.hpp): messages from the offline queue go out
  /// only when `limiter` allows (they wait there, in order); every other message is counted.
  /// Without an offline queue nothing waits: with config().fail_when_rate_limited a publish
  /// over the limit fails with errc::again, otherwise it goes and is counted. The rules come
  /// from the app (rate_limiter::set) and, with learn_session_limits, from the server.
  /// @pre `limiter` outlives the session (or is unset first). nullptr turns pacing off.
  void set_rate_limiter(rate_limiter* limiter) noexcept { ctx_.out.set_limiter(limiter); }

 private:
  void on_ready() noexcept;
  // Declaration order is construction order: the context first, every engine refers to it.
  detail::session_context ctx_;
  detail::reassembler reassembly_{ctx_};
  detail::shared_attributes_engine shared_attributes_{ctx_};
  detail::attribute_request_engine attribute_requests_{ctx_};
  detail::server_rpc_engine server_rpc_{ctx_};
  detail::client_rpc_engine client_rpc_{ctx_};
  detail::upload_engine upload_{ctx_};
  detail::claim_engine claim_{ctx_};
};

}  // namespace tbmqtt
