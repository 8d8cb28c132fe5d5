// Connection loss, refusal and hostile server input: typed errors, no crash, nothing lost.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "broker.hpp"
#include "tbmqtt/linux/client.hpp"

using namespace std::chrono_literals;
using tbmqtt::errc;
using tbmqtt::json::value;
using tbmqtt::testing::broker;
using tbmqtt::testing::message;
using tbmqtt::testing::peer;
using tbmqtt::testing::wait_until;

namespace {

// A broker that only admits user "device" with password "secret" (mosquitto_passwd file).
std::string password_config() {
  char pattern[] = "/tmp/tbmqtt-passwd-XXXXXX";
  const std::string dir = ::mkdtemp(pattern);
  const std::string file = dir + "/passwd";
  const std::string cmd = "mosquitto_passwd -b -c '" + file + "' device secret >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return "allow_anonymous false\npassword_file " + file + "\n";
}

}  // namespace

TEST(resilience, refused_credentials_are_a_typed_error) {
  broker b(password_config());
  tbmqtt::client_options o = tbmqtt::testing::device_options(b);
  o.access_token.clear();
  o.username = "device";
  o.password = "wrong";
  tbmqtt::client bad(o);
  EXPECT_EQ(bad.connect(5s).error(), errc::refused_credentials);
  EXPECT_FALSE(bad.connected());

  o.password = "secret";
  o.client_id = "device-1";  // MQTT basic with all three fields
  tbmqtt::client good(o);
  EXPECT_TRUE(good.connect(5s));

  // MQTT 5 (the broker answers with reason code 0x86 instead of 4).
  o.mqtt5_max_packet_size = true;
  o.password = "wrong";
  o.client_id = "device-5";
  tbmqtt::client bad5(o);
  EXPECT_EQ(bad5.connect(5s).error(), errc::refused_credentials);
}

TEST(resilience, qos1_messages_published_across_a_broker_restart_all_arrive) {
  broker b("persistence true\npersistence_location {dir}/\n");
  peer server(b.port(), "v1/devices/me/telemetry", "tb-server-peer");
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(device.connect(5s));
  constexpr int total = 600;
  std::atomic<int> next{0};
  std::thread publisher([&] {
    for (; next < total; ++next) {
      const std::string payload = "{\"seq\":" + std::to_string(next.load()) + "}";
      auto sent = device.send_telemetry(payload, tbmqtt::qos::at_least_once);
      ASSERT_TRUE(sent) << tbmqtt::to_string(sent.error());
      if (next % 50 == 0) std::this_thread::sleep_for(5ms);
    }
  });
  ASSERT_TRUE(wait_until([&] { return next > total / 3; }));
  b.restart();  // mid-stream: some messages are in flight, some published while offline
  publisher.join();
  ASSERT_TRUE(device.flush(30s));
  std::set<std::string> distinct;
  wait_until(
      [&] {  // QoS 1 may deliver duplicates: count distinct payloads
        distinct.clear();
        for (const auto& m : server.received()) distinct.insert(m.payload);
        return distinct.size() >= static_cast<std::size_t>(total);
      },
      20s);
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(total));  // QoS 1: duplicates allowed, losses not
}

