// Gateway bridge: a gateway device speaks for two sub-devices (PREFIX-thermostat and
// PREFIX-meter) through the client's gateway API (tbmqtt/gateway_client.hpp). It connects both,
// sends their telemetry and attributes in one message each, disconnects the meter, then prints
// the thermostat's attribute updates, answers one server RPC for it and disconnects it.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    gateway_bridge HOST PORT GATEWAY_TOKEN [PREFIX=bridge] [SECONDS=30]
//   ESP-IDF:  examples/esp-idf/gateway_bridge (TBMQTT_TOKEN: the gateway device's; TBMQTT_PREFIX,
//             TBMQTT_SECONDS)
// Exit status: 0 done, 2 usage, 3 connect failed, 1 not sent or not acknowledged, 4 no RPC in time.
#include <chrono>
#include <cstdio>
#include <string>

#include "example_device.hpp"
#include "tbmqtt/gateway_client.hpp"

namespace {

int fail(const char* what, tbmqtt::errc e) {
  std::fprintf(stderr, "bridge: %s failed: %s\n", what, tbmqtt::to_string(e));
  return 1;
}

int gateway_bridge(int argc, char** argv) {
  example::device_options options;
  if (!example::device_settings(argc, argv, "[PREFIX] [SECONDS]", options)) return 2;
  const std::string prefix = example::text_arg(argc, argv, 4, "PREFIX", "bridge");
  const long long seconds = example::number_arg(argc, argv, 5, "SECONDS", 30);
  const std::string thermostat = prefix + "-thermostat";
  const std::string meter = prefix + "-meter";

  example::event answered;  // before the client: its handler uses it
  example::device_client device{options};
  tbmqtt::gateway_client& gateway = device.gateway();  // before connect(): subscribed with it

  // Runs on the client's thread (task); answers at once.
  auto on_thermostat_rpc = [&](const tbmqtt::gateway_rpc& rpc) {
    std::printf("bridge: rpc %s for %s: %s\n", rpc.method.c_str(), rpc.device.c_str(), rpc.params_json.c_str());
    const std::string reply = "{\"method\":\"" + rpc.method + "\",\"accepted\":true}";
    if (auto r = gateway.reply_rpc(rpc.device, rpc.id, reply); !r) fail("reply", r.error());
    answered.arrive();
  };
  if (auto r = gateway.on_rpc(thermostat, on_thermostat_rpc); !r) return fail("on_rpc", r.error());
  gateway.on_attribute_update([](std::string_view name, tbmqtt::json::value data) {
    std::printf("bridge: %.*s attributes %.*s\n", static_cast<int>(name.size()), name.data(),
                static_cast<int>(data.raw().size()), data.raw().data());
  });

  if (!example::connect(device, "bridge")) return 3;
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

  if (!answered.wait(std::chrono::seconds(seconds))) {
    std::fprintf(stderr, "bridge: no RPC for %s within %lld s\n", thermostat.c_str(), seconds);
    return 4;
  }
  if (auto r = gateway.disconnect_device(thermostat); !r) return fail("disconnect thermostat", r.error());
  if (auto r = device.flush(std::chrono::seconds(10)); !r) return fail("flush", r.error());
  std::printf("bridge: done\n");
  return 0;
}

}  // namespace

EXAMPLE_MAIN(gateway_bridge)
