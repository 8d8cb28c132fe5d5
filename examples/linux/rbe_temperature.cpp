// Report by exception: a temperature sampled every 20 ms is uploaded only when it crosses a
// threshold, moves more than a delta since the last upload, or at the heartbeat. The server can
// tune the rules with the shared attribute `rbe_temperature`, e.g. {"max":25,"delta":1}.
// The signal is synthetic: a slow drift from 20 °C with one spike to 26 °C at sample 40.
//   rbe_temperature HOST PORT TOKEN [SAMPLES]
// Prints each upload, then {"samples":N,"messages":M,"bytes":B,"max":X,"delta":D} (the rules in force).
#include <tbmqtt/linux/client.hpp>

#include <tbmqtt/registry.hpp>
#include "example_args.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  if (!example::options_from_args(argc, argv, "[SAMPLES]", options)) return 2;
  const unsigned samples = argc > 4 ? static_cast<unsigned>(std::atoi(argv[4])) : 80;

  unsigned index = 0;  // only touched on the network thread (inside tick)
  auto read_temperature = [&]() -> tbmqtt::result<tbmqtt::point_value> {
    const unsigned i = index++;
    if (i == 40 || i == 41) return tbmqtt::point_value{26.0};  // the spike
    return tbmqtt::point_value{20.0 + 0.025 * i};              // 20 -> 22 °C
  };
  auto print_upload = [](std::string_view payload) {
    std::printf("device: uploaded %.*s\n", static_cast<int>(payload.size()), payload.data());
  };

  tbmqtt::report_policy policy;
  policy.period_ms = 20;
  policy.max = 30;  // local defaults; the server may override them
  policy.delta = 0.5;
  policy.max_interval_ms = 60000;
  tbmqtt::registry<1> points;
  (void)points.add_time_series("temperature", tbmqtt::point_type::real, read_temperature, policy);
  points.on_upload(print_upload);

  tbmqtt::client device{options};
  if (auto r = device.attach(points); !r) return 1;
  if (auto r = device.connect(std::chrono::seconds(10)); !r) {
    std::fprintf(stderr, "device: connect failed: %s\n", tbmqtt::to_string(r.error()));
    return 3;
  }
  tbmqtt::registry_stats stats;
  tbmqtt::report_policy active;
  for (;;) {
    device.with_lock([&] {
      stats = points.stats();
      active = *points.policy("temperature");
    });
    if (stats.samples >= samples) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  device.detach();
  (void)device.flush(std::chrono::seconds(5));
  std::printf("{\"samples\":%u,\"messages\":%u,\"bytes\":%u,\"max\":%g,\"delta\":%g}\n",
              static_cast<unsigned>(stats.samples), static_cast<unsigned>(stats.messages),
              static_cast<unsigned>(stats.bytes), active.max, active.delta);
  return 0;
}
