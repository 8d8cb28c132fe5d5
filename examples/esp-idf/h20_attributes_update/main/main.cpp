// tbmqtt ESP-IDF example "h20_attributes_update": publishes client attributes, first what the
// device is and how it is set up ({"model":"tbmqtt-h20","firmwareVersion":"1.0.0","ledOn":false}),
// then one value that changed ({"ledOn":true}). The server merges them: the last value of each
// key wins. Linux twin (tested against the emulator): examples/linux/h20_attributes_update.cpp.
// Compile-checked only (tests/esp_idf/check.sh). Set server_uri and access_token below.
#include "../../common/example_client.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "esp_log.h"
#include "tbmqtt/esp_idf/client.hpp"

namespace {

const char* const tag = "h20_attributes";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const access_token = example::settings::token("A1_TEST_TOKEN");
constexpr const char* firmware_version = "1.0.0";

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

  tbmqtt::attributes<96> info;  // a builder with its buffer inside: typed values, JSON escaping
  info.add("model", "tbmqtt-h20").add("firmwareVersion", firmware_version).add("ledOn", false);
  if (auto sent = device.send_attributes(info, tbmqtt::qos::at_least_once); !sent)
    ESP_LOGE(tag, "attributes not sent: %s", tbmqtt::to_string(sent.error()));
  if (auto sent = device.send_attributes(R"({"ledOn":true})"); !sent)  // JSON text works too (validated)
    ESP_LOGE(tag, "ledOn not sent: %s", tbmqtt::to_string(sent.error()));
  if (auto r = device.flush(std::chrono::seconds(5)); !r)
    ESP_LOGW(tag, "not acknowledged: %s", tbmqtt::to_string(r.error()));
  else
    ESP_LOGI(tag, "attributes delivered");
  device.disconnect();
}
