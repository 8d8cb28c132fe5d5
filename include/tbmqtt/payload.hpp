// tbmqtt — typed builders for telemetry and client-attribute payloads, so app code needs no
// JSON library. They write into a fixed buffer they own; nothing is allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/json.hpp"

namespace tbmqtt {

namespace detail {
/// Shared key/value writing for the builders below. Not part of the contract.
class key_value_writer {
 public:
  explicit key_value_writer(span<char> out) noexcept : writer_(out) {}
  json::writer& json() noexcept { return writer_; }

 protected:
  json::writer writer_;
};
}  // namespace detail

/// @brief Builds a telemetry payload:
///   - only add():           `{"temp":21.5,"on":true}`
///   - at(ts) then add():    `{"ts":1700000000000,"values":{"temp":21.5}}`
///   - several at(ts):       `[{"ts":1,"values":{..}},{"ts":2,"values":{..}}]`
/// Values: bool, integers, double (NaN/inf rejected), text, or raw JSON (add_json, validated).
///
///     tbmqtt::telemetry<256> t;
///     t.add("temp", 21.5).add("humidity", 40);
///     client.send_telemetry(t);
class itelemetry {
 public:
  /// Starts a new `{"ts":..,"values":{..}}` entry; later add() calls go into it.
  itelemetry& at(std::uint64_t ts_ms) noexcept;
  template <typename T>
  itelemetry& add(std::string_view key, T value) noexcept {
    open_entry();
    writer_.key(key).value(value);
    return *this;
  }
  /// Adds a member whose value is JSON text (object, array, ...), validated.
  itelemetry& add_json(std::string_view key, std::string_view json_text) noexcept;
  /// @brief Closes the document. Adding after finish() is an error (errc::invalid_argument);
  /// finish() itself may be called again and returns the same text.
  /// @return The payload, or errc::not_enough_space, errc::invalid_argument (NaN, bad raw JSON,
  /// or nothing added).
  [[nodiscard]] result<std::string_view> finish() noexcept;
  /// Forgets all entries; the builder can be reused.
  void clear() noexcept;

 protected:
  explicit itelemetry(span<char> buffer) noexcept : writer_(buffer) { clear(); }

 private:
  void open_entry() noexcept;
  void close_entry() noexcept;
  json::writer writer_;
  bool finished_ = false;
  std::uint32_t entries_ = 0;
  bool entry_open_ = false;
  bool entry_has_ts_ = false;
};

/// @brief An itelemetry with a buffer of N bytes inside.
template <std::size_t N>
class telemetry : public itelemetry {
 public:
  telemetry() noexcept : itelemetry({storage_, N}) {}
  telemetry(const telemetry&) = delete;
  telemetry& operator=(const telemetry&) = delete;

 private:
  char storage_[N];
};

/// @brief Builds a client-attributes payload: a flat object `{"fw":"1.0","mode":"eco"}`.
class iattributes {
 public:
  template <typename T>
  iattributes& add(std::string_view key, T value) noexcept {
    writer_.key(key).value(value);
    return *this;
  }
  /// Adds a member whose value is JSON text, validated.
  iattributes& add_json(std::string_view key, std::string_view json_text) noexcept;
  /// @brief Closes the document (idempotent, like itelemetry::finish).
  /// @return The payload, or errc::not_enough_space / errc::invalid_argument (also when empty).
  [[nodiscard]] result<std::string_view> finish() noexcept;
  void clear() noexcept;

 protected:
  explicit iattributes(span<char> buffer) noexcept : writer_(buffer) { clear(); }

 private:
  json::writer writer_;
  std::size_t empty_size_ = 0;
  bool finished_ = false;
};

/// @brief An iattributes with a buffer of N bytes inside.
template <std::size_t N>
class attributes : public iattributes {
 public:
  attributes() noexcept : iattributes({storage_, N}) {}
  attributes(const attributes&) = delete;
  attributes& operator=(const attributes&) = delete;

 private:
  char storage_[N];
};

}  // namespace tbmqtt
