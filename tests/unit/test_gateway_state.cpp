// tbmqtt: host-only
// (links src/platform/common/gateway_client.cpp, which the Cortex-M image does not build)
// Tests of src/platform/common/gateway_state.hpp and gateway_client.cpp: the gateway API both
// device clients (Linux, ESP-IDF) give through gateway(), on a session over the fake transport,
// with a client_port that records what the client would do (lock, errors, sends).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "../../src/platform/common/gateway_state.hpp"
#include "session_rig.hpp"

using tbmqtt::delivery_ticket;
using tbmqtt::errc;
using tbmqtt::result;
using tbmqtt::detail::gateway_state;
using namespace tbmqtt_test::session_rig;

namespace {

// What a client gives its gateway API, recorded: every call must come with the lock held.
struct recording_port final : tbmqtt::detail::client_port {
  int depth = 0;  // lock depth (recursive, as both clients' locks)
  std::vector<std::pair<errc, std::string>> errors;
  std::vector<std::pair<delivery_ticket, tbmqtt::delivery_callback>> kept;  // delivery callbacks by ticket

  void lock() noexcept override { ++depth; }
  void unlock() noexcept override { --depth; }
  std::uint32_t now_ms() noexcept override { return 0; }
  void on_error(errc e, std::string_view context) noexcept override { errors.emplace_back(e, std::string(context)); }
  result<delivery_ticket> send_message(tbmqtt::function_ref<result<delivery_ticket>()> publish,
                                       tbmqtt::delivery_callback done) override {
    std::lock_guard<recording_port> held(*this);
    auto sent = publish();
    if (sent && done) kept.emplace_back(*sent, std::move(done));
    return sent;
  }
  errc publish_request(tbmqtt::function_ref<errc()> attempt) override {
    std::lock_guard<recording_port> held(*this);
    return attempt();
  }
};

struct gateway_rig {
  rig r;
  recording_port port;
  std::unique_ptr<gateway_state> state;
  gateway_rig() {
    state = gateway_state::make<4, 512>(port, r.s);
    connect(r);
  }
  tbmqtt::gateway_client& gw() { return state->api(); }
};

}  // namespace

TEST(gateway_state, sends_return_the_sessions_tickets_and_keep_their_callbacks) {
  gateway_rig g;
  ASSERT_TRUE(g.gw().connect_device("A").ok());  // the announcement takes a ticket too
  int heard = 0;
  auto telemetry = g.gw().send_telemetry("A", "{\"t\":1}", [&](errc) { ++heard; });
  auto attributes = g.gw().send_attributes("A", "{\"m\":1}");
  auto claimed = g.gw().claim("A", "s", std::chrono::seconds(1), [&](errc) { ++heard; });
  ASSERT_TRUE(telemetry.ok() && attributes.ok() && claimed.ok());
  EXPECT_EQ(*telemetry, delivery_ticket{1});  // the session's one counter: 0 was the announcement
  EXPECT_EQ(*attributes, delivery_ticket{2});
  EXPECT_EQ(*claimed, delivery_ticket{3});
  ASSERT_EQ(g.port.kept.size(), 2u);  // attributes gave no callback
  EXPECT_EQ(g.port.kept[0].first, delivery_ticket{1});
  EXPECT_EQ(g.port.kept[1].first, delivery_ticket{3});
  EXPECT_EQ(heard, 0);  // kept for the outcome, not called
  EXPECT_EQ(g.port.depth, 0);
  EXPECT_EQ(g.gw().send_telemetry("A", "[1").error(), errc::invalid_argument);  // the engine's error, as it is
  EXPECT_EQ(g.port.kept.size(), 2u);
}

TEST(gateway_state, a_one_value_answer_names_the_single_key_requested_and_is_malformed_for_several) {
  gateway_rig g;
  ASSERT_TRUE(g.gw().connect_device("A").ok());
  std::vector<std::pair<errc, std::string>> answers;
  auto keep = [&](errc e, tbmqtt::json::value values) { answers.emplace_back(e, std::string(values.raw())); };
  auto one = g.gw().request_attributes("A", tbmqtt::attribute_scope::shared, " target ", keep);
  auto two = g.gw().request_attributes("A", tbmqtt::attribute_scope::client, "a,b", keep);
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_NE(*one, *two);
  deliver(g.r, "v1/gateway/attributes/response",
          "{\"id\":" + std::to_string(*one) + ",\"device\":\"A\",\"value\":\"x\\\"y\"}");
  deliver(g.r, "v1/gateway/attributes/response", "{\"id\":" + std::to_string(*two) + ",\"device\":\"A\",\"value\":5}");
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0], std::make_pair(errc{}, std::string("{\"target\":\"x\\\"y\"}")));
  EXPECT_EQ(answers[1].first, errc::malformed);  // which of a and b? nothing is guessed
}

