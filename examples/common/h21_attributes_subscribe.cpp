// h21 attributes subscribe: reacts to changes of the shared attributes targetTemperature and
// mode. A push from the server carries only the changed keys ({"mode":"eco"}) or the deleted
// ones ({"deleted":["mode"]}); pushes that touch neither key are not delivered here.
// Stops after UPDATES pushes, or gives up after SECONDS.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    h21_attributes_subscribe HOST PORT TOKEN [UPDATES=3] [SECONDS=30]
//   ESP-IDF:  examples/esp-idf/h21_attributes_subscribe (TBMQTT_UPDATES, TBMQTT_SECONDS)
// Exit status: 0 all updates seen, 3 connect failed, 1 subscription not set up, 4 timeout.
#include <chrono>
#include <cstdio>

#include "example_device.hpp"

namespace {

// Runs on the client's network thread (task) for each matching push. A value of the wrong type
// is reported with its typed error (errc::wrong_type) and ignored.
void apply(tbmqtt::json::value update) {
  if (auto target = update["targetTemperature"]; target.present()) {
    if (auto celsius = target.as_double())
      std::printf("h21: targetTemperature = %g\n", *celsius);
    else
      std::printf("h21: targetTemperature ignored: %s\n", tbmqtt::to_string(celsius.error()));
  }
  if (auto mode = update["mode"]; mode.present()) {
    if (auto text = mode.as_string())
      std::printf("h21: mode = %.*s\n", static_cast<int>(text->size()), text->data());
    else
      std::printf("h21: mode ignored: %s\n", tbmqtt::to_string(text.error()));
  }
  for (auto deleted : update["deleted"].elements())
    if (auto key = deleted.as_string()) std::printf("h21: %.*s deleted\n", static_cast<int>(key->size()), key->data());
}

int h21_attributes_subscribe(int argc, char** argv) {
  example::device_options options;
  if (!example::device_settings(argc, argv, "[UPDATES] [SECONDS]", options)) return 2;
  const int updates = static_cast<int>(example::number_arg(argc, argv, 4, "UPDATES", 3));
  const int seconds = static_cast<int>(example::number_arg(argc, argv, 5, "SECONDS", 30));

  example::event seen{updates};  // declared before the client, whose thread calls it
  example::device_client device{options};
  // Before connect: the subscription is made on every (re)connect.
  auto subscribed = device.subscribe_shared_attributes("targetTemperature,mode", [&](tbmqtt::json::value update) {
    apply(update);
    seen.arrive();
  });
  if (!subscribed) {
    std::fprintf(stderr, "h21: subscribe: %s\n", tbmqtt::to_string(subscribed.error()));
    return 1;
  }
  if (!example::connect(device, "h21")) return 3;
  if (!seen.wait(std::chrono::seconds(seconds))) {
    std::fprintf(stderr, "h21: timeout: fewer than %d updates in %d s\n", updates, seconds);
    return 4;
  }
  std::printf("h21: %d updates applied\n", updates);
  return 0;
}

}  // namespace

EXAMPLE_MAIN(h21_attributes_subscribe)
