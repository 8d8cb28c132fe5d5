// tbmqtt — NOT Arduino-ESP32's WiFi.h: a stand-in declaring only what examples/arduino uses (see
// Arduino.h next to it). Nothing here is defined or run.
#pragma once

#include <cstdint>

typedef enum {
  WL_IDLE_STATUS = 0,
  WL_NO_SSID_AVAIL = 1,
  WL_SCAN_COMPLETED = 2,
  WL_CONNECTED = 3,
  WL_CONNECT_FAILED = 4,
  WL_CONNECTION_LOST = 5,
  WL_DISCONNECTED = 6,
} wl_status_t;

class WiFiClass {
 public:
  wl_status_t begin(const char* ssid, const char* passphrase = nullptr);
  wl_status_t status();
  int8_t RSSI();
};
extern WiFiClass WiFi;