TEST(gateway_state, cancel_all_ends_waiting_requests_with_cancelled_once) {
  gateway_rig g;
  ASSERT_TRUE(g.gw().connect_device("A").ok());
  std::vector<errc> heard;
  ASSERT_TRUE(g.gw().request_attributes("A", tbmqtt::attribute_scope::shared, "k",
                                        [&](errc e, tbmqtt::json::value) { heard.push_back(e); }));
  g.state->cancel_all();
  g.state->cancel_all();
  EXPECT_EQ(heard, std::vector<errc>{errc::cancelled});
}

TEST(gateway_state, rpcs_reach_the_devices_handler_else_the_fallback_else_an_error_answer) {
  gateway_rig g;
  ASSERT_TRUE(g.gw().connect_device("A").ok());
  ASSERT_TRUE(g.gw().connect_device("B").ok());
  std::vector<std::string> heard;
  ASSERT_TRUE(g.gw().on_rpc("A", [&](const tbmqtt::gateway_rpc& rpc) { heard.push_back("A:" + rpc.method); }).ok());
  EXPECT_EQ(g.gw().on_rpc("", {}).error(), errc::invalid_argument);
  deliver(g.r, "v1/gateway/rpc", R"({"device":"B","data":{"id":1,"method":"m"}})");
  EXPECT_EQ(g.r.port.last_topic(), "v1/gateway/rpc");
  EXPECT_EQ(g.r.port.last_payload(), R"({"device":"B","id":1,"data":{"error":"no handler for device: B"}})");
  g.gw().on_any_rpc([&](const tbmqtt::gateway_rpc& rpc) { heard.push_back("any:" + rpc.device); });
  deliver(g.r, "v1/gateway/rpc", R"({"device":"A","data":{"id":2,"method":"set","params":{"v":1}}})");
  deliver(g.r, "v1/gateway/rpc", R"({"device":"B","data":{"id":3,"method":"get"}})");
  EXPECT_EQ(heard, (std::vector<std::string>{"A:set", "any:B"}));
  auto answered = g.gw().reply_rpc("B", 3, "{\"ok\":true}");
  ASSERT_TRUE(answered.ok());
  EXPECT_EQ(g.gw().reply_rpc("B", 3, "{}").error(), errc::unknown_request);  // once
}

TEST(gateway_state, server_input_nobody_waits_for_goes_to_the_clients_error_report) {
  gateway_rig g;
  deliver(g.r, "v1/gateway/attributes", "{\"device\":");  // malformed
  ASSERT_EQ(g.port.errors.size(), 1u);
  EXPECT_EQ(g.port.errors[0].first, errc::malformed);
}

TEST(gateway_state, arguments_the_api_refuses_before_the_engine) {
  gateway_rig g;
  EXPECT_EQ(g.gw().connect_device("").error(), errc::invalid_argument);
  EXPECT_EQ(g.gw().disconnect_device("").error(), errc::invalid_argument);
  EXPECT_EQ(g.gw().claim("A", "s", std::chrono::milliseconds(-1)).error(), errc::invalid_argument);
  EXPECT_FALSE(g.gw().is_connected("A"));
  ASSERT_TRUE(g.gw().connect_device("A").ok());
  EXPECT_TRUE(g.gw().is_connected("A"));
  ASSERT_TRUE(g.gw().disconnect_device("A").ok());
  EXPECT_FALSE(g.gw().is_connected("A"));
}

// What esp_client::gateway() hands out when it cannot allocate the gateway: every call fails with
// out_of_memory (nothing reaches a port or a table), is_connected() is false, handlers are dropped.
TEST(gateway_state, the_unavailable_gateway_fails_every_call_with_out_of_memory) {
  tbmqtt::gateway_client& gw = gateway_state::unavailable().api();
  EXPECT_EQ(&gw, &gateway_state::unavailable().api());  // one for the process
  EXPECT_EQ(gw.connect_device("dev-1").error(), errc::out_of_memory);
  EXPECT_EQ(gw.disconnect_device("dev-1").error(), errc::out_of_memory);
  EXPECT_FALSE(gw.is_connected("dev-1"));
  bool called = false;
  auto note = [&](errc) { called = true; };
  EXPECT_EQ(gw.send_telemetry("dev-1", R"({"t":1})", note).error(), errc::out_of_memory);
  EXPECT_EQ(gw.send_attributes("dev-1", R"({"a":1})", note).error(), errc::out_of_memory);
  EXPECT_EQ(gw.reply_rpc("dev-1", 1, "{}").error(), errc::out_of_memory);
  EXPECT_EQ(gw.claim("dev-1", "secret", std::chrono::seconds(10), note).error(), errc::out_of_memory);
  EXPECT_EQ(gw.request_attributes("dev-1", tbmqtt::attribute_scope::client, "a",
                                  [&](errc, tbmqtt::json::value) { called = true; })
                .error(),
            errc::out_of_memory);
  EXPECT_EQ(gw.on_rpc("dev-1", [&](const tbmqtt::gateway_rpc&) { called = true; }).error(), errc::out_of_memory);
  gw.on_any_rpc([&](const tbmqtt::gateway_rpc&) { called = true; });
  gw.on_attribute_update([&](std::string_view, tbmqtt::json::value) { called = true; });
  EXPECT_FALSE(called);
}
