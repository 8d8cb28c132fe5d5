// Shared by the ESP-IDF provisioning examples (pd11-px00): provision (or, for the general flow,
// reuse the credentials NVS already holds), store the credentials in NVS before use, connect
// with them and send one telemetry message. Not part of the library.
#pragma once

#include "esp_log.h"
#include "tbmqtt/esp_provisioning.hpp"

#include "../../../src/platform/esp_idf/nvs_storage.hpp"
#include "auth_example.hpp"

namespace example {

/// One provisioning example's settings: where to provision, what to ask for, how to connect.
struct provisioning {
  tbmqtt::esp_provision_options server;  ///< Provisioning connection (URI, server verification).
  tbmqtt::provision_request request;     ///< Key, secret, device name; the example sets the credentials.
  tbmqtt::esp_client_options device;     ///< Device connection; its credentials come from provisioning.
};

/// Provisioning and the device connection both to `uri`, verifying the server against `ca_pem`
/// when it is given (mqtts://). Strings must outlive the returned settings.
inline provisioning provisioning_to(const char* uri, const char* key, const char* secret, const char* device_name,
                                    const char* ca_pem = nullptr) {
  provisioning p;
  p.server.uri = uri;
  p.server.tls.ca_pem = ca_pem;
  p.request.key = key;
  p.request.secret = secret;
  p.request.device_name = device_name;
  p.device.uri = uri;
  p.device.tls.ca_pem = ca_pem;
  return p;
}

/// Credentials from NVS when `reuse_saved` and NVS has some, else esp_provision(p.server,
/// p.request) (which stores them in NVS first); then p.device connects with them and sends
/// `telemetry` once (connect_and_send_once). Failures are logged with their typed error, e.g.
/// provision_not_found for an unknown key or secret.
inline void provision_and_send_once(const char* tag, provisioning& p, const char* telemetry, bool reuse_saved = false) {
  static tbmqtt::esp_idf::nvs_storage store{"tbmqtt"};
  static tbmqtt::esp_credentials credentials;  // ~0.5 KB: kept off app_main's stack
  bool saved = false;
  if (reuse_saved) {
    auto loaded = tbmqtt::esp_load_credentials(store, credentials);
    saved = static_cast<bool>(loaded);
    if (saved) ESP_LOGI(tag, "using the credentials stored in NVS");
    else if (loaded.error() != tbmqtt::errc::no_match)
      ESP_LOGW(tag, "stored credentials unusable (%s): provisioning again", tbmqtt::to_string(loaded.error()));
  }
  if (!saved) {
    if (auto r = tbmqtt::esp_provision(p.server, p.request, store, credentials); !r) {
      ESP_LOGE(tag, "provisioning failed: %s", tbmqtt::to_string(r.error()));
      return;
    }
    ESP_LOGI(tag, "provisioned; credentials stored in NVS");
  }
  tbmqtt::esp_apply_credentials(p.device, credentials);
  connect_and_send_once(tag, p.device, telemetry);
}

}  // namespace example
