// The linux target of ESP-IDF 5.5 ships esp_timer's headers but no esp_timer_get_time()
// (esp-mqtt calls it): microseconds of CLOCK_MONOTONIC, as on a chip since boot.
#include <stdint.h>
#include <time.h>

int64_t esp_timer_get_time(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}
