// The Linux client end to end: real mosquitto, a test peer playing ThingsBoard.
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "broker.hpp"
#include "tbmqtt/linux/client.hpp"
#include "tbmqtt/linux/platform.hpp"

using namespace std::chrono_literals;
using tbmqtt::errc;
using tbmqtt::testing::broker;
using tbmqtt::testing::peer;

TEST(client, connects_and_publishes_telemetry_json_and_builder) {
  broker b;
  peer server(b.port());
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(device.connect(5s));
  EXPECT_TRUE(device.connected());
  ASSERT_TRUE(device.send_telemetry(R"({"temp":21.5})"));
  tbmqtt::telemetry<128> t;
  t.at(1700000000000).add("hum", 40).add("ok", true);
  ASSERT_TRUE(device.send_telemetry(t));
  ASSERT_TRUE(device.flush(5s));
  auto got = server.wait_for("v1/devices/me/telemetry", 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, R"({"temp":21.5})");
  EXPECT_EQ(got[1].payload, R"({"ts":1700000000000,"values":{"hum":40,"ok":true}})");
  EXPECT_EQ(got[0].qos, 1);
}

TEST(client, each_send_returns_its_own_ticket) {
  broker b;
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(device.connect(5s));
  auto first = device.send_telemetry(R"({"a":1})");
  auto second = device.send_attributes(R"({"b":2})");
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_NE(*first, *second);
  ASSERT_TRUE(device.flush(5s));
}

TEST(client, connects_by_uri_as_the_esp_client_names_the_server) {
  broker b;
  tbmqtt::client_options o = tbmqtt::testing::device_options(b);
  o.uri = "mqtt://" + o.host + ":" + std::to_string(o.port);
  o.host = "192.0.2.1";  // replaced by the uri (a documentation address: never reached)
  o.port = 1;
  tbmqtt::client device(o);
  ASSERT_TRUE(device.connect(5s));
  for (const char* bad : {"tcp://127.0.0.1:1883", "mqtt://", "mqtt://host:", "mqtt://host:99999", "mqtt://host:1x",
                          "mqtt://[::1", "mqtt://h/path"}) {
    tbmqtt::client_options wrong = o;
    wrong.uri = bad;
    EXPECT_THROW(tbmqtt::client{wrong}, std::invalid_argument) << bad;
  }
}

TEST(client, rejects_invalid_telemetry_without_sending) {
  broker b;
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(device.connect(5s));
  EXPECT_EQ(device.send_telemetry("{bad").error(), errc::invalid_argument);
  EXPECT_EQ(device.send_telemetry("42").error(), errc::invalid_argument);
  EXPECT_EQ(device.send_attributes("[1]").error(), errc::invalid_argument);
}

TEST(client, reports_unreachable_broker) {
  broker b;
  tbmqtt::client_options o = tbmqtt::testing::device_options(b);
  b.kill();
  tbmqtt::client device(o);
  EXPECT_EQ(device.connect(5s).error(), errc::unreachable);
}

TEST(client, delivery_callback_fires_after_puback) {
  broker b;
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(device.connect(5s));
  std::promise<errc> delivered;
  ASSERT_TRUE(
      device.send_attributes(R"({"fw":"1.0"})", tbmqtt::qos::at_least_once, [&](errc e) { delivered.set_value(e); }));
  auto f = delivered.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get(), errc{});
}

TEST(client, flush_from_a_callback_would_deadlock_and_says_so) {
  broker b;
  std::promise<errc> flushed;  // before the client: its thread runs the callback
  tbmqtt::client device(tbmqtt::testing::device_options(b));
  ASSERT_TRUE(device.connect(5s));
  ASSERT_TRUE(device.send_telemetry(R"({"a":1})", tbmqtt::qos::at_least_once,
                                    [&](errc) { flushed.set_value(device.flush(5s).error()); }));
  auto f = flushed.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get(), errc::would_deadlock);  // at once, not after the 5 s: it would wait on itself
  EXPECT_TRUE(device.flush(5s));             // from another thread it waits as usual
}

// with_lock(f) returns f()'s result; f may call the client (the lock is recursive).
TEST(client, with_lock_returns_the_result_of_the_call_which_may_call_the_client) {
  tbmqtt::client_options options;
  tbmqtt::client c{options};
  EXPECT_EQ(c.with_lock([] { return 42; }), 42);
  EXPECT_FALSE(c.with_lock([&] { return c.connected(); }));
  const tbmqtt::result<void> refused = c.with_lock([]() -> tbmqtt::result<void> { return tbmqtt::errc::again; });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), tbmqtt::errc::again);
}

// One engine per kind; confirm/reject need an enabled kind and a pending update.
TEST(client, enable_ota_refuses_a_kind_twice_and_confirm_reject_report_what_is_missing) {
  tbmqtt::file_sink firmware_image{::testing::TempDir() + "tbmqtt-ota-fw.bin"};
  tbmqtt::file_sink software_image{::testing::TempDir() + "tbmqtt-ota-sw.bin"};
  tbmqtt::client_options options;
  tbmqtt::client c{options};
  tbmqtt::ota_config config;
  config.current_title = "app";
  config.current_version = "1.0";
  EXPECT_EQ(c.confirm_ota(tbmqtt::ota_kind::firmware).error(), tbmqtt::errc::invalid_argument);  // not enabled
  ASSERT_TRUE(c.enable_ota(config, firmware_image, nullptr));
  EXPECT_EQ(c.enable_ota(config, firmware_image, nullptr).error(), tbmqtt::errc::invalid_argument);
  EXPECT_EQ(c.confirm_ota(tbmqtt::ota_kind::firmware).error(), tbmqtt::errc::not_found);  // nothing pending
  EXPECT_EQ(c.reject_ota(tbmqtt::ota_kind::firmware, "broken").error(), tbmqtt::errc::not_found);
  EXPECT_EQ(c.reject_ota(tbmqtt::ota_kind::software, "broken").error(), tbmqtt::errc::invalid_argument);
  config.kind = tbmqtt::ota_kind::software;
  config.checkpoint_key = "tb_sw_ckpt";
  config.pending_key = "tb_sw_pend";
  EXPECT_TRUE(c.enable_ota(config, software_image, nullptr));
}
