// tbmqtt::esp_ota_sink: firmware images into the next OTA app partition through the partition
// API (see include/tbmqtt/esp_idf/ota_sink.hpp for why not esp_ota_write). ESP-IDF only;
// compile-checked only (tests/esp_idf/check.sh), not run on a device yet.
#include "tbmqtt/esp_idf/ota_sink.hpp"

#include "../../transport/esp_mqtt/esp_event_mapping.hpp"
#include "esp_err.h"
#include "esp_idf_version.h"
#include "esp_log.h"
#include "esp_ota_ops.h"

// esp_ota_end() verifies with esp_image_verify(); use it where the header is reachable
// (bootloader_support; present in the v4.4 header set, not in the v5.x one used by check.sh).
#if __has_include("esp_image_format.h")
#include "esp_image_format.h"
#define TBMQTT_HAS_ESP_IMAGE_VERIFY 1
#else
#define TBMQTT_HAS_ESP_IMAGE_VERIFY 0
#endif

namespace tbmqtt {
namespace {

const char* const tag = "tbmqtt_ota";

errc errc_from_ota(esp_err_t err) noexcept {
  switch (err) {
#if TBMQTT_HAS_ESP_IMAGE_VERIFY
    case ESP_ERR_IMAGE_INVALID:
#endif
    case ESP_ERR_OTA_VALIDATE_FAILED: return errc::malformed;
    case ESP_ERR_INVALID_ARG:
    case ESP_ERR_INVALID_SIZE:
    case ESP_ERR_NOT_FOUND: return errc::invalid_argument;
    default: {
      const errc e = detail::errc_from_esp_storage_err(err);
      return e == errc{} ? errc::storage_error : e;  // called with a failure: never "ok"
    }
  }
}

std::uint32_t sector_size(const esp_partition_t* p) noexcept {
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 0, 0)
  if (p->erase_size != 0) return p->erase_size;
#else
  (void)p;
#endif
  return 4096;  // SPI_FLASH_SEC_SIZE
}

std::uint64_t round_up(std::uint64_t v, std::uint32_t unit) noexcept { return (v + unit - 1) / unit * unit; }

}  // namespace

result<void> esp_ota_sink::begin(const ota_package& package, std::uint64_t resume_offset) noexcept {
  partition_ = nullptr;
  finished_ = false;
  const esp_partition_t* p = esp_ota_get_next_update_partition(nullptr);
  if (p == nullptr) {
    ESP_LOGE(tag, "no OTA app partition (partition table has no ota_0/ota_1)");
    return errc::invalid_argument;
  }
  const esp_partition_t* running = esp_ota_get_running_partition();
  if (running != nullptr && running->address == p->address) return errc::invalid_argument;
  if (package.size == 0 || package.size > p->size || resume_offset > package.size) {
    ESP_LOGE(tag, "image of %u bytes does not fit partition '%s' (%u bytes)", static_cast<unsigned>(package.size),
             p->label, static_cast<unsigned>(p->size));
    return errc::not_enough_space;
  }
  partition_ = p;
  size_ = package.size;
  sector_ = sector_size(p);
  // Resume: the sectors holding the kept prefix are erased-and-written already; the sector that
  // holds byte resume_offset - 1 was erased before that byte was written, so it is kept too.
  erased_end_ = round_up(resume_offset, sector_);
  if (erased_end_ > p->size) erased_end_ = p->size;
  written_end_ = resume_offset;
  ESP_LOGI(tag, "writing %u bytes to partition '%s' at 0x%x (resume at %u)", static_cast<unsigned>(size_), p->label,
           static_cast<unsigned>(p->address), static_cast<unsigned>(resume_offset));
  return {};
}

result<void> esp_ota_sink::erase_through(std::uint64_t end) noexcept {
  if (end <= erased_end_) return {};
  std::uint64_t to = round_up(end, sector_);
  if (to > partition_->size) to = partition_->size;  // partition sizes are sector multiples
  const esp_err_t err = esp_partition_erase_range(partition_, static_cast<std::size_t>(erased_end_),
                                                  static_cast<std::size_t>(to - erased_end_));
  if (err != ESP_OK) {
    ESP_LOGE(tag, "erase failed: %s", esp_err_to_name(err));
    return errc_from_ota(err);
  }
  erased_end_ = to;
  return {};
}

