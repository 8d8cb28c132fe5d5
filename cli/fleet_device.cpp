#include "fleet_device.hpp"

#include <mosquitto.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "tbmqtt/gateway.hpp"

namespace tbmqtt::fleet {
namespace {

std::uint64_t now_us() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

errc errc_from_rc(int rc) noexcept {
  switch (rc) {
    case MOSQ_ERR_SUCCESS: return errc{};
    case MOSQ_ERR_NOMEM: return errc::out_of_memory;
    case MOSQ_ERR_NO_CONN:
    case MOSQ_ERR_CONN_LOST: return errc::not_connected;
    case MOSQ_ERR_PAYLOAD_SIZE:
    case MOSQ_ERR_OVERSIZE_PACKET: return errc::payload_too_large;
    case MOSQ_ERR_ERRNO:
    case MOSQ_ERR_EAI: return errc::unreachable;
    default: return errc::transport_error;
  }
}

session_config session_config_of(const device_settings& settings) noexcept {
  session_config c;
  c.wire = settings.wire;
  return c;
}

}  // namespace

/// A gateway's extension and its answer to sub-device RPCs.
struct device::gateway_part final : gateway_listener {
  explicit gateway_part(device& owner) : owner(owner), gw(*this) {}
  void on_rpc_request(const gateway_rpc_request& r) noexcept override {
    const std::string_view reply = !owner.settings_.rpc_reply.empty() ? std::string_view(owner.settings_.rpc_reply)
                                                                      : (!r.params.present() ? "{}" : r.params.raw());
    const auto sent = gw.reply_rpc(r.device, r.id, reply);
    owner.hooks_.on_rpc_answered(owner, sent ? errc{} : sent.error());
  }
  void on_error(errc e, std::string_view context) noexcept override { owner.hooks_.on_error(owner, e, context); }

