// e20 client attributes: register client attributes with "get" (and optionally "set"), initialize
// them from the values stored on the server at start, then upload all of them in one message.
//   e20_client_attributes HOST PORT TOKEN
#include <tbmqtt/linux/client.hpp>

#include <tbmqtt/registry.hpp>
#include "example_args.hpp"

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  if (!example::options_from_args(argc, argv, "", options)) return 2;

  std::mutex m;
  std::condition_variable initialized;
  bool have_init = false;
  long long send_interval_ms = 1000;  // default until the server's value arrives

  // Callbacks are referenced, not copied: named lambdas that outlive the registry.
  auto get_firmware = []() -> tbmqtt::result<tbmqtt::point_value> { return tbmqtt::point_value{"1.0.0"}; };
  auto get_interval = [&]() -> tbmqtt::result<tbmqtt::point_value> { return tbmqtt::point_value{send_interval_ms}; };
  auto set_interval = [&](tbmqtt::point_value v) {  // runs on the client's network thread
    if (v.empty()) return;
    std::lock_guard lock(m);
    send_interval_ms = v.as_int();
    std::printf("device: sendIntervalMs initialized from the server: %lld\n", send_interval_ms);
    have_init = true;
    initialized.notify_all();
  };

  tbmqtt::registry<0, 2> points;  // no time series, two client attributes
  (void)points.add_client_attribute("firmwareVersion", tbmqtt::point_type::text, get_firmware);
  (void)points.add_client_attribute("sendIntervalMs", tbmqtt::point_type::integer, get_interval, set_interval);
  points.init_client_attributes_from_server(true);

  tbmqtt::client device{options};
  if (auto r = device.attach(points); !r) return 1;
  if (auto r = device.connect(std::chrono::seconds(10)); !r) {
    std::fprintf(stderr, "device: connect failed: %s\n", tbmqtt::to_string(r.error()));
    return 3;
  }
  {
    std::unique_lock lock(m);
    if (!initialized.wait_for(lock, std::chrono::seconds(3), [&] { return have_init; }))
      std::printf("device: nothing stored on the server; keeping the defaults\n");
  }
  tbmqtt::result<void> sent = tbmqtt::errc::not_connected;
  device.with_lock([&] { sent = points.upload_client_attributes(); });
  std::printf("device: client attributes uploaded: %s\n", sent ? "ok" : tbmqtt::to_string(sent.error()));
  const bool flushed = device.flush(std::chrono::seconds(5)).ok();
  device.detach();
  return sent && flushed ? 0 : 1;
}
