// tbmqtt::storage over NVS blobs. NVS handles are safe to use from several tasks.
#include "nvs_storage.hpp"

#include <cstring>

#include "../../transport/esp_mqtt/esp_event_mapping.hpp"
#include "esp_err.h"

namespace tbmqtt::esp_idf {
namespace {

constexpr std::size_t max_key = 15;  // NVS key limit (storage.hpp)

bool terminated_key(std::string_view key, char (&out)[max_key + 1]) noexcept {
  if (key.empty() || key.size() > max_key) return false;
  std::memcpy(out, key.data(), key.size());
  out[key.size()] = '\0';
  return true;
}

errc errc_from_nvs(esp_err_t err) noexcept { return detail::errc_from_esp_storage_err(err); }

}  // namespace

nvs_storage::~nvs_storage() {
  if (open_) nvs_close(handle_);
}

result<void> nvs_storage::open() noexcept {
  if (open_) return {};
  const esp_err_t err = nvs_open(name_, NVS_READWRITE, &handle_);
  if (err != ESP_OK) return errc_from_nvs(err);
  open_ = true;
  return {};
}

result<void> nvs_storage::store(std::string_view key, span<const std::byte> value) noexcept {
  char k[max_key + 1];
  if (!terminated_key(key, k)) return errc::invalid_argument;
  TBMQTT_TRY(open());
  esp_err_t err = nvs_set_blob(handle_, k, value.data(), value.size());
  if (err == ESP_OK) err = nvs_commit(handle_);
  if (err != ESP_OK) return errc_from_nvs(err);
  return {};
}

result<std::size_t> nvs_storage::load(std::string_view key, span<std::byte> out) noexcept {
  char k[max_key + 1];
  if (!terminated_key(key, k)) return errc::invalid_argument;
  TBMQTT_TRY(open());
  std::size_t size = 0;
  esp_err_t err = nvs_get_blob(handle_, k, nullptr, &size);  // size first
  if (err != ESP_OK) return errc_from_nvs(err);
  if (size > out.size()) return errc::not_enough_space;
  err = nvs_get_blob(handle_, k, out.data(), &size);
  if (err != ESP_OK) return errc_from_nvs(err);
  return size;
}

result<void> nvs_storage::erase(std::string_view key) noexcept {
  char k[max_key + 1];
  if (!terminated_key(key, k)) return errc::invalid_argument;
  TBMQTT_TRY(open());
  esp_err_t err = nvs_erase_key(handle_, k);
  if (err == ESP_ERR_NVS_NOT_FOUND) err = ESP_OK;
  if (err == ESP_OK) err = nvs_commit(handle_);
  if (err != ESP_OK) return errc_from_nvs(err);
  return {};
}

}  // namespace tbmqtt::esp_idf
