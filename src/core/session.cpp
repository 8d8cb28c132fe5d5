// The session façade: wires the engines to the dispatcher, the subscription set, the request
// table and the publisher, and turns transport inputs into their calls. No feature logic here.
#include "tbmqtt/session.hpp"

#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/topics.hpp"

namespace tbmqtt {

session::session(transport_port& port, session_events& events, session_config config) noexcept
    : ctx_(port, events, config) {
  // Responses to our own requests: always wanted. The server answers even without these
  // subscriptions, but a plain MQTT broker does not.
  (void)ctx_.subscriptions.ensure(topics::attribute_response_filter_for(ctx_.config.wire.topics));
  (void)ctx_.subscriptions.ensure(topics::rpc_response_filter_for(ctx_.config.wire.topics));
  // Inbound routing order: shared attributes, attribute responses, server RPC, client RPC, then
  // the extensions in the order they were added.
  (void)ctx_.routes.add(shared_attributes_, true);
  (void)ctx_.routes.add(attribute_requests_, true);
  (void)ctx_.routes.add(server_rpc_, true);
  (void)ctx_.routes.add(client_rpc_, true);
}

// ---- inputs from the transport ------------------------------------------------------------------

void session::on_connected(std::uint32_t now_ms) noexcept {
  ctx_.now_ms = now_ms;
  ctx_.state = session_state::subscribing;
  ctx_.out.on_connected(now_ms);
  ctx_.subscriptions.subscribe_all();
  if (ctx_.subscriptions.all_granted()) on_ready();
}

void session::on_suback(message_id id, std::uint8_t granted) noexcept {
  if (ctx_.subscriptions.on_suback(id, granted) && ctx_.state == session_state::subscribing &&
      ctx_.subscriptions.all_granted())
    on_ready();
}

void session::on_ready() noexcept {
  ctx_.state = session_state::ready;
  if (ctx_.out.wants_session_limits()) client_rpc_.ask_session_limits();
  ctx_.out.pump();  // first: what waited offline goes out before anything new
  ctx_.routes.ready(ctx_.now_ms);
  ctx_.events.on_ready();
}

void session::on_disconnected() noexcept {
  reassembly_.drop(errc::disconnected, false);  // pending requests report the loss themselves
  ctx_.state = session_state::disconnected;
  ctx_.subscriptions.forget_pending();
  server_rpc_.on_disconnected();  // before the requests end: their callbacks may try to reply
  ctx_.requests.end_all(errc::disconnected, ctx_.now_ms);
  ctx_.routes.disconnected();
  ctx_.out.on_disconnected();
}

void session::on_message(std::string_view topic, span<const std::byte> payload, std::uint32_t now_ms) noexcept {
  ctx_.now_ms = now_ms;
  // The server never sends more than its max payload: a larger message is hostile or broken.
  if (payload.size() > ctx_.config.max_payload) return ctx_.events.on_error(errc::payload_too_large, topic);
  if (ctx_.routes.route(topic, payload, now_ms)) return;
  if (!ctx_.events.on_other_message(topic, payload)) ctx_.events.on_error(errc::unknown_topic, topic);
}

void session::on_message_fragment(std::string_view topic, span<const std::byte> fragment, std::size_t offset,
                                  std::size_t total, std::uint32_t now_ms) noexcept {
  ctx_.now_ms = now_ms;
  std::string_view whole_topic;
  span<const std::byte> whole;
  if (reassembly_.on_fragment(topic, fragment, offset, total, now_ms, whole_topic, whole))
    on_message(whole_topic, whole, now_ms);
}

void session::on_puback(message_id id) noexcept { ctx_.out.on_puback(id); }

void session::tick(std::uint32_t now_ms) noexcept {
  ctx_.now_ms = now_ms;
  ctx_.requests.expire(now_ms);
  ctx_.routes.tick(now_ms);
  ctx_.out.tick(now_ms);
}

// ---- app commands: each goes to its engine ------------------------------------------------------

result<delivery_ticket> session::publish_telemetry(std::string_view json_text, qos q) noexcept {
  return upload_.telemetry(json_text, q);
}
result<delivery_ticket> session::publish_telemetry(itelemetry& payload, qos q) noexcept {
  return upload_.telemetry(payload, q);
}
result<delivery_ticket> session::publish_attributes(std::string_view json_text, qos q) noexcept {
  return upload_.attributes(json_text, q);
}
result<delivery_ticket> session::publish_attributes(iattributes& payload, qos q) noexcept {
  return upload_.attributes(payload, q);
}

result<std::uint32_t> session::request_attributes(std::string_view client_keys, std::string_view shared_keys,
                                                  std::uint32_t now_ms) noexcept {
  return attribute_requests_.request(client_keys, shared_keys, now_ms);
}

result<std::uint32_t> session::call_rpc(std::string_view method, std::string_view params_json,
                                        std::uint32_t now_ms) noexcept {
  return client_rpc_.call(method, params_json, now_ms);
}
result<delivery_ticket> session::notify_rpc(std::string_view method, std::string_view params_json) noexcept {
  return client_rpc_.notify(method, params_json);
}

result<delivery_ticket> session::reply_rpc(std::string_view request_id, std::string_view json_text) noexcept {
  return server_rpc_.reply(request_id, json_text);
}
result<void> session::add_rpc_method(std::string_view method) noexcept { return server_rpc_.add_method(method); }
void session::set_rpc_fallback(bool on) noexcept { server_rpc_.set_fallback(on); }

result<delivery_ticket> session::claim(std::string_view secret_key, std::uint32_t duration_ms) noexcept {
  return claim_.claim(secret_key, duration_ms);
}

result<std::size_t> session::subscribe_shared_attributes(std::string_view keys) noexcept {
  return shared_attributes_.subscribe(keys);
}

result<void> session::add_subscription(std::string_view filter) noexcept { return ctx_.subscriptions.ensure(filter); }

result<void> session::add_extension(session_extension& extension) noexcept { return ctx_.routes.add(extension); }

void session::remove_extension(session_extension& extension) noexcept {
  reassembly_.forget(extension);  // the rest of a message it took goes nowhere
  ctx_.routes.remove(extension);
}

result<delivery_ticket> session::publish_raw(std::string_view topic, std::string_view payload, qos q) noexcept {
  return ctx_.out.send(topic, payload, q);
}

std::size_t session::pending_requests() const noexcept { return ctx_.requests.pending(); }

void session::set_offline_queue(ioffline_queue* queue) noexcept { ctx_.out.set_queue(queue); }

}  // namespace tbmqtt
