#include "tbmqtt/session.hpp"
#include "tbmqtt/detail/slice.hpp"

#include <cstring>
#include <utility>

#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/rate_limit.hpp"
#include "tbmqtt/topics.hpp"

namespace tbmqtt {
namespace {

constexpr std::uint8_t suback_failure = 0x80;
constexpr std::size_t method_capacity = 64;

// True when `text` is valid JSON whose top-level value starts with one of `openers` ("{[" or
// "{"). One validating pass, no second scan.
bool is_json_of(std::string_view text, std::string_view openers) noexcept {
  std::size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
  return i < text.size() && openers.find(text[i]) != std::string_view::npos && json::validate(text).ok();
}

// True when the raw JSON string text `raw_key` (quotes removed, escapes kept) names one of the
// comma-separated keys in `list`. Compared without unescaping, so any key length works.
bool list_contains(std::string_view list, std::string_view raw_key) noexcept {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view item = detail::slice(list, 0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (json::key_equals(raw_key, item)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// The text between the quotes of a JSON string value (escapes kept).
std::string_view raw_string(json::value v) noexcept { return detail::slice(v.raw(), 1, v.raw().size() - 2); }

}  // namespace

session::session(transport_port& port, session_events& events, session_config config) noexcept
    : port_(port), events_(events), config_(config) {
  // Responses to our own requests: always wanted. The server answers even without these
  // subscriptions, but a plain MQTT broker does not.
  subscriptions_[subscription_count_++].filter = topics::attribute_response_filter;
  subscriptions_[subscription_count_++].filter = topics::rpc_response_filter;
}

// ---- connection lifecycle ----------------------------------------------------------------------

void session::on_connected(std::uint32_t now_ms) noexcept {
  last_now_ms_ = now_ms;
  state_ = session_state::subscribing;
  if (queue_ != nullptr) queue_->on_connected(now_ms);
  for (std::size_t i = 0; i < subscription_count_; ++i) subscribe_entry(subscriptions_[i]);
  check_ready();
}

void session::on_disconnected() noexcept {
  drop_partial_message(errc::disconnected, false);  // pending requests report the loss themselves
  state_ = session_state::disconnected;
  for (std::size_t i = 0; i < subscription_count_; ++i) subscriptions_[i].pending = false;
  for (auto& open : open_rpcs_) open.used = false;
  for (auto& request : requests_)
    if (request.kind != request_kind::none) end_request(request, errc::disconnected, last_now_ms_);
  for (std::size_t i = 0; i < extension_count_; ++i) extensions_[i]->on_disconnected();
}

void session::end_request(pending_request& request, errc e, std::uint32_t now_ms) noexcept {
  const request_kind kind = request.kind;
  finish_request(request);                     // first: the callback may start a new request in this slot
  if (kind == request_kind::session_limits) {  // not answered: pace by the rules already set
    limits_pending_ = false;
    pump_queue();
  } else if (kind == request_kind::attributes)
    deliver_attributes(request.id, e, {}, {}, now_ms);
  else
    events_.on_rpc_response(request.id, e, {});
}

void session::deliver_attributes(std::uint32_t id, errc e, json::value client, json::value shared,
                                 std::uint32_t now_ms) noexcept {
  for (std::size_t i = 0; i < extension_count_; ++i)
    if (extensions_[i]->on_attributes_response(id, e, client, shared, now_ms)) return;
  events_.on_attributes_response(id, e, client, shared);
}

result<void> session::add_extension(session_extension& extension) noexcept {
  if (extension_count_ == TBMQTT_MAX_EXTENSIONS) return errc::queue_full;
  extensions_[extension_count_++] = &extension;
  return {};
}

void session::remove_extension(session_extension& extension) noexcept {
  for (std::size_t i = 0; i < extension_count_; ++i) {
    if (extensions_[i] != &extension) continue;
    if (streaming_ == &extension) {  // the rest of its message goes nowhere
      streaming_ = nullptr;
      reassembling_ = false;
    }
    for (std::size_t j = i + 1; j < extension_count_; ++j) extensions_[j - 1] = extensions_[j];
    extensions_[--extension_count_] = nullptr;
    return;
  }
}

void session::subscribe_entry(subscription& entry) noexcept {
  auto id = port_.subscribe(entry.filter, config_.control_qos);
  if (!id) {
    entry.pending = false;
    events_.on_error(id.error(), entry.filter);
    return;
  }
  entry.packet_id = *id;
  entry.pending = true;
}

void session::on_suback(message_id id, std::uint8_t granted) noexcept {
  for (std::size_t i = 0; i < subscription_count_; ++i) {
    subscription& entry = subscriptions_[i];
    if (!entry.pending || entry.packet_id != id) continue;
    entry.pending = false;
    if (granted >= suback_failure) events_.on_error(errc::subscription_refused, entry.filter);
    check_ready();
    return;
  }
}

void session::check_ready() noexcept {
  if (state_ != session_state::subscribing) return;
  for (std::size_t i = 0; i < subscription_count_; ++i)
    if (subscriptions_[i].pending) return;
  state_ = session_state::ready;
  if (limiter_ != nullptr && config_.learn_session_limits) request_session_limits();
  pump_queue();  // first: what waited offline goes out before anything new
  for (std::size_t i = 0; i < extension_count_; ++i) extensions_[i]->on_ready(last_now_ms_);
  events_.on_ready();
}

result<void> session::ensure_subscribed(std::string_view filter) noexcept {
  for (std::size_t i = 0; i < subscription_count_; ++i)
    if (subscriptions_[i].filter == filter) return {};
  if (subscription_count_ == TBMQTT_MAX_SUBSCRIPTIONS) return errc::queue_full;
  subscription& entry = subscriptions_[subscription_count_++];
  entry = subscription{filter, 0, false};
  if (state_ != session_state::disconnected) subscribe_entry(entry);
  return {};
}

result<void> session::add_subscription(std::string_view filter) noexcept { return ensure_subscribed(filter); }

void session::on_puback(message_id id) noexcept {
  if (queue_ != nullptr && queue_->acknowledge(id, events_)) pump_queue();
  events_.on_delivered(id);
}

void session::set_offline_queue(offline_queue* queue) noexcept {
  queue_ = queue;
  pump_queue();
}

void session::pump_queue() noexcept {
  if (queue_ != nullptr && state_ == session_state::ready && !limits_pending_)
    queue_->pump(port_, config_, last_now_ms_, events_, limiter_);
}

void session::request_session_limits() noexcept {
  auto id = start_request(request_kind::session_limits, last_now_ms_);
  if (!id) return;  // no free slot: pace by the rules already set
  char topic[TBMQTT_TOPIC_CAPACITY];
  auto topic_size = topics::rpc_request(topic, *id);
  auto sent =
      topic_size ? encode_rpc({topic, *topic_size}, "getSessionLimits", "{}") : result<message_id>(topic_size.error());
  if (!sent) return finish_request(*find_request(*id, request_kind::session_limits));
  limits_pending_ = true;
}

// `{"maxPayloadSize":N,"rateLimits":{"messages":"10:1,...","telemetryMessages":..,
// "telemetryDataPoints":..}}`; a limit that is null or absent is removed, a bad one kept as it was.
void session::apply_session_limits(span<const std::byte> payload) noexcept {
  auto doc = json::value::parse(as_text(payload));
  if (!doc || !doc->is_object()) return events_.on_error(errc::malformed, as_text(payload));
  if (auto max = (*doc)["maxPayloadSize"].as_int(); max && *max > 0)
    config_.max_payload = static_cast<std::size_t>(*max);
  const json::value limits = (*doc)["rateLimits"];
  constexpr std::string_view names[] = {"messages", "telemetryMessages", "telemetryDataPoints"};
  for (std::size_t i = 0; i < 3; ++i) {
    const json::value rule = limits[names[i]];
    char text[64];
    auto rules = rule.is_string() ? rule.as_string(text) : result<std::string_view>(std::string_view{});
    if (!rules || !limiter_->set(static_cast<rate_limit_kind>(i), *rules, last_now_ms_))
      events_.on_error(errc::malformed, names[i]);
  }
  limiter_->take(false, 0, last_now_ms_);  // the getSessionLimits request itself was a message
}

bool session::rate_limited(bool telemetry, std::string_view payload) noexcept {
  if (limiter_ == nullptr || !limiter_->active()) return false;
  return limiter_->wait_ms(telemetry, telemetry ? count_data_points(payload) : 0, last_now_ms_) > 0;
}

void session::tick(std::uint32_t now_ms) noexcept {
  last_now_ms_ = now_ms;
  for (auto& request : requests_)
    if (request.kind != request_kind::none && time_reached(now_ms, request.deadline_ms))
      end_request(request, errc::timeout, now_ms);
  for (auto& open : open_rpcs_)
    if (open.used && time_reached(now_ms, open.expires_ms)) open.used = false;
  for (std::size_t i = 0; i < extension_count_; ++i) extensions_[i]->on_tick(now_ms);
  if (queue_ != nullptr) queue_->tick(now_ms);  // the group commit's bounded wait
  pump_queue();                                 // transport busy earlier, a commit, or a resend deadline passed
}

// ---- outbound ----------------------------------------------------------------------------------

result<message_id> session::send(std::string_view topic, std::string_view payload, qos q) noexcept {
  if (payload.size() > config_.max_payload) return errc::payload_too_large;
  // QoS 1 goes to the transport even offline: it may queue it until the next connection.
  if (state_ == session_state::disconnected && q == qos::at_most_once) return errc::not_connected;
  auto sent = port_.publish(topic, as_bytes(payload), q);
  if (sent && limiter_ != nullptr && limiter_->active()) {
    const bool telemetry = topic == config_.telemetry_topic;
    limiter_->take(telemetry, telemetry ? count_data_points(payload) : 0, last_now_ms_);
  }
  return sent;
}

result<message_id> session::publish_raw(std::string_view topic, std::string_view payload, qos q) noexcept {
  return send(topic, payload, q);
}

result<message_id> session::send_data(bool attributes, std::string_view payload, qos q) noexcept {
  const bool queued = queue_ != nullptr && q == qos::at_least_once;
  // Asked not to wait: over the limit, or behind queued messages that wait for it.
  if (config_.fail_when_rate_limited && state_ == session_state::ready &&
      ((queued && limiter_ != nullptr && limiter_->active() && queue_->has_unsent()) ||
       rate_limited(!attributes, payload)))
    return errc::again;
  if (!queued) return send(attributes ? config_.attributes_topic : config_.telemetry_topic, payload, q);
  if (payload.size() > config_.max_payload) return errc::payload_too_large;
  auto ticket = queue_->push(attributes ? stored_topic::attributes : stored_topic::telemetry, payload, events_);
  if (ticket) pump_queue();
  return ticket;
}

result<message_id> session::publish_telemetry(std::string_view json_text, qos q) noexcept {
  if (!is_json_of(json_text, "{[")) return errc::invalid_argument;
  return send_data(false, json_text, q);
}

result<message_id> session::publish_telemetry(telemetry_builder& payload, qos q) noexcept {
  auto text = payload.finish();
  if (!text) return text.error();
  return send_data(false, *text, q);
}

result<message_id> session::publish_attributes(std::string_view json_text, qos q) noexcept {
  if (!is_json_of(json_text, "{")) return errc::invalid_argument;
  return send_data(true, json_text, q);
}

result<message_id> session::publish_attributes(attributes_builder& payload, qos q) noexcept {
  auto text = payload.finish();
  if (!text) return text.error();
  return send_data(true, *text, q);
}

result<message_id> session::claim(std::string_view secret_key, std::uint32_t duration_ms) noexcept {
  char buffer[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  json::writer w{buffer};
  w.begin_object();
  if (!secret_key.empty()) w.key("secretKey").value(secret_key);
  if (duration_ms != 0) w.key("durationMs").value(duration_ms);
  w.end_object();
  auto text = w.finish();
  if (!text) return text.error();
  return send(topics::claim, *text, config_.control_qos);
}

// ---- requests with answers ----------------------------------------------------------------------

result<std::uint32_t> session::start_request(request_kind kind, std::uint32_t now_ms) noexcept {
  if (state_ == session_state::disconnected) return errc::not_connected;
  pending_request* slot = nullptr;
  for (auto& request : requests_)
    if (request.kind == request_kind::none) {
      slot = &request;
      break;
    }
  if (slot == nullptr) return errc::queue_full;
  // Never hand out an id that is still pending (possible after 2^32 requests).
  for (;;) {
    const std::uint32_t id = next_request_id_++;
    if (id == 0) continue;
    bool in_use = false;
    for (const auto& request : requests_) in_use = in_use || (request.kind != request_kind::none && request.id == id);
    if (in_use) continue;
    *slot = pending_request{id, now_ms + config_.request_timeout_ms, kind};
    return id;
  }
}

session::pending_request* session::find_request(std::uint32_t id, request_kind kind) noexcept {
  for (auto& request : requests_)
    if (request.kind == kind && request.id == id) return &request;
  return nullptr;
}

std::size_t session::pending_requests() const noexcept {
  std::size_t count = 0;
  for (const auto& request : requests_) count += request.kind != request_kind::none ? 1 : 0;
  return count;
}

result<std::uint32_t> session::request_attributes(std::string_view client_keys, std::string_view shared_keys,
                                                  std::uint32_t now_ms) noexcept {
  char payload[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  json::writer w{payload};
  w.begin_object();
  if (!client_keys.empty()) w.key("clientKeys").value(client_keys);
  if (!shared_keys.empty()) w.key("sharedKeys").value(shared_keys);
  w.end_object();
  auto text = w.finish();
  if (!text) return text.error();

  auto id = start_request(request_kind::attributes, now_ms);
  if (!id) return id;
  char topic[TBMQTT_TOPIC_CAPACITY];
  auto topic_size = topics::attribute_request(topic, *id);
  auto sent =
      topic_size ? send({topic, *topic_size}, *text, config_.control_qos) : result<message_id>(topic_size.error());
  if (!sent) {
    finish_request(*find_request(*id, request_kind::attributes));
    return sent.error();
  }
  return id;
}

result<message_id> session::encode_rpc(std::string_view topic, std::string_view method,
                                       std::string_view params_json) noexcept {
  char payload[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  json::writer w{payload};
  w.begin_object().key("method").value(method).key("params");
  if (params_json.empty())
    w.begin_object().end_object();
  else
    w.raw(params_json);
  w.end_object();
  auto text = w.finish();
  if (!text) return text.error();
  return send(topic, *text, config_.control_qos);
}

result<std::uint32_t> session::call_rpc(std::string_view method, std::string_view params_json,
                                        std::uint32_t now_ms) noexcept {
  if (!params_json.empty() && !json::validate(params_json)) return errc::invalid_argument;
  auto id = start_request(request_kind::rpc, now_ms);
  if (!id) return id;
  char topic[TBMQTT_TOPIC_CAPACITY];
  auto topic_size = topics::rpc_request(topic, *id);
  auto sent =
      topic_size ? encode_rpc({topic, *topic_size}, method, params_json) : result<message_id>(topic_size.error());
  if (!sent) {
    finish_request(*find_request(*id, request_kind::rpc));
    return sent.error();
  }
  return id;
}

result<message_id> session::notify_rpc(std::string_view method, std::string_view params_json) noexcept {
  if (!params_json.empty() && !json::validate(params_json)) return errc::invalid_argument;
  // A one-way call still needs a fresh id in the topic; take one from the same counter.
  std::uint32_t id = next_request_id_++;
  if (id == 0) id = next_request_id_++;
  char topic[TBMQTT_TOPIC_CAPACITY];
  auto topic_size = topics::rpc_request(topic, id);
  if (!topic_size) return topic_size.error();
  return encode_rpc({topic, *topic_size}, method, params_json);
}

// ---- server-side RPC ----------------------------------------------------------------------------

result<void> session::add_rpc_method(std::string_view method) noexcept {
  for (std::size_t i = 0; i < rpc_method_count_; ++i)
    if (rpc_methods_[i] == method) return {};
  if (rpc_method_count_ == TBMQTT_MAX_RPC_METHODS) return errc::queue_full;
  TBMQTT_TRY(ensure_subscribed(topics::rpc_request_filter));
  rpc_methods_[rpc_method_count_++] = method;
  return {};
}

void session::set_rpc_fallback(bool on) noexcept {
  rpc_fallback_ = on;
  if (on && !ensure_subscribed(topics::rpc_request_filter))
    events_.on_error(errc::queue_full, topics::rpc_request_filter);
}

result<message_id> session::reply_rpc(std::string_view request_id, std::string_view json_text) noexcept {
  open_server_rpc* open = nullptr;
  for (auto& candidate : open_rpcs_)
    if (candidate.used && std::string_view(candidate.id, candidate.id_size) == request_id) open = &candidate;
  if (open == nullptr) return errc::unknown_request;
  if (!json::validate(json_text)) return errc::invalid_argument;
  char topic[TBMQTT_TOPIC_CAPACITY];
  auto topic_size = topics::rpc_response(topic, request_id);
  if (!topic_size) return topic_size.error();
  auto sent = send({topic, *topic_size}, json_text, config_.control_qos);
  if (sent) open->used = false;  // on failure the app may try again
  return sent;
}

void session::handle_rpc_request(std::string_view id, span<const std::byte> payload, std::uint32_t now_ms) noexcept {
  char reply_topic[TBMQTT_TOPIC_CAPACITY];
  auto topic_size = topics::rpc_response(reply_topic, id);
  auto reply_error = [&](std::string_view prefix, std::string_view what) {
    char message[128];
    what = detail::slice(what, 0, sizeof message - prefix.size());
    std::memcpy(message, prefix.data(), prefix.size());
    std::memcpy(message + prefix.size(), what.data(), what.size());
    char body[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
    json::writer w{body};
    w.begin_object().key("error").value(std::string_view(message, prefix.size() + what.size())).end_object();
    auto text = w.finish();
    if (!text) {  // the cut split a UTF-8 sequence: say less rather than nothing
      w.reset();
      w.begin_object().key("error").value(prefix).end_object();
      text = w.finish();
    }
    if (text && topic_size) (void)send({reply_topic, *topic_size}, *text, config_.control_qos);
  };

  auto doc = json::value::parse(as_text(payload));
  json::value method_value = doc ? (*doc)["method"] : json::value{};
  if (!method_value.is_string()) {
    events_.on_error(errc::malformed, as_text(payload));
    reply_error("malformed request", "");
    return;
  }
  // A registered name matches without unescaping (any length); other names are unescaped into
  // a buffer, or passed on as raw text when they do not fit.
  bool known = false;
  result<std::string_view> method = errc::no_match;
  for (std::size_t i = 0; i < rpc_method_count_ && !known; ++i)
    if (json::key_equals(raw_string(method_value), rpc_methods_[i])) {
      known = true;
      method = rpc_methods_[i];
    }
  char method_buffer[method_capacity];
  if (!known) {
    method = method_value.as_string(method_buffer);
    if (!method) method = raw_string(method_value);
    known = rpc_fallback_;
  }
  if (!known) {
    events_.on_error(errc::unknown_method, *method);
    reply_error("unknown method: ", *method);
    return;
  }
  // Remember the id so that the app can answer later; a resent persistent RPC reuses its slot.
  open_server_rpc* slot = nullptr;
  for (auto& open : open_rpcs_)
    if (open.used && std::string_view(open.id, open.id_size) == id) slot = &open;
  for (auto& open : open_rpcs_)
    if (slot == nullptr && !open.used) slot = &open;
  if (slot == nullptr) {
    events_.on_error(errc::queue_full, *method);
    reply_error("device busy: ", *method);
    return;
  }
  std::memcpy(slot->id, id.data(), id.size());  // parse_rpc_request bounds the size
  slot->id_size = static_cast<std::uint8_t>(id.size());
  slot->expires_ms = now_ms + config_.server_rpc_ttl_ms;
  slot->used = true;
  events_.on_rpc_request(rpc_request{id, *method, (*doc)["params"]});
}

// ---- inbound ------------------------------------------------------------------------------------

void session::on_message(std::string_view topic, span<const std::byte> payload, std::uint32_t now_ms) noexcept {
  last_now_ms_ = now_ms;
  // The server never sends more than its max payload: a larger message is hostile or broken.
  if (payload.size() > config_.max_payload) return events_.on_error(errc::payload_too_large, topic);
  if (topic == config_.attributes_topic) return handle_shared_attributes(payload);
  if (auto id = topics::parse_attribute_response(topic); id.error() != errc::no_match) {
    if (!id) return events_.on_error(id.error(), topic);
    return handle_attribute_response(*id, payload);
  }
  if (auto id = topics::parse_rpc_request(topic); id.error() != errc::no_match) {
    if (!id) return events_.on_error(id.error(), topic);
    return handle_rpc_request(*id, payload, now_ms);
  }
  if (auto id = topics::parse_rpc_response(topic); id.error() != errc::no_match) {
    if (!id) return events_.on_error(id.error(), topic);
    return handle_rpc_response(*id, payload);
  }
  for (std::size_t i = 0; i < extension_count_; ++i)
    if (extensions_[i]->on_message(topic, payload, now_ms)) return;
  if (!events_.on_other_message(topic, payload)) events_.on_error(errc::unknown_topic, topic);
}

void session::on_message_fragment(std::string_view topic, span<const std::byte> fragment, std::size_t offset,
                                  std::size_t total, std::uint32_t now_ms) noexcept {
  last_now_ms_ = now_ms;
  if (offset == 0) drop_partial_message(errc::malformed, true);  // its last fragments never came
  if (offset == 0 && fragment.size() == total) return on_message(topic, fragment, now_ms);  // not fragmented
  if (offset == 0) {
    // Larger than the max payload: dropped at its first fragment, before a byte is buffered or
    // streamed (its later fragments find nothing being reassembled).
    if (total > config_.max_payload) return events_.on_error(errc::payload_too_large, topic);
    if (topic.size() > sizeof reassembly_topic_) return events_.on_error(errc::payload_too_large, topic);
    for (std::size_t i = 0; i < extension_count_ && streaming_ == nullptr; ++i)
      if (extensions_[i]->on_stream_begin(topic, total, now_ms)) streaming_ = extensions_[i];
    if (streaming_ == nullptr && total > reassembly_.size()) return events_.on_error(errc::payload_too_large, topic);
    std::memcpy(reassembly_topic_, topic.data(), topic.size());
    reassembly_topic_size_ = topic.size();
    reassembled_ = 0;
    reassembly_total_ = total;
    reassembling_ = true;
  }
  if (!reassembling_) return;  // the rest of a message already dropped
  if (offset != reassembled_ || total != reassembly_total_ || fragment.size() > total - offset)
    return drop_partial_message(errc::malformed, true);
  if (streaming_ != nullptr)
    streaming_->on_stream_fragment(offset, fragment, now_ms);
  else if (!fragment.empty())
    std::memcpy(reassembly_.data() + offset, fragment.data(), fragment.size());
  reassembled_ += fragment.size();
  if (reassembled_ < total) return;
  reassembling_ = false;
  if (session_extension* taker = std::exchange(streaming_, nullptr)) return taker->on_stream_end(errc{}, now_ms);
  on_message({reassembly_topic_, reassembly_topic_size_}, {reassembly_.data(), total}, now_ms);
}

// Ends the message being reassembled or streamed before its last byte: the extension that took
// it hears `e`, and the app through on_error when `report`.
void session::drop_partial_message(errc e, bool report) noexcept {
  if (!reassembling_) return;
  reassembling_ = false;
  if (session_extension* taker = std::exchange(streaming_, nullptr)) taker->on_stream_end(e, last_now_ms_);
  if (report) events_.on_error(e, {reassembly_topic_, reassembly_topic_size_});
}

void session::handle_attribute_response(std::uint32_t id, span<const std::byte> payload) noexcept {
  pending_request* request = find_request(id, request_kind::attributes);
  if (request == nullptr) return events_.on_error(errc::unknown_request, as_text(payload));
  finish_request(*request);
  auto doc = json::value::parse(as_text(payload));
  if (!doc || !doc->is_object()) return deliver_attributes(id, errc::malformed, {}, {}, last_now_ms_);
  json::value client = (*doc)["client"];
  json::value shared = (*doc)["shared"];
  if ((client.present() && !client.is_object()) || (shared.present() && !shared.is_object()))
    return deliver_attributes(id, errc::malformed, {}, {}, last_now_ms_);
  deliver_attributes(id, errc{}, client, shared, last_now_ms_);
}

void session::handle_rpc_response(std::uint32_t id, span<const std::byte> payload) noexcept {
  if (pending_request* limits = find_request(id, request_kind::session_limits)) {
    finish_request(*limits);
    limits_pending_ = false;
    if (limiter_ != nullptr) apply_session_limits(payload);
    return pump_queue();
  }
  pending_request* request = find_request(id, request_kind::rpc);
  if (request == nullptr) return events_.on_error(errc::unknown_request, as_text(payload));
  finish_request(*request);
  auto doc = json::value::parse(as_text(payload));
  if (!doc) return events_.on_rpc_response(id, errc::malformed, {});
  const bool is_error = doc->is_object() && doc->size() == 1 && (*doc)["error"].present();
  events_.on_rpc_response(id, is_error ? errc::server_error : errc{}, *doc);
}

result<std::size_t> session::subscribe_shared_attributes(std::string_view keys) noexcept {
  if (attribute_subscription_count_ == TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS) return errc::queue_full;
  TBMQTT_TRY(ensure_subscribed(config_.attributes_topic));
  attribute_keys_[attribute_subscription_count_] = keys;
  return attribute_subscription_count_++;
}

bool session::subscription_matches(std::string_view keys, json::value update) const noexcept {
  if (keys.empty()) return true;
  for (auto m : update.members()) {
    if (json::key_equals(m.key, "deleted") && m.val.is_array()) {
      for (auto deleted : m.val.elements())
        if (deleted.is_string() && list_contains(keys, raw_string(deleted))) return true;
      continue;
    }
    if (list_contains(keys, m.key)) return true;
  }
  return false;
}

void session::handle_shared_attributes(span<const std::byte> payload) noexcept {
  auto doc = json::value::parse(as_text(payload));
  if (!doc || !doc->is_object()) return events_.on_error(errc::malformed, as_text(payload));
  for (std::size_t i = 0; i < extension_count_; ++i) extensions_[i]->on_shared_attributes(*doc, last_now_ms_);
  for (std::size_t i = 0; i < attribute_subscription_count_; ++i)
    if (subscription_matches(attribute_keys_[i], *doc)) events_.on_shared_attributes(i, *doc);
}

}  // namespace tbmqtt
