// tbmqtt — tbmqtt::ota_sink (include/tbmqtt/ota.hpp) for FIRMWARE on ESP-IDF v4.4 / v5.x: the
// image goes into the next OTA app partition, and ThingsBoard's UPDATED is reported only after
// the new image proved it can reach the server (rollback helpers below).
//
// COMPILE-CHECKED ONLY (tests/esp_idf/check.sh against the ESP-IDF v4.4 and v5.x headers); not
// yet linked or run on a device.
//
// How it writes (why not esp_ota_begin/esp_ota_write/esp_ota_end): an esp_ota handle lives in
// RAM and cannot be reopened after a reboot on v4.4 (esp_ota_resume() exists only from v5.5),
// and the ota_engine resumes downloads from a checkpoint after restarts. So both a fresh start
// and a resume use one path, the partition API, which both header versions have:
//   - begin():  esp_ota_get_next_update_partition(); refuses the running partition and images
//               larger than the partition. Nothing is erased yet.
//   - write():  esp_partition_write() at the absolute offset. Sectors are erased lazily, once,
//               before their first write: an "erased up to" watermark; a write past it erases
//               every sector from the watermark to the end of the write (chunks arriving out of
//               order inside the engine's window just move the watermark further, earlier
//               sectors are then already erased). On resume, the sectors holding the first
//               `resume_offset` bytes are kept (they hold the image already), the rest is
//               erased as writes reach it.
//   - read():   esp_partition_read() (the engine re-hashes the kept prefix after a resume).
//   - finish(): the checksum already matched (the engine checked it); the image format is
//               checked with esp_image_verify() where esp_image_format.h is reachable (as in
//               esp_ota_end()), else with esp_ota_get_partition_description() (app descriptor
//               magic). Either way esp_ota_set_boot_partition() verifies the full image again.
//   - activate(): esp_ota_set_boot_partition() (full esp_image verification, secure-boot
//               signature included; ESP_ERR_OTA_VALIDATE_FAILED -> errc::malformed).
//   - abort():  forgets the download; the partition keeps its bytes (it is never booted without
//               activate()), the next begin() from 0 erases as it writes.
// Limits: with flash encryption, esp_partition_write() needs 16-byte-aligned offsets/lengths;
// chunk sizes that are multiples of 16 satisfy that except a short last chunk (untested).
//
// Rollback (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE): after activate() and esp_restart(), the new
// image boots in state ESP_OTA_IMG_PENDING_VERIFY; if it resets before marking itself valid,
// the bootloader goes back to the previous image. Mark it valid only once it has reached
// ThingsBoard, then let the engine report UPDATED:
//
//     void on_connection(const tbmqtt::connection_event& e) {   // tbmqtt task
//       if (!e.connected) return;
//       if (tbmqtt::esp_ota_running_pending_verify()) (void)tbmqtt::esp_ota_confirm_running();
//       (void)device.confirm_ota(tbmqtt::ota_kind::firmware);   // -> fw_state UPDATED
//     }
//
// (confirm_ota() returns errc::not_found when no update was pending: harmless on every connect.)
#pragma once

#include <cstddef>
#include <cstdint>

#include "esp_partition.h"
#include "tbmqtt/config.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/ota.hpp"

// TBMQTT_ESP_OTA_MARK_VALID_AFTER_CONNECT: tbmqtt/config.hpp (Kconfig maps into it).

namespace tbmqtt {

/// @brief Firmware image sink on the next OTA app partition. Not thread-safe: the ota_engine
/// calls it on the tbmqtt task (under the esp_client's session lock).
class esp_ota_sink final : public ota_sink {
 public:
  esp_ota_sink() noexcept = default;
  esp_ota_sink(const esp_ota_sink&) = delete;
  esp_ota_sink& operator=(const esp_ota_sink&) = delete;

  /// @return ok, or errc::not_enough_space (image larger than the partition),
  /// errc::invalid_argument (no OTA partition, or it is the running one).
  [[nodiscard]] result<void> begin(const ota_package& package, std::uint64_t resume_offset) noexcept override;
  /// @return ok, or errc::invalid_argument (not begun, or past the image size),
  /// errc::storage_error (flash erase/write failed).
  [[nodiscard]] result<void> write(std::uint64_t offset, span<const std::byte> data) noexcept override;
  [[nodiscard]] result<std::size_t> read(std::uint64_t offset, span<std::byte> out) noexcept override;
  /// @return ok, or errc::malformed (not a valid app image), errc::invalid_argument.
  [[nodiscard]] result<void> finish() noexcept override;
  void abort() noexcept override;
  /// @return ok, or errc::malformed (ESP_ERR_OTA_VALIDATE_FAILED), errc::invalid_argument
  /// (not finished), errc::storage_error.
  [[nodiscard]] result<void> activate() noexcept override;
  /// @brief esp_ota_mark_app_valid_cancel_rollback() (when the running image awaits verification).
  [[nodiscard]] result<void> confirm() noexcept override;
  /// @brief esp_ota_mark_app_invalid_rollback_and_reboot(): does not return when it succeeds.
  [[nodiscard]] result<void> rollback() noexcept override;

  /// The partition begin() chose (nullptr before).
  const esp_partition_t* partition() const noexcept { return partition_; }

 private:
  result<void> erase_through(std::uint64_t end) noexcept;

  const esp_partition_t* partition_ = nullptr;
  std::uint64_t size_ = 0;         // image size (package.size)
  std::uint64_t written_end_ = 0;  // highest byte written + 1 (for read())
  std::uint64_t erased_end_ = 0;   // [0, erased_end_) is erased or holds kept image bytes
  std::uint32_t sector_ = 4096;
  bool finished_ = false;
};

/// @brief Marks the running image valid (esp_ota_mark_app_valid_cancel_rollback): the bootloader
/// no longer rolls back. Call once the new image reached ThingsBoard (see the pattern above).
/// @return ok, or errc::storage_error.
[[nodiscard]] result<void> esp_ota_confirm_running() noexcept;
/// @brief True when the running image was just installed and waits for confirmation
/// (esp_ota_get_state_partition == ESP_OTA_IMG_PENDING_VERIFY; needs rollback enabled).
bool esp_ota_running_pending_verify() noexcept;
/// @brief Call once at start-up, before connecting. With TBMQTT_ESP_OTA_MARK_VALID_AFTER_CONNECT
/// (menuconfig, on by default) it only reports: a new image stays pending until it has reached
/// ThingsBoard (esp_ota_confirm_running() from the connection callback, as above). Off: a
/// pending image is marked valid right away (the bootloader then rolls back only images that
/// fail to boot).
/// @return true when the running image still waits for confirmation.
bool esp_ota_confirm_at_boot() noexcept;

}  // namespace tbmqtt
