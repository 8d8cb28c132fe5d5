#include "tbmqtt/detail/dispatcher.hpp"

namespace tbmqtt::detail {

result<void> dispatcher::add(session_extension& engine, bool builtin) noexcept {
  if (count_ == (builtin ? builtin_engine_count : builtin_ + TBMQTT_MAX_EXTENSIONS)) return errc::queue_full;
  engines_[count_++] = &engine;
  if (builtin) builtin_ = count_;
  return {};
}

void dispatcher::remove(session_extension& engine) noexcept {
  for (std::size_t i = builtin_; i < count_; ++i) {
    if (engines_[i] != &engine) continue;
    for (std::size_t j = i + 1; j < count_; ++j) engines_[j - 1] = engines_[j];
    engines_[--count_] = nullptr;
    return;
  }
}

bool dispatcher::route(std::string_view topic, span<const std::byte> payload, std::uint32_t now_ms) noexcept {
  for (std::size_t i = 0; i < count_; ++i)
    if (engines_[i]->on_message(topic, payload, now_ms)) return true;
  return false;
}

session_extension* dispatcher::take_stream(std::string_view topic, std::size_t total, std::uint32_t now_ms) noexcept {
  for (std::size_t i = 0; i < count_; ++i)
    if (engines_[i]->on_stream_begin(topic, total, now_ms)) return engines_[i];
  return nullptr;
}

bool dispatcher::attributes_response(std::uint32_t id, errc e, json::value client, json::value shared,
                                     std::uint32_t now_ms) noexcept {
  for (std::size_t i = 0; i < count_; ++i)
    if (engines_[i]->on_attributes_response(id, e, client, shared, now_ms)) return true;
  return false;
}

void dispatcher::shared_attributes(json::value update, std::uint32_t now_ms) noexcept {
  for (std::size_t i = 0; i < count_; ++i) engines_[i]->on_shared_attributes(update, now_ms);
}

void dispatcher::ready(std::uint32_t now_ms) noexcept {
  for (std::size_t i = 0; i < count_; ++i) engines_[i]->on_ready(now_ms);
}

void dispatcher::disconnected() noexcept {
  for (std::size_t i = 0; i < count_; ++i) engines_[i]->on_disconnected();
}

void dispatcher::tick(std::uint32_t now_ms) noexcept {
  for (std::size_t i = 0; i < count_; ++i) engines_[i]->on_tick(now_ms);
}

}  // namespace tbmqtt::detail
