// The ESP-IDF side of the TLS material rule (esp_tls_options): a value that starts with
// "-----BEGIN" is PEM text and is used as it is; any other non-empty value is a file path (SPIFFS,
// FAT or, on the linux target, the host file system) whose content is read once, when the client
// is created, and kept for its lifetime (esp-tls reads the PEM on every connection).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/esp_idf/client.hpp"

namespace tbmqtt::detail {

inline bool is_pem_text(const char* value) noexcept {
  return value != nullptr && std::string_view{value}.substr(0, 10) == "-----BEGIN";
}

/// @brief The PEM text of each TLS option: `ca`, `certificate`, `private_key`.
class esp_tls_material {
 public:
  explicit esp_tls_material(const esp_tls_options& tls) {
    ca_ = resolve(tls.ca, ca_text_);
    certificate_ = resolve(tls.certificate, certificate_text_);
    private_key_ = resolve(tls.private_key, private_key_text_);
  }
  const char* ca() const noexcept { return ca_; }
  const char* certificate() const noexcept { return certificate_; }
  const char* private_key() const noexcept { return private_key_; }
  /// errc{} or errc::invalid_argument (a file that cannot be read, or is empty).
  errc error() const noexcept { return error_; }

 private:
  const char* resolve(const char* value, std::string& text) {
    if (value == nullptr || *value == '\0' || is_pem_text(value)) return value;
    std::FILE* f = std::fopen(value, "rb");
    if (f == nullptr) return fail();
    char chunk[512];
    std::size_t n = 0;
    while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) text.append(chunk, n);
    const bool bad = std::ferror(f) != 0;
    std::fclose(f);
    if (bad || text.empty()) return fail();
    return text.c_str();  // NUL-terminated, as esp-tls needs
  }
  const char* fail() noexcept {
    error_ = errc::invalid_argument;
    return nullptr;
  }
  std::string ca_text_, certificate_text_, private_key_text_;
  const char* ca_ = nullptr;
  const char* certificate_ = nullptr;
  const char* private_key_ = nullptr;
  errc error_{};
};

}  // namespace tbmqtt::detail
