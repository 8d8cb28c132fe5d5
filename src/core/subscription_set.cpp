#include "tbmqtt/detail/subscription_set.hpp"

#include "tbmqtt/detail/session_context.hpp"

namespace tbmqtt::detail {
namespace {
constexpr std::uint8_t suback_failure = 0x80;
}  // namespace

void subscription_set::subscribe(entry& e) noexcept {
  auto id = ctx_.port.subscribe(e.filter, ctx_.config.control_qos);
  if (!id) {
    e.pending = false;
    ctx_.events.on_error(id.error(), e.filter);
    return;
  }
  e.packet_id = *id;
  e.pending = true;
}

result<void> subscription_set::ensure(std::string_view filter) noexcept {
  for (std::size_t i = 0; i < count_; ++i)
    if (entries_[i].filter == filter) return {};
  if (count_ == TBMQTT_MAX_SUBSCRIPTIONS) return errc::queue_full;
  entry& e = entries_[count_++];
  e = entry{filter, 0, false};
  if (ctx_.state != session_state::disconnected) subscribe(e);
  return {};
}

void subscription_set::subscribe_all() noexcept {
  for (std::size_t i = 0; i < count_; ++i) subscribe(entries_[i]);
}

void subscription_set::forget_pending() noexcept {
  for (std::size_t i = 0; i < count_; ++i) entries_[i].pending = false;
}

bool subscription_set::on_suback(message_id id, std::uint8_t granted) noexcept {
  for (std::size_t i = 0; i < count_; ++i) {
    entry& e = entries_[i];
    if (!e.pending || e.packet_id != id) continue;
    e.pending = false;
    if (granted >= suback_failure) ctx_.events.on_error(errc::subscription_refused, e.filter);
    return true;
  }
  return false;
}

bool subscription_set::all_granted() const noexcept {
  for (std::size_t i = 0; i < count_; ++i)
    if (entries_[i].pending) return false;
  return true;
}

}  // namespace tbmqtt::detail
