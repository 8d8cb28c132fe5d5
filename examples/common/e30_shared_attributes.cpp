// e30 shared attributes: register shared attributes with a "set" callback; the registry
// subscribes, requests the current values on every connect, and calls "set" on each change and
// on deletion.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    e30_shared_attributes HOST PORT TOKEN [SECONDS=30]
//   ESP-IDF:  examples/esp-idf/e30_shared_attributes (TBMQTT_SECONDS)
// Exit status: 0 after SECONDS, 1 not attached, 3 connect failed.
#include <chrono>
#include <cstdio>

#include "example_device.hpp"
#include "tbmqtt/registry.hpp"

namespace {

// "set" callbacks run on the client's thread (task), its lock held; an empty value means deleted.
void set_target(tbmqtt::point_value v) {
  if (v.empty())
    std::printf("device: targetTemperature deleted\n");
  else
    std::printf("device: targetTemperature = %g\n", v.as_double());
}
void set_mode(tbmqtt::point_value v) {
  if (v.empty())
    std::printf("device: mode deleted\n");
  else
    std::printf("device: mode = %.*s\n", static_cast<int>(v.as_text().size()), v.as_text().data());
}

int e30_shared_attributes(int argc, char** argv) {
  example::device_options options;
  if (!example::device_settings(argc, argv, "[SECONDS]", options)) return 2;
  const long long seconds = example::number_arg(argc, argv, 4, "SECONDS", 30);

  static tbmqtt::registry<0, 0, 2> points;  // two shared attributes; static: 1 KB, off a small main task stack
  (void)points.add_shared_attribute("targetTemperature", tbmqtt::point_type::real, set_target);
  (void)points.add_shared_attribute("mode", tbmqtt::point_type::text, set_mode);

  example::device_client device{options};
  if (auto r = device.connect(std::chrono::seconds(10)); !r) {
    std::fprintf(stderr, "device: connect failed: %s\n", tbmqtt::to_string(r.error()));
    return 3;
  }
  std::printf("device: ready\n");
  if (auto r = device.attach(points); !r) {  // also fine after connect: requests at once
    std::fprintf(stderr, "device: attach: %s\n", tbmqtt::to_string(r.error()));
    return 1;
  }
  example::sleep(std::chrono::seconds(seconds));
  device.detach();
  return 0;
}

}  // namespace

EXAMPLE_MAIN(e30_shared_attributes)
