// tbmqtt with Arduino-ESP32, "get_started" as an Arduino sketch: joins Wi-Fi with the Arduino
// WiFi library, connects to ThingsBoard with an access token through tbmqtt::esp_client (the same
// esp-mqtt transport as the ESP-IDF examples), sends telemetry every 5 s and answers the
// server-side RPC "ping". Arduino-ESP32 runs as an ESP-IDF component next to the tbmqtt
// component (see ../CMakeLists.txt and the README, "Arduino-ESP32", for why this and not a
// library.properties). Build with `idf.py build` in examples/arduino/get_started.
// Compile-checked only (tests/esp_idf/check.sh): the tbmqtt and ESP-IDF parts against the real
// headers, the Arduino calls against a hand-written stand-in (tests/esp_idf/arduino_stand_in).
// Set the Wi-Fi credentials, server_uri and access_token below.
#include <Arduino.h>
#include <WiFi.h>

#include "tbmqtt/esp_idf/client.hpp"

namespace {

const char* const wifi_ssid = "my-network";
const char* const wifi_password = "my-password";
const char* const server_uri = "mqtt://thingsboard.local:1883";
const char* const access_token = "A1_TEST_TOKEN";

tbmqtt::esp_client* device = nullptr;
unsigned long last_sent_ms = 0;

// Called on the tbmqtt task, not in loop(): keep them short.
void on_error(tbmqtt::errc e, std::string_view context) {
  Serial.printf("tbmqtt: %s: %.*s\n", tbmqtt::to_string(e), static_cast<int>(context.size()), context.data());
}

void on_ping(const tbmqtt::server_rpc& rpc) {
  if (auto sent = device->reply_rpc(rpc.id, "{\"pong\":true}"); !sent)
    Serial.printf("reply failed: %s\n", tbmqtt::to_string(sent.error()));
}

}  // namespace

void setup() {
  Serial.begin(115200);
  WiFi.begin(wifi_ssid, wifi_password);
  while (WiFi.status() != WL_CONNECTED) delay(500);
  Serial.println("Wi-Fi connected");

  tbmqtt::esp_client_options options;
  options.uri = server_uri;
  options.access_token = access_token;
  static tbmqtt::esp_client client{options};
  device = &client;
  client.on_error(&on_error);
  if (auto added = client.on_rpc("ping", &on_ping); !added)
    Serial.printf("on_rpc: %s\n", tbmqtt::to_string(added.error()));
  if (auto connected = client.connect(std::chrono::seconds(15)); !connected)
    Serial.printf("connect: %s (esp-mqtt keeps trying)\n", tbmqtt::to_string(connected.error()));
}

void loop() {
  if (millis() - last_sent_ms >= 5000) {
    last_sent_ms = millis();
    tbmqtt::telemetry<64> t;
    t.add("uptime_s", static_cast<std::uint32_t>(millis() / 1000)).add("rssi", static_cast<int>(WiFi.RSSI()));
    if (auto sent = device->send_telemetry(t, tbmqtt::qos::at_least_once); !sent)
      Serial.printf("telemetry: %s\n", tbmqtt::to_string(sent.error()));
  }
  delay(100);
}
