// h22 attributes request: reads client attributes (what the device published earlier, e.g. its
// firmware version) and shared attributes (what the server set, e.g. a target temperature) in
// one request, and waits for the answer (or the request time-out).
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    h22_attributes_request HOST PORT TOKEN [CLIENT_KEYS=firmwareVersion,ledOn]
//                                                    [SHARED_KEYS=targetTemperature,mode]
//   ESP-IDF:  examples/esp-idf/h22_attributes_request (TBMQTT_CLIENT_KEYS, TBMQTT_SHARED_KEYS)
// Prints `h22: client {...}` and `h22: shared {...}` (`{}` when the server has none of the keys).
// Exit status: 0 answered, 3 connect failed, 1 not sent, 4 timeout, 5 malformed answer.
#include <chrono>
#include <cstdio>
#include <string_view>

#include "example_device.hpp"

namespace {

void print(const char* scope, tbmqtt::json::value attributes) {
  const std::string_view text = attributes.present() ? attributes.raw() : "{}";  // absent: none found
  std::printf("h22: %s %.*s\n", scope, static_cast<int>(text.size()), text.data());
}

int h22_attributes_request(int argc, char** argv) {
  example::device_options options;
  if (!example::device_settings(argc, argv, "[CLIENT_KEYS] [SHARED_KEYS]", options)) return 2;
  const char* client_keys = example::text_arg(argc, argv, 4, "CLIENT_KEYS", "firmwareVersion,ledOn");
  const char* shared_keys = example::text_arg(argc, argv, 5, "SHARED_KEYS", "targetTemperature,mode");

  // Declared before the client: its callback may still run. `outcome` is written before arrive().
  example::event answered;
  tbmqtt::errc outcome = tbmqtt::errc::timeout;
  example::device_client device{options};
  if (!example::connect(device, "h22")) return 3;
  // The callback runs on the network thread (task); the views are valid only during the call.
  auto sent = device.request_attributes(client_keys, shared_keys,
                                        [&](tbmqtt::errc e, tbmqtt::json::value client, tbmqtt::json::value shared) {
                                          if (e == tbmqtt::errc{}) {
                                            print("client", client);
                                            print("shared", shared);
                                          }
                                          outcome = e;  // or timeout, disconnected, malformed
                                          answered.arrive();
                                        });
  if (!sent) {
    std::fprintf(stderr, "h22: request not sent: %s\n", tbmqtt::to_string(sent.error()));
    return 1;
  }
  // The callback always comes: with the answer, or errc::timeout after options.request_timeout.
  const tbmqtt::errc failure =
      answered.wait(options.request_timeout + std::chrono::seconds(1)) ? outcome : tbmqtt::errc::timeout;
  if (failure != tbmqtt::errc{}) {
    std::fprintf(stderr, "h22: request failed: %s\n", tbmqtt::to_string(failure));
    return failure == tbmqtt::errc::timeout ? 4 : 5;
  }
  return 0;
}

}  // namespace

EXAMPLE_MAIN(h22_attributes_request)
