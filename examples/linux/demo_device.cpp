// The device of the demo (examples/linux/demo.sh): one program that uses every client feature.
//   demo_device HOST PORT TOKEN [SECONDS]
// It connects with an access token, sends telemetry, publishes client attributes, calls the
// server (client-side RPC getSessionLimits), then waits (at most SECONDS, default 30) until the
// server has pushed a shared attribute `mode`, called RPC `setLed`, and assigned a firmware
// package (the fw_* shared attributes), which it then requests explicitly.
//
// Firmware download: ThingsBoard serves the image in chunks on v2/fw/request/{req}/chunk/{n}
// (answers on v2/fw/response/{req}/chunk/{n}). tbmqtt::client has no OTA engine and no raw
// publish/subscribe, so this example stops after reading the package description.
#include <tbmqtt/client.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace {

/// What the server did to us so far (written by the client's network thread).
struct events {
  std::mutex m;
  std::condition_variable cv;
  bool mode_pushed = false;
  bool rpc_answered = false;
  bool firmware_offered = false;
  bool limits_done = false;
  tbmqtt::errc limits_error{};
  std::string limits;

  template <typename Pred>
  bool wait(std::chrono::steady_clock::time_point deadline, Pred pred) {
    std::unique_lock<std::mutex> lock(m);
    return cv.wait_until(lock, deadline, pred);
  }
};

void say(const std::string& line) { std::printf("device: %s\n", line.c_str()); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s HOST PORT TOKEN [SECONDS]\n", argv[0]);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a readable transcript when piped
  tbmqtt::client_options options;
  options.host = argv[1];
  options.port = static_cast<std::uint16_t>(std::atoi(argv[2]));
  options.access_token = argv[3];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(argc > 4 ? std::atoi(argv[4]) : 30);
  tbmqtt::client device{options};
  events ev;

  // Shared attributes pushed by the server (all keys).
  if (!device.subscribe_shared_attributes("", [&](tbmqtt::json::value update) {
        say("shared attributes pushed: " + std::string(update.raw()));
        std::lock_guard<std::mutex> lock(ev.m);
        if (update["mode"].present()) ev.mode_pushed = true;
        if (update["fw_title"].present()) ev.firmware_offered = true;
        ev.cv.notify_all();
      }))
    return 1;

  // Server-side RPC.
  if (!device.on_rpc("setLed", [&](const tbmqtt::server_rpc& rpc) {
        const std::string reply = R"({"led":"on","brightness":80})";
        say("RPC " + rpc.method + " " + rpc.params_json + " -> replying " + reply);
        (void)device.reply_rpc(rpc.id, reply);
        std::lock_guard<std::mutex> lock(ev.m);
        ev.rpc_answered = true;
        ev.cv.notify_all();
      }))
    return 1;

  if (auto r = device.connect(std::chrono::seconds(10)); !r) {
    std::fprintf(stderr, "device: connect failed: %s\n", tbmqtt::to_string(r.error()));
    return 3;
  }
  say(std::string("connected to ") + argv[1] + ":" + argv[2]);

  // Telemetry, built without allocating.
  tbmqtt::telemetry<128> t;
  t.add("temperature", 21.5).add("humidity", 40).add("door_open", false);
  if (auto r = device.send_telemetry(t); !r) return 1;
  if (!device.flush(std::chrono::seconds(5))) return 4;
  say(R"(telemetry {"temperature":21.5,"humidity":40,"door_open":false} acknowledged)");

  // Client attributes, from JSON text.
  const char* attributes = R"({"model":"tbmqtt-demo","serial":"SN-0001","firmware":"v1.0.0"})";
  if (auto r = device.send_attributes(attributes); !r) return 1;
  if (!device.flush(std::chrono::seconds(5))) return 4;
  say(std::string("client attributes ") + attributes + " acknowledged");

  // Client-side RPC.
  if (auto r = device.call_rpc("getSessionLimits", "{}", [&](tbmqtt::errc e, tbmqtt::json::value response) {
        std::lock_guard<std::mutex> lock(ev.m);
        ev.limits_error = e;
        ev.limits = response.present() ? std::string(response.raw()) : std::string();
        ev.limits_done = true;
        ev.cv.notify_all();
      });
      !r)
    return 1;
  if (!ev.wait(deadline, [&] { return ev.limits_done; })) return 4;
  if (ev.limits_error != tbmqtt::errc{}) {
    std::fprintf(stderr, "device: getSessionLimits failed: %s\n", tbmqtt::to_string(ev.limits_error));
    return 5;
  }
  say("called getSessionLimits -> " + ev.limits);

  say("ready: waiting for a shared attribute, an RPC and a firmware package");
  if (!ev.wait(deadline, [&] { return ev.mode_pushed && ev.rpc_answered && ev.firmware_offered; })) {
    std::fprintf(stderr, "device: the server did not do everything in time\n");
    return 4;
  }

  // Firmware: read the package description the server assigned.
  struct fw_answer {
    bool done = false;
    tbmqtt::errc error{};
    std::string shared;
  } fw;
  if (auto r = device.request_attributes("", "fw_title,fw_version,fw_size,fw_checksum_algorithm,fw_checksum",
                                         [&](tbmqtt::errc e, tbmqtt::json::value, tbmqtt::json::value shared) {
                                           std::lock_guard<std::mutex> lock(ev.m);
                                           fw.error = e;
                                           fw.shared = shared.present() ? std::string(shared.raw()) : "{}";
                                           fw.done = true;
                                           ev.cv.notify_all();
                                         });
      !r)
    return 1;
  if (!ev.wait(deadline, [&] { return fw.done; })) return 4;
  if (fw.error != tbmqtt::errc{}) {
    std::fprintf(stderr, "device: firmware attribute request failed: %s\n", tbmqtt::to_string(fw.error));
    return 5;
  }
  say("requested fw_* attributes -> " + fw.shared);
  say("firmware download skipped: tbmqtt::client has no OTA engine and no raw publish/subscribe "
      "for v2/fw/request/{req}/chunk/{n}");

  if (!device.flush(std::chrono::seconds(5))) return 4;
  device.disconnect();
  say("disconnected");
  return 0;
}
