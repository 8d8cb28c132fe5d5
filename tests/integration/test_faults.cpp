// Network faults between the client and the broker, injected by a loopback proxy
// (fault_proxy.hpp): 2,000 numbered QoS 1 messages, counted by a subscriber on the broker side,
// arrive with none lost and none reordered; duplicates only after a connection was reset, and
// they are reported. A stalled (half-open) link is noticed within 1.5 x keep-alive.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker.hpp"
#include "fault_proxy.hpp"
#include "tbmqtt/linux/client.hpp"

using namespace std::chrono_literals;
using tbmqtt::errc;
using tbmqtt::testing::broker;
using tbmqtt::testing::fault_proxy;
using tbmqtt::testing::peer;
using tbmqtt::testing::wait_until;

namespace {

constexpr int total = 2000;

struct tally {
  int distinct = 0;
  int lost = 0;
  int reordered = 0;   // first arrivals out of order
  int duplicates = 0;  // arrivals of a number seen before
};

int number_of(const std::string& payload) {
  const auto colon = payload.find(':');
  return colon == std::string::npos ? -1 : std::atoi(payload.c_str() + colon + 1);
}

tally count(const std::vector<tbmqtt::testing::message>& messages) {
  tally t;
  std::vector<int> seen(total, 0);
  int last_first = -1;
  for (const auto& m : messages) {
    const int n = number_of(m.payload);
    if (n < 0 || n >= total) continue;
    if (seen[n]++ > 0) {
      ++t.duplicates;
      continue;
    }
    ++t.distinct;
    if (n < last_first) ++t.reordered;
    last_first = n;
  }
  t.lost = total - t.distinct;
  return t;
}

// Publishes 0..total-1 through `proxy`, waits until the broker acknowledged all and the counting
// subscriber saw each number once; returns what the subscriber counted.
tally publish_numbered(broker& b, fault_proxy& proxy, const char* name, std::chrono::seconds budget = 60s) {
  peer counter(b.port(), "v1/devices/me/telemetry", std::string("counter-") + name);
  tbmqtt::client_options o = tbmqtt::testing::device_options(b);
  o.port = proxy.port();
  tbmqtt::client device(o);
  EXPECT_TRUE(device.connect(10s));
  for (int i = 0; i < total; ++i) {
    auto sent = device.send_telemetry("{\"n\":" + std::to_string(i) + "}", tbmqtt::qos::at_least_once);
    EXPECT_TRUE(sent) << i << ": " << tbmqtt::to_string(sent.error());
  }
  EXPECT_TRUE(device.flush(budget));
  wait_until([&] { return count(counter.received()).distinct >= total; }, 20s);
  const tally t = count(counter.received());
  std::printf("[ %s ] %d connections, %d closed by the proxy: %d distinct, %d lost, %d reordered, %d duplicates\n",
              name, proxy.connections(), proxy.resets(), t.distinct, t.lost, t.reordered, t.duplicates);
  return t;
}

// A fault that closes no connection (`fault` sets it on the proxy): every message arrives exactly
// once, in order, over the one connection.
template <typename Fault>
void expect_exactly_once_over_one_connection(Fault fault, const char* name) {
  broker b;
  fault_proxy proxy(b.port());
  fault(proxy);
  const tally t = publish_numbered(b, proxy, name);
  EXPECT_EQ(t.lost, 0);
  EXPECT_EQ(t.reordered, 0);
  EXPECT_EQ(t.duplicates, 0);
  EXPECT_EQ(proxy.connections(), 1);
}

}  // namespace

TEST(faults, added_latency_loses_reorders_and_duplicates_nothing) {
  expect_exactly_once_over_one_connection([](fault_proxy& p) { p.set_latency(5ms); }, "latency");
}

TEST(faults, byte_by_byte_delivery_loses_reorders_and_duplicates_nothing) {
  expect_exactly_once_over_one_connection([](fault_proxy& p) { p.set_byte_by_byte(true); }, "byte-by-byte");
}

TEST(faults, resets_every_few_hundred_ms_lose_and_reorder_nothing) {
  broker b;
  fault_proxy proxy(b.port());
  proxy.set_latency(3ms);  // stretches the run over several resets
  proxy.set_reset_every(250ms);
  const tally t = publish_numbered(b, proxy, "resets");
  EXPECT_GE(proxy.resets(), 2);  // the fault really happened
  EXPECT_EQ(t.lost, 0);
  EXPECT_EQ(t.reordered, 0);
  EXPECT_LE(t.duplicates, proxy.resets() * 20);  // at most the in-flight window per reset
}

