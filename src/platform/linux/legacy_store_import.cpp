// The offline store's format before the log (one file per message, `tbqN`), imported into the
// log once: import -> commit -> remove, so that a crash gives duplicates, never a loss.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "tbmqtt/checksum.hpp"
#include "tbmqtt/linux/platform.hpp"
#include "tbmqtt/offline_queue.hpp"

namespace tbmqtt {
namespace {

constexpr std::size_t legacy_header = 12;

std::uint32_t get_u32(const unsigned char* in) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(in[i]) << (8 * i);
  return v;
}

bool legacy_name(const char* name) {
  if (std::strncmp(name, "tbq", 3) != 0 || name[3] == '\0') return false;
  for (const char* c = name + 3; *c != '\0'; ++c)
    if (*c < '0' || *c > '9') return false;
  return true;
}

struct legacy_record {
  std::string file;
  std::uint32_t sequence = 0;
  stored_topic topic = stored_topic::telemetry;
  std::string payload;
  std::uint64_t mtime_ms = 0;
  bool damaged = false;
};

// Reads one file; false when it cannot be read at all (an I/O error, not damage).
bool read_legacy(legacy_record& r) {
  const int fd = ::open(r.file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  struct stat st {};
  std::string bytes;
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok) {
    bytes.resize(static_cast<std::size_t>(st.st_size));
    ok = ::pread(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size());
  }
  ::close(fd);
  if (!ok) return false;
  r.mtime_ms =
      static_cast<std::uint64_t>(st.st_mtim.tv_sec) * 1000u + static_cast<std::uint64_t>(st.st_mtim.tv_nsec) / 1000000u;
  const auto* h = reinterpret_cast<const unsigned char*>(bytes.data());
  r.damaged = bytes.size() < legacy_header || h[0] != 'Q' || h[1] != 1 ||
              (h[2] != static_cast<unsigned char>(stored_topic::telemetry) &&
               h[2] != static_cast<unsigned char>(stored_topic::attributes));
  if (r.damaged) return true;
  crc32_hasher crc;
  crc.update({reinterpret_cast<const std::byte*>(bytes.data()) + legacy_header, bytes.size() - legacy_header});
  unsigned char digest[4];
  (void)crc.finish({reinterpret_cast<std::byte*>(digest), sizeof digest});
  if (get_u32(digest) != get_u32(h + 8)) {
    r.damaged = true;
    return true;
  }
  r.topic = static_cast<stored_topic>(h[2]);
  r.sequence = get_u32(h + 4);
  r.payload = bytes.substr(legacy_header);
  return true;
}

// Before each step that changes the disk: the crash tests' seam (detail::legacy_import_step_hook).
void step(std::size_t& index) {
  if (detail::legacy_import_step_hook != nullptr) detail::legacy_import_step_hook(index);
  ++index;
}

}  // namespace

namespace detail {
void (*legacy_import_step_hook)(std::size_t step) = nullptr;
}  // namespace detail

result<legacy_import> import_legacy_offline_files(const std::string& directory, ioffline_queue& queue) {
  std::vector<legacy_record> records;
  {
    DIR* dir = ::opendir(directory.c_str());
    if (dir == nullptr) return errc::storage_error;
    while (const dirent* entry = ::readdir(dir)) {
      if (!legacy_name(entry->d_name)) continue;
      records.emplace_back();
      records.back().file = directory + "/" + entry->d_name;
    }
    ::closedir(dir);
  }
  legacy_import done;
  if (records.empty()) return done;
  for (auto& r : records)
    if (!read_legacy(r)) return errc::storage_error;
  // Sequence numbers wrap; every live one lies within 2^31 of the others (the old format's rule).
  std::stable_sort(records.begin(), records.end(), [](const legacy_record& a, const legacy_record& b) {
    return static_cast<std::int32_t>(a.sequence - b.sequence) < 0;
  });
  std::size_t index = 0;
  for (const auto& r : records) {
    if (r.damaged) {
      ++done.damaged;
      continue;
    }
    step(index);
    TBMQTT_TRY(queue.push(r.topic, r.payload, {}, r.mtime_ms) /* a drop is counted by the queue */);
    ++done.imported;
  }
  step(index);
  TBMQTT_TRY(queue.sync());  // committed: from here on, removing the files loses nothing
  for (const auto& r : records) {
    step(index);
    if (::unlink(r.file.c_str()) != 0 && errno != ENOENT) return errc::storage_error;
  }
  step(index);
  if (const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  return done;
}

}  // namespace tbmqtt
