// tbmqtt — the one place where the esp-mqtt client configuration differs between ESP-IDF v4.4
// (flat esp_mqtt_client_config_t) and v5.x (nested broker/credentials/session/network/task/
// buffer). IDF version numbers appear only in the feature macros below; code elsewhere tests
// the TBMQTT_ESP_* macros. ESP-IDF only. Not part of the public API.
#pragma once

#include <cstdint>

#include "esp_idf_version.h"
#include "mqtt_client.h"

/// 1 when esp_mqtt_client_config_t is the nested v5 layout (broker.address.uri, ...).
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 0, 0)
#define TBMQTT_ESP_MQTT_NESTED_CONFIG 1
#else
#define TBMQTT_ESP_MQTT_NESTED_CONFIG 0
#endif
/// 1 when esp_mqtt_client_subscribe is a macro over esp_mqtt_client_subscribe_single (5.1+).
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 1, 0)
#define TBMQTT_ESP_MQTT_SUBSCRIBE_SINGLE 1
#else
#define TBMQTT_ESP_MQTT_SUBSCRIBE_SINGLE 0
#endif
/// 1 when the SUBSCRIBED event flags a refusal with MQTT_ERROR_TYPE_SUBSCRIBE_FAILED (v5.x).
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 0, 0)
#define TBMQTT_ESP_MQTT_SUBSCRIBE_FAILED_TYPE 1
#else
#define TBMQTT_ESP_MQTT_SUBSCRIBE_FAILED_TYPE 0
#endif
/// 1 when the mbedtls certificate bundle (esp_crt_bundle_attach) can be used.
#if defined(CONFIG_MBEDTLS_CERTIFICATE_BUNDLE) && CONFIG_MBEDTLS_CERTIFICATE_BUNDLE
#define TBMQTT_ESP_HAS_CRT_BUNDLE 1
#else
#define TBMQTT_ESP_HAS_CRT_BUNDLE 0
#endif

namespace tbmqtt::detail {

/// @brief Version-neutral esp-mqtt settings. Every pointer may be null (= esp-mqtt default).
/// esp-mqtt copies uri, client_id, username and password in esp_mqtt_client_init(); the PEM
/// pointers are NOT copied and must stay valid for the client's lifetime (NUL-terminated PEM).
struct esp_mqtt_settings {
  const char* uri = nullptr;                  ///< "mqtt://host:1883" or "mqtts://host:8883".
  const char* client_id = nullptr;            ///< null: esp-mqtt's default (ESP32_xxxxxx).
  const char* username = nullptr;             ///< Access token, or MQTT basic user name.
  const char* password = nullptr;             ///< MQTT basic password.
  const char* ca_pem = nullptr;               ///< Server CA (PEM) to verify the broker.
  bool use_crt_bundle = false;                ///< Verify against the IDF certificate bundle instead.
  const char* client_cert_pem = nullptr;      ///< Mutual TLS / X.509 auth: client certificate (PEM).
  const char* client_key_pem = nullptr;       ///< ... and its private key (PEM).
  const char* client_key_password = nullptr;  ///< Decrypts client_key_pem (esp-mqtt copies it).
  bool skip_common_name_check = false;        ///< Only when asked (see esp_client_options::tls).
  int keepalive_s = 60;
  /// false: esp-mqtt waits after a loss until esp_mqtt_client_reconnect() (the owner's back-off);
  /// reconnect_timeout_ms is then only how often its task looks whether it was stopped.
  bool auto_reconnect = true;
  int reconnect_timeout_ms = 5000;
  int network_timeout_ms = 10000;
  int buffer_size = 1024;  ///< Inbound buffer: larger messages arrive in fragments.
  int out_buffer_size = 1024;
  int task_stack = 6144;
  int task_priority = 5;
};

/// @brief Fills `out` (zeroed first) from `in` for the IDF version being compiled against.
void fill_esp_mqtt_config(const esp_mqtt_settings& in, esp_mqtt_client_config_t& out) noexcept;

/// @brief esp_mqtt_client_subscribe for one filter on every IDF version; returns its msg_id or
/// a negative esp-mqtt error (-1, -2).
int esp_mqtt_subscribe_one(esp_mqtt_client_handle_t client, const char* filter, int qos) noexcept;

}  // namespace tbmqtt::detail