TEST(faults, connections_truncated_mid_packet_lose_and_reorder_nothing) {
  broker b;
  fault_proxy proxy(b.port());
  proxy.set_truncate_after(4001);  // every connection: cut inside a PUBLISH after ~4 KB
  const tally t = publish_numbered(b, proxy, "truncation");
  EXPECT_GE(proxy.resets(), 5);
  EXPECT_EQ(t.lost, 0);
  EXPECT_EQ(t.reordered, 0);
  EXPECT_LE(t.duplicates, proxy.resets() * 20);
}

TEST(faults, a_stalled_link_is_noticed_within_one_and_a_half_keepalives_and_nothing_is_lost) {
  broker b;
  fault_proxy proxy(b.port());
  peer counter(b.port(), "v1/devices/me/telemetry", "counter-stall");
  tbmqtt::client_options o = tbmqtt::testing::device_options(b);
  o.port = proxy.port();
  o.keep_alive = 5s;  // libmosquitto's smallest
  std::mutex m;       // the state the handlers write outlives the device
  std::vector<tbmqtt::connection_event> events;
  std::atomic<std::int64_t> down_at_ms{0};
  tbmqtt::client device(o);
  device.on_connection([&](const tbmqtt::connection_event& e) {
    std::lock_guard l(m);
    events.push_back(e);
    if (!e.connected && down_at_ms == 0)
      down_at_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
              .count();
  });
  ASSERT_TRUE(device.connect(10s));
  ASSERT_TRUE(device.send_telemetry("{\"n\":0}", tbmqtt::qos::at_least_once));
  ASSERT_TRUE(device.flush(5s));
  const auto stalled_at = std::chrono::steady_clock::now();
  proxy.set_stalled(true);  // from now on nothing moves, and nothing is closed
  for (int i = 1; i < 100; ++i)
    ASSERT_TRUE(device.send_telemetry("{\"n\":" + std::to_string(i) + "}", tbmqtt::qos::at_least_once));
  ASSERT_TRUE(wait_until([&] { return down_at_ms != 0; }, 15s));
  const auto noticed_after = std::chrono::milliseconds(down_at_ms) -
                             std::chrono::duration_cast<std::chrono::milliseconds>(stalled_at.time_since_epoch());
  std::printf("[ stall ] noticed after %lld ms (keep-alive 5 s, limit 7500 ms)\n",
              static_cast<long long>(noticed_after.count()));
  EXPECT_LE(noticed_after, 7500ms + 500ms);  // 1.5 x keep-alive (+500 ms: thread wake-ups on a loaded machine)
  {
    std::lock_guard l(m);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().reason, errc::timeout);
  }
  proxy.set_stalled(false);
  ASSERT_TRUE(wait_until([&] { return device.connected(); }, 20s));
  ASSERT_TRUE(device.flush(20s));
  wait_until(
      [&] {
        std::set<std::string> distinct;
        for (const auto& msg : counter.received()) distinct.insert(msg.payload);
        return distinct.size() >= 100;
      },
      10s);
  std::set<std::string> distinct;
  for (const auto& msg : counter.received()) distinct.insert(msg.payload);
  EXPECT_EQ(distinct.size(), 100u);
}

