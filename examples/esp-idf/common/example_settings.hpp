// Shared by the ESP-IDF examples: their connection settings. Not part of the library.
//
// Each example writes its values in main.cpp (e.g. settings::uri("mqtt://thingsboard.local:1883")).
// Two ways to change them without editing it:
// - at configure time (any target): TBMQTT_URI, TBMQTT_TOKEN, TBMQTT_USERNAME, TBMQTT_PASSWORD,
//   TBMQTT_CLIENT_ID, TBMQTT_PROVISION_KEY, TBMQTT_PROVISION_SECRET, TBMQTT_DEVICE_NAME, TBMQTT_DEVICE_URI in the
//   environment, and PEM
//   files named by TBMQTT_CA_FILE, TBMQTT_CERT_FILE, TBMQTT_KEY_FILE, become the compiled-in values
//   (tbmqtt_example/CMakeLists.txt writes them into example_settings_config.h);
// - at run time, on the linux target only: the same variables override the compiled-in values
//   (the PEM files are read when the example starts). On a chip nothing is read at run time.
// Empty variables count as unset.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "esp_log.h"
#include "sdkconfig.h"

#if __has_include("example_settings_config.h")
#include "example_settings_config.h"
#endif

#ifndef TBMQTT_CONFIGURED_URI
#define TBMQTT_CONFIGURED_URI nullptr
#endif
#ifndef TBMQTT_CONFIGURED_TOKEN
#define TBMQTT_CONFIGURED_TOKEN nullptr
#endif
#ifndef TBMQTT_CONFIGURED_USERNAME
#define TBMQTT_CONFIGURED_USERNAME nullptr
#endif
#ifndef TBMQTT_CONFIGURED_PASSWORD
#define TBMQTT_CONFIGURED_PASSWORD nullptr
#endif
#ifndef TBMQTT_CONFIGURED_CLIENT_ID
#define TBMQTT_CONFIGURED_CLIENT_ID nullptr
#endif
#ifndef TBMQTT_CONFIGURED_PROVISION_KEY
#define TBMQTT_CONFIGURED_PROVISION_KEY nullptr
#endif
#ifndef TBMQTT_CONFIGURED_PROVISION_SECRET
#define TBMQTT_CONFIGURED_PROVISION_SECRET nullptr
#endif
#ifndef TBMQTT_CONFIGURED_DEVICE_URI
#define TBMQTT_CONFIGURED_DEVICE_URI nullptr
#endif
#ifndef TBMQTT_CONFIGURED_DEVICE_NAME
#define TBMQTT_CONFIGURED_DEVICE_NAME nullptr
#endif
#ifndef TBMQTT_CONFIGURED_CA_PEM
#define TBMQTT_CONFIGURED_CA_PEM nullptr
#endif
#ifndef TBMQTT_CONFIGURED_CERT_PEM
#define TBMQTT_CONFIGURED_CERT_PEM nullptr
#endif
#ifndef TBMQTT_CONFIGURED_KEY_PEM
#define TBMQTT_CONFIGURED_KEY_PEM nullptr
#endif

#if defined(CONFIG_IDF_TARGET_LINUX)
#include <unistd.h>
#endif

