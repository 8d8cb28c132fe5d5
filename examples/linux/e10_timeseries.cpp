// e10 time-series data: register data points once, then one call gathers every point and
// uploads them as one telemetry message (with the Unix time as ts).
//   e10_timeseries HOST PORT TOKEN [MESSAGES]
#include <tbmqtt/linux/client.hpp>

#include <tbmqtt/registry.hpp>
#include "example_args.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {
double temperature = 21.5;
int humidity = 40;

std::uint32_t monotonic_ms() {
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// "get" callbacks: plain functions returning the current value.
tbmqtt::result<tbmqtt::point_value> read_temperature() { return tbmqtt::point_value{temperature}; }
tbmqtt::result<tbmqtt::point_value> read_humidity() { return tbmqtt::point_value{humidity}; }
tbmqtt::result<tbmqtt::point_value> read_status() { return tbmqtt::point_value{"running"}; }
}  // namespace

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  if (!example::options_from_args(argc, argv, "[MESSAGES]", options)) return 2;
  const int count = argc > 4 ? std::atoi(argv[4]) : 5;

  tbmqtt::registry<3> points;  // room for three time-series points
  (void)points.add_time_series("temperature", tbmqtt::point_type::real, read_temperature);
  (void)points.add_time_series("humidity", tbmqtt::point_type::integer, read_humidity);
  (void)points.add_time_series("status", tbmqtt::point_type::text, read_status);
  points.set_remote_tuning(false);  // no report by exception here: plain uploads

  tbmqtt::client device{options};
  if (auto r = device.attach(points); !r) return 1;
  if (auto r = device.connect(std::chrono::seconds(10)); !r) {
    std::fprintf(stderr, "device: connect failed: %s\n", tbmqtt::to_string(r.error()));
    return 3;
  }
  for (int i = 0; i < count; ++i) {
    tbmqtt::result<void> sent = tbmqtt::errc::not_connected;
    device.with_lock([&] { sent = points.upload_time_series(monotonic_ms(), example::unix_ms()); });
    std::printf("device: upload %d: %s\n", i + 1, sent ? "ok" : tbmqtt::to_string(sent.error()));
    temperature += 0.5;
    humidity += 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const bool flushed = device.flush(std::chrono::seconds(5)).ok();
  device.detach();
  return flushed ? 0 : 4;
}
