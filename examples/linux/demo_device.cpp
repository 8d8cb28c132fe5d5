// The device of the demo (examples/linux/demo.sh): one program that uses every client feature.
//   demo_device HOST PORT TOKEN [SECONDS [IMAGE_PATH]]
// It connects with an access token, sends telemetry, publishes client attributes, calls the
// server (client-side RPC getSessionLimits), then waits (at most SECONDS, default 30) until the
// server has pushed a shared attribute `mode`, called RPC `setLed`, and assigned a firmware
// package, which the client's OTA engine downloads in chunks, verifies and writes to IMAGE_PATH.
#include <tbmqtt/linux/client.hpp>
#include <tbmqtt/linux/platform.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "example_args.hpp"

namespace {

/// What the server did to us so far (written by the client's network thread).
struct events {
  std::mutex m;
  std::condition_variable cv;
  bool mode_pushed = false;
  bool rpc_answered = false;
  bool firmware_ready = false;
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
  tbmqtt::client_options options;
  if (!example::options_from_args(argc, argv, "[SECONDS [IMAGE_PATH]]", options)) return 2;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(argc > 4 ? std::atoi(argv[4]) : 30);
  tbmqtt::client device{options};
  events ev;

  // Shared attributes pushed by the server (all keys).
  if (!device.subscribe_shared_attributes("", [&](tbmqtt::json::value update) {
        say("shared attributes pushed: " + std::string(update.raw()));
        std::lock_guard<std::mutex> lock(ev.m);
        if (update["mode"].present()) ev.mode_pushed = true;
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

  // Firmware OTA: the engine follows the fw_* attributes, downloads new packages in chunks
  // (several requests in flight), verifies the checksum and writes the file atomically.
  tbmqtt::file_sink image{argc > 5 ? argv[5] : "/tmp/tbmqtt-demo-firmware.bin"};
  tbmqtt::ota_config ota;
  ota.current_title = "demo-fw";
  ota.current_version = "1.0.0";
  ota.chunk_size = 1024;  // small chunks, so that the demo's 4 KiB image takes several requests
  tbmqtt::ota_handlers handlers;
  handlers.on_state = [&](tbmqtt::ota_kind, tbmqtt::ota_state state, tbmqtt::errc, std::string_view detail) {
    say("firmware state " + std::string(tbmqtt::to_string(state)) + (detail.empty() ? "" : ": " + std::string(detail)));
  };
  handlers.on_ready = [&](tbmqtt::ota_kind, const tbmqtt::ota_package& package) {
    say("firmware " + std::string(package.title_text()) + " " + std::string(package.version_text()) + " (" +
        std::to_string(package.size) + " bytes, " + std::string(tbmqtt::to_string(package.algorithm)) +
        " verified) written to " + image.path());
    std::lock_guard<std::mutex> lock(ev.m);
    ev.firmware_ready = true;
    ev.cv.notify_all();
  };
  if (!device.enable_ota(ota, image, nullptr, handlers)) return 1;

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
  if (auto r = device.call_rpc("getSessionLimits", "{}",
                               [&](tbmqtt::errc e, tbmqtt::json::value response) {
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
  if (!ev.wait(deadline, [&] { return ev.mode_pushed && ev.rpc_answered && ev.firmware_ready; })) {
    std::fprintf(stderr, "device: the server did not do everything in time\n");
    return 4;
  }
  // A real device restarts into the new image here and confirms once it works; the demo
  // confirms at once, which reports UPDATED with the new current_fw_version.
  say("(a real device would restart now; the demo confirms the new version at once)");
  if (auto r = device.confirm_ota(tbmqtt::ota_kind::firmware); !r) return 5;

  if (!device.flush(std::chrono::seconds(5))) return 4;
  device.disconnect();
  say("disconnected");
  return 0;
}
