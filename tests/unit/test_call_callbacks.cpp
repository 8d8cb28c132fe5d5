// tbmqtt: host-only
// (The platform clients' bookkeeping: std::function, std::map.)
// Tests of src/platform/common/call_callbacks.hpp: the per-call callbacks (delivery outcomes by
// ticket, answers by request id, shared-attribute updates) both device clients (Linux, ESP-IDF)
// keep behind the one client API. rpc_dispatch.hpp is tested in test_rpc_dispatch.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "../../src/platform/common/call_callbacks.hpp"

using tbmqtt::delivery_ticket;
using tbmqtt::errc;
using tbmqtt::result;
using tbmqtt::detail::call_callbacks;

namespace {
auto nobody = [](delivery_ticket, errc) { FAIL() << "no outcome was unclaimed"; };
}  // namespace

TEST(call_callbacks, a_delivery_callback_hears_its_outcome_once) {
  call_callbacks calls;
  std::vector<errc> heard;
  auto sent = calls.send([] { return result<delivery_ticket>{delivery_ticket{7}}; },
                         [&](errc e) { heard.push_back(e); }, nobody);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(*sent, delivery_ticket{7});
  EXPECT_FALSE(calls.delivered(delivery_ticket{8}, errc{}));  // not ours: the caller reports it elsewhere
  EXPECT_TRUE(calls.delivered(delivery_ticket{7}, errc::queue_full));
  EXPECT_FALSE(calls.delivered(delivery_ticket{7}, errc{}));  // once
  EXPECT_EQ(heard, std::vector<errc>{errc::queue_full});
}

TEST(call_callbacks, an_outcome_within_the_publish_reaches_its_callback_others_go_back) {
  call_callbacks calls;
  std::vector<errc> heard;
  std::vector<delivery_ticket> unclaimed;
  auto sent = calls.send(
      [&] {
        EXPECT_TRUE(calls.delivered(delivery_ticket{3}, errc::disconnected));  // another message's, during this publish
        EXPECT_TRUE(calls.delivered(delivery_ticket{4}, errc{}));              // this one's (a QoS 0 write)
        return result<delivery_ticket>{delivery_ticket{4}};
      },
      [&](errc e) { heard.push_back(e); }, [&](delivery_ticket t, errc) { unclaimed.push_back(t); });
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(heard, std::vector<errc>{errc{}});
  EXPECT_EQ(unclaimed, std::vector<delivery_ticket>{delivery_ticket{3}});
  EXPECT_FALSE(calls.delivered(delivery_ticket{4}, errc{}));  // settled: nothing kept
}

TEST(call_callbacks, a_failed_publish_keeps_nothing_and_leaves_the_callback_to_the_caller) {
  call_callbacks calls;
  int heard = 0;
  tbmqtt::delivery_callback done = [&](errc) { ++heard; };
  auto sent = calls.send([] { return result<delivery_ticket>{errc::again}; }, std::move(done), nobody);
  EXPECT_EQ(sent.error(), errc::again);
  ASSERT_TRUE(static_cast<bool>(done));  // not moved from: a retry may use it
  calls.cancel_all(errc::cancelled);
  EXPECT_EQ(heard, 0);
}

TEST(call_callbacks, answers_by_request_id_and_cancel_all) {
  call_callbacks calls;
  std::vector<errc> answers;
  calls.expect_attributes(1, [&](errc e, tbmqtt::json::value, tbmqtt::json::value) { answers.push_back(e); });
  calls.expect_rpc_response(1, [&](errc e, tbmqtt::json::value) { answers.push_back(e); });
  calls.expect_rpc_response(2, [&](errc e, tbmqtt::json::value) { answers.push_back(e); });
  (void)calls.send([] { return result<delivery_ticket>{delivery_ticket{9}}; }, [&](errc e) { answers.push_back(e); },
                   nobody);
  EXPECT_TRUE(calls.rpc_response(2, errc::server_error, {}));
  EXPECT_FALSE(calls.rpc_response(2, errc{}, {}));
  EXPECT_FALSE(calls.attributes(5, errc{}, {}, {}));
  calls.cancel_all(errc::cancelled);
  EXPECT_EQ(answers, (std::vector<errc>{errc::server_error, errc::cancelled, errc::cancelled, errc::cancelled}));
  EXPECT_FALSE(calls.attributes(1, errc{}, {}, {}));
  EXPECT_FALSE(calls.delivered(delivery_ticket{9}, errc{}));
}

TEST(call_callbacks, shared_attribute_updates_by_subscription_index) {
  call_callbacks calls;
  int updates = 0;
  calls.on_shared(2, [&](tbmqtt::json::value) { ++updates; });
  EXPECT_FALSE(calls.shared(0, {}));  // no handler: the caller reports it elsewhere
  EXPECT_TRUE(calls.shared(2, {}));
  EXPECT_EQ(updates, 1);
}
