// h22 attributes request: reads client attributes (what the device published earlier, e.g. its
// firmware version) and shared attributes (what the server set, e.g. a target temperature) in
// one request, and waits for the answer (or the request time-out).
//   h22_attributes_request HOST PORT TOKEN [CLIENT_KEYS=firmwareVersion,ledOn] [SHARED_KEYS=targetTemperature,mode]
// Prints `h22: client {...}` and `h22: shared {...}` (`{}` when the server has none of the keys).
// Exit status: 0 answered, 3 connect failed, 1 not sent, 4 timeout, 5 malformed answer.
#include <tbmqtt/linux/client.hpp>

#include "example_args.hpp"

#include <chrono>
#include <cstdio>
#include <future>

namespace {
void print(const char* scope, tbmqtt::json::value attributes) {
  const std::string_view text = attributes.present() ? attributes.raw() : "{}";  // absent: none found
  std::printf("h22: %s %.*s\n", scope, static_cast<int>(text.size()), text.data());
}
}  // namespace

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  if (!example::options_from_args(argc, argv, "[CLIENT_KEYS] [SHARED_KEYS]", options)) return 2;
  const char* client_keys = argc > 4 ? argv[4] : "firmwareVersion,ledOn";
  const char* shared_keys = argc > 5 ? argv[5] : "targetTemperature,mode";

  std::promise<tbmqtt::errc> answer;  // declared before the client: its callback may still run
  tbmqtt::client device{options};
  if (!example::connect(device, "h22")) return 3;
  // The callback runs on the network thread; the views are valid only during the call.
  auto sent = device.request_attributes(client_keys, shared_keys,
                                        [&](tbmqtt::errc e, tbmqtt::json::value client, tbmqtt::json::value shared) {
                                          if (e == tbmqtt::errc{}) {
                                            print("client", client);
                                            print("shared", shared);
                                          }
                                          answer.set_value(e);  // or timeout, disconnected, malformed
                                        });
  if (!sent) {
    std::fprintf(stderr, "h22: request not sent: %s\n", tbmqtt::to_string(sent.error()));
    return 1;
  }
  // The callback always comes: with the answer, or errc::timeout after options.request_timeout.
  auto outcome = answer.get_future();
  const auto deadline = options.request_timeout + std::chrono::seconds(1);
  const bool answered = outcome.wait_for(deadline) == std::future_status::ready;
  if (const tbmqtt::errc failure = answered ? outcome.get() : tbmqtt::errc::timeout; failure != tbmqtt::errc{}) {
    std::fprintf(stderr, "h22: request failed: %s\n", tbmqtt::to_string(failure));
    return failure == tbmqtt::errc::timeout ? 4 : 5;
  }
  return 0;
}
