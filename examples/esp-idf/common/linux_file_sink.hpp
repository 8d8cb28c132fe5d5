// The firmware example's image sink on the ESP-IDF linux target, where there are no OTA app
// partitions (app_update is chip-only): the image goes into a file (TBMQTT_FIRMWARE_FILE, default
// "firmware.bin" in the working directory), created owner-only without following a symlink,
// written at absolute offsets, read back for the checksum after a resumed download, fsync'ed
// when complete. activate() only reports where the image is: nothing boots it on linux (the
// chip's esp_ota_sink activation and rollback are compile-checked only here). Not part of the
// library.
#pragma once

#include <cerrno>
#include <cstdlib>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "esp_log.h"
#include "tbmqtt/ota.hpp"

namespace example {

class linux_file_sink final : public tbmqtt::ota_sink {
 public:
  linux_file_sink() {
    const char* path = std::getenv("TBMQTT_FIRMWARE_FILE");
    path_ = path != nullptr && *path != '\0' ? path : "firmware.bin";
  }
  ~linux_file_sink() { close_file(); }

  tbmqtt::result<void> begin(const tbmqtt::ota_package&, std::uint64_t resume_offset) noexcept override {
    close_file();
    fd_ = ::open(path_, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0) return from_errno();
    // Kept: the `resume_offset` bytes an earlier run wrote; the rest is written again.
    if (::ftruncate(fd_, static_cast<off_t>(resume_offset)) != 0) return fail();
    if (resume_offset > 0)
      ESP_LOGI("linux_file_sink", "resuming at %llu bytes", static_cast<unsigned long long>(resume_offset));
    return {};
  }
  tbmqtt::result<void> write(std::uint64_t offset, tbmqtt::span<const std::byte> data) noexcept override {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return from_errno();
      done += static_cast<std::size_t>(n);
    }
    return {};
  }
  tbmqtt::result<std::size_t> read(std::uint64_t offset, tbmqtt::span<std::byte> out) noexcept override {
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return from_errno();
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    return done;
  }
  tbmqtt::result<void> sync() noexcept override {
    if (fd_ < 0 || ::fdatasync(fd_) != 0) return from_errno();
    return {};
  }
  tbmqtt::result<void> finish() noexcept override {
    if (fd_ < 0 || ::fsync(fd_) != 0) return from_errno();
    return {};
  }
  void abort() noexcept override { close_file(); }
  tbmqtt::result<void> activate() noexcept override {
    ESP_LOGI("linux_file_sink", "image complete in %s (linux: nothing to boot)", path_);
    return {};
  }

 private:
  // As the Linux client's file platform: ENOSPC is not_enough_space, any other error transport_error.
  static tbmqtt::errc from_errno() noexcept {
    return errno == ENOSPC ? tbmqtt::errc::not_enough_space : tbmqtt::errc::transport_error;
  }
  tbmqtt::errc fail() noexcept {
    const tbmqtt::errc e = from_errno();
    close_file();
    return e;
  }
  void close_file() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  const char* path_;
  int fd_ = -1;
};

}  // namespace example
