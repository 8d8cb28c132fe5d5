#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "tbmqtt/linux/platform.hpp"

namespace tbmqtt {
namespace {

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

// A rename is durable only once the directory entry is on disk too.
void sync_directory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

bool write_all(int fd, const std::byte* data, std::size_t size, off_t offset) {
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, data, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}

errc errc_from_errno() noexcept { return errno == ENOSPC ? errc::not_enough_space : errc::storage_error; }

}  // namespace

file_sink::file_sink(std::string path) : path_(std::move(path)), part_(path_ + ".part") {}

file_sink::~file_sink() { close_file(); }

void file_sink::close_file() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

result<void> file_sink::begin(const ota_package&, std::uint64_t resume_offset) noexcept {
  close_file();
  // Never through a symlink: a fresh download replaces whatever is at PATH.part by a new file
  // (O_EXCL), a resumed one only opens a regular file of ours.
  if (resume_offset == 0 && ::unlink(part_.c_str()) != 0 && errno != ENOENT) return errc_from_errno();
  const int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | (resume_offset == 0 ? O_CREAT | O_EXCL : 0);
  fd_ = ::open(part_.c_str(), flags, 0644);
  if (fd_ < 0) return resume_offset > 0 && (errno == ENOENT || errno == ELOOP) ? errc::not_found : errc_from_errno();
  struct stat st {};
  if (resume_offset > 0 && (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
                            static_cast<std::uint64_t>(st.st_size) < resume_offset)) {
    close_file();
    return errc::not_found;  // the partial file is gone or shorter than the checkpoint
  }
  return {};
}

result<void> file_sink::write(std::uint64_t offset, span<const std::byte> data) noexcept {
  if (fd_ < 0) return errc::not_open;
  if (!write_all(fd_, data.data(), data.size(), static_cast<off_t>(offset))) return errc_from_errno();
  return {};
}

result<std::size_t> file_sink::read(std::uint64_t offset, span<std::byte> out) noexcept {
  if (fd_ < 0) return errc::not_open;
  for (;;) {
    const ssize_t n = ::pread(fd_, out.data(), out.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errc_from_errno();
    return static_cast<std::size_t>(n);
  }
}

result<void> file_sink::sync() noexcept {
  if (fd_ < 0) return errc::not_open;
  if (::fdatasync(fd_) != 0) return errc_from_errno();
  return {};
}

result<void> file_sink::finish() noexcept {
  if (fd_ < 0) return errc::not_open;
  const bool synced = ::fsync(fd_) == 0;
  close_file();
  if (!synced || std::rename(part_.c_str(), path_.c_str()) != 0) return errc_from_errno();
  sync_directory(directory_of(path_));
  return {};
}

void file_sink::abort() noexcept {
  close_file();
  (void)::unlink(part_.c_str());
}

file_storage::file_storage(std::string directory, bool sync) : directory_(std::move(directory)), sync_(sync) {
  (void)::mkdir(directory_.c_str(), 0700);
}

std::string file_storage::file_for(std::string_view key) const { return directory_ + "/" + std::string(key); }

result<std::size_t> file_storage::load(std::string_view key, span<std::byte> out) noexcept {
  const int fd = ::open(file_for(key).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? errc::not_found : errc::storage_error;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {  // e.g. a directory where the value belongs
    ::close(fd);
    return errc::storage_error;
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  result<std::size_t> outcome = errc::not_enough_space;
  if (size <= out.size()) {
    const ssize_t n = ::pread(fd, out.data(), size, 0);
    outcome = n == static_cast<ssize_t>(size) ? result<std::size_t>(size) : result<std::size_t>(errc::storage_error);
  }
  ::close(fd);
  return outcome;
}

result<void> file_storage::store(std::string_view key, span<const std::byte> value) noexcept {
  const std::string target = file_for(key);
  // A fresh, unpredictable name in the target's own directory (rename stays atomic), created
  // O_EXCL by mkostemp: a file or symlink an attacker pre-created at a fixed name never receives
  // the secret. fchmod before the first byte, whatever the umask or the mkstemp implementation.
  std::string temp = directory_ + "/." + std::string(key) + ".tmp-XXXXXX";
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errc_from_errno();
  if (::fchmod(fd, 0600) != 0) {
    const errc e = errc_from_errno();
    ::close(fd);
    (void)::unlink(temp.c_str());
    return e;
  }
  const bool ok = write_all(fd, value.data(), value.size(), 0) && (!sync_ || ::fsync(fd) == 0);
  ::close(fd);
  if (!ok || std::rename(temp.c_str(), target.c_str()) != 0) {
    const errc e = errc_from_errno();
    (void)::unlink(temp.c_str());
    return e;
  }
  if (sync_) sync_directory(directory_);
  return {};
}

result<void> file_storage::erase(std::string_view key) noexcept {
  if (::unlink(file_for(key).c_str()) != 0 && errno != ENOENT) return errc::storage_error;
  return {};
}

}  // namespace tbmqtt
