// tbmqtt ESP-IDF example "h30_server_rpc": answers calls from the server.
//   - "getTemperature", two-way: answered {"temperature":21.5}.
//   - "setLed" {"on":true}, one-way: nothing to answer; the device switches the LED and reports
//     the new state as the client attribute ledOn. Params that are not {"on":bool} are ignored
//     with their typed error (wrong_type).
//   - any other method: the library answers {"error":"unknown method: <method>"} by itself.
// Stops after 2 calls of the two methods, or after 30 s.
// Linux twin (tested against the emulator): examples/linux/h30_server_rpc.cpp.
// Compile-checked only (tests/esp_idf/check.sh). Set server_uri and access_token below.
#include <cstdint>

#include "../../common/example_client.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "esp_log.h"
#include "tbmqtt/esp_idf/client.hpp"

namespace {

const char* const tag = "h30_server_rpc";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const access_token = example::settings::token("A1_TEST_TOKEN");
constexpr unsigned calls = 2;
constexpr std::uint32_t seconds = 30;

struct h30_events final : example::logged_events {
  h30_events() : logged_events(::tag) {}
  tbmqtt::esp_client* device = nullptr;
  example::countdown handled{calls};

  // Runs on the tbmqtt task for "getTemperature" and "setLed" (registered with on_rpc); calling
  // back into the client is allowed.
  void on_rpc(const tbmqtt::server_rpc& rpc) {
    if (rpc.method == "getTemperature") {
      if (auto r = device->reply_rpc(rpc.id, R"({"temperature":21.5})"); !r)
        ESP_LOGW(tag, "reply failed: %s", tbmqtt::to_string(r.error()));
      ESP_LOGI(tag, "getTemperature answered");
      handled.arrive();
      return;
    }
    auto params = tbmqtt::json::value::parse(rpc.params_json);  // "setLed"; errc::malformed when absent
    auto on = params ? (*params)["on"].as_bool() : tbmqtt::result<bool>{params.error()};
    if (!on) {
      ESP_LOGW(tag, "setLed ignored: %s", tbmqtt::to_string(on.error()));
    } else {
      ESP_LOGI(tag, "LED %s", *on ? "on" : "off");  // switch the GPIO here
      if (auto r = device->send_attributes(*on ? R"({"ledOn":true})" : R"({"ledOn":false})"); !r)
        ESP_LOGW(tag, "ledOn not reported: %s", tbmqtt::to_string(r.error()));
    }
    handled.arrive();
  }
};

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  static h30_events events;
  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.access_token = access_token;
  static tbmqtt::esp_client device{options, events};
  events.device = &device;
  for (const char* method : {"getTemperature", "setLed"}) {
    if (auto r = device.on_rpc(method, [](const tbmqtt::server_rpc& rpc) { events.on_rpc(rpc); }); !r) {
      ESP_LOGE(tag, "on_rpc(%s): %s", method, tbmqtt::to_string(r.error()));
      return;
    }
  }
  if (!example::connect(device, tag)) return;
  if (!events.handled.wait(calls, seconds * 1000))
    ESP_LOGW(tag, "timeout: fewer than %u calls in %u s", calls, static_cast<unsigned>(seconds));
  else if (auto r = device.flush(std::chrono::seconds(5)); !r)  // the last reply or ledOn report
    ESP_LOGW(tag, "not acknowledged: %s", tbmqtt::to_string(r.error()));
  else
    ESP_LOGI(tag, "%u calls handled", calls);
  device.disconnect();
}
