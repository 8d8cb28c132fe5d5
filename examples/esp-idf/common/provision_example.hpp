// Shared by the ESP-IDF provisioning examples (pd11-px00): provision (pd/ps: one round trip;
// px00, the general flow: the credential lifecycle, which reuses the credentials NVS already
// holds), store the credentials in NVS before use (the core's format), connect with them and
// send one telemetry message. Not part of the library.
#pragma once

#include <chrono>
#include <cstdint>

#include "esp_log.h"
#include "tbmqtt/esp_idf/provisioned_client.hpp"

#include "../../../src/platform/esp_idf/nvs_storage.hpp"
#include "auth_example.hpp"
#include "example_settings.hpp"

namespace example {

/// The examples' storage: NVS namespace "tbmqtt".
inline tbmqtt::storage& nvs() {
  static tbmqtt::esp_idf::nvs_storage store{"tbmqtt"};
  return store;
}

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
  p.server.tls.ca = ca_pem;
  p.request.key = key;
  p.request.secret = secret;
  p.request.device_name = device_name;
  p.device.uri = uri;
  p.device.tls.ca = ca_pem;
  return p;
}

/// One provisioning round trip (esp_provision: no retries), which stores the credentials in NVS
/// before they are used; then p.device connects with them and sends `telemetry` once
/// (connect_and_send_once). Failures are logged with their typed error, e.g.
/// provision_not_found for an unknown key or secret.
inline void provision_and_send_once(const char* tag, provisioning& p, const char* telemetry) {
  static tbmqtt::credentials credentials;  // ~2.6 KB: kept off app_main's stack
  if (auto r = tbmqtt::esp_provision(p.server, p.request, nvs(), credentials); !r) {
    ESP_LOGE(tag, "provisioning failed: %s", tbmqtt::to_string(r.error()));
    return;
  }
  ESP_LOGI(tag, "provisioned; credentials stored in NVS");
  tbmqtt::apply_credentials(p.device, credentials);
  if (p.device.client_id == nullptr) p.device.client_id = settings::client_id();  // unique on linux
  connect_and_send_once(tag, p.device, telemetry);
}

/// The credential lifecycle (esp_provisioned_client): the credentials stored in NVS, else
/// provisioning with retries after 0, 1, 2, 4, ... s (at most `max_attempts` round trips) and
/// storing them before use; then connect and send `telemetry` once. A failure is logged with
/// its typed error, e.g. stored_credentials_refused when the server no longer knows the stored
/// credentials (they are kept; erase NVS to provision anew).
inline void provision_flow_and_send_once(const char* tag, provisioning& p, const char* telemetry,
                                         std::uint32_t max_attempts) {
  tbmqtt::esp_provisioning_options flow;
  flow.server = p.server;
  flow.request = p.request;
  flow.store = &nvs();
  flow.max_attempts = max_attempts;
  flow.on_retry = [tag](std::uint32_t attempt, tbmqtt::errc error, std::chrono::milliseconds wait) {
    ESP_LOGW(tag, "provisioning attempt %u failed: %s; next in %u ms", static_cast<unsigned>(attempt),
             tbmqtt::to_string(error), static_cast<unsigned>(wait.count()));
  };
  static tbmqtt::esp_provisioned_client device{p.device, flow};  // holds the ~2.6 KB credentials
  if (auto r = device.connect(std::chrono::seconds(15)); !r) {
    ESP_LOGE(tag, "failed: %s", tbmqtt::to_string(r.error()));
    return;
  }
  ESP_LOGI(tag, "%s",
           device.provisioned() ? "provisioned; credentials stored in NVS" : "using the credentials stored in NVS");
  send_once(tag, device.get(), telemetry);
}

}  // namespace example
