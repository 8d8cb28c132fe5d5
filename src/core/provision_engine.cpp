#include "tbmqtt/detail/provision_engine.hpp"

#include <cstring>

#include "tbmqtt/provision.hpp"

namespace tbmqtt::detail {

void provision_engine::finish(errc e) noexcept {
  if (finished_) return;
  finished_ = true;
  error_ = e;
}

void provision_engine::on_connack(errc result) noexcept {
  if (finished_) return;
  if (result != errc{}) return finish(result);
  connected_ = true;
  auto id = transport_.subscribe(provision_response_topic, qos::at_least_once);
  if (!id) return finish(id.error());
  subscribe_id_ = *id;
  subscribing_ = true;
}

void provision_engine::on_suback(message_id id, std::uint8_t granted) noexcept {
  if (finished_ || !subscribing_ || id != subscribe_id_) return;
  subscribing_ = false;
  if (granted == 0x80) return finish(errc::subscription_refused);
  const span<const std::byte> bytes{reinterpret_cast<const std::byte*>(request_.data()), request_.size()};
  if (auto sent = transport_.publish(provision_request_topic, bytes, qos::at_least_once); !sent) finish(sent.error());
}

void provision_engine::on_message_fragment(std::string_view topic, span<const std::byte> fragment, std::size_t offset,
                                           std::size_t total) noexcept {
  if (finished_) return;
  if (offset == 0) {
    skipping_ = topic != provision_response_topic;
    if (skipping_) return;
    if (total > response_.size()) return finish(errc::payload_too_large);
    received_ = 0;
    total_ = total;
  } else if (skipping_) {
    return;
  }
  if (offset != received_ || fragment.size() > total_ - received_) return finish(errc::malformed);
  if (!fragment.empty()) std::memcpy(response_.data() + received_, fragment.data(), fragment.size());
  received_ += fragment.size();
  if (received_ == total_) finish(errc{});
}

void provision_engine::on_connection_lost(errc reason) noexcept {
  if (connected_) return finish(errc::disconnected);
  finish(reason != errc{} ? reason : errc::unreachable);
}

void provision_engine::on_deadline() noexcept { finish(errc::timeout); }

result<std::string_view> provision_engine::outcome() const noexcept {
  if (!finished_) return errc::again;
  if (error_ != errc{}) return error_;
  return std::string_view{response_.data(), received_};
}

}  // namespace tbmqtt::detail
