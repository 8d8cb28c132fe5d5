// The ESP-IDF side of the TLS material rule (esp_tls_options): a value that starts with
// "-----BEGIN" is PEM text and is used as it is; any other non-empty value is a file path (SPIFFS,
// FAT or, on the linux target, the host file system) whose content is read once, when the client
// is created, and kept for its lifetime (esp-tls reads the PEM on every connection).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "../../transport/esp_mqtt/esp_mqtt_config.hpp"
#include "sdkconfig.h"
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
#if !defined(CONFIG_ESP_TLS_SKIP_SERVER_CERT_VERIFY)
    if (tls.insecure) error_ = errc::invalid_argument;  // esp-tls cannot skip verification here
#endif
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

/// @brief The server verification and client certificate of `o` into `s` (the client's and the
/// provisioning connection's): the CA (PEM), the IDF bundle, the host name (CN) check; with
/// `insecure` no CA and no bundle, which esp-tls built with CONFIG_ESP_TLS_SKIP_SERVER_CERT_VERIFY
/// takes as "verify nothing" (without it esp_tls_material::error() refuses the options).
inline void set_tls(const esp_tls_options& o, const esp_tls_material& m, esp_mqtt_settings& s) noexcept {
  s.ca_pem = o.insecure ? nullptr : m.ca();
  s.use_crt_bundle = o.use_crt_bundle && !o.insecure;
  s.skip_common_name_check = o.skip_hostname_check || o.insecure;
  s.client_cert_pem = m.certificate();
  s.client_key_pem = m.private_key();
  s.client_key_password = o.key_password;
}

}  // namespace tbmqtt::detail
