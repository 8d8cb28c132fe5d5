// tbmqtt — Linux implementations of the platform seams: an OTA sink that writes a file
// atomically, and a storage of small blobs as files in a directory.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tbmqtt/ota.hpp"
#include "tbmqtt/segment_store.hpp"
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
  result<void> sync() noexcept override;
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

/// @brief The offline queue's log on Linux: segment S is the file `DIR/seg-{S:8 hex}.log`
/// (mode 0600, created with O_EXCL|O_NOFOLLOW), written with pwrite and made durable with
/// fdatasync (and the directory's fsync once per new segment). A removed segment is kept as
/// `DIR/spare.log` and reused (emptied) for the next one. open() takes an exclusive lock on
/// `DIR/lock` (flock, holding the owner's pid) for the life of the object: one process per
/// directory.
class file_segment_store final : public segment_store {
 public:
  /// @param sync false: no fsync (much faster; the log survives a crash of the process, not a
  /// power loss or a kernel crash).
  explicit file_segment_store(std::string directory, bool sync = true);
  ~file_segment_store();
  file_segment_store(const file_segment_store&) = delete;
  file_segment_store& operator=(const file_segment_store&) = delete;

  /// @brief Creates the directory (0700) when missing, locks it and lists its segments.
  /// @return ok, or errc::store_locked (another process has it: see locked_by()),
  /// errc::storage_error (cannot create, lock or read the directory).
  [[nodiscard]] result<void> open() noexcept;
  /// The pid written in the lock file by the process that holds it (after store_locked), or 0.
  long locked_by() const noexcept { return locked_by_; }
  const std::string& directory() const noexcept { return directory_; }

  result<std::uint32_t> find(std::uint32_t from) noexcept override;
  result<std::size_t> read(std::uint32_t segment, std::uint32_t offset, span<std::byte> out) noexcept override;
  result<void> create(std::uint32_t segment) noexcept override;
  result<void> write(std::uint32_t segment, std::uint32_t offset, span<const std::byte> data) noexcept override;
  result<void> sync(std::uint32_t segment) noexcept override;
  result<void> remove(std::uint32_t segment) noexcept override;

 private:
  std::string path_of(std::uint32_t segment) const;
  int fd_of(std::uint32_t segment) noexcept;
  void close_fd(std::uint32_t segment) noexcept;
  std::string directory_;
  bool sync_ = true;
  int lock_fd_ = -1;
  long locked_by_ = 0;
  std::vector<std::uint32_t> segments_;  // sorted
  std::map<std::uint32_t, int> fds_;     // open segment files
};

class ioffline_queue;

/// @brief What import_legacy_offline_files did.
struct legacy_import {
  std::size_t imported = 0;  ///< Messages appended to the queue (and their files removed).
  std::size_t damaged = 0;   ///< Files that were not a well-formed record (removed).
};

/// @brief Moves messages of the store format before the log (one file per message, `tbqN` in
/// `directory`: a 12-byte header — 'Q', version 1, topic kind, 0, sequence u32 LE, CRC-32 of the
/// payload u32 LE — then the payload) into `queue`, oldest sequence first, each stamped with its
/// file's modification time as capture time. Crash-safe: everything is imported, then committed
/// (queue.sync()), and only then are the files removed; a crash in between imports them again
/// next time (duplicates, never a loss). client does this when it opens its offline store.
/// @pre queue.open() succeeded.
/// @return What was done, or errc::storage_error (the directory or a file cannot be read, or
/// removed), or push()'s and sync()'s errors (nothing is removed then).
[[nodiscard]] result<legacy_import> import_legacy_offline_files(const std::string& directory, ioffline_queue& queue);

namespace detail {
/// Crash tests' seam: when set, import_legacy_offline_files calls it before each step that
/// changes the disk (each message appended, the commit, each file removed, the directory sync),
/// with the step's index from 0. Not for applications.
extern void (*legacy_import_step_hook)(std::size_t step);
}  // namespace detail

}  // namespace tbmqtt