namespace example::settings {

namespace detail {

/// The run-time value of variable `name`: on linux its value when set and not empty; on a chip
/// (no environment) always null.
inline const char* from_environment(const char* name) {
#if defined(CONFIG_IDF_TARGET_LINUX)
  const char* value = std::getenv(name);
  if (value != nullptr && *value != '\0') return value;
#endif
  (void)name;
  return nullptr;
}

/// The run-time override, else the configure-time value, else the example's own.
inline const char* pick(const char* name, const char* configured, const char* written) {
  if (const char* value = from_environment(name)) return value;
  return configured != nullptr ? configured : written;
}

/// The whole file named by variable `name` as a NUL-terminated string kept for the program's
/// life (the client keeps pointers to its PEMs); null when the variable is unset. A file that
/// cannot be read stops the example: connecting without the intended certificate would hide it.
inline const char* file_from_environment(const char* name) {
  const char* path = from_environment(name);
  if (path == nullptr) return nullptr;
  std::FILE* file = std::fopen(path, "rb");
  char* text = nullptr;
  if (file != nullptr && std::fseek(file, 0, SEEK_END) == 0) {
    const long size = std::ftell(file);
    if (size >= 0 && std::fseek(file, 0, SEEK_SET) == 0 &&
        (text = static_cast<char*>(std::malloc(static_cast<std::size_t>(size) + 1))) != nullptr) {
      if (std::fread(text, 1, static_cast<std::size_t>(size), file) == static_cast<std::size_t>(size)) {
        text[size] = '\0';
      } else {
        std::free(text);
        text = nullptr;
      }
    }
  }
  if (file != nullptr) std::fclose(file);
  if (text == nullptr) {
    ESP_LOGE("example_settings", "%s: cannot read the file it names", name);
    std::abort();
  }
  return text;
}

inline const char* pick_file(const char* name, const char* configured, const char* written) {
  if (const char* value = file_from_environment(name)) return value;
  return configured != nullptr ? configured : written;
}

}  // namespace detail

/// TBMQTT_URI, e.g. mqtt://127.0.0.1:1883 or mqtts://host:8883.
inline const char* uri(const char* written) { return detail::pick("TBMQTT_URI", TBMQTT_CONFIGURED_URI, written); }
/// TBMQTT_DEVICE_URI: where a provisioning example's device connects after provisioning, when
/// not where it provisioned (e.g. a separate X.509 port); `written` is usually the provisioning URI.
inline const char* device_uri(const char* written) {
  return detail::pick("TBMQTT_DEVICE_URI", TBMQTT_CONFIGURED_DEVICE_URI, written);
}
/// TBMQTT_TOKEN: the access token (or, for provisioning, the token the device asks for).
inline const char* token(const char* written) { return detail::pick("TBMQTT_TOKEN", TBMQTT_CONFIGURED_TOKEN, written); }
inline const char* username(const char* written) {
  return detail::pick("TBMQTT_USERNAME", TBMQTT_CONFIGURED_USERNAME, written);
}
inline const char* password(const char* written) {
  return detail::pick("TBMQTT_PASSWORD", TBMQTT_CONFIGURED_PASSWORD, written);
}
inline const char* provision_key(const char* written) {
  return detail::pick("TBMQTT_PROVISION_KEY", TBMQTT_CONFIGURED_PROVISION_KEY, written);
}
inline const char* provision_secret(const char* written) {
  return detail::pick("TBMQTT_PROVISION_SECRET", TBMQTT_CONFIGURED_PROVISION_SECRET, written);
}
/// TBMQTT_DEVICE_NAME: the name a provisioning example asks for.
inline const char* device_name(const char* written) {
  return detail::pick("TBMQTT_DEVICE_NAME", TBMQTT_CONFIGURED_DEVICE_NAME, written);
}
/// TBMQTT_CA_FILE: the CA that signed the server's certificate (PEM).
inline const char* ca_pem(const char* written) {
  return detail::pick_file("TBMQTT_CA_FILE", TBMQTT_CONFIGURED_CA_PEM, written);
}
/// TBMQTT_CERT_FILE: the device's certificate (PEM, X.509 authentication).
inline const char* cert_pem(const char* written) {
  return detail::pick_file("TBMQTT_CERT_FILE", TBMQTT_CONFIGURED_CERT_PEM, written);
}
/// TBMQTT_KEY_FILE: the device's private key (PEM, unencrypted).
inline const char* key_pem(const char* written) {
  return detail::pick_file("TBMQTT_KEY_FILE", TBMQTT_CONFIGURED_KEY_PEM, written);
}

/// TBMQTT_CLIENT_ID, else the example's own (null: none). On linux esp-mqtt has no MAC address to
/// derive one from and would give every device "esp_mqtt_client_id" (two running at once would
/// take turns disconnecting each other): there, with none set, "tbmqtt-linux-<pid>".
inline const char* client_id(const char* written = nullptr) {
  const char* id = detail::pick("TBMQTT_CLIENT_ID", TBMQTT_CONFIGURED_CLIENT_ID, written);
#if defined(CONFIG_IDF_TARGET_LINUX)
  if (id == nullptr) {
    static char unique[32];
    if (unique[0] == '\0') std::snprintf(unique, sizeof unique, "tbmqtt-linux-%ld", static_cast<long>(getpid()));
    id = unique;
  }
#endif
  return id;
}

}  // namespace example::settings
