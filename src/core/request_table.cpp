#include "tbmqtt/detail/request_table.hpp"

#include "tbmqtt/session_ports.hpp"

namespace tbmqtt::detail {

result<std::uint32_t> request_table::start(request_owner& owner, std::uint8_t tag, std::uint32_t deadline_ms) noexcept {
  entry* slot = nullptr;
  for (auto& e : entries_)
    if (e.owner == nullptr) {
      slot = &e;
      break;
    }
  if (slot == nullptr) return errc::queue_full;
  // Never hand out an id that is still pending (possible after 2^32 requests).
  for (;;) {
    const std::uint32_t id = next_id_++;
    if (id == 0) continue;
    bool in_use = false;
    for (const auto& e : entries_) in_use = in_use || (e.owner != nullptr && e.id == id);
    if (in_use) continue;
    *slot = entry{id, deadline_ms, &owner, tag};
    return id;
  }
}

bool request_table::finish(std::uint32_t id, const request_owner& owner, std::uint8_t tag) noexcept {
  for (auto& e : entries_)
    if (e.owner == &owner && e.tag == tag && e.id == id) {
      e.owner = nullptr;
      return true;
    }
  return false;
}

void request_table::end(entry& e, errc error, std::uint32_t now_ms) noexcept {
  request_owner* owner = e.owner;
  e.owner = nullptr;  // first: the owner may start a new request in this slot
  owner->on_request_ended(e.id, e.tag, error, now_ms);
}

void request_table::expire(std::uint32_t now_ms) noexcept {
  for (auto& e : entries_)
    if (e.owner != nullptr && time_reached(now_ms, e.deadline_ms)) end(e, errc::timeout, now_ms);
}

void request_table::end_all(errc error, std::uint32_t now_ms) noexcept {
  for (auto& e : entries_)
    if (e.owner != nullptr) end(e, error, now_ms);
}

std::uint32_t request_table::take_id() noexcept {
  std::uint32_t id = next_id_++;
  if (id == 0) id = next_id_++;
  return id;
}

std::size_t request_table::pending() const noexcept {
  std::size_t count = 0;
  for (const auto& e : entries_) count += e.owner != nullptr ? 1 : 0;
  return count;
}

}  // namespace tbmqtt::detail
