// Test fixture: a storage of small key/value blobs in RAM (what NVS is on ESP-IDF), with
// power cuts. Host and Cortex-M test code.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>

#include "power_switch.hpp"
#include "tbmqtt/storage.hpp"

namespace tbmqtt_test {

// Small key/value blobs in RAM; store() is atomic like NVS's; `ops_left` cuts the power.
struct blob_storage final : tbmqtt::storage, power_switch {
  struct slot {
    char key[16] = {};
    std::byte value[96];
    std::size_t size = 0;
    bool used = false;
  } slots[48];
  slot* find(std::string_view key) noexcept {
    for (auto& s : slots)
      if (s.used && key == s.key) return &s;
    return nullptr;
  }
  tbmqtt::result<std::size_t> load(std::string_view key, tbmqtt::span<std::byte> out) noexcept override {
    if (!powered) return tbmqtt::errc::storage_error;
    slot* s = find(key);
    if (s == nullptr) return tbmqtt::errc::not_found;
    if (s->size > out.size()) return tbmqtt::errc::not_enough_space;
    std::memcpy(out.data(), s->value, s->size);
    return s->size;
  }
  tbmqtt::result<void> store(std::string_view key, tbmqtt::span<const std::byte> value) noexcept override {
    if (!allowed()) return tbmqtt::errc::storage_error;
    slot* s = find(key);
    for (auto& candidate : slots)
      if (s == nullptr && !candidate.used) s = &candidate;
    if (s == nullptr || value.size() > sizeof s->value) return tbmqtt::errc::not_enough_space;
    std::memset(s->key, 0, sizeof s->key);
    std::memcpy(s->key, key.data(), key.size());
    std::memcpy(s->value, value.data(), value.size());
    s->size = value.size();
    s->used = true;
    return {};
  }
  tbmqtt::result<void> erase(std::string_view key) noexcept override {
    if (!allowed()) return tbmqtt::errc::storage_error;
    if (slot* s = find(key)) s->used = false;
    return {};
  }
};

}  // namespace tbmqtt_test
