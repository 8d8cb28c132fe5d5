// Atomic, durable file replacement for the emulator's state (registry, OTA packages) and its
// admin client (admin.json, broker config, TLS extension files).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tbmqtt_emulator {

/// Replaces `path` with `text`: a new temp file in the same directory, created by mkostemp
/// (O_EXCL and a random name, so nothing planted at a predictable name, a file or a symlink, is
/// ever written through; O_NOFOLLOW as well), given `mode` by fchmod before the first byte, then
/// fsync, rename over `path` and fsync of the directory. Throws std::runtime_error; the temp file
/// is removed on failure.
inline void write_file_atomic(const std::string& path, std::string_view text, mode_t mode = 0600) {
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    std::string temp = path + ".tmp-XXXXXX";
    const int fd = ::mkostemp(temp.data(), O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) throw std::runtime_error("cannot create a temp file for " + path + ": " + std::strerror(errno));
    const char* failed = nullptr;
    int error = 0;
    auto fail = [&](const char* what) {
        failed = what;
        error = errno;
    };
    if (::fchmod(fd, mode) != 0) fail("cannot chmod");
    for (std::size_t off = 0; failed == nullptr && off < text.size();) {
        const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            fail("cannot write");
        else
            off += static_cast<std::size_t>(n);
    }
    if (failed == nullptr && ::fsync(fd) != 0) fail("cannot sync");
    if (::close(fd) != 0 && failed == nullptr) fail("cannot write");
    if (failed == nullptr && ::rename(temp.c_str(), path.c_str()) != 0) fail("cannot rename to");
    if (failed != nullptr) {
        ::unlink(temp.c_str());
        throw std::runtime_error(std::string(failed) + " " + path + ": " + std::strerror(error));
    }
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

}  // namespace tbmqtt_emulator
