// tbmqtt — the medium under the offline queue's log (tbmqtt/offline_queue.hpp): numbered,
// append-only segments of bytes. Implemented by a platform (Linux: tbmqtt::file_segment_store,
// one file per segment; anything with a tbmqtt::storage: tbmqtt::kv_segment_store, pages as
// keys, used over NVS on ESP-IDF; tests: RAM with simulated power loss).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/span.hpp"
#include "tbmqtt/storage.hpp"

namespace tbmqtt {

/// @brief Numbered segments of bytes, written front to back.
/// Porting guide: the log only ever writes a segment at the offset where its previous write
/// ended (it may overwrite bytes a failed write left behind), creates segments with increasing
/// numbers and removes the oldest. write() need not be durable; sync() makes every write to the
/// segment before it durable. After a power loss a segment may lose or tear any write after
/// its last sync() (the log's CRC framing finds the tear). One thread calls it at a time.
class segment_store {
 public:
  /// @brief The lowest existing segment number >= `from`.
  /// @return It, or errc::not_found (none), errc::storage_error.
  [[nodiscard]] virtual result<std::uint32_t> find(std::uint32_t from) noexcept = 0;
  /// @brief Reads up to out.size() bytes at `offset`.
  /// @return Bytes read (fewer at the end of the segment, 0 past it), or errc::not_found (no
  /// such segment), errc::storage_error.
  [[nodiscard]] virtual result<std::size_t> read(std::uint32_t segment, std::uint32_t offset,
                                                 span<std::byte> out) noexcept = 0;
  /// @brief Creates the empty segment `segment` (a segment of that number is replaced).
  /// @return ok, or errc::not_enough_space (medium full), errc::storage_error.
  [[nodiscard]] virtual result<void> create(std::uint32_t segment) noexcept = 0;
  /// @brief Writes `data` at `offset` of `segment`.
  /// @return ok, or errc::not_enough_space, errc::storage_error.
  [[nodiscard]] virtual result<void> write(std::uint32_t segment, std::uint32_t offset,
                                           span<const std::byte> data) noexcept = 0;
  /// @brief Makes every write to `segment` durable (fsync; a commit on NVS).
  [[nodiscard]] virtual result<void> sync(std::uint32_t segment) noexcept = 0;
  /// @brief Removes (or recycles) `segment`; removing a missing one is ok.
  [[nodiscard]] virtual result<void> remove(std::uint32_t segment) noexcept = 0;

 protected:
  ~segment_store() = default;
};

/// @brief A segment_store over a tbmqtt::storage of small blobs: each segment is cut into pages
/// of `page.size()` bytes, page P of segment S is the key `{prefix}{S:8 hex}{P:3 hex}`, and the
/// segment range is the key `{prefix}r` (first and last number). The page being written stays in
/// RAM until it is full or sync() stores it, so a partly filled page is rewritten at each sync
/// (at most page.size() bytes per sync). Segments are numbered without gaps (the log creates
/// them in order and removes the oldest). At most 4096 pages per segment.
class kv_segment_store final : public segment_store {
 public:
  /// @param store  The blobs (NVS on ESP-IDF); must outlive this.
  /// @param write_page, read_page  RAM of one page each (the same size, at least 64 bytes).
  /// @param prefix At most 3 characters.
  kv_segment_store(storage& store, span<std::byte> write_page, span<std::byte> read_page,
                   std::string_view prefix = "tbl") noexcept;

  result<std::uint32_t> find(std::uint32_t from) noexcept override;
  result<std::size_t> read(std::uint32_t segment, std::uint32_t offset, span<std::byte> out) noexcept override;
  result<void> create(std::uint32_t segment) noexcept override;
  result<void> write(std::uint32_t segment, std::uint32_t offset, span<const std::byte> data) noexcept override;
  result<void> sync(std::uint32_t segment) noexcept override;
  result<void> remove(std::uint32_t segment) noexcept override;

 private:
  result<void> load_range() noexcept;
  result<void> store_range() noexcept;
  result<void> store_page() noexcept;
  void key_for(std::uint32_t segment, std::uint32_t page, char (&out)[16]) const noexcept;

  storage& store_;
  span<std::byte> write_page_;
  span<std::byte> read_page_;
  std::string_view prefix_;
  std::uint32_t first_ = 0;
  std::uint32_t last_ = 0;
  bool any_ = false;
  bool range_loaded_ = false;
  // The page in write_page_: segment, page number, bytes valid, and whether it is stored.
  std::uint32_t w_segment_ = 0;
  std::uint32_t w_page_ = 0;
  std::size_t w_used_ = 0;
  bool w_valid_ = false;
  bool w_dirty_ = false;
  // The page in read_page_ (a cache of a stored page).
  std::uint32_t r_segment_ = 0;
  std::uint32_t r_page_ = 0;
  std::size_t r_used_ = 0;
  bool r_valid_ = false;
};

}  // namespace tbmqtt
