// h30 server-side RPC: answers calls from the server.
//   - "getTemperature", two-way: answered {"temperature":21.5}.
//   - "setLed" {"on":true}, one-way: nothing to answer; the device switches the LED and reports
//     the new state as the client attribute ledOn. Params that are not {"on":bool} are ignored
//     with their typed error (malformed, wrong_type).
//   - any other method: the library answers {"error":"unknown method: <method>"} by itself.
// Stops after CALLS calls of the two methods, or gives up after SECONDS.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    h30_server_rpc HOST PORT TOKEN [CALLS=2] [SECONDS=30]
//   ESP-IDF:  examples/esp-idf/h30_server_rpc (TBMQTT_CALLS, TBMQTT_SECONDS)
// Exit status: 0 all calls handled, 3 connect failed, 1 handlers not registered, 4 timeout.
#include <chrono>
#include <cstdio>

#include "example_device.hpp"

namespace {

int h30_server_rpc(int argc, char** argv) {
  example::device_options options;
  if (!example::device_settings(argc, argv, "[CALLS] [SECONDS]", options)) return 2;
  const int calls = static_cast<int>(example::number_arg(argc, argv, 4, "CALLS", 2));
  const int seconds = static_cast<int>(example::number_arg(argc, argv, 5, "SECONDS", 30));

  example::event handled{calls};  // declared before the client, whose thread calls it
  example::device_client device{options};
  // Handlers run on the client's network thread (task); they may call the client (reply, publish).
  auto get_temperature = device.on_rpc("getTemperature", [&](const tbmqtt::server_rpc& rpc) {
    if (auto r = device.reply_rpc(rpc.id, R"({"temperature":21.5})"); !r)
      std::printf("h30: reply failed: %s\n", tbmqtt::to_string(r.error()));
    std::printf("h30: getTemperature answered\n");
    handled.arrive();
  });
  auto set_led = device.on_rpc("setLed", [&](const tbmqtt::server_rpc& rpc) {
    auto params = tbmqtt::json::value::parse(rpc.params_json);  // errc::malformed when absent
    auto on = params ? (*params)["on"].as_bool() : tbmqtt::result<bool>{params.error()};
    if (!on) {
      std::printf("h30: setLed ignored: %s\n", tbmqtt::to_string(on.error()));
    } else {
      std::printf("h30: LED %s\n", *on ? "on" : "off");  // switch the GPIO here
      if (auto r = device.send_attributes(*on ? R"({"ledOn":true})" : R"({"ledOn":false})"); !r)
        std::printf("h30: ledOn not reported: %s\n", tbmqtt::to_string(r.error()));
    }
    handled.arrive();
  });
  if (const auto registered = get_temperature ? set_led : get_temperature; !registered) {  // the first failure
    std::fprintf(stderr, "h30: on_rpc: %s\n", tbmqtt::to_string(registered.error()));
    return 1;
  }
  if (!example::connect(device, "h30")) return 3;
  if (!handled.wait(std::chrono::seconds(seconds))) {
    std::fprintf(stderr, "h30: timeout: fewer than %d calls in %d s\n", calls, seconds);
    return 4;
  }
  if (auto r = device.flush(std::chrono::seconds(5)); !r) {  // the last reply or ledOn report
    std::fprintf(stderr, "h30: not acknowledged: %s\n", tbmqtt::to_string(r.error()));
    return 4;
  }
  std::printf("h30: %d calls handled\n", calls);
  return 0;
}

}  // namespace

EXAMPLE_MAIN(h30_server_rpc)
