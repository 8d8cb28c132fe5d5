// tbmqtt ESP-IDF example "h40_claiming": asks the server to let a user claim this device, with
// a secret the user must present and how long the offer stands:
// {"secretKey":"<claim_secret>","durationMs":60000}. The PUBACK only means "received"; the user
// then claims the device (e.g. in the ThingsBoard UI, with the secret printed on its label).
// Linux twin (tested against the emulator): examples/linux/h40_claiming.cpp.
// Compile-checked only (tests/esp_idf/check.sh). Set server_uri, access_token and
// claim_secret below.
#include <cstdint>

#include "../../common/example_client.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "esp_log.h"
#include "tbmqtt/esp_idf/client.hpp"

namespace {

const char* const tag = "h40_claiming";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const access_token = example::settings::token("A1_TEST_TOKEN");
constexpr const char* claim_secret = "CHANGE-ME-label-secret";
constexpr std::uint32_t claim_duration_ms = 60000;

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  static example::logged_events events{tag};
  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.access_token = access_token;
  static tbmqtt::esp_client device{options, events};
  if (!example::connect(device, tag)) return;
  if (auto sent = device.claim(claim_secret, std::chrono::milliseconds(claim_duration_ms)); !sent)
    ESP_LOGE(tag, "claim not sent: %s", tbmqtt::to_string(sent.error()));
  else if (auto r = device.flush(std::chrono::seconds(5)); !r)
    ESP_LOGW(tag, "not acknowledged: %s", tbmqtt::to_string(r.error()));
  else
    ESP_LOGI(tag, "claim request delivered (valid for %u ms)", static_cast<unsigned>(claim_duration_ms));
  device.disconnect();
}
