// tbmqtt — tbmqtt::storage (include/tbmqtt/storage.hpp) on ESP-IDF NVS: one namespace, blobs;
// store() is atomic per key (nvs_set_blob + nvs_commit). ESP-IDF only; compile-checked
// only (tests/esp_idf/check.sh), not run on a device yet.
#pragma once

#include "nvs.h"
#include "tbmqtt/storage.hpp"

namespace tbmqtt::esp_idf {

class nvs_storage final : public storage {
 public:
  /// @param name NVS namespace (at most 15 bytes), e.g. "tbmqtt". nvs_flash_init() must have run.
  explicit nvs_storage(const char* name) noexcept : name_(name) {}
  ~nvs_storage();
  nvs_storage(const nvs_storage&) = delete;
  nvs_storage& operator=(const nvs_storage&) = delete;

  [[nodiscard]] result<void> store(std::string_view key, span<const std::byte> value) noexcept override;
  [[nodiscard]] result<std::size_t> load(std::string_view key, span<std::byte> out) noexcept override;
  [[nodiscard]] result<void> erase(std::string_view key) noexcept override;

 private:
  result<void> open() noexcept;
  const char* name_;
  nvs_handle_t handle_ = 0;
  bool open_ = false;
};

}  // namespace tbmqtt::esp_idf
