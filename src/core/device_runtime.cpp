// The portable device runtime: what the Linux and ESP-IDF clients share (tbmqtt/device_runtime.hpp).
#include "tbmqtt/device_runtime.hpp"

#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/registry.hpp"
#include "tbmqtt/session.hpp"

namespace tbmqtt {

device_runtime::device_runtime(session& core, runtime_os& os, std::uint32_t tick_period_ms) noexcept
    : core_(core), os_(os), tick_period_ms_(tick_period_ms > 0 ? tick_period_ms : 1) {}

void device_runtime::tick() noexcept {
  const std::uint32_t now = os_.now_ms();
  if (now - last_tick_ms_ < tick_period_ms_) return;
  last_tick_ms_ = now;
  core_.tick(now);
  if (points_ != nullptr && tick_points_) points_->tick(now, os_.unix_ms());
}

result<void> device_runtime::attach(iregistry& points, bool tick) noexcept {
  if (points_ != nullptr && points_ != &points) points_->detach();
  points_ = nullptr;
  TBMQTT_TRY(points.attach(core_));
  points_ = &points;
  tick_points_ = tick;
  return {};
}

void device_runtime::detach() noexcept {
  if (points_ != nullptr) points_->detach();
  points_ = nullptr;
}

void device_runtime::begin_connect() noexcept {
  outcome_set_ = false;
  outcome_ = errc{};
  ever_connected_ = false;
}

void device_runtime::set_outcome(errc e) noexcept {
  if (!outcome_set_) {
    outcome_ = e;
    outcome_set_ = true;
  }
  os_.wake();
}

void device_runtime::on_ready() noexcept {
  ready_ = true;
  ever_connected_ = true;
  set_outcome(errc{});
  tell({true, errc{}});
}

void device_runtime::on_refused(errc reason) noexcept {
  if (!ever_connected_) set_outcome(reason);
  tell({false, reason});
}

void device_runtime::on_attempt_failed(errc reason) noexcept {
  if (!ever_connected_) set_outcome(reason);
}

void device_runtime::on_connection_lost(errc reason) noexcept {
  const bool was_ready = ready_;
  ready_ = false;
  os_.wake();
  if (was_ready) tell({false, reason == errc{} ? errc::disconnected : reason});
}

void device_runtime::on_error(errc e) noexcept {
  if (e == errc::subscription_refused && !ever_connected_) set_outcome(e);
}

bool device_runtime::idle(bool with_store) const noexcept {
  if (core_.unacknowledged() != 0) return false;
  return !with_store || core_.queue() == nullptr || core_.queue()->empty();
}

void device_runtime::flush_waiting(bool on) noexcept {
  if (on)
    ++flush_waiters_;
  else if (flush_waiters_ > 0)
    --flush_waiters_;
}

void device_runtime::on_delivered() noexcept {
  if (flush_waiters_ > 0 && idle()) os_.wake();
}

}  // namespace tbmqtt
