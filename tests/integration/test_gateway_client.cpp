// The gateway API of the Linux client (tbmqtt/gateway_client.hpp over
// src/platform/common/gateway_state.hpp, the code esp_client::gateway() runs too) against a real
// mosquitto, with a peer playing ThingsBoard's gateway topics: every message it sends is named by
// a delivery ticket of the client's one counter, and its outcome reaches the callback given.
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "broker.hpp"
#include "tbmqtt/linux/client.hpp"

using namespace std::chrono_literals;
using namespace tbmqtt::testing;  // broker, peer, message, device_options, wait_until
using tbmqtt::delivery_ticket;
using tbmqtt::errc;
using tbmqtt::to_underlying;

namespace {

// The outcomes of delivery callbacks, by the order they were given.
struct outcomes {
  std::mutex mutex;
  std::vector<errc> got;
  tbmqtt::delivery_callback record() {
    return [this](errc e) {
      std::lock_guard lock(mutex);
      got.push_back(e);
    };
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return got.size();
  }
};

}  // namespace

TEST(gateway_client, sends_are_named_by_tickets_of_the_clients_one_counter_and_report_their_outcome) {
  broker b;
  peer server(b.port(), "v1/gateway/#");
  outcomes delivered;  // before the client: its callbacks use it
  tbmqtt::client device(device_options(b));
  tbmqtt::gateway_client& gw = device.gateway();  // before connect(): subscribed with it
  ASSERT_TRUE(device.connect(5s));
  ASSERT_TRUE(gw.connect_device("A", "thermostat"));  // its announcement takes a ticket too

  auto own = device.send_telemetry("{\"self\":1}");
  auto telemetry = gw.send_telemetry("A", "{\"t\":1}", delivered.record());
  tbmqtt::gateway_telemetry<128> built;
  built.device("A").add("t", 2);
  auto built_telemetry = gw.send_telemetry(built, delivered.record());
  auto attributes = gw.send_attributes("A", "{\"model\":\"T-100\"}", delivered.record());
  auto claimed = gw.claim("A", "secret", 60s, delivered.record());
  ASSERT_TRUE(own && telemetry && built_telemetry && attributes && claimed);
  // One counter for the client's messages and its gateway's, in the order they were sent.
  EXPECT_EQ(to_underlying(*telemetry), to_underlying(*own) + 1);
  EXPECT_EQ(to_underlying(*built_telemetry), to_underlying(*own) + 2);
  EXPECT_EQ(to_underlying(*attributes), to_underlying(*own) + 3);
  EXPECT_EQ(to_underlying(*claimed), to_underlying(*own) + 4);

  ASSERT_TRUE(device.flush(5s));
  ASSERT_TRUE(wait_until([&] { return delivered.size() == 4; }));
  EXPECT_EQ(delivered.got, std::vector<errc>(4, errc{}));
  auto sent = server.wait_for("v1/gateway/telemetry", 2);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].payload, R"({"A":[{"t":1}]})");
  EXPECT_EQ(server.wait_for("v1/gateway/attributes", 1).at(0).payload, R"({"A":{"model":"T-100"}})");
  EXPECT_EQ(server.wait_for("v1/gateway/claim", 1).at(0).payload, R"({"A":{"secretKey":"secret","durationMs":60000}})");
  // Durations the 32-bit wire field cannot carry are refused, not wrapped; so is an empty device.
  EXPECT_EQ(gw.claim("A", "s", std::chrono::milliseconds(0x100000000LL)).error(), errc::invalid_argument);
  EXPECT_EQ(gw.claim("A", "s", std::chrono::milliseconds(-1)).error(), errc::invalid_argument);
  EXPECT_EQ(gw.claim("", "s", 1s).error(), errc::invalid_argument);
}

TEST(gateway_client, request_attributes_returns_the_id_its_answer_carries) {
  broker b;
  peer server(b.port(), "v1/gateway/attributes/request");
  server.set_responder([](peer& p, const message& m) {
    auto request = tbmqtt::json::value::parse(m.payload);
    auto id = request ? (*request)["id"].as_int() : tbmqtt::result<std::int64_t>{errc::malformed};
    if (id)
      p.publish("v1/gateway/attributes/response", R"({"id":)" + std::to_string(*id) + R"(,"device":"A","value":5})");
  });
  std::promise<std::pair<errc, std::string>> answer;  // before the client: its callback uses it
  tbmqtt::client device(device_options(b));
  tbmqtt::gateway_client& gw = device.gateway();
  ASSERT_TRUE(device.connect(5s));
  ASSERT_TRUE(gw.connect_device("A"));
  auto id =
      gw.request_attributes("A", tbmqtt::attribute_scope::shared, "target", [&](errc e, tbmqtt::json::value values) {
        answer.set_value({e, std::string(values.raw())});
      });
  ASSERT_TRUE(id);
  auto f = answer.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), std::make_pair(errc{}, std::string(R"({"target":5})")));
  auto sent = server.received("v1/gateway/attributes/request");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].payload, R"({"id":)" + std::to_string(*id) + R"(,"device":"A","client":false,"key":"target"})");
  EXPECT_EQ(gw.request_attributes("", tbmqtt::attribute_scope::client, "k", {}).error(), errc::invalid_argument);
}

TEST(gateway_client, reply_rpc_returns_the_answers_ticket) {
  broker b;
  peer server(b.port(), "v1/gateway/rpc");
  std::promise<tbmqtt::result<delivery_ticket>> replied;  // before the client: its handler uses it
  tbmqtt::client device(device_options(b));
  tbmqtt::gateway_client& gw = device.gateway();
  ASSERT_TRUE(gw.on_rpc("A", [&](const tbmqtt::gateway_rpc& rpc) {
    replied.set_value(gw.reply_rpc(rpc.device, rpc.id, R"({"ok":true})"));
  }));
  ASSERT_TRUE(device.connect(5s));
  ASSERT_TRUE(gw.connect_device("A"));
  auto before = device.send_telemetry("{\"self\":1}");
  ASSERT_TRUE(before);
  server.publish("v1/gateway/rpc", R"({"device":"A","data":{"id":7,"method":"set","params":{}}})");
  auto f = replied.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  auto ticket = f.get();
  ASSERT_TRUE(ticket);
  EXPECT_EQ(to_underlying(*ticket), to_underlying(*before) + 1);
  auto answers = server.wait_for("v1/gateway/rpc", 2);  // the request itself, then the answer
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[1].payload, R"({"device":"A","id":7,"data":{"ok":true}})");
  // Answered already: no such open RPC.
  EXPECT_EQ(gw.reply_rpc("A", 7, "{}").error(), errc::unknown_request);
}