// Four threads publish while another thread answers server RPCs and the proxy resets the
// connection every 250 ms: every message arrives, each thread's in order (run under TSan too).
TEST(faults, four_publishers_and_an_rpc_replier_across_connection_resets_lose_nothing) {
  constexpr int threads = 4;
  constexpr int per_thread = 500;
  broker b;
  fault_proxy proxy(b.port());
  proxy.set_latency(3ms);
  proxy.set_reset_every(250ms);
  peer server(b.port(), "v1/devices/me/#", "stress-server");
  tbmqtt::client_options o = tbmqtt::testing::device_options(b);
  o.port = proxy.port();
  std::mutex rpc_mutex;  // the state the handlers write outlives the device
  std::condition_variable rpc_ready;
  std::deque<tbmqtt::server_rpc> rpc_queue;
  bool stop_replier = false;
  tbmqtt::client device(o);
  ASSERT_TRUE(device.on_rpc("echo", [&](const tbmqtt::server_rpc& rpc) {
    std::lock_guard l(rpc_mutex);
    rpc_queue.push_back(rpc);
    rpc_ready.notify_one();
  }));
  ASSERT_TRUE(device.connect(10s));
  std::thread replier([&] {  // answers from its own thread, not the client's
    std::unique_lock l(rpc_mutex);
    for (;;) {
      rpc_ready.wait(l, [&] { return stop_replier || !rpc_queue.empty(); });
      if (rpc_queue.empty()) return;
      const tbmqtt::server_rpc rpc = rpc_queue.front();
      rpc_queue.pop_front();
      l.unlock();
      (void)device.reply_rpc(rpc.id, rpc.params_json);  // not_connected during a reset: lost, as the request
      l.lock();
    }
  });

  std::atomic<int> publishers_done{0};
  std::vector<std::thread> publishers;
  for (int t = 0; t < threads; ++t) {
    publishers.emplace_back([&, t] {
      std::mutex m;
      std::condition_variable acked;
      int outstanding = 0;
      for (int i = 0; i < per_thread; ++i) {
        {
          std::unique_lock l(m);  // at most 25 unacknowledged: the run spans several resets
          if (!acked.wait_for(l, 30s, [&] { return outstanding < 25; })) break;
          ++outstanding;
        }
        const std::string payload = "{\"t\":" + std::to_string(t) + ",\"n\":" + std::to_string(i) + "}";
        auto sent = device.send_telemetry(payload, tbmqtt::qos::at_least_once, [&](errc) {
          std::lock_guard l(m);
          --outstanding;
          acked.notify_one();
        });
        EXPECT_TRUE(sent) << tbmqtt::to_string(sent.error());
      }
      std::unique_lock l(m);
      acked.wait_for(l, 30s, [&] { return outstanding == 0; });
      ++publishers_done;
    });
  }
  // The server calls "echo" while the publishers run; a request sent during a reset is lost (the
  // device's subscription is not persistent), so each waits for its answer at most 300 ms.
  int rpc_calls = 0;
  while (publishers_done < threads) {
    const std::string id = std::to_string(1000 + rpc_calls++);
    server.publish("v1/devices/me/rpc/request/" + id, "{\"method\":\"echo\",\"params\":{\"k\":" + id + "}}");
    (void)server.wait_for("v1/devices/me/rpc/response/" + id, 1, 300ms);
  }
  for (auto& p : publishers) p.join();
  ASSERT_TRUE(device.flush(30s));
  {
    std::lock_guard l(rpc_mutex);
    stop_replier = true;
    rpc_ready.notify_one();
  }
  replier.join();

  wait_until([&] { return server.received("v1/devices/me/telemetry").size() >= threads * per_thread; }, 20s);
  std::vector<std::vector<int>> seen(threads, std::vector<int>(per_thread, 0));
  std::vector<int> last(threads, -1);
  int lost = 0, reordered = 0, duplicates = 0;
  for (const auto& m : server.received("v1/devices/me/telemetry")) {
    const int t = std::atoi(m.payload.c_str() + m.payload.find(':') + 1);
    const int n = std::atoi(m.payload.c_str() + m.payload.rfind(':') + 1);
    if (seen[t][n]++ > 0) {
      ++duplicates;
      continue;
    }
    if (n < last[t]) ++reordered;
    last[t] = n;
  }
  for (const auto& s : seen) lost += static_cast<int>(std::count(s.begin(), s.end(), 0));
  int answered = 0;
  for (const auto& reply : server.received("v1/devices/me/rpc/response/")) {
    const std::string id = reply.topic.substr(reply.topic.rfind('/') + 1);
    EXPECT_EQ(reply.payload, "{\"k\":" + id + "}");
    ++answered;
  }
  std::printf("[ stress ] %d connections, %d resets: %d lost, %d reordered, %d duplicates; %d RPCs, %d answered\n",
              proxy.connections(), proxy.resets(), lost, reordered, duplicates, rpc_calls, answered);
  EXPECT_GE(proxy.resets(), 2);
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(reordered, 0);
  EXPECT_GT(answered, 0);
}
