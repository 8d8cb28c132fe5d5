// e10 time-series data: register data points once, then one call gathers every point and
// uploads them as one telemetry message (with the Unix time as ts; on ESP-IDF 0, i.e. the
// server's time, until SNTP has set the clock).
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    e10_timeseries HOST PORT TOKEN [MESSAGES=5]
//   ESP-IDF:  examples/esp-idf/e10_timeseries (TBMQTT_MESSAGES)
// Exit status: 0 every upload delivered, 1 not attached, 3 connect failed, 4 not acknowledged.
#include <chrono>
#include <cstdio>

#include "example_device.hpp"
#include "tbmqtt/registry.hpp"

namespace {

double temperature = 21.5;
int humidity = 40;

// "get" callbacks: plain functions returning the current value.
tbmqtt::result<tbmqtt::point_value> read_temperature() { return tbmqtt::point_value{temperature}; }
tbmqtt::result<tbmqtt::point_value> read_humidity() { return tbmqtt::point_value{humidity}; }
tbmqtt::result<tbmqtt::point_value> read_status() { return tbmqtt::point_value{"running"}; }

int e10_timeseries(int argc, char** argv) {
  example::device_options options;
  if (!example::device_settings(argc, argv, "[MESSAGES]", options)) return 2;
  const long long count = example::number_arg(argc, argv, 4, "MESSAGES", 5);

  static tbmqtt::registry<3> points;  // three time-series points; static: 1-2 KB, off a small main task stack
  (void)points.add_time_series("temperature", tbmqtt::point_type::real, read_temperature);
  (void)points.add_time_series("humidity", tbmqtt::point_type::integer, read_humidity);
  (void)points.add_time_series("status", tbmqtt::point_type::text, read_status);
  points.set_remote_tuning(false);  // no report by exception here: plain uploads

  example::device_client device{options};
  if (auto r = device.attach(points); !r) {
    std::fprintf(stderr, "device: attach: %s\n", tbmqtt::to_string(r.error()));
    return 1;
  }
  if (auto r = device.connect(std::chrono::seconds(10)); !r) {
    std::fprintf(stderr, "device: connect failed: %s\n", tbmqtt::to_string(r.error()));
    return 3;
  }
  for (int i = 0; i < count; ++i) {
    // The client's thread (task) drives the attached registry: call it under the client's lock.
    const tbmqtt::result<void> sent =
        device.with_lock([&] { return points.upload_time_series(example::monotonic_ms(), example::unix_ms()); });
    std::printf("device: upload %d: %s\n", i + 1, sent ? "ok" : tbmqtt::to_string(sent.error()));
    temperature += 0.5;
    humidity += 1;
    example::sleep(std::chrono::milliseconds(100));
  }
  const bool flushed = device.flush(std::chrono::seconds(5)).ok();
  device.detach();
  std::printf("device: %s\n", flushed ? "done" : "not acknowledged");
  return flushed ? 0 : 4;
}

}  // namespace

EXAMPLE_MAIN(e10_timeseries)