  device& owner;
  gateway<255> gw;
  std::vector<std::string> children;
};

device::device(event_loop& loop, const device_settings& settings, device_hooks& hooks, std::string name,
               std::string token)
    : settings_(settings),
      hooks_(hooks),
      name_(std::move(name)),
      token_(std::move(token)),
      link_(loop, *this),
      session_(*this, *this, session_config_of(settings)) {
  session_.set_rpc_fallback(true);  // every server RPC reaches on_rpc_request
}

device::~device() = default;

void device::make_gateway(std::vector<std::string> children) {
  gateway_ = std::make_unique<gateway_part>(*this);
  gateway_->children = std::move(children);
  // The session's own 32 delivery slots would refuse (errc::again) a gateway's second round of
  // sub-device messages while the first waits for PUBACKs: room for its whole window, plus the
  // sub-devices' connect messages and a few replies.
  slots_.resize(window() + gateway_->children.size() + 16);
  session_.set_delivery_slots({slots_.data(), slots_.size()});
  (void)gateway_->gw.attach(session_);
  for (const auto& c : gateway_->children) (void)gateway_->gw.connect_device(c);
}

std::size_t device::children() const noexcept { return gateway_ ? gateway_->children.size() : 0; }

const std::string& device::child_name(std::size_t i) const noexcept { return gateway_ ? gateway_->children[i] : name_; }

std::uint32_t device::clock() const noexcept { return static_cast<std::uint32_t>(now_ms()); }

errc device::connect() noexcept {
  was_ready_ = false;
  const int rc = link_.open(settings_.host, settings_.port, token_.c_str(), nullptr, settings_.keepalive_s);
  return errc_from_rc(rc);
}

void device::close() noexcept {
  const bool was_open = link_.is_open();
  link_.close();
  if (was_open) session_.on_disconnected();
  pending_.clear();
  in_flight_ = 0;
}

result<delivery_ticket> device::publish_telemetry(std::string_view json, std::size_t child) noexcept {
  result<delivery_ticket> id = gateway_ ? gateway_->gw.publish_telemetry(gateway_->children[child], json)
                                        : session_.publish_telemetry(json, settings_.telemetry_qos);
  if (!id) return id;
  if (settings_.telemetry_qos == qos::at_least_once || gateway_)  // gateway messages always go at QoS 1
    track(*id);
  else
    hooks_.on_delivered(*this);  // QoS 0: "acknowledged" means handed to the socket
  return id;
}

void device::track(delivery_ticket id) noexcept {
  pending_.push_back(id);
  ++in_flight_;
}

result<void> device::call_rpc(std::string_view method, std::string_view params) noexcept {
  if (request_id_ != 0) return errc::again;  // one at a time
  request_sent_us_ = now_us();
  const auto id = session_.call_rpc(method, params, clock());
  if (!id) return id.error();
  request_id_ = *id;
  request_is_rpc_ = true;
  return {};
}

result<void> device::request_attributes() noexcept {
  if (request_id_ != 0) return errc::again;
  request_sent_us_ = now_us();
  const auto id = session_.request_attributes({}, {}, clock());
  if (!id) return id.error();
  request_id_ = *id;
  request_is_rpc_ = false;
  return {};
}

void device::tick() noexcept { session_.tick(clock()); }

// ---- link -> session ---------------------------------------------------------------------------

void device::on_connack(int code) noexcept {
  if (code != 0) {  // libmosquitto closes the link right after: on_lost reports it
    refused_ = true;
    return;
  }
  session_.on_connected(clock());
}

void device::on_lost(int) noexcept {
  session_.on_disconnected();
  pending_.clear();
  in_flight_ = 0;
  const bool refused = refused_;
  refused_ = false;
  hooks_.on_down(*this, refused);
}

void device::on_message(std::string_view topic, span<const std::byte> payload) noexcept {
  session_.on_message(topic, payload, clock());
}

void device::on_suback(int mid, int granted) noexcept {
  session_.on_suback(static_cast<message_id>(mid), static_cast<std::uint8_t>(granted));
}

void device::on_puback(int mid) noexcept { session_.on_puback(static_cast<message_id>(mid)); }

// ---- session -> link ---------------------------------------------------------------------------

result<message_id> device::publish(std::string_view topic, span<const std::byte> payload, qos q) noexcept {
  if (!link_.is_open()) return errc::not_connected;
  char terminated[TBMQTT_TOPIC_CAPACITY + 64];
  if (topic.size() >= sizeof(terminated)) return errc::invalid_argument;
  topic.copy(terminated, topic.size());
  terminated[topic.size()] = '\0';
  int mid = 0;
  const int rc = link_.publish(terminated, payload.data(), static_cast<int>(payload.size()), static_cast<int>(q), &mid);
  if (rc != MOSQ_ERR_SUCCESS) return errc_from_rc(rc);
  return static_cast<message_id>(mid);
}

result<message_id> device::subscribe(std::string_view filter, qos q) noexcept {
  if (!link_.is_open()) return errc::not_connected;
  char terminated[TBMQTT_TOPIC_CAPACITY + 64];
  if (filter.size() >= sizeof(terminated)) return errc::invalid_argument;
  filter.copy(terminated, filter.size());
  terminated[filter.size()] = '\0';
  int mid = 0;
  const int rc = link_.subscribe(terminated, static_cast<int>(q), &mid);
  if (rc != MOSQ_ERR_SUCCESS) return errc_from_rc(rc);
  return static_cast<message_id>(mid);
}

// ---- session events -> fleet -------------------------------------------------------------------

void device::on_ready() noexcept {
  if (was_ready_) return;
  was_ready_ = true;
  hooks_.on_ready(*this);
}

void device::on_delivered(delivery_ticket ticket, errc e) noexcept {
  const auto it = std::find(pending_.begin(), pending_.end(), ticket);
  if (it == pending_.end()) return;  // a request, reply or QoS 0 message (counted when sent)
  *it = pending_.back();
  pending_.pop_back();
  --in_flight_;
  if (e == errc{}) hooks_.on_delivered(*this);  // lost ones (e.g. the connection dropped) are not
}

void device::on_attributes_response(std::uint32_t id, errc e, json::value, json::value) noexcept {
  if (id != request_id_ || request_is_rpc_) return;
  request_id_ = 0;
  hooks_.on_round_trip(*this, false, e, now_us() - request_sent_us_);
}

void device::on_rpc_response(std::uint32_t id, errc e, json::value) noexcept {
  if (id != request_id_ || !request_is_rpc_) return;
  request_id_ = 0;
  hooks_.on_round_trip(*this, true, e, now_us() - request_sent_us_);
}

void device::on_rpc_request(const rpc_request& r) noexcept {
  const std::string_view reply = !settings_.rpc_reply.empty() ? std::string_view(settings_.rpc_reply)
                                                              : (!r.params.present() ? "{}" : r.params.raw());
  const auto sent = session_.reply_rpc(r.id, reply);
  hooks_.on_rpc_answered(*this, sent ? errc{} : sent.error());
}

void device::on_error(errc e, std::string_view context) noexcept { hooks_.on_error(*this, e, context); }

}  // namespace tbmqtt::fleet