result<void> esp_ota_sink::write(std::uint64_t offset, span<const std::byte> data) noexcept {
  if (partition_ == nullptr || finished_) return errc::invalid_argument;
  if (offset > size_ || data.size() > size_ - offset) return errc::invalid_argument;
  if (data.size() == 0) return {};
  const std::uint64_t end = offset + data.size();
  TBMQTT_TRY(erase_through(end));  // every sector below `end` is erased exactly once
  const esp_err_t err = esp_partition_write(partition_, static_cast<std::size_t>(offset), data.data(), data.size());
  if (err != ESP_OK) {
    ESP_LOGE(tag, "write at %u failed: %s", static_cast<unsigned>(offset), esp_err_to_name(err));
    return errc_from_ota(err);
  }
  if (end > written_end_) written_end_ = end;
  return {};
}

result<std::size_t> esp_ota_sink::read(std::uint64_t offset, span<std::byte> out) noexcept {
  if (partition_ == nullptr) return errc::invalid_argument;
  if (offset >= written_end_) return std::size_t{0};
  std::size_t n = out.size();
  if (n > written_end_ - offset) n = static_cast<std::size_t>(written_end_ - offset);
  if (n == 0) return std::size_t{0};
  const esp_err_t err = esp_partition_read(partition_, static_cast<std::size_t>(offset), out.data(), n);
  if (err != ESP_OK) return errc_from_ota(err);
  return n;
}

result<void> esp_ota_sink::finish() noexcept {
  if (partition_ == nullptr) return errc::invalid_argument;
#if TBMQTT_HAS_ESP_IMAGE_VERIFY
  const esp_partition_pos_t pos = {partition_->address, partition_->size};
  esp_image_metadata_t meta{};
  const esp_err_t err = esp_image_verify(ESP_IMAGE_VERIFY, &pos, &meta);
#else
  esp_app_desc_t desc{};
  const esp_err_t err = esp_ota_get_partition_description(partition_, &desc);
#endif
  if (err != ESP_OK) {
    ESP_LOGE(tag, "image in '%s' is not a valid app: %s", partition_->label, esp_err_to_name(err));
    return errc::malformed;
  }
  finished_ = true;
  return {};
}

void esp_ota_sink::abort() noexcept {
  // Nothing to release (no esp_ota handle). The partition is never booted without activate().
  partition_ = nullptr;
  finished_ = false;
  written_end_ = erased_end_ = size_ = 0;
}

result<void> esp_ota_sink::activate() noexcept {
  if (partition_ == nullptr || !finished_) return errc::invalid_argument;
  const esp_err_t err = esp_ota_set_boot_partition(partition_);  // verifies the image again
  if (err != ESP_OK) {
    ESP_LOGE(tag, "esp_ota_set_boot_partition: %s", esp_err_to_name(err));
    return errc_from_ota(err);
  }
  ESP_LOGI(tag, "next boot: partition '%s'", partition_->label);
  return {};
}

result<void> esp_ota_sink::confirm() noexcept {
  return esp_ota_running_pending_verify() ? esp_ota_confirm_running() : result<void>{};
}

result<void> esp_ota_sink::rollback() noexcept {
  const esp_err_t err = esp_ota_mark_app_invalid_rollback_and_reboot();
  return errc_from_ota(err);  // only reached when there is nothing to roll back to
}

result<void> esp_ota_confirm_running() noexcept {
  const esp_err_t err = esp_ota_mark_app_valid_cancel_rollback();
  if (err != ESP_OK) return errc_from_ota(err);
  return {};
}

bool esp_ota_running_pending_verify() noexcept {
  const esp_partition_t* running = esp_ota_get_running_partition();
  if (running == nullptr) return false;
  esp_ota_img_states_t state{};
  if (esp_ota_get_state_partition(running, &state) != ESP_OK) return false;
  return state == ESP_OTA_IMG_PENDING_VERIFY;
}

bool esp_ota_confirm_at_boot() noexcept {
  if (!esp_ota_running_pending_verify()) return false;
  if (TBMQTT_ESP_OTA_MARK_VALID_AFTER_CONNECT) return true;  // confirmed once connected
  if (auto confirmed = esp_ota_confirm_running(); !confirmed) {
    ESP_LOGE(tag, "cannot mark the new image valid: %s", to_string(confirmed.error()));
    return true;
  }
  ESP_LOGI(tag, "new image marked valid at boot (CONFIG_TBMQTT_OTA_MARK_VALID_AFTER_CONNECT is off)");
  return false;
}

}  // namespace tbmqtt
