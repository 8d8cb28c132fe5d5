// A tbmqtt::segment_store in RAM that can "lose power" (tests of the offline queue's log, and its
// fuzz target). Fixed arrays, no heap: it also runs on the Cortex-M image.
//
// `ops_left` counts create/write/sync/remove calls down; at 0 the power fails: that call fails
// (a write first lands a torn half of its bytes) and so does every later one, until power_on()
// says what the medium kept of what was written after the last sync of each segment:
// everything (the process died, the kernel kept its page cache), nothing (a power loss), or
// half of it (a torn power loss).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "power_switch.hpp"
#include "tbmqtt/segment_store.hpp"

namespace tbmqtt_test {

enum class power_loss { keep_all, keep_synced, torn };

struct crash_log final : tbmqtt::segment_store, power_switch {
  static constexpr std::size_t max_segments = 12;
  static constexpr std::size_t segment_capacity = 4096;
  struct segment {
    std::uint32_t id = 0;
    std::byte data[segment_capacity];
    std::size_t size = 0;    // bytes written (the medium's view while powered)
    std::size_t synced = 0;  // bytes made durable
    bool used = false;
  } segments[max_segments];
  std::size_t syncs = 0;
  std::size_t writes = 0;
  std::size_t removes = 0;

  void power_on(power_loss what = power_loss::keep_all) noexcept {
    for (auto& s : segments) {
      if (!s.used) continue;
      if (what == power_loss::keep_synced) s.size = s.synced;
      if (what == power_loss::torn) s.size = s.synced + (s.size - s.synced) / 2;
      s.synced = s.size;
    }
    powered = true;
    ops_left = -1;
  }
  segment* get(std::uint32_t id) noexcept {
    for (auto& s : segments)
      if (s.used && s.id == id) return &s;
    return nullptr;
  }
  std::size_t count() const noexcept {
    std::size_t n = 0;
    for (const auto& s : segments) n += s.used ? 1 : 0;
    return n;
  }

  tbmqtt::result<std::uint32_t> find(std::uint32_t from) noexcept override {
    if (!powered) return tbmqtt::errc::storage_error;
    bool any = false;
    std::uint32_t best = 0;
    for (const auto& s : segments)
      if (s.used && s.id >= from && (!any || s.id < best)) {
        best = s.id;
        any = true;
      }
    if (!any) return tbmqtt::errc::not_found;
    return best;
  }
  tbmqtt::result<std::size_t> read(std::uint32_t id, std::uint32_t offset,
                                   tbmqtt::span<std::byte> out) noexcept override {
    if (!powered) return tbmqtt::errc::storage_error;
    segment* s = get(id);
    if (s == nullptr) return tbmqtt::errc::not_found;
    if (offset >= s->size) return std::size_t{0};
    const std::size_t n = s->size - offset < out.size() ? s->size - offset : out.size();
    std::memcpy(out.data(), s->data + offset, n);
    return n;
  }
  tbmqtt::result<void> create(std::uint32_t id) noexcept override {
    if (!allowed()) return tbmqtt::errc::storage_error;
    segment* s = get(id);
    for (auto& candidate : segments)
      if (s == nullptr && !candidate.used) s = &candidate;
    if (s == nullptr) return tbmqtt::errc::not_enough_space;
    s->id = id;
    s->size = s->synced = 0;
    s->used = true;
    return {};
  }
  tbmqtt::result<void> write(std::uint32_t id, std::uint32_t offset,
                             tbmqtt::span<const std::byte> data) noexcept override {
    segment* s = get(id);
    const bool fits = s != nullptr && offset <= s->size && offset + data.size() <= segment_capacity;
    const bool was_powered = powered;
    if (!allowed()) {
      if (was_powered && fits) {  // the write that met the power cut: half of it landed
        std::memcpy(s->data + offset, data.data(), data.size() / 2);
        if (offset + data.size() / 2 > s->size) s->size = offset + data.size() / 2;
      }
      return tbmqtt::errc::storage_error;
    }
    if (!fits) return s == nullptr ? tbmqtt::errc::storage_error : tbmqtt::errc::not_enough_space;
    if (!data.empty()) std::memcpy(s->data + offset, data.data(), data.size());
    s->size = offset + data.size();
    if (s->synced > s->size) s->synced = s->size;
    ++writes;
    return {};
  }
  tbmqtt::result<void> sync(std::uint32_t id) noexcept override {
    if (!allowed()) return tbmqtt::errc::storage_error;
    if (segment* s = get(id)) s->synced = s->size;
    ++syncs;
    return {};
  }
  tbmqtt::result<void> remove(std::uint32_t id) noexcept override {
    if (!allowed()) return tbmqtt::errc::storage_error;
    if (segment* s = get(id)) s->used = false;
    ++removes;
    return {};
  }
};

}  // namespace tbmqtt_test