TEST(resilience, subscriptions_are_restored_after_reconnect) {
  broker b;
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  std::atomic<int> ups{0}, downs{0};
  device.on_connection([&](const tbmqtt::connection_event& e) { (e.connected ? ups : downs)++; });
  std::promise<std::string> update;
  ASSERT_TRUE(device.subscribe_shared_attributes("", [&](value v) { update.set_value(std::string(v.raw())); }));
  std::promise<std::string> rpc;
  ASSERT_TRUE(device.on_rpc("ping", [&](const tbmqtt::server_rpc& r) { rpc.set_value(r.id); }));
  ASSERT_TRUE(device.connect(5s));
  b.kill();
  ASSERT_TRUE(wait_until([&] { return downs == 1; }));
  EXPECT_FALSE(device.connected());
  b.start();
  ASSERT_TRUE(wait_until([&] { return ups == 2; }));  // ready again: every SUBACK seen
  peer server(b.port());
  server.publish("v1/devices/me/attributes", R"({"mode":"eco"})");
  server.publish("v1/devices/me/rpc/request/9", R"({"method":"ping"})");
  auto u = update.get_future();
  auto r = rpc.get_future();
  ASSERT_EQ(u.wait_for(5s), std::future_status::ready);
  ASSERT_EQ(r.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(u.get(), R"({"mode":"eco"})");
  EXPECT_EQ(r.get(), "9");
}

TEST(resilience, pending_requests_end_with_disconnected_when_the_connection_drops) {
  broker b;
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(device.connect(5s));
  std::promise<errc> attributes, rpc;
  ASSERT_TRUE(device.request_attributes("a", "", [&](errc e, value, value) { attributes.set_value(e); }));
  ASSERT_TRUE(device.call_rpc("slow", "", [&](errc e, value) { rpc.set_value(e); }));
  b.kill();
  auto a = attributes.get_future();
  auto r = rpc.get_future();
  ASSERT_EQ(a.wait_for(5s), std::future_status::ready);
  ASSERT_EQ(r.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(a.get(), errc::disconnected);
  EXPECT_EQ(r.get(), errc::disconnected);
}

TEST(resilience, hostile_server_input_gives_typed_errors_and_loses_nothing) {
  broker b;
  peer server(b.port());
  std::mutex m;  // the state the handlers write outlives the device
  std::vector<std::pair<errc, std::string>> errors;
  std::atomic<int> updates{0};
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  device.on_error([&](errc e, std::string_view ctx) {
    std::lock_guard l(m);
    errors.emplace_back(e, std::string(ctx));
  });
  ASSERT_TRUE(device.subscribe_shared_attributes("", [&](value) { ++updates; }));
  ASSERT_TRUE(device.on_rpc("ok", [&](const tbmqtt::server_rpc& r) { (void)device.reply_rpc(r.id, "true"); }));
  ASSERT_TRUE(device.connect(5s));

  server.publish("v1/devices/me/attributes", "{not json");                                       // malformed push
  server.publish("v1/devices/me/attributes", "[1,2]");                                           // wrong type
  server.publish("v1/devices/me/rpc/request/1", R"({"method":42})");                             // method not a string
  server.publish("v1/devices/me/rpc/request/2", "\xff\xfe");                                     // not text at all
  server.publish("v1/devices/me/rpc/response/999", R"({"late":true})");                          // unknown request id
  server.publish("v1/devices/me/attributes/response/abc", "{}");                                 // malformed id
  server.publish("v1/devices/me/rpc/request/123456789012345678901", "{}");                       // id too long
  server.publish("v1/devices/me/attributes", "{\"big\":\"" + std::string(200000, 'x') + "\"}");  // > max_payload
  server.publish("v1/devices/me/rpc/request/3", R"({"method":"ok","params":null})");             // still served
  server.publish("v1/devices/me/attributes", R"({"after":1})");                                  // still delivered

  ASSERT_EQ(server.wait_for("v1/devices/me/rpc/response/3", 1).size(), 1u);
  ASSERT_TRUE(wait_until([&] { return updates == 1; }));  // the oversized one is dropped, typed
  // Error replies for requests 1 and 2, the answer to 3 (the peer also sees its own 999; the
  // order in which the broker interleaves them varies).
  std::map<std::string, std::string> replies;
  for (const auto& reply : server.received("v1/devices/me/rpc/response/")) replies[reply.topic] = reply.payload;
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies["v1/devices/me/rpc/response/1"], R"({"error":"malformed request"})");
  EXPECT_EQ(replies["v1/devices/me/rpc/response/2"], R"({"error":"malformed request"})");
  EXPECT_EQ(replies["v1/devices/me/rpc/response/3"], "true");
  // Not under `m` while calling into the client: its error callback takes `m` under the client's
  // lock, so holding `m` here while device.connected() takes that lock is a lock-order inversion.
  EXPECT_TRUE(device.connected());
  std::multiset<errc> kinds;
  std::lock_guard l(m);
  for (auto& e : errors)
    if (e != std::make_pair(errc::unknown_request, std::string("true")) && e.second.rfind("{\"error\"", 0) != 0)
      kinds.insert(e.first);                    // a plain broker echoes the device's own replies back: not counted
  EXPECT_EQ(kinds.count(errc::malformed), 6u);  // 2 pushes, 2 rpc requests, 2 bad topics
  EXPECT_EQ(kinds.count(errc::unknown_request), 1u);    // {"late":true}
  EXPECT_EQ(kinds.count(errc::payload_too_large), 1u);  // 200 KB > max_payload (64 KiB)
  EXPECT_EQ(kinds.size(), 8u);
  EXPECT_EQ(updates, 1);
}

// With MQTT 5's Maximum Packet Size the broker never sends a message that could not be used:
// libmosquitto would read all of it into memory first. One just over max_payload still arrives
// and is dropped with its typed error; a larger one is discarded by the broker.
TEST(resilience, with_mqtt5_max_packet_size_an_oversized_push_never_reaches_the_client) {
  broker b;
  peer server(b.port());
  tbmqtt::client_options o = tbmqtt::testing::device_options(b);
  o.mqtt5_max_packet_size = true;
  std::mutex m;  // the state the handlers write outlives the device
  std::vector<errc> errors;
  std::atomic<int> updates{0};
  tbmqtt::client device(o);
  device.on_error([&](errc e, std::string_view) {
    std::lock_guard l(m);
    errors.push_back(e);
  });
  ASSERT_TRUE(device.subscribe_shared_attributes("", [&](value) { ++updates; }));
  ASSERT_TRUE(device.connect(5s));

  server.publish("v1/devices/me/attributes", "{\"big\":\"" + std::string(8 << 20, 'x') + "\"}");  // 8 MB
  server.publish("v1/devices/me/attributes", "{\"near\":\"" + std::string(o.max_payload, 'x') + "\"}");
  server.publish("v1/devices/me/attributes", R"({"after":1})");

  ASSERT_TRUE(wait_until([&] { return updates == 1; }));  // in order: the two before are done
  EXPECT_TRUE(device.connected());
  std::lock_guard l(m);
  ASSERT_EQ(errors.size(), 1u);  // the 8 MB push never arrived
  EXPECT_EQ(errors[0], errc::payload_too_large);
}
