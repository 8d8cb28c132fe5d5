// tbmqtt — the gateway engine (tbmqtt/gateway.hpp: igateway): sub-devices over v1/gateway/* as a
// session extension. The payload builders are in gateway_payload.cpp.
#include "tbmqtt/gateway.hpp"

#include <cstring>

#include "tbmqtt/config.hpp"
#include "tbmqtt/detail/slice.hpp"

namespace tbmqtt {
namespace {

static_assert(TBMQTT_GATEWAY_NAME_CAPACITY <= 255, "names are sized with one byte");
constexpr std::size_t method_capacity = TBMQTT_RPC_METHOD_CAPACITY;
constexpr std::size_t error_text_capacity = TBMQTT_GATEWAY_ERROR_TEXT_CAPACITY;

// The string's text unescaped into `buf`, or its raw text (escapes kept) when it does not fit.
std::string_view text_of(json::value v, span<char> buf) noexcept {
  auto text = v.as_string(buf);
  return text ? *text : detail::slice(v.raw(), 1, v.raw().size() - 2);
}

// A JSON integer that fits a uint32, or errc::wrong_type.
result<std::uint32_t> as_id(json::value v) noexcept {
  auto n = v.as_int();
  if (!n || *n < 0 || *n > 0xFFFFFFFFLL) return errc::wrong_type;
  return static_cast<std::uint32_t>(*n);
}

// The error for a required member: malformed when missing, wrong_type when `type_ok` is false.
errc member_error(json::value v, bool type_ok) noexcept {
  if (!v.present()) return errc::malformed;
  return type_ok ? errc{} : errc::wrong_type;
}

}  // namespace

// ---- binding ------------------------------------------------------------------------------------

result<void> igateway::attach(session& s) noexcept {
  if (session_ == &s) return {};
  if (session_ != nullptr) return errc::invalid_argument;
  TBMQTT_TRY(s.add_subscription(topics::gateway_attributes));
  TBMQTT_TRY(s.add_subscription(topics::gateway_rpc));
  TBMQTT_TRY(s.add_subscription(topics::gateway_attribute_response));
  TBMQTT_TRY(s.add_extension(*this));
  session_ = &s;
  if (s.state() == session_state::ready) announce_all();
  return {};
}

void igateway::detach() noexcept {
  if (session_ == nullptr) return;
  session_->remove_extension(*this);
  session_ = nullptr;
  for (auto& open : rpcs_) open.used = false;
  for (auto& device : devices_) device.announced = false;
  end_requests(errc::cancelled);
}

// ---- sub-devices --------------------------------------------------------------------------------

igateway::device_slot* igateway::find_device(std::string_view name) noexcept {
  for (auto& device : devices_)
    if (device.used && device.name_view() == name) return &device;
  return nullptr;
}

const igateway::device_slot* igateway::find_device(std::string_view name) const noexcept {
  for (const auto& device : devices_)
    if (device.used && device.name_view() == name) return &device;
  return nullptr;
}

bool igateway::is_connected(std::string_view name) const noexcept { return find_device(name) != nullptr; }

std::size_t igateway::device_count() const noexcept {
  std::size_t n = 0;
  for (const auto& device : devices_) n += device.used ? 1 : 0;
  return n;
}

result<delivery_ticket> igateway::send(std::string_view topic, std::string_view payload) noexcept {
  if (session_ == nullptr) return errc::not_open;
  return session_->publish_raw(topic, payload, qos::at_least_once);  // §7: QoS 1 for gateway publishes
}

result<delivery_ticket> igateway::announce(device_slot& slot) noexcept {
  json::writer w{payload_};
  w.begin_object().key("device").value(slot.name_view());
  if (slot.type_size != 0) w.key("type").value(slot.type_view());
  w.end_object();
  auto text = w.finish();
  if (!text) return text.error();
  if (session_->state() == session_state::disconnected) return delivery_ticket{};  // announced on ready
  auto sent = send(topics::gateway_connect, *text);
  if (sent) slot.announced = true;
  return sent;
}

void igateway::announce_all() noexcept {
  for (auto& device : devices_)
    if (device.used && !device.announced)
      if (auto sent = announce(device); !sent) listener_.on_error(sent.error(), device.name_view());
}

result<void> igateway::connect_device(std::string_view name, std::string_view type) noexcept {
  TBMQTT_EXPECTS(!name.empty());
  if (session_ == nullptr) return errc::not_open;
  if (name.size() > TBMQTT_GATEWAY_NAME_CAPACITY || type.size() > TBMQTT_GATEWAY_NAME_CAPACITY)
    return errc::not_enough_space;
  device_slot* slot = find_device(name);
  const bool added = slot == nullptr;
  for (auto& device : devices_)
    if (slot == nullptr && !device.used) slot = &device;
  if (slot == nullptr) return errc::queue_full;
  if (added) {
    std::memcpy(slot->name, name.data(), name.size());
    slot->name_size = static_cast<std::uint8_t>(name.size());
  }
  if (!type.empty()) std::memcpy(slot->type, type.data(), type.size());
  slot->type_size = static_cast<std::uint8_t>(type.size());
  slot->used = true;
  slot->announced = false;
  auto sent = announce(*slot);
  if (!sent) {
    if (added) slot->used = false;
    return sent.error();
  }
  return {};
}

result<void> igateway::disconnect_device(std::string_view name) noexcept {
  TBMQTT_EXPECTS(!name.empty());
  if (session_ == nullptr) return errc::not_open;
  if (device_slot* slot = find_device(name)) {
    const auto index = static_cast<std::uint8_t>(slot - devices_.data());
    for (auto& open : rpcs_)
      if (open.used && open.device == index) open.used = false;
    slot->used = false;
  }
  // Offline there is nothing to say: ThingsBoard forgot the gateway's children with its session.
  if (session_->state() == session_state::disconnected) return {};
  json::writer w{payload_};
  w.begin_object().key("device").value(name).end_object();
  auto text = w.finish();
  if (!text) return text.error();
  auto sent = send(topics::gateway_disconnect, *text);
  if (!sent) return sent.error();
  return {};
}

// ---- publishing ---------------------------------------------------------------------------------

result<delivery_ticket> igateway::send_wrapped(std::string_view topic, std::string_view device,
                                               std::string_view json_text, bool wrap_in_array) noexcept {
  json::writer w{payload_};
  w.begin_object().key(device);
  if (wrap_in_array) w.begin_array();
  w.raw_trusted(json_text);  // the caller validated it
  if (wrap_in_array) w.end_array();
  w.end_object();
  auto text = w.finish();
  if (!text) return text.error();
  return send(topic, *text);
}

result<delivery_ticket> igateway::publish_telemetry(std::string_view device, std::string_view json_text) noexcept {
  if (device.empty()) return errc::invalid_argument;
  auto doc = json::value::parse(json_text);
  if (!doc || !(doc->is_object() || doc->is_array())) return errc::invalid_argument;
  return send_wrapped(topics::gateway_telemetry, device, json_text, doc->is_object());  // §7: must be an array
}

result<delivery_ticket> igateway::publish_telemetry(igateway_telemetry& payload) noexcept {
  auto text = payload.finish();
  if (!text) return text.error();
  return send(topics::gateway_telemetry, *text);
}

result<delivery_ticket> igateway::publish_attributes(std::string_view device, std::string_view json_text) noexcept {
  if (device.empty()) return errc::invalid_argument;
  auto doc = json::value::parse(json_text);
  if (!doc || !doc->is_object()) return errc::invalid_argument;
  return send_wrapped(topics::gateway_attributes, device, json_text, false);
}

result<delivery_ticket> igateway::publish_attributes(igateway_attributes& payload) noexcept {
  auto text = payload.finish();
  if (!text) return text.error();
  return send(topics::gateway_attributes, *text);
}

result<delivery_ticket> igateway::claim(std::string_view device, std::string_view secret_key,
                                        std::uint32_t duration_ms) noexcept {
  if (device.empty()) return errc::invalid_argument;
  json::writer w{payload_};
  w.begin_object().key(device).begin_object();
  if (!secret_key.empty()) w.key("secretKey").value(secret_key);
  if (duration_ms != 0) w.key("durationMs").value(duration_ms);
  w.end_object().end_object();
  auto text = w.finish();
  if (!text) return text.error();
  return send(topics::gateway_claim, *text);
}

// ---- attribute requests -------------------------------------------------------------------------

result<std::uint32_t> igateway::request_attributes(std::string_view device, attribute_scope scope,
                                                   std::string_view keys, std::uint32_t now_ms) noexcept {
  if (session_ == nullptr) return errc::not_open;
  if (session_->state() == session_state::disconnected) return errc::not_connected;
  if (device.empty()) return errc::invalid_argument;
  pending_request* slot = nullptr;
  for (auto& request : requests_)
    if (slot == nullptr && !request.used) slot = &request;
  if (slot == nullptr) return errc::queue_full;
  std::uint32_t id = 0;
  for (bool in_use = true; in_use;) {  // never an id that is still pending (after 2^32 requests)
    id = next_request_id_++;
    in_use = id == 0;
    for (const auto& request : requests_) in_use = in_use || (request.used && request.id == id);
  }

  // "a, b ,c" -> the trimmed, non-empty items, each once. ThingsBoard answers one requested key
  // with "value" and several with "values" (AbstractGatewaySessionHandler collects the keys in a
  // set; DeviceActorMessageProcessor: isMultipleAttributesRequest = more than one), so "a,a" must
  // be sent as the one key it is.
  const std::string_view all_keys = keys;
  auto trimmed_item = [](std::string_view& rest) -> std::string_view {
    const std::size_t comma = rest.find(',');
    std::string_view item = detail::slice(rest, 0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : detail::slice(rest, comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    return item;
  };
  auto next_key = [&keys, all_keys, &trimmed_item]() -> std::string_view {
    while (!keys.empty()) {
      const std::size_t consumed = all_keys.size() - keys.size();
      std::string_view item = trimmed_item(keys);
      if (item.empty()) continue;
      bool seen = false;
      for (std::string_view before = all_keys.substr(0, consumed); !seen && !before.empty();)
        seen = trimmed_item(before) == item;
      if (!seen) return item;
    }
    return {};
  };
  const std::string_view first = next_key();
  if (first.empty()) return errc::invalid_argument;
  std::string_view second = next_key();

  json::writer w{payload_};
  w.begin_object().key("id").value(id).key("device").value(device).key("client").value(scope ==
                                                                                       attribute_scope::client);
  if (second.empty()) {
    w.key("key").value(first);
  } else {
    w.key("keys").begin_array().value(first);
    for (; !second.empty(); second = next_key()) w.value(second);
    w.end_array();
  }
  w.end_object();
  auto text = w.finish();
  if (!text) return text.error();
  auto sent = send(topics::gateway_attribute_request, *text);
  if (!sent) return sent.error();
  *slot = pending_request{id, now_ms + session_->config().request_timeout_ms, true};
  return id;
}

std::size_t igateway::pending_requests() const noexcept {
  std::size_t n = 0;
  for (const auto& request : requests_) n += request.used ? 1 : 0;
  return n;
}

void igateway::end_requests(errc e) noexcept {
  for (auto& request : requests_) {
    if (!request.used) continue;
    request.used = false;  // first: the callback may start a new request in this slot
    listener_.on_attributes_response(request.id, e, {});
  }
}

void igateway::expire(std::uint32_t now_ms) noexcept {
  for (auto& request : requests_) {
    if (!request.used || !time_reached(now_ms, request.deadline_ms)) continue;
    request.used = false;
    listener_.on_attributes_response(request.id, errc::timeout, {});
  }
  for (auto& open : rpcs_)
    if (open.used && time_reached(now_ms, open.expires_ms)) open.used = false;
}

void igateway::lose_connection() noexcept {
  for (auto& device : devices_) device.announced = false;
  for (auto& open : rpcs_) open.used = false;  // ThingsBoard re-sends persistent RPCs
  end_requests(errc::disconnected);
}

// ---- inbound ------------------------------------------------------------------------------------

bool igateway::handle(std::string_view topic, span<const std::byte> payload, std::uint32_t now_ms) noexcept {
  if (topic == topics::gateway_attributes) {
    handle_attribute_update(as_text(payload));
  } else if (topic == topics::gateway_rpc) {
    handle_rpc(as_text(payload), now_ms);
  } else if (topic == topics::gateway_attribute_response) {
    handle_attribute_response(as_text(payload));
  } else {
    return false;
  }
  return true;
}

void igateway::handle_attribute_update(std::string_view text) noexcept {
  auto doc = json::value::parse(text);
  if (!doc || !doc->is_object()) return listener_.on_error(errc::malformed, text);
  const json::value device = (*doc)["device"];
  const json::value data = (*doc)["data"];
  errc e = member_error(device, device.is_string());
  if (e == errc{}) e = member_error(data, data.is_object());
  if (e != errc{}) return listener_.on_error(e, text);
  char name_buffer[TBMQTT_GATEWAY_NAME_CAPACITY];
  auto name = device.as_string(name_buffer);
  const device_slot* slot = name ? find_device(*name) : nullptr;
  if (slot == nullptr) return listener_.on_error(errc::unknown_device, text);
  listener_.on_attribute_update(slot->name_view(), data);
}

void igateway::reply_error(std::string_view device_raw, std::uint32_t id, std::string_view prefix,
                           std::string_view what) noexcept {
  char message[error_text_capacity];
  what = detail::slice(what, 0, sizeof message - prefix.size());
  std::memcpy(message, prefix.data(), prefix.size());
  std::memcpy(message + prefix.size(), what.data(), what.size());
  json::writer w{payload_};
  for (std::string_view error : {std::string_view(message, prefix.size() + what.size()), prefix}) {
    w.reset();  // the second try says less: the cut may have split a UTF-8 sequence
    w.begin_object().key("device").raw_trusted(device_raw).key("id").value(id);
    w.key("data").begin_object().key("error").value(error).end_object().end_object();
    if (auto text = w.finish()) {
      (void)send(topics::gateway_rpc, *text);
      return;
    }
  }
}

void igateway::handle_rpc(std::string_view text, std::uint32_t now_ms) noexcept {
  auto doc = json::value::parse(text);
  if (!doc || !doc->is_object()) return listener_.on_error(errc::malformed, text);
  const json::value device = (*doc)["device"];
  const json::value data = (*doc)["data"];
  errc e = member_error(device, device.is_string());
  if (e == errc{}) e = member_error(data, data.is_object());
  const json::value id_value = data["id"];
  if (e == errc{}) e = member_error(id_value, as_id(id_value).ok());
  if (e != errc{}) return listener_.on_error(e, text);  // no device or id: nobody to answer
  const std::uint32_t id = *as_id(id_value);

  const json::value method_value = data["method"];
  if (e = member_error(method_value, method_value.is_string()); e != errc{}) {
    listener_.on_error(e, text);
    return reply_error(device.raw(), id, "malformed request", "");
  }
  char name_buffer[TBMQTT_GATEWAY_NAME_CAPACITY];
  auto name = device.as_string(name_buffer);
  const device_slot* slot = name ? find_device(*name) : nullptr;
  if (slot == nullptr) {
    listener_.on_error(errc::unknown_device, text);
    return reply_error(device.raw(), id, "unknown device: ", text_of(device, name_buffer));
  }
  const auto index = static_cast<std::uint8_t>(slot - devices_.data());
  char method_buffer[method_capacity];
  const std::string_view method = text_of(method_value, method_buffer);

  // Remember (device, id) so that the app can answer later; a re-sent persistent RPC reuses its slot.
  open_rpc* open = nullptr;
  for (auto& candidate : rpcs_)
    if (candidate.used && candidate.device == index && candidate.id == id) open = &candidate;
  for (auto& candidate : rpcs_)
    if (open == nullptr && !candidate.used) open = &candidate;
  if (open == nullptr) {
    listener_.on_error(errc::queue_full, text);
    return reply_error(device.raw(), id, "gateway busy", "");
  }
  *open = open_rpc{id, now_ms + session_->config().server_rpc_ttl_ms, index, true};
  listener_.on_rpc_request(gateway_rpc_request{slot->name_view(), id, method, data["params"]});
}

result<delivery_ticket> igateway::reply_rpc_error(std::string_view device, std::uint32_t id,
                                                  std::string_view message) noexcept {
  char body[error_text_capacity * 6 + 16];  // every byte escaped as \u00XX at worst
  message = detail::slice(message, 0, error_text_capacity);
  json::writer w{body};
  w.begin_object().key("error").value(message).end_object();
  auto text = w.finish();
  if (!text) {  // the cut split a UTF-8 sequence (or it was not UTF-8): say less rather than nothing
    w.reset();
    w.begin_object().key("error").value("").end_object();
    text = w.finish();
  }
  if (!text) return text.error();
  return reply_rpc(device, id, *text);
}

result<delivery_ticket> igateway::reply_rpc(std::string_view device, std::uint32_t id,
                                            std::string_view json_text) noexcept {
  if (session_ == nullptr) return errc::not_open;
  const device_slot* slot = find_device(device);
  open_rpc* open = nullptr;
  for (auto& candidate : rpcs_)
    if (slot != nullptr && candidate.used && candidate.id == id && &devices_[candidate.device] == slot)
      open = &candidate;
  if (open == nullptr) return errc::unknown_request;
  if (!json::validate(json_text)) return errc::invalid_argument;
  json::writer w{payload_};
  w.begin_object().key("device").value(device).key("id").value(id).key("data").raw_trusted(json_text).end_object();
  auto text = w.finish();
  if (!text) return text.error();
  auto sent = send(topics::gateway_rpc, *text);
  if (sent) open->used = false;  // on failure the app may try again
  return sent;
}

void igateway::handle_attribute_response(std::string_view text) noexcept {
  auto doc = json::value::parse(text);
  if (!doc || !doc->is_object()) return listener_.on_error(errc::malformed, text);
  const json::value id_value = (*doc)["id"];
  if (errc e = member_error(id_value, as_id(id_value).ok()); e != errc{}) return listener_.on_error(e, text);
  const std::uint32_t id = *as_id(id_value);
  pending_request* request = nullptr;
  for (auto& candidate : requests_)
    if (candidate.used && candidate.id == id) request = &candidate;
  if (request == nullptr) return listener_.on_error(errc::unknown_request, text);
  request->used = false;

  const json::value device = (*doc)["device"];
  const json::value values = (*doc)["values"];
  errc e = member_error(device, device.is_string());
  if (e == errc{} && values.present() && !values.is_object()) e = errc::malformed;
  if (e != errc{}) return listener_.on_attributes_response(id, e, {});
  char name_buffer[TBMQTT_GATEWAY_NAME_CAPACITY];
  listener_.on_attributes_response(id, errc{},
                                   gateway_attributes_answer{text_of(device, name_buffer), (*doc)["value"], values});
}

}  // namespace tbmqtt
