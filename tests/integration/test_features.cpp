// Every ThingsBoard device feature through the Linux client, with a peer playing the server.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "broker.hpp"
#include "tbmqtt/linux/client.hpp"

using namespace std::chrono_literals;
using tbmqtt::errc;
using tbmqtt::json::value;
using tbmqtt::testing::broker;
using tbmqtt::testing::message;
using tbmqtt::testing::peer;

namespace {

// The id at the end of a request topic such as v1/devices/me/rpc/request/7.
std::string id_of(const std::string& topic) { return topic.substr(topic.rfind('/') + 1); }

struct attributes_result {
  errc e;
  std::string client, shared;
};

attributes_result get_attributes(tbmqtt::client& device, std::string_view client_keys, std::string_view shared_keys) {
  std::promise<attributes_result> done;
  auto r = device.request_attributes(client_keys, shared_keys, [&](errc e, value c, value s) {
    done.set_value({e, std::string(c.raw()), std::string(s.raw())});
  });
  if (!r) return {r.error(), {}, {}};
  auto f = done.get_future();
  if (f.wait_for(10s) != std::future_status::ready) return {errc::cancelled, {}, {}};
  return f.get();
}

struct rpc_result {
  errc e;
  std::string response;
};

rpc_result call(tbmqtt::client& device, std::string_view method, std::string_view params) {
  std::promise<rpc_result> done;
  auto r = device.call_rpc(method, params, [&](errc e, value v) { done.set_value({e, std::string(v.raw())}); });
  if (!r) return {r.error(), {}};
  auto f = done.get_future();
  if (f.wait_for(10s) != std::future_status::ready) return {errc::cancelled, {}};
  return f.get();
}

}  // namespace

TEST(attributes, request_sends_key_lists_and_returns_both_sections) {
  broker b;
  peer server(b.port());
  server.set_responder([](peer& p, const message& m) {
    if (m.topic.rfind("v1/devices/me/attributes/request/", 0) == 0)
      p.publish("v1/devices/me/attributes/response/" + id_of(m.topic),
                R"({"client":{"a":1},"shared":{"fw_version":"1.2"}})");
  });
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(device.connect(5s));
  auto got = get_attributes(device, "a,b", "fw_version");
  EXPECT_EQ(got.e, errc{});
  EXPECT_EQ(got.client, R"({"a":1})");
  EXPECT_EQ(got.shared, R"({"fw_version":"1.2"})");
  auto sent = server.received("v1/devices/me/attributes/request/");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].payload, R"({"clientKeys":"a,b","sharedKeys":"fw_version"})");
}

TEST(attributes, request_times_out_when_nobody_answers) {
  broker b;
  peer server(b.port());
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(device.connect(5s));
  EXPECT_EQ(get_attributes(device, "a", "").e, errc::timeout);
}

TEST(attributes, malformed_response_is_a_typed_error_and_later_requests_work) {
  broker b;
  peer server(b.port());
  int count = 0;
  server.set_responder([&](peer& p, const message& m) {
    if (m.topic.rfind("v1/devices/me/attributes/request/", 0) != 0) return;
    const std::string reply =
        ++count == 1 ? "{not json" : (count == 2 ? R"({"client":[1]})" : R"({"shared":{"k":"v"}})");
    p.publish("v1/devices/me/attributes/response/" + id_of(m.topic), reply);
  });
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(device.connect(5s));
  EXPECT_EQ(get_attributes(device, "a", "").e, errc::malformed);
  EXPECT_EQ(get_attributes(device, "a", "").e, errc::malformed);
  auto ok = get_attributes(device, "", "k");
  EXPECT_EQ(ok.e, errc{});
  EXPECT_EQ(ok.shared, R"({"k":"v"})");
}

TEST(attributes, shared_updates_reach_matching_subscriptions_only) {
  broker b;
  peer server(b.port());
  // Declared before the device: its thread may still run a handler while the test returns.
  std::mutex m;
  std::vector<std::string> all, selected;
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(device.subscribe_shared_attributes("", [&](value u) {
    std::lock_guard l(m);
    all.emplace_back(u.raw());
  }));
  ASSERT_TRUE(device.subscribe_shared_attributes("mode,target", [&](value u) {
    std::lock_guard l(m);
    selected.emplace_back(u.raw());
  }));
  ASSERT_TRUE(device.connect(5s));
  server.publish("v1/devices/me/attributes", R"({"other":1})");
  server.publish("v1/devices/me/attributes", R"({"mode":"eco"})");
  server.publish("v1/devices/me/attributes", R"({"deleted":["target"]})");
  ASSERT_TRUE(tbmqtt::testing::wait_until([&] {
    std::lock_guard l(m);
    return all.size() == 3 && selected.size() >= 2;  // the two handlers run one after the other
  }));
  std::lock_guard l(m);
  EXPECT_EQ(all[0], R"({"other":1})");
  ASSERT_EQ(selected.size(), 2u);
  EXPECT_EQ(selected[0], R"({"mode":"eco"})");
  EXPECT_EQ(selected[1], R"({"deleted":["target"]})");
}

