// tbmqtt: host-only
// (The platform clients' bookkeeping: std::function, std::map.)
// Tests of src/platform/common/rpc_dispatch.hpp: the server-RPC handlers by method (and the
// fallback) both device clients (Linux, ESP-IDF) keep behind the one client API, over a session
// on the fake transport (tests/unit/session_rig.hpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../../src/platform/common/rpc_dispatch.hpp"
#include "session_rig.hpp"

using tbmqtt::detail::rpc_dispatch;

TEST(rpc_dispatch, handlers_by_method_then_the_fallback) {
  tbmqtt_test::session_rig::rig r;
  rpc_dispatch rpcs;
  std::vector<std::string> heard;
  {
    std::string method = "setGpio";  // the dispatcher keeps its own copy for the session
    ASSERT_TRUE(
        rpcs.on(r.s, method, [&](const tbmqtt::server_rpc& rpc) { heard.push_back("gpio " + rpc.params_json); }).ok());
  }
  tbmqtt_test::session_rig::connect(r);
  // The session routes the registered method by the kept name (its string above is gone).
  tbmqtt_test::session_rig::deliver(r, "v1/devices/me/rpc/request/3", R"({"method":"setGpio","params":{"pin":4}})");
  const tbmqtt_test::event_record* e = r.events.find(tbmqtt_test::event_kind::rpc_request);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->second.view(), std::string_view("setGpio"));
  EXPECT_EQ(r.events.count(tbmqtt_test::event_kind::rpc_request), 1u);
  tbmqtt_test::session_rig::deliver(r, "v1/devices/me/rpc/request/4",
                                    R"({"method":"reboot"})");  // answered by the session
  EXPECT_EQ(r.events.count(tbmqtt_test::event_kind::rpc_request), 1u);
  tbmqtt::rpc_request request{};
  request.id = "17";
  request.method = "setGpio";
  EXPECT_TRUE(rpcs.dispatch(request));
  request.method = "reboot";
  EXPECT_FALSE(rpcs.dispatch(request));  // no handler, no fallback: the session answers it
  rpcs.on_any(r.s, [&](const tbmqtt::server_rpc& rpc) { heard.push_back("any " + rpc.method); });
  EXPECT_TRUE(rpcs.dispatch(request));
  EXPECT_EQ(heard, (std::vector<std::string>{"gpio ", "any reboot"}));
}
