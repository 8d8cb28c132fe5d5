// tbmqtt — persistent key/value storage the core's features use (credentials, OTA checkpoint,
// offline queue). Implemented by a platform: files on Linux, NVS on ESP-IDF, RAM in tests.
#pragma once

#include <cstddef>
#include <string_view>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt {

/// @brief Small named blobs that survive restarts. Keys are at most 15 characters (the NVS limit).
/// Porting guide: store() must be atomic — after a crash or power loss a key holds either the
/// old or the new value, never a mix (Linux: temp file, fsync, rename; NVS: nvs_commit).
class storage {
 public:
  /// @brief Reads the value of `key` into `out`.
  /// @return Bytes read, or errc::not_found (no such key), errc::not_enough_space (`out` too
  /// small), errc::storage_error (the medium failed).
  [[nodiscard]] virtual result<std::size_t> load(std::string_view key, span<std::byte> out) noexcept = 0;
  /// @brief Replaces the value of `key` atomically.
  /// @return ok, or errc::not_enough_space (medium full), errc::storage_error.
  [[nodiscard]] virtual result<void> store(std::string_view key, span<const std::byte> value) noexcept = 0;
  /// @brief Removes `key`; removing a missing key is ok.
  [[nodiscard]] virtual result<void> erase(std::string_view key) noexcept = 0;

 protected:
  ~storage() = default;
};

}  // namespace tbmqtt
