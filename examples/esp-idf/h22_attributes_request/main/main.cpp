// tbmqtt ESP-IDF example "h22_attributes_request": reads client attributes (what the device
// published earlier, e.g. its firmware version) and shared attributes (what the server set,
// e.g. a target temperature) in one request, and waits for the answer or the request time-out.
// Linux twin (tested against the emulator): examples/linux/h22_attributes_request.cpp.
// Compile-checked only (tests/esp_idf/check.sh). Set server_uri and access_token below.
#include <cstdint>
#include <string_view>

#include "../../common/example_client.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "esp_log.h"
#include "tbmqtt/esp_idf/client.hpp"

namespace {

const char* const tag = "h22_request";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const access_token = example::settings::token("A1_TEST_TOKEN");

void log_scope(const char* scope, tbmqtt::json::value attributes) {
  const std::string_view text = attributes.present() ? attributes.raw() : "{}";  // absent: none found
  ESP_LOGI(tag, "%s %.*s", scope, static_cast<int>(text.size()), text.data());
}

struct h22_events final : example::logged_events {
  h22_events() : logged_events(::tag) {}
  example::countdown answered{1};

  // Runs on the tbmqtt task; the views are valid only during the call. Always comes: with the
  // answer, or with errc::timeout after options.request_timeout (or disconnected, malformed).
  void on_attributes_response(std::uint32_t, tbmqtt::errc e, tbmqtt::json::value client,
                              tbmqtt::json::value shared) noexcept override {
    if (e != tbmqtt::errc{}) {
      ESP_LOGW(tag, "request failed: %s", tbmqtt::to_string(e));
    } else {
      log_scope("client", client);
      log_scope("shared", shared);
    }
    answered.arrive();
  }
};

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  static h22_events events;
  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.access_token = access_token;
  static tbmqtt::esp_client device{options, events};
  if (!example::connect(device, tag)) return;
  if (auto r = device.request_attributes("firmwareVersion,ledOn", "targetTemperature,mode"); !r)
    ESP_LOGE(tag, "request not sent: %s", tbmqtt::to_string(r.error()));
  else if (!events.answered.wait(1, static_cast<std::uint32_t>(options.request_timeout.count()) + 1000))
    ESP_LOGW(tag, "no answer");  // not expected: the library's own time-out comes first
  device.disconnect();
}
