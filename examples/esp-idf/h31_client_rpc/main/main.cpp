// tbmqtt ESP-IDF example "h31_client_rpc": asks the server for its time
// ({"method":"getCurrentTime","params":{}}, answered by the server's rule chain, e.g.
// {"time":1700000000000}), then stamps one telemetry message with it:
// {"ts":<server time>,"values":{"clockOffsetMs":<server time - device time>}}. A device whose
// clock is not set yet (no SNTP) can timestamp its data this way, or settimeofday() with it.
// Linux twin (tested against the emulator): examples/linux/h31_client_rpc.cpp.
// Compile-checked only (tests/esp_idf/check.sh). Set server_uri and access_token below.
#include <cstdint>

#include "../../common/example_client.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "esp_log.h"
#include "tbmqtt/esp_idf/client.hpp"

namespace {

const char* const tag = "h31_client_rpc";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const access_token = example::settings::token("A1_TEST_TOKEN");

struct h31_events final : example::logged_events {
  h31_events() : logged_events(::tag) {}
  example::countdown answered{1};
  tbmqtt::result<std::int64_t> server_time = tbmqtt::errc::timeout;  // read after answered

  // Runs on the tbmqtt task. e: timeout, disconnected, malformed, or server_error for {"error":..}.
  void on_rpc_response(std::uint32_t, tbmqtt::errc e, tbmqtt::json::value response) noexcept override {
    server_time = e != tbmqtt::errc{} ? tbmqtt::result<std::int64_t>{e} : response["time"].as_int();
    answered.arrive();
  }
};

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  static h31_events events;
  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.access_token = access_token;
  static tbmqtt::esp_client device{options, events};
  if (!example::connect(device, tag)) return;
  if (auto r = device.call_rpc("getCurrentTime", "{}"); !r) {
    ESP_LOGE(tag, "getCurrentTime not sent: %s", tbmqtt::to_string(r.error()));
  } else if (!events.answered.wait(1, static_cast<std::uint32_t>(options.request_timeout.count()) + 1000)) {
    ESP_LOGW(tag, "getCurrentTime failed: timeout");  // not expected: the library's own time-out comes first
  } else if (const auto now = events.server_time; !now) {
    ESP_LOGW(tag, "getCurrentTime failed: %s", tbmqtt::to_string(now.error()));  // wrong_type: no "time"
  } else {
    // unix_ms() is 0 while the clock is not set: the offset is then the server time itself.
    const std::int64_t offset = *now - static_cast<std::int64_t>(example::unix_ms());
    ESP_LOGI(tag, "server time %lld (device clock offset %lld ms)", static_cast<long long>(*now),
             static_cast<long long>(offset));
    tbmqtt::telemetry<96> t;
    t.at(static_cast<std::uint64_t>(*now)).add("clockOffsetMs", offset);
    if (auto sent = device.send_telemetry(t, tbmqtt::qos::at_least_once); !sent)
      ESP_LOGE(tag, "telemetry not sent: %s", tbmqtt::to_string(sent.error()));
    else if (auto r = device.flush(std::chrono::seconds(5)); !r)
      ESP_LOGW(tag, "not acknowledged: %s", tbmqtt::to_string(r.error()));
  }
  device.disconnect();
}
