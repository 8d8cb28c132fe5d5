// h31 client-side RPC: asks the server for its time ({"method":"getCurrentTime","params":{}},
// answered by the server's rule chain, e.g. {"time":1700000000000}), then stamps one telemetry
// message with it: {"ts":<server time>,"values":{"clockOffsetMs":<server time - device time>}}.
// A device without a set clock (no RTC, SNTP not done yet) can timestamp its data this way (its
// device time is then 0: the offset is the server time itself), or settimeofday() with it.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    h31_client_rpc HOST PORT TOKEN
//   ESP-IDF:  examples/esp-idf/h31_client_rpc
// Exit status: 0 time received and telemetry delivered, 3 connect failed, 1 not sent,
// 4 timeout (no answer within options.request_timeout), 5 error answer (server_error) or no
// "time" in it (wrong_type).
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "example_device.hpp"

namespace {

int h31_client_rpc(int argc, char** argv) {
  example::device_options options;
  if (!example::device_settings(argc, argv, "", options)) return 2;

  // Declared before the client: its callback may still run. Written before arrive().
  example::event answered;
  tbmqtt::result<std::int64_t> server_time = tbmqtt::errc::timeout;
  example::device_client device{options};
  if (!example::connect(device, "h31")) return 3;
  auto called = device.call_rpc("getCurrentTime", "{}", [&](tbmqtt::errc e, tbmqtt::json::value response) {
    // e: timeout, disconnected, malformed, or server_error for {"error":..}.
    server_time = e != tbmqtt::errc{} ? tbmqtt::result<std::int64_t>{e} : response["time"].as_int();
    answered.arrive();
  });
  if (!called) {
    std::fprintf(stderr, "h31: getCurrentTime not sent: %s\n", tbmqtt::to_string(called.error()));
    return 1;
  }
  if (!answered.wait(options.request_timeout + std::chrono::seconds(1))) {
    std::fprintf(stderr, "h31: getCurrentTime failed: timeout\n");  // the library's own timeout comes first
    return 4;
  }
  const tbmqtt::result<std::int64_t> now = server_time;
  if (!now) {
    std::fprintf(stderr, "h31: getCurrentTime failed: %s\n", tbmqtt::to_string(now.error()));
    return now.error() == tbmqtt::errc::timeout ? 4 : 5;
  }
  const std::int64_t offset = *now - static_cast<std::int64_t>(example::unix_ms());
  std::printf("h31: server time %lld (device clock offset %lld ms)\n", static_cast<long long>(*now),
              static_cast<long long>(offset));

  tbmqtt::telemetry<96> t;
  t.at(static_cast<std::uint64_t>(*now)).add("clockOffsetMs", offset);
  if (auto sent = device.send_telemetry(t); !sent) {
    std::fprintf(stderr, "h31: telemetry not sent: %s\n", tbmqtt::to_string(sent.error()));
    return 1;
  }
  if (auto r = device.flush(std::chrono::seconds(5)); !r) {
    std::fprintf(stderr, "h31: not acknowledged: %s\n", tbmqtt::to_string(r.error()));
    return 4;
  }
  return 0;
}

}  // namespace

EXAMPLE_MAIN(h31_client_rpc)
