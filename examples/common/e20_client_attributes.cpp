// e20 client attributes: register client attributes with "get" (and optionally "set"), initialize
// them from the values stored on the server at start, then upload all of them in one message.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    e20_client_attributes HOST PORT TOKEN
//   ESP-IDF:  examples/esp-idf/e20_client_attributes
// Exit status: 0 uploaded and delivered, 1 not, 3 connect failed.
#include <chrono>
#include <cstdio>

#include "example_device.hpp"
#include "tbmqtt/registry.hpp"

namespace {

long long send_interval_ms = 1000;  // default until the server's value arrives
example::event* initialized = nullptr;

// Callbacks are referenced, not copied: plain functions outlive the registry.
tbmqtt::result<tbmqtt::point_value> get_firmware() { return tbmqtt::point_value{"1.0.0"}; }
tbmqtt::result<tbmqtt::point_value> get_interval() { return tbmqtt::point_value{send_interval_ms}; }
void set_interval(tbmqtt::point_value v) {  // runs on the client's thread (task), its lock held
  if (v.empty()) return;
  send_interval_ms = v.as_int();
  std::printf("device: sendIntervalMs initialized from the server: %lld\n", send_interval_ms);
  initialized->arrive();
}

int e20_client_attributes(int argc, char** argv) {
  example::device_options options;
  if (!example::device_settings(argc, argv, "", options)) return 2;

  example::event server_value;  // declared before the client, whose thread calls it
  initialized = &server_value;
  static tbmqtt::registry<0, 2> points;  // two client attributes; static: 1 KB, off a small main task stack
  (void)points.add_client_attribute("firmwareVersion", tbmqtt::point_type::text, get_firmware);
  (void)points.add_client_attribute("sendIntervalMs", tbmqtt::point_type::integer, get_interval, set_interval);
  points.init_client_attributes_from_server(true);

  example::device_client device{options};
  if (auto r = device.attach(points); !r) {
    std::fprintf(stderr, "device: attach: %s\n", tbmqtt::to_string(r.error()));
    return 1;
  }
  if (auto r = device.connect(std::chrono::seconds(10)); !r) {
    std::fprintf(stderr, "device: connect failed: %s\n", tbmqtt::to_string(r.error()));
    return 3;
  }
  if (!server_value.wait(std::chrono::seconds(3)))
    std::printf("device: nothing stored on the server; keeping the defaults\n");
  const tbmqtt::result<void> sent = device.with_lock([&] { return points.upload_client_attributes(); });
  std::printf("device: client attributes uploaded: %s\n", sent ? "ok" : tbmqtt::to_string(sent.error()));
  const bool flushed = device.flush(std::chrono::seconds(5)).ok();
  device.detach();
  return sent && flushed ? 0 : 1;
}

}  // namespace

EXAMPLE_MAIN(e20_client_attributes)
