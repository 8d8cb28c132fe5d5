// tbmqtt — NOT Arduino-ESP32's Arduino.h: a hand-written stand-in declaring only what
// examples/arduino uses, with the signatures of Arduino-ESP32 3.x, so that tests/esp_idf/check.sh
// can syntax-check the sketches' tbmqtt and ESP-IDF parts. Nothing here is defined or run.
#pragma once

#include <cstddef>
#include <cstdint>

unsigned long millis();
void delay(uint32_t ms);

class HardwareSerial {
 public:
  void begin(unsigned long baud);
  size_t printf(const char* format, ...) __attribute__((format(printf, 2, 3)));
  size_t println(const char* text);
};
extern HardwareSerial Serial;

void setup();
void loop();
