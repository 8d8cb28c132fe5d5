// The only file that knows both esp_mqtt_client_config_t layouts (see esp_mqtt_config.hpp).
#include "esp_mqtt_config.hpp"

#include <cstring>

#if TBMQTT_ESP_HAS_CRT_BUNDLE
#include "esp_crt_bundle.h"
#endif

namespace tbmqtt::detail {
namespace {
int password_length(const char* password) noexcept {
  return password != nullptr ? static_cast<int>(std::strlen(password)) : 0;
}
}  // namespace

void fill_esp_mqtt_config(const esp_mqtt_settings& in, esp_mqtt_client_config_t& out) noexcept {
  std::memset(&out, 0, sizeof out);
#if TBMQTT_ESP_MQTT_NESTED_CONFIG
  out.broker.address.uri = in.uri;
  out.broker.verification.certificate = in.ca_pem;
  out.broker.verification.skip_cert_common_name_check = in.skip_common_name_check;
#if TBMQTT_ESP_HAS_CRT_BUNDLE
  if (in.use_crt_bundle && in.ca_pem == nullptr) out.broker.verification.crt_bundle_attach = esp_crt_bundle_attach;
#endif
  out.credentials.client_id = in.client_id;
  out.credentials.username = in.username;
  out.credentials.authentication.password = in.password;
  out.credentials.authentication.certificate = in.client_cert_pem;
  out.credentials.authentication.key = in.client_key_pem;
  out.credentials.authentication.key_password = in.client_key_password;
  out.credentials.authentication.key_password_len = password_length(in.client_key_password);
  out.session.keepalive = in.keepalive_s;
  out.session.protocol_ver = MQTT_PROTOCOL_V_3_1_1;
  out.network.reconnect_timeout_ms = in.reconnect_timeout_ms;
  out.network.disable_auto_reconnect = !in.auto_reconnect;
  out.network.timeout_ms = in.network_timeout_ms;
  out.task.stack_size = in.task_stack;
  out.task.priority = in.task_priority;
  out.buffer.size = in.buffer_size;
  out.buffer.out_size = in.out_buffer_size;
#else
  out.uri = in.uri;
  out.cert_pem = in.ca_pem;
  out.skip_cert_common_name_check = in.skip_common_name_check;
#if TBMQTT_ESP_HAS_CRT_BUNDLE
  if (in.use_crt_bundle && in.ca_pem == nullptr) out.crt_bundle_attach = esp_crt_bundle_attach;
#endif
  out.client_id = in.client_id;
  out.username = in.username;
  out.password = in.password;
  out.client_cert_pem = in.client_cert_pem;
  out.client_key_pem = in.client_key_pem;
  out.clientkey_password = in.client_key_password;
  out.clientkey_password_len = password_length(in.client_key_password);
  out.keepalive = in.keepalive_s;
  out.protocol_ver = MQTT_PROTOCOL_V_3_1_1;
  out.reconnect_timeout_ms = in.reconnect_timeout_ms;
  out.disable_auto_reconnect = !in.auto_reconnect;
  out.network_timeout_ms = in.network_timeout_ms;
  out.task_stack = in.task_stack;
  out.task_prio = in.task_priority;
  out.buffer_size = in.buffer_size;
  out.out_buffer_size = in.out_buffer_size;
#endif
}

int esp_mqtt_subscribe_one(esp_mqtt_client_handle_t client, const char* filter, int qos) noexcept {
#if TBMQTT_ESP_MQTT_SUBSCRIBE_SINGLE
  return esp_mqtt_client_subscribe_single(client, filter, qos);
#else
  return esp_mqtt_client_subscribe(client, filter, qos);
#endif
}

}  // namespace tbmqtt::detail
