// tbmqtt — Linux implementations of the platform seams: an OTA sink that writes a file
// atomically, and a storage of small blobs as files in a directory.
#pragma once

#include <string>

#include "tbmqtt/ota.hpp"
#include "tbmqtt/storage.hpp"

namespace tbmqtt {

/// @brief Streams an image into `PATH.part` and, once verified, renames it to PATH (after
/// fsync of the file and its directory), so PATH is either the old file or the whole new one.
/// A resumed download keeps the `.part` file. activate() does nothing: the caller decides what
/// "running the new version" means (exec it, install it, ...).
class file_sink final : public ota_sink {
 public:
  explicit file_sink(std::string path);
  ~file_sink();
  file_sink(const file_sink&) = delete;
  file_sink& operator=(const file_sink&) = delete;

  result<void> begin(const ota_package& package, std::uint64_t resume_offset) noexcept override;
  result<void> write(std::uint64_t offset, span<const std::byte> data) noexcept override;
  result<std::size_t> read(std::uint64_t offset, span<std::byte> out) noexcept override;
  result<void> finish() noexcept override;
  void abort() noexcept override;
  result<void> activate() noexcept override { return {}; }

  const std::string& path() const noexcept { return path_; }

 private:
  void close_file() noexcept;
  std::string path_;
  std::string part_;
  int fd_ = -1;
};

/// @brief Each key is a file `DIR/KEY` (mode 0600), replaced atomically (temp file, fsync,
/// rename, fsync of the directory). The directory is created when missing (mode 0700). The temp
/// file is a new one with an unpredictable name (`DIR/.KEY.tmp-XXXXXX`, mkostemp: O_EXCL,
/// never through a symlink), made 0600 before its first byte, so nothing pre-created in DIR
/// (a world-writable file, a symlink) can receive the value.
class file_storage final : public storage {
 public:
  /// @param sync false: no fsync (about 100 times faster; rename keeps each store atomic and the
  /// data survives a crash of the process, but not a power loss or a kernel crash).
  explicit file_storage(std::string directory, bool sync = true);
  result<std::size_t> load(std::string_view key, span<std::byte> out) noexcept override;
  result<void> store(std::string_view key, span<const std::byte> value) noexcept override;
  result<void> erase(std::string_view key) noexcept override;

 private:
  std::string file_for(std::string_view key) const;
  std::string directory_;
  bool sync_ = true;
};

}  // namespace tbmqtt
