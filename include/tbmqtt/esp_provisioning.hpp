// tbmqtt — ESP-IDF provisioning (protocol doc §4): one blocking round trip over esp-mqtt that
// turns a provisioning key and secret into device credentials, stored (e.g. in NVS) before
// they are returned. The ESP-IDF twin of tbmqtt::provision (provisioning.hpp, Linux).
//
//     static tbmqtt::esp_idf::nvs_storage store{"tbmqtt"};   // src/platform/esp_idf/nvs_storage.hpp
//     static tbmqtt::esp_credentials creds;                   // ~0.5 KB: not on a small stack
//     if (!tbmqtt::esp_load_credentials(store, creds)) {      // first start: provision
//       tbmqtt::esp_provision_options server;
//       server.uri = "mqtt://thingsboard.local:1883";
//       tbmqtt::provision_request req;
//       req.device_name = "dev-1"; req.key = "K"; req.secret = "S";
//       if (auto r = tbmqtt::esp_provision(server, req, store, creds); !r) return fail(r.error());
//     }
//     tbmqtt::esp_client_options options;
//     options.uri = "mqtt://thingsboard.local:1883";
//     tbmqtt::esp_apply_credentials(options, creds);          // then: tbmqtt::esp_client device{...}
//
// One attempt, no retries: the caller decides when to try again. Blocks the calling task; not
// from an esp_client callback. Compile-checked only (tests/esp_idf/check.sh); the exchange and
// its event mapping are unit-tested on the host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/esp_client.hpp"
#include "tbmqtt/provision.hpp"
#include "tbmqtt/storage.hpp"

/// Capacity of each credential field of esp_credentials, with its terminator.
#ifndef TBMQTT_ESP_CREDENTIAL_CAPACITY
#define TBMQTT_ESP_CREDENTIAL_CAPACITY 128
#endif
/// Largest /provision/response esp_provision accepts (an X.509 answer carries the certificate).
#ifndef TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY
#define TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY 4096
#endif

namespace tbmqtt {

/// Storage key under which esp_provision keeps the server's /provision/response.
inline constexpr std::string_view esp_credentials_key = "tb_credentials";

/// @brief Where to provision. `uri` is copied; the PEM pointers must stay valid during the call.
struct esp_provision_options {
  const char* uri = "mqtt://127.0.0.1:1883";  ///< mqtt://host:port, mqtts://host:port.
  /// Server verification as for esp_client (ca_pem, use_crt_bundle, skip_verify). The client
  /// certificate and key are not sent: the provisioning session authenticates with the key and
  /// secret, and an X.509 device registers its certificate in the request.
  esp_tls_options tls;
  std::uint32_t timeout_ms = 10000;  ///< Connect, subscribe, request and answer, in all.
  std::uint32_t task_stack = TBMQTT_ESP_TASK_STACK;  ///< Of the esp-mqtt task.
  unsigned task_priority = TBMQTT_ESP_TASK_PRIORITY;
};

/// @brief Credentials as esp_client_options needs them: NUL-terminated copies. For X.509 only
/// `type` is set (the device authenticates with its own certificate and key).
struct esp_credentials {
  provision_credentials_type type = provision_credentials_type::access_token;  ///< Never server_token.
  char token[TBMQTT_ESP_CREDENTIAL_CAPACITY] = {};      ///< access_token.
  char client_id[TBMQTT_ESP_CREDENTIAL_CAPACITY] = {};  ///< mqtt_basic (may be empty).
  char username[TBMQTT_ESP_CREDENTIAL_CAPACITY] = {};   ///< mqtt_basic (may be empty).
  char password[TBMQTT_ESP_CREDENTIAL_CAPACITY] = {};   ///< mqtt_basic (may be empty).
};

/// @brief Provisions once: connects to `server` with the MQTT username `provision`, subscribes
/// to /provision/response, publishes `request`, waits for the answer (at most
/// server.timeout_ms), disconnects. A successful answer is stored in `store` under
/// esp_credentials_key (atomically, before this returns) and copied into `out_credentials`.
/// Nothing is stored on failure.
/// @return ok, or errc::invalid_argument (request incomplete), errc::provision_not_found (bad
/// key or secret), errc::provision_failed (name exists, already provisioned, credentials
/// collide), errc::server_error, errc::malformed (not a provisioning answer),
/// errc::not_enough_space (a credential longer than TBMQTT_ESP_CREDENTIAL_CAPACITY - 1, or the
/// storage is full), errc::payload_too_large (answer over TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY),
/// errc::timeout, errc::unreachable, errc::tls_error, errc::refused_credentials (and the other
/// CONNACK refusals), errc::subscription_refused, errc::disconnected (closed without an answer),
/// errc::again (out of memory), errc::transport_error (esp-mqtt or the storage failed).
[[nodiscard]] result<void> esp_provision(const esp_provision_options& server, const provision_request& request,
                                         storage& store, esp_credentials& out_credentials) noexcept;

/// @brief Reads the credentials esp_provision stored.
/// @return ok, or errc::no_match (none stored), errc::malformed (the stored answer is not a
/// successful provisioning answer), errc::not_enough_space, errc::again (out of memory),
/// errc::transport_error.
[[nodiscard]] result<void> esp_load_credentials(storage& store, esp_credentials& out_credentials) noexcept;

/// @brief Points the authentication fields of `options` at `c` (esp_client copies them in
/// start()): the access token, or client id, username and password (the other kind cleared;
/// empty fields become null). X.509 changes nothing: set options.tls.client_cert_pem / key_pem.
void esp_apply_credentials(esp_client_options& options, const esp_credentials& c) noexcept;

}  // namespace tbmqtt
