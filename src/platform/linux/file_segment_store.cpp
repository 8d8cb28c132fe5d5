// The offline queue's log on Linux: one file per segment in a locked directory.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tbmqtt/linux/platform.hpp"

namespace tbmqtt {
namespace {

errc medium_errno() noexcept {
  return errno == ENOSPC || errno == EDQUOT ? errc::not_enough_space : errc::storage_error;
}

void sync_directory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

// "seg-0000002a.log" -> 42
bool parse_segment_name(const char* name, std::uint32_t& out) {
  if (std::strlen(name) != 16 || std::strncmp(name, "seg-", 4) != 0 || std::strcmp(name + 12, ".log") != 0)
    return false;
  std::uint32_t v = 0;
  for (int i = 4; i < 12; ++i) {
    const char c = name[i];
    const int d = c >= '0' && c <= '9' ? c - '0' : (c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1);
    if (d < 0) return false;
    v = (v << 4) | static_cast<std::uint32_t>(d);
  }
  out = v;
  return true;
}

constexpr std::size_t max_open_files = 8;

}  // namespace

file_segment_store::file_segment_store(std::string directory, bool sync)
    : directory_(std::move(directory)), sync_(sync) {}

file_segment_store::~file_segment_store() {
  for (auto& [segment, fd] : fds_) ::close(fd);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::string file_segment_store::path_of(std::uint32_t segment) const {
  char name[24];
  std::snprintf(name, sizeof name, "seg-%08x.log", static_cast<unsigned>(segment));
  return directory_ + "/" + name;
}

result<void> file_segment_store::open() noexcept {
  if (lock_fd_ >= 0) return {};
  if (::mkdir(directory_.c_str(), 0700) != 0 && errno != EEXIST) return errc::storage_error;
  const std::string lock_path = directory_ + "/lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errc::storage_error;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const bool busy = errno == EWOULDBLOCK;
    char text[32] = {};
    if (::pread(fd, text, sizeof text - 1, 0) > 0) locked_by_ = std::strtol(text, nullptr, 10);
    ::close(fd);
    return busy ? errc::store_locked : errc::storage_error;
  }
  char pid[32];
  const int n = std::snprintf(pid, sizeof pid, "%ld\n", static_cast<long>(::getpid()));
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid, static_cast<std::size_t>(n), 0) != n) {
    ::close(fd);
    return errc::storage_error;
  }
  DIR* dir = ::opendir(directory_.c_str());
  if (dir == nullptr) {
    ::close(fd);
    return errc::storage_error;
  }
  segments_.clear();
  while (const dirent* entry = ::readdir(dir)) {
    std::uint32_t id = 0;
    if (parse_segment_name(entry->d_name, id)) segments_.push_back(id);
  }
  ::closedir(dir);
  std::sort(segments_.begin(), segments_.end());
  lock_fd_ = fd;
  return {};
}

int file_segment_store::fd_of(std::uint32_t segment) noexcept {
  if (auto it = fds_.find(segment); it != fds_.end()) return it->second;
  const int fd = ::open(path_of(segment).c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  if (fds_.size() >= max_open_files) {  // keep the newest (the one being written) open
    ::close(fds_.begin()->second);
    fds_.erase(fds_.begin());
  }
  fds_[segment] = fd;
  return fd;
}

void file_segment_store::close_fd(std::uint32_t segment) noexcept {
  if (auto it = fds_.find(segment); it != fds_.end()) {
    ::close(it->second);
    fds_.erase(it);
  }
}

result<std::uint32_t> file_segment_store::find(std::uint32_t from) noexcept {
  if (lock_fd_ < 0) return errc::storage_error;
  auto it = std::lower_bound(segments_.begin(), segments_.end(), from);
  if (it == segments_.end()) return errc::not_found;
  return *it;
}

result<std::size_t> file_segment_store::read(std::uint32_t segment, std::uint32_t offset,
                                             span<std::byte> out) noexcept {
  if (!std::binary_search(segments_.begin(), segments_.end(), segment)) return errc::not_found;
  const int fd = fd_of(segment);
  if (fd < 0) return errno == ENOENT ? errc::not_found : errc::storage_error;
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset) + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errc::storage_error;
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

result<void> file_segment_store::create(std::uint32_t segment) noexcept {
  if (lock_fd_ < 0) return errc::storage_error;
  const std::string path = path_of(segment);
  close_fd(segment);
  const std::string spare = directory_ + "/spare.log";
  int fd = -1;
  // Recycle the spare segment when there is one (emptied: the log must not read old records).
  if (::rename(spare.c_str(), path.c_str()) == 0) {
    fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && ::ftruncate(fd, 0) != 0) {
      ::close(fd);
      fd = -1;
    }
  } else {
    (void)::unlink(path.c_str());  // "replaced": a stale file of that number
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  }
  if (fd < 0) return medium_errno();
  if (sync_ && ::fsync(fd) != 0) {
    ::close(fd);
    return medium_errno();
  }
  if (sync_) sync_directory(directory_);
  fds_[segment] = fd;
  if (!std::binary_search(segments_.begin(), segments_.end(), segment))
    segments_.insert(std::upper_bound(segments_.begin(), segments_.end(), segment), segment);
  return {};
}

result<void> file_segment_store::write(std::uint32_t segment, std::uint32_t offset,
                                       span<const std::byte> data) noexcept {
  const int fd = fd_of(segment);
  if (fd < 0) return errc::storage_error;
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset) + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return medium_errno();
    done += static_cast<std::size_t>(n);
  }
  return {};
}

result<void> file_segment_store::sync(std::uint32_t segment) noexcept {
  if (!sync_) return {};
  const int fd = fd_of(segment);
  if (fd < 0 || ::fdatasync(fd) != 0) return medium_errno();
  return {};
}

result<void> file_segment_store::remove(std::uint32_t segment) noexcept {
  close_fd(segment);
  auto it = std::lower_bound(segments_.begin(), segments_.end(), segment);
  if (it == segments_.end() || *it != segment) return {};
  segments_.erase(it);
  const std::string path = path_of(segment);
  const std::string spare = directory_ + "/spare.log";
  struct stat st {};
  // Keep one spare for the next segment; more would only take space.
  if (::lstat(spare.c_str(), &st) != 0 && errno == ENOENT) {
    if (::rename(path.c_str(), spare.c_str()) == 0) return {};
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errc::storage_error;
  return {};
}

}  // namespace tbmqtt
