// tbmqtt — test doubles for the OTA engine: an ota_sink and a storage in RAM (no heap), shared by
// tests/unit/test_ota_engine.cpp and tests/unit/test_esp_event_mapping.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "tbmqtt/ota.hpp"
#include "tbmqtt/storage.hpp"

namespace tbmqtt_test {

using tbmqtt::errc;

/// An ota_sink in RAM. `fail_from`: writes reaching that offset fail with `write_error`.
struct memory_sink final : tbmqtt::ota_sink {
  static constexpr std::size_t capacity = 70000;
  std::byte data[capacity];
  std::uint64_t fail_from = UINT64_MAX;
  errc write_error = errc::storage_error;
  int writes = 0;
  std::uint64_t begun_at = 99, high = 0;
  int begins = 0, aborts = 0, finishes = 0, activations = 0, confirms = 0, rollbacks = 0;
  std::uint64_t synced = 0;  // `high` at the last sync(): what a power loss keeps
  bool sync_fails = false;
  errc confirm_error{};
  tbmqtt::result<void> begin(const tbmqtt::ota_package&, std::uint64_t resume_offset) noexcept override {
    ++begins;
    begun_at = resume_offset;
    return {};
  }
  tbmqtt::result<void> write(std::uint64_t offset, tbmqtt::span<const std::byte> bytes) noexcept override {
    if (offset + bytes.size() > capacity) return errc::not_enough_space;
    if (offset + bytes.size() > fail_from) return write_error;
    ++writes;
    if (!bytes.empty()) std::memcpy(data + offset, bytes.data(), bytes.size());
    if (offset + bytes.size() > high) high = offset + bytes.size();
    return {};
  }
  tbmqtt::result<std::size_t> read(std::uint64_t offset, tbmqtt::span<std::byte> out) noexcept override {
    if (offset >= high) return std::size_t{0};
    const std::size_t n = static_cast<std::size_t>(high - offset < out.size() ? high - offset : out.size());
    std::memcpy(out.data(), data + offset, n);
    return n;
  }
  tbmqtt::result<void> sync() noexcept override {
    if (sync_fails) return errc::storage_error;
    synced = high;
    return {};
  }
  tbmqtt::result<void> finish() noexcept override {
    ++finishes;
    return {};
  }
  void abort() noexcept override { ++aborts; }
  tbmqtt::result<void> activate() noexcept override {
    ++activations;
    return {};
  }
  tbmqtt::result<void> confirm() noexcept override {
    ++confirms;
    if (confirm_error != errc{}) return confirm_error;
    return {};
  }
  tbmqtt::result<void> rollback() noexcept override {
    ++rollbacks;
    return {};
  }
};

/// A storage in RAM: four keys of up to 512 bytes.
struct memory_storage final : tbmqtt::storage {
  struct entry {
    char key[16] = {};
    std::byte value[512];
    std::size_t size = 0;
    bool used = false;
  } entries[4];
  int stores = 0;
  entry* find(std::string_view key) {
    for (auto& e : entries)
      if (e.used && key == e.key) return &e;
    return nullptr;
  }
  tbmqtt::result<std::size_t> load(std::string_view key, tbmqtt::span<std::byte> out) noexcept override {
    entry* e = find(key);
    if (e == nullptr) return errc::not_found;
    if (e->size > out.size()) return errc::not_enough_space;
    std::memcpy(out.data(), e->value, e->size);
    return e->size;
  }
  tbmqtt::result<void> store(std::string_view key, tbmqtt::span<const std::byte> value) noexcept override {
    entry* e = find(key);
    for (auto& candidate : entries)
      if (e == nullptr && !candidate.used) e = &candidate;
    if (e == nullptr || value.size() > sizeof e->value) return errc::not_enough_space;
    std::memset(e->key, 0, sizeof e->key);
    std::memcpy(e->key, key.data(), key.size());
    std::memcpy(e->value, value.data(), value.size());
    e->size = value.size();
    e->used = true;
    ++stores;
    return {};
  }
  tbmqtt::result<void> erase(std::string_view key) noexcept override {
    if (entry* e = find(key)) e->used = false;
    return {};
  }
};

}  // namespace tbmqtt_test
