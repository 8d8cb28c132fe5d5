// Gateway bridge: a gateway device speaks for two sub-devices (PREFIX-thermostat and
// PREFIX-meter). It connects both, sends their telemetry and attributes in one message each,
// disconnects the meter, then answers one server RPC for the thermostat and disconnects it.
//   gateway_bridge HOST PORT GATEWAY_TOKEN [PREFIX] [SECONDS]
#include <tbmqtt/linux/client.hpp>

#include "example_args.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace {

int fail(const char* what, tbmqtt::errc e) {
  std::fprintf(stderr, "bridge: %s failed: %s\n", what, tbmqtt::to_string(e));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  if (!example::options_from_args(argc, argv, "[PREFIX] [SECONDS]", options)) return 2;
  const std::string prefix = argc > 4 ? argv[4] : "bridge";
  const int seconds = argc > 5 ? std::atoi(argv[5]) : 30;
  const std::string thermostat = prefix + "-thermostat";
  const std::string meter = prefix + "-meter";

  tbmqtt::client device{options};
  tbmqtt::gateway_client& gateway = device.gateway();  // before connect(): subscribed with it

  std::mutex mutex;
  std::condition_variable answered_cv;
  bool answered = false;
  // Runs on the client's network thread; answers at once.
  auto on_thermostat_rpc = [&](const tbmqtt::gateway_rpc& rpc) {
    std::printf("bridge: rpc %s for %s: %s\n", rpc.method.c_str(), rpc.device.c_str(), rpc.params_json.c_str());
    const std::string reply = "{\"method\":\"" + rpc.method + "\",\"accepted\":true}";
    if (auto r = gateway.reply_rpc(rpc.device, rpc.id, reply); !r) fail("reply", r.error());
    std::lock_guard<std::mutex> lock(mutex);
    answered = true;
    answered_cv.notify_all();
  };
  if (auto r = gateway.on_rpc(thermostat, on_thermostat_rpc); !r) return fail("on_rpc", r.error());
  gateway.on_attribute_update([](std::string_view name, tbmqtt::json::value data) {
    std::printf("bridge: %.*s attributes %.*s\n", static_cast<int>(name.size()), name.data(),
                static_cast<int>(data.raw().size()), data.raw().data());
  });

  if (auto r = device.connect(std::chrono::seconds(10)); !r) return fail("connect", r.error());
  if (auto r = gateway.connect_device(thermostat, "thermostat"); !r) return fail("connect thermostat", r.error());
  if (auto r = gateway.connect_device(meter, "meter"); !r) return fail("connect meter", r.error());

  tbmqtt::gateway_telemetry<256> telemetry;  // both sub-devices in one message
  telemetry.device(thermostat).add("temperature", 21.5).add("heating", true);
  telemetry.device(meter).add("power", 1.25).add("energy", 4711);
  if (auto r = gateway.send_telemetry(telemetry); !r) return fail("telemetry", r.error());
  tbmqtt::gateway_attributes<128> attributes;
  attributes.device(thermostat).add("model", "T-100").device(meter).add("model", "M-7");
  if (auto r = gateway.send_attributes(attributes); !r) return fail("attributes", r.error());
  if (auto r = gateway.disconnect_device(meter); !r) return fail("disconnect meter", r.error());
  if (auto r = device.flush(std::chrono::seconds(10)); !r) return fail("flush", r.error());
  std::printf("bridge: ready (%s connected, %s disconnected)\n", thermostat.c_str(), meter.c_str());

  std::unique_lock<std::mutex> lock(mutex);
  if (!answered_cv.wait_for(lock, std::chrono::seconds(seconds), [&] { return answered; })) {
    std::fprintf(stderr, "bridge: no RPC for %s within %d s\n", thermostat.c_str(), seconds);
    return 4;
  }
  lock.unlock();
  if (auto r = gateway.disconnect_device(thermostat); !r) return fail("disconnect thermostat", r.error());
  if (auto r = device.flush(std::chrono::seconds(10)); !r) return fail("flush", r.error());
  std::printf("bridge: done\n");
  return 0;
}
