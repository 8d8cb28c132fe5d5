// tbmqtt ESP-IDF example "gateway_bridge": a gateway device speaks for two sub-devices
// (PREFIX-thermostat and PREFIX-meter; PREFIX is "bridge", or TBMQTT_DEVICE_NAME). It connects
// both, sends their telemetry and attributes in one message each, disconnects the meter, then
// answers one server RPC for the thermostat (logging its attribute updates) and disconnects it.
// tbmqtt::gateway<> attaches to the esp_client's session (under with_lock); its listener runs on the
// tbmqtt task with the session lock held, so it may call the gateway directly.
// Linux twin: examples/linux/gateway_bridge.cpp.
// Set server_uri and access_token (the gateway device's token) below, or see
// ../../common/example_settings.hpp (TBMQTT_* variables).
#include <cstdio>

#include "../../common/example_client.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "tbmqtt/esp_idf/client.hpp"
#include "tbmqtt/gateway.hpp"

namespace {

const char* const tag = "gateway_bridge";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const access_token = example::settings::token("GATEWAY_TOKEN");
const char* const prefix = example::settings::device_name("bridge");
constexpr std::uint32_t seconds = 30;

char thermostat[64];
char meter[64];

struct bridge_listener final : tbmqtt::gateway_listener {
  tbmqtt::gateway<4>* gateway = nullptr;
  example::countdown* answered = nullptr;

  void on_attribute_update(std::string_view device, tbmqtt::json::value data) noexcept override {
    ESP_LOGI(tag, "%.*s attributes %.*s", static_cast<int>(device.size()), device.data(),
             static_cast<int>(data.raw().size()), data.raw().data());
  }
  void on_rpc_request(const tbmqtt::gateway_rpc_request& rpc) noexcept override {
    ESP_LOGI(tag, "rpc %.*s for %.*s: %.*s", static_cast<int>(rpc.method.size()), rpc.method.data(),
             static_cast<int>(rpc.device.size()), rpc.device.data(), static_cast<int>(rpc.params.raw().size()),
             rpc.params.raw().data());
    char reply[128];
    std::snprintf(reply, sizeof reply, "{\"method\":\"%.*s\",\"accepted\":true}", static_cast<int>(rpc.method.size()),
                  rpc.method.data());
    if (auto r = gateway->reply_rpc(rpc.device, rpc.id, reply); !r)
      ESP_LOGW(tag, "reply failed: %s", tbmqtt::to_string(r.error()));
    answered->arrive();
  }
  void on_error(tbmqtt::errc e, std::string_view context) noexcept override {
    ESP_LOGW(tag, "%s: %.*s", tbmqtt::to_string(e), static_cast<int>(context.size()), context.data());
  }
};

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet
  std::snprintf(thermostat, sizeof thermostat, "%s-thermostat", prefix);
  std::snprintf(meter, sizeof meter, "%s-meter", prefix);

  static example::countdown answered{1};
  static bridge_listener listener;
  static tbmqtt::gateway<4> gateway{listener};  // up to 4 sub-devices, no heap
  listener.gateway = &gateway;
  listener.answered = &answered;

  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.access_token = access_token;
  static tbmqtt::esp_client device{options};
  example::log_errors(device, tag);
  // Before connect: the gateway's topics are subscribed with the session's.
  if (auto r = device.with_lock([] { return gateway.attach(tbmqtt::detail::session_of(device)); }); !r) {
    ESP_LOGE(tag, "attach: %s", tbmqtt::to_string(r.error()));
    return;
  }
  if (!example::connect(device, tag)) return;

  const tbmqtt::result<void> sent = device.with_lock([]() -> tbmqtt::result<void> {
    if (auto r = gateway.connect_device(thermostat, "thermostat"); !r) return r.error();
    if (auto r = gateway.connect_device(meter, "meter"); !r) return r.error();
    tbmqtt::gateway_telemetry<256> telemetry;  // both sub-devices in one message
    telemetry.device(thermostat).add("temperature", 21.5).add("heating", true);
    telemetry.device(meter).add("power", 1.25).add("energy", 4711);
    if (auto r = gateway.publish_telemetry(telemetry); !r) return r.error();
    tbmqtt::gateway_attributes<128> attributes;
    attributes.device(thermostat).add("model", "T-100").device(meter).add("model", "M-7");
    if (auto r = gateway.publish_attributes(attributes); !r) return r.error();
    return gateway.disconnect_device(meter);
  });
  if (!sent) {
    ESP_LOGE(tag, "gateway messages not sent: %s", tbmqtt::to_string(sent.error()));
    device.disconnect();
    return;
  }
  if (auto r = device.flush(std::chrono::seconds(10)); !r)
    ESP_LOGW(tag, "not acknowledged: %s", tbmqtt::to_string(r.error()));
  ESP_LOGI(tag, "ready (%s connected, %s disconnected)", thermostat, meter);

  if (!answered.wait(1, seconds * 1000)) {
    ESP_LOGW(tag, "no RPC for %s within %u s", thermostat, static_cast<unsigned>(seconds));
  } else {
    (void)device.with_lock([] { return gateway.disconnect_device(thermostat); });
    if (auto r = device.flush(std::chrono::seconds(10)); !r)
      ESP_LOGW(tag, "not acknowledged: %s", tbmqtt::to_string(r.error()));
    ESP_LOGI(tag, "done");
  }
  device.with_lock([] { gateway.detach(); });
  device.disconnect();
}