TEST(attributes, client_attributes_are_published_as_flat_object) {
  broker b;
  peer server(b.port());
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(device.connect(5s));
  tbmqtt::attributes<128> a;
  a.add("fw", "1.0").add("slots", 4);
  ASSERT_TRUE(device.send_attributes(a, tbmqtt::qos::at_least_once));
  ASSERT_TRUE(device.flush(5s));
  auto got = server.wait_for("v1/devices/me/attributes", 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, R"({"fw":"1.0","slots":4})");
}

TEST(server_rpc, registered_method_is_answered_later_from_another_thread) {
  broker b;
  peer server(b.port());
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  std::promise<tbmqtt::server_rpc> received;
  ASSERT_TRUE(device.on_rpc("setGpio", [&](const tbmqtt::server_rpc& rpc) { received.set_value(rpc); }));
  ASSERT_TRUE(device.connect(5s));
  server.publish("v1/devices/me/rpc/request/17", R"({"method":"setGpio","params":{"pin":4}})");
  auto f = received.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  auto rpc = f.get();
  EXPECT_EQ(rpc.id, "17");
  EXPECT_EQ(rpc.params_json, R"({"pin":4})");
  std::thread([&] { EXPECT_TRUE(device.reply_rpc(rpc.id, R"({"pin":4,"value":1})")); }).join();
  auto replies = server.wait_for("v1/devices/me/rpc/response/17", 1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].payload, R"({"pin":4,"value":1})");
  EXPECT_EQ(device.reply_rpc(rpc.id, "{}").error(), errc::unknown_request);
}

TEST(server_rpc, unregistered_method_gets_error_reply_and_error_event) {
  broker b;
  peer server(b.port());
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  std::promise<std::string> error;
  device.on_error([&](errc e, std::string_view ctx) {
    if (e == errc::unknown_method) error.set_value(std::string(ctx));
  });
  ASSERT_TRUE(device.on_rpc("known", [](const tbmqtt::server_rpc&) {}));
  ASSERT_TRUE(device.connect(5s));
  server.publish("v1/devices/me/rpc/request/3", R"({"method":"reboot","params":{}})");
  auto replies = server.wait_for("v1/devices/me/rpc/response/3", 1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].payload, R"({"error":"unknown method: reboot"})");
  auto f = error.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get(), "reboot");
}

TEST(server_rpc, handler_may_reply_from_inside_the_callback) {
  broker b;
  peer server(b.port());
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(
      device.on_any_rpc([&](const tbmqtt::server_rpc& rpc) { (void)device.reply_rpc(rpc.id, rpc.params_json); }));
  ASSERT_TRUE(device.connect(5s));
  server.publish("v1/devices/me/rpc/request/5", R"({"method":"echo","params":[1,2]})");
  auto replies = server.wait_for("v1/devices/me/rpc/response/5", 1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].payload, "[1,2]");
}

TEST(client_rpc, returns_server_response_error_reply_and_timeout) {
  broker b;
  peer server(b.port());
  server.set_responder([](peer& p, const message& m) {
    if (m.topic.rfind("v1/devices/me/rpc/request/", 0) != 0) return;
    const std::string reply = m.payload.find("getTime") != std::string::npos  ? R"({"time":1700000000000})"
                              : m.payload.find("broken") != std::string::npos ? R"({"error":"no rule"})"
                                                                              : "";
    if (!reply.empty()) p.publish("v1/devices/me/rpc/response/" + id_of(m.topic), reply);
  });
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(device.connect(5s));
  auto ok = call(device, "getTime", "");
  EXPECT_EQ(ok.e, errc{});
  EXPECT_EQ(ok.response, R"({"time":1700000000000})");
  auto sent = server.received("v1/devices/me/rpc/request/");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].payload, R"({"method":"getTime","params":{}})");
  auto failed = call(device, "broken", R"({"x":1})");
  EXPECT_EQ(failed.e, errc::server_error);
  EXPECT_EQ(failed.response, R"({"error":"no rule"})");
  EXPECT_EQ(call(device, "silent", "").e, errc::timeout);
  EXPECT_EQ(call(device, "x", "{bad").e, errc::invalid_argument);
}

TEST(claim, sends_secret_and_duration) {
  broker b;
  peer server(b.port());
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(device.connect(5s));
  // Durations the 32-bit wire field cannot carry are refused, not wrapped.
  EXPECT_EQ(device.claim("abc", std::chrono::milliseconds(0x100000000LL)).error(), errc::invalid_argument);
  EXPECT_EQ(device.claim("abc", std::chrono::milliseconds(-1)).error(), errc::invalid_argument);
  ASSERT_TRUE(device.claim("abc", 60s));
  ASSERT_TRUE(device.claim("abc", std::chrono::milliseconds(0)));  // the server's default duration
  ASSERT_TRUE(device.flush(5s));
  auto got = server.wait_for("v1/devices/me/claim", 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, R"({"secretKey":"abc","durationMs":60000})");
  EXPECT_EQ(got[1].payload, R"({"secretKey":"abc"})");
}
