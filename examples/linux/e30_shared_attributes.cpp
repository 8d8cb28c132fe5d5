// e30 shared attributes: register shared attributes with a "set" callback; the registry
// subscribes, requests the current values on every connect, and calls "set" on each change and
// on deletion.
//   e30_shared_attributes HOST PORT TOKEN [SECONDS]
#include <tbmqtt/linux/client.hpp>

#include <tbmqtt/registry.hpp>
#include "example_args.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  if (!example::options_from_args(argc, argv, "[SECONDS]", options)) return 2;
  const int seconds = argc > 4 ? std::atoi(argv[4]) : 30;

  auto set_target = [](tbmqtt::point_value v) {  // runs on the client's network thread
    if (v.empty())
      std::printf("device: targetTemperature deleted\n");
    else
      std::printf("device: targetTemperature = %g\n", v.as_double());
  };
  auto set_mode = [](tbmqtt::point_value v) {
    if (v.empty())
      std::printf("device: mode deleted\n");
    else
      std::printf("device: mode = %.*s\n", static_cast<int>(v.as_text().size()), v.as_text().data());
  };

  tbmqtt::registry<0, 0, 2> points;  // two shared attributes
  (void)points.add_shared_attribute("targetTemperature", tbmqtt::point_type::real, set_target);
  (void)points.add_shared_attribute("mode", tbmqtt::point_type::text, set_mode);

  tbmqtt::client device{options};
  if (auto r = device.connect(std::chrono::seconds(10)); !r) {
    std::fprintf(stderr, "device: connect failed: %s\n", tbmqtt::to_string(r.error()));
    return 3;
  }
  std::printf("device: ready\n");
  if (auto r = device.attach(points); !r) return 1;  // also fine after connect: requests at once
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  device.detach();
  return 0;
}
