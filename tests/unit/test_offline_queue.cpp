// Tests of src/core/offline_queue.cpp: the persistent store-and-forward FIFO, alone and driven
// by a session over the fake transport, with an in-memory storage that can "lose power" after
// N writes (every later call fails) to prove the crash contract at every point.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "fake_transport.hpp"
#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/session.hpp"

using tbmqtt::errc;
using tbmqtt::offline_queue;
using tbmqtt::offline_queue_config;
using tbmqtt::qos;
using tbmqtt::queue_full_policy;
using tbmqtt::stored_topic;

namespace {

constexpr std::string_view telemetry_topic = "v1/devices/me/telemetry";
constexpr std::string_view attributes_topic = "v1/devices/me/attributes";

// Small key/value blobs in RAM. `writes_left` counts store() and erase() calls down; at 0 the
// "power fails": that call and every later one (load included) fail with transport_error and
// change nothing, until power_on(). store() is atomic like the real ones.
struct crash_storage final : tbmqtt::storage {
  struct slot {
    char key[16] = {};
    std::byte value[160];
    std::size_t size = 0;
    bool used = false;
  } slots[24];
  long writes_left = -1;  // -1: never fails
  bool powered = true;
  std::size_t stores = 0;

  void power_on() noexcept {
    powered = true;
    writes_left = -1;
  }
  bool write_allowed() noexcept {
    if (!powered) return false;
    if (writes_left == 0) {
      powered = false;
      return false;
    }
    if (writes_left > 0) --writes_left;
    return true;
  }
  slot* find(std::string_view key) noexcept {
    for (auto& s : slots)
      if (s.used && key == s.key) return &s;
    return nullptr;
  }
  std::size_t used() const noexcept {
    std::size_t n = 0;
    for (const auto& s : slots) n += s.used ? 1 : 0;
    return n;
  }
  tbmqtt::result<std::size_t> load(std::string_view key, tbmqtt::span<std::byte> out) noexcept override {
    if (!powered) return errc::transport_error;
    slot* s = find(key);
    if (s == nullptr) return errc::no_match;
    if (s->size > out.size()) return errc::not_enough_space;
    std::memcpy(out.data(), s->value, s->size);
    return s->size;
  }
  tbmqtt::result<void> store(std::string_view key, tbmqtt::span<const std::byte> value) noexcept override {
    if (!write_allowed()) return errc::transport_error;
    slot* s = find(key);
    for (auto& candidate : slots)
      if (s == nullptr && !candidate.used) s = &candidate;
    if (s == nullptr || value.size() > sizeof s->value) return errc::not_enough_space;
    std::memset(s->key, 0, sizeof s->key);
    std::memcpy(s->key, key.data(), key.size());
    std::memcpy(s->value, value.data(), value.size());
    s->size = value.size();
    s->used = true;
    ++stores;
    return {};
  }
  tbmqtt::result<void> erase(std::string_view key) noexcept override {
    if (!write_allowed()) return errc::transport_error;
    if (slot* s = find(key)) s->used = false;
    return {};
  }
};

// Records on_forwarded outcomes (the fake_transport's recorder does not know them).
struct forward_log final : tbmqtt::session_events {
  struct outcome {
    tbmqtt::message_id ticket;
    errc e;
  } outcomes[64];
  std::size_t count = 0;
  std::size_t ready = 0;
  void on_forwarded(tbmqtt::message_id ticket, errc e) noexcept override {
    if (count < 64) outcomes[count] = {ticket, e};
    ++count;
  }
  void on_ready() noexcept override { ++ready; }
  std::size_t with(errc e) const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < count && i < 64; ++i) n += outcomes[i].e == e ? 1 : 0;
    return n;
  }
};

using queue8 = tbmqtt::static_offline_queue<8, 128>;

offline_queue_config limits(std::size_t messages, queue_full_policy policy = queue_full_policy::drop_oldest) {
  offline_queue_config c;
  c.max_messages = messages;
  c.when_full = policy;
  return c;
}

// A session with a queue over `disk`, as a device has after a (re)start.
struct device {
  tbmqtt_test::fake_transport port;
  forward_log events;
  tbmqtt::session s{port, events};
  queue8 queue;
  explicit device(crash_storage& disk, offline_queue_config config = limits(8)) : queue(disk, config) {
    EXPECT_TRUE(queue.open().ok());
    s.set_offline_queue(&queue);
  }
  void connect(std::uint32_t now_ms = 0) {
    const std::size_t from = port.subscribe_count;
    s.on_connected(now_ms);
    for (std::size_t i = from; i < port.recorded_subscribes(); ++i) s.on_suback(port.subscribes[i].id, 1);
  }
  tbmqtt::result<tbmqtt::message_id> send(std::string_view json) { return s.publish_telemetry(json, qos::at_least_once); }
  // PUBACKs every publish recorded from index `from` on.
  void ack_from(std::size_t from) {
    for (std::size_t i = from; i < port.recorded_publishes(); ++i) s.on_puback(port.publishes[i].id);
  }
};

// "{"n":<i>}" in `buf`.
std::string_view doc(char (&buf)[24], int i) {
  const int n = std::snprintf(buf, sizeof buf, "{\"n\":%d}", i);
  return {buf, static_cast<std::size_t>(n)};
}

}  // namespace

TEST(offline_queue, messages_published_offline_are_stored_and_sent_in_order_once_ready) {
  crash_storage disk;
  device d{disk};
  ASSERT_TRUE(d.send("{\"n\":1}").ok());
  ASSERT_TRUE(d.s.publish_attributes("{\"fw\":\"1.0\"}", qos::at_least_once).ok());
  ASSERT_TRUE(d.send("{\"n\":3}").ok());
  EXPECT_EQ(d.port.publish_count, 0u);  // nothing handed to the transport while offline
  EXPECT_EQ(disk.used(), 3u);
  EXPECT_EQ(d.queue.size(), 3u);

  d.connect();
  ASSERT_EQ(d.port.publish_count, 3u);
  EXPECT_EQ(d.port.topic(0), telemetry_topic);
  EXPECT_EQ(d.port.payload(0), "{\"n\":1}");
  EXPECT_EQ(d.port.topic(1), attributes_topic);
  EXPECT_EQ(d.port.payload(1), "{\"fw\":\"1.0\"}");
  EXPECT_EQ(d.port.payload(2), "{\"n\":3}");
  EXPECT_EQ(d.port.publishes[0].q, qos::at_least_once);
  EXPECT_EQ(disk.used(), 3u);  // sent is not delivered: erased only on PUBACK

  d.s.on_puback(d.port.publishes[1].id);
  EXPECT_EQ(disk.used(), 2u);
  ASSERT_EQ(d.events.count, 1u);
  EXPECT_EQ(d.events.outcomes[0].e, errc{});
  d.ack_from(0);
  EXPECT_EQ(disk.used(), 0u);
  EXPECT_TRUE(d.queue.empty());
  EXPECT_EQ(d.events.with(errc{}), 3u);
}

TEST(offline_queue, publish_returns_the_ticket_that_on_forwarded_reports) {
  crash_storage disk;
  device d{disk};
  auto first = d.send("{\"a\":1}");
  auto second = d.send("{\"a\":2}");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*first, *second);
  d.connect();
  d.s.on_puback(d.port.publishes[1].id);
  d.s.on_puback(d.port.publishes[0].id);
  ASSERT_EQ(d.events.count, 2u);
  EXPECT_EQ(d.events.outcomes[0].ticket, *second);
  EXPECT_EQ(d.events.outcomes[1].ticket, *first);
}

TEST(offline_queue, a_restart_recovers_the_unacknowledged_messages_in_order) {
  crash_storage disk;
  {
    device before{disk};
    for (int i = 0; i < 5; ++i) {
      char buf[24];
      ASSERT_TRUE(before.send(doc(buf, i)).ok());
    }
    before.connect();
    before.s.on_puback(before.port.publishes[0].id);  // only the first one arrived
  }
  device after{disk};
  EXPECT_EQ(after.queue.size(), 4u);
  after.connect();
  ASSERT_EQ(after.port.publish_count, 4u);
  for (int i = 0; i < 4; ++i) {
    char buf[24];
    EXPECT_EQ(after.port.payload(static_cast<std::size_t>(i)), doc(buf, i + 1));
  }
  // New messages keep counting after the recovered ones.
  ASSERT_TRUE(after.send("{\"n\":5}").ok());
  EXPECT_EQ(after.port.last_payload(), "{\"n\":5}");
}

TEST(offline_queue, new_messages_while_draining_wait_behind_the_queue) {
  crash_storage disk;
  offline_queue_config config = limits(8);
  config.max_in_flight = 2;
  device d{disk, config};
  ASSERT_TRUE(d.send("{\"n\":0}").ok());
  ASSERT_TRUE(d.send("{\"n\":1}").ok());
  ASSERT_TRUE(d.send("{\"n\":2}").ok());
  d.connect();
  EXPECT_EQ(d.port.publish_count, 2u);  // the window
  ASSERT_TRUE(d.send("{\"n\":3}").ok());
  EXPECT_EQ(d.port.publish_count, 2u);  // not ahead of n:2
  d.s.on_puback(d.port.publishes[0].id);
  ASSERT_EQ(d.port.publish_count, 3u);
  EXPECT_EQ(d.port.payload(2), "{\"n\":2}");
  d.s.on_puback(d.port.publishes[1].id);
  ASSERT_EQ(d.port.publish_count, 4u);
  EXPECT_EQ(d.port.payload(3), "{\"n\":3}");
}

TEST(offline_queue, refuse_policy_fails_with_queue_full_and_keeps_the_queue) {
  crash_storage disk;
  device d{disk, limits(2, queue_full_policy::refuse)};
  ASSERT_TRUE(d.send("{\"n\":0}").ok());
  ASSERT_TRUE(d.send("{\"n\":1}").ok());
  auto third = d.send("{\"n\":2}");
  EXPECT_EQ(third.error(), errc::queue_full);
  EXPECT_EQ(d.queue.size(), 2u);
  EXPECT_EQ(d.queue.dropped(), 0u);
  EXPECT_EQ(disk.stores, 2u);
  d.connect();
  EXPECT_EQ(d.port.payload(0), "{\"n\":0}");
  EXPECT_EQ(d.port.payload(1), "{\"n\":1}");
}

TEST(offline_queue, drop_oldest_policy_drops_counts_and_reports_the_oldest) {
  crash_storage disk;
  device d{disk, limits(2, queue_full_policy::drop_oldest)};
  auto oldest = d.send("{\"n\":0}");
  ASSERT_TRUE(oldest.ok());
  ASSERT_TRUE(d.send("{\"n\":1}").ok());
  ASSERT_TRUE(d.send("{\"n\":2}").ok());
  EXPECT_EQ(d.queue.size(), 2u);
  EXPECT_EQ(d.queue.dropped(), 1u);
  ASSERT_EQ(d.events.count, 1u);
  EXPECT_EQ(d.events.outcomes[0].ticket, *oldest);
  EXPECT_EQ(d.events.outcomes[0].e, errc::queue_full);
  device after{disk, limits(2)};  // the drop is persistent too
  after.connect();
  ASSERT_EQ(after.port.publish_count, 2u);
  EXPECT_EQ(after.port.payload(0), "{\"n\":1}");
  EXPECT_EQ(after.port.payload(1), "{\"n\":2}");
}

TEST(offline_queue, byte_limit_drops_as_many_old_messages_as_needed) {
  crash_storage disk;
  offline_queue_config config = limits(8);
  config.max_bytes = 20;
  device d{disk, config};
  ASSERT_TRUE(d.send("{\"n\":0}").ok());  // 7 bytes
  ASSERT_TRUE(d.send("{\"n\":1}").ok());  // 14
  ASSERT_TRUE(d.send("{\"n\":\"abcdefgh\"}").ok());  // 16: both older ones must go
  EXPECT_EQ(d.queue.dropped(), 2u);
  EXPECT_EQ(d.queue.bytes(), 16u);
  EXPECT_EQ(d.s.publish_telemetry("{\"n\":\"abcdefghijklmnopqrstu\"}", qos::at_least_once).error(),
            errc::payload_too_large);  // larger than max_bytes on its own
  EXPECT_EQ(d.queue.size(), 1u);
}

TEST(offline_queue, payload_larger_than_the_record_buffer_is_refused) {
  crash_storage disk;
  tbmqtt::static_offline_queue<4, 8> small{disk};
  ASSERT_TRUE(small.open().ok());
  forward_log events;
  EXPECT_EQ(small.push(stored_topic::telemetry, "{\"n\":123}", events).error(), errc::payload_too_large);
  EXPECT_TRUE(small.push(stored_topic::telemetry, "{\"n\":1}", events).ok());
  EXPECT_EQ(disk.stores, 1u);
}

TEST(offline_queue, push_before_open_fails_with_not_connected) {
  crash_storage disk;
  queue8 q{disk};
  forward_log events;
  EXPECT_EQ(q.push(stored_topic::telemetry, "{}", events).error(), errc::not_connected);
}

TEST(offline_queue, storage_failure_on_push_is_reported_and_queues_nothing) {
  crash_storage disk;
  device d{disk};
  disk.writes_left = 0;
  EXPECT_EQ(d.send("{\"n\":0}").error(), errc::transport_error);
  EXPECT_TRUE(d.queue.empty());
  disk.power_on();
  crash_storage full;
  device f{full};
  for (auto& s : full.slots) s.used = true;  // no room on the medium
  EXPECT_EQ(f.send("{\"n\":0}").error(), errc::not_enough_space);
  EXPECT_TRUE(f.queue.empty());
}

TEST(offline_queue, open_fails_when_the_storage_fails) {
  crash_storage disk;
  disk.powered = false;
  queue8 q{disk};
  EXPECT_EQ(q.open().error(), errc::transport_error);
}

TEST(offline_queue, damaged_records_are_erased_counted_and_the_rest_recovered) {
  crash_storage disk;
  {
    device before{disk};
    ASSERT_TRUE(before.send("{\"n\":0}").ok());
    ASSERT_TRUE(before.send("{\"n\":1}").ok());
    ASSERT_TRUE(before.send("{\"n\":2}").ok());
  }
  crash_storage::slot* middle = disk.find("tbq1");
  ASSERT_NE(middle, nullptr);
  middle->value[offline_queue::header_size + 1] = std::byte{'X'};  // payload no longer matches its CRC
  crash_storage::slot* last = disk.find("tbq2");
  ASSERT_NE(last, nullptr);
  last->value[0] = std::byte{'Z'};  // not a record at all
  device after{disk};
  EXPECT_EQ(after.queue.size(), 1u);
  EXPECT_EQ(after.queue.corrupt(), 2u);
  EXPECT_EQ(disk.used(), 1u);
  after.connect();
  ASSERT_EQ(after.port.publish_count, 1u);
  EXPECT_EQ(after.port.payload(0), "{\"n\":0}");
}

TEST(offline_queue, a_record_damaged_after_open_is_dropped_as_malformed_and_the_next_one_sent) {
  crash_storage disk;
  device d{disk};
  auto first = d.send("{\"n\":0}");
  ASSERT_TRUE(d.send("{\"n\":1}").ok());
  disk.find("tbq0")->value[offline_queue::header_size] = std::byte{'['};
  d.connect();
  ASSERT_EQ(d.port.publish_count, 1u);
  EXPECT_EQ(d.port.payload(0), "{\"n\":1}");
  ASSERT_EQ(d.events.count, 1u);
  EXPECT_EQ(d.events.outcomes[0].ticket, *first);
  EXPECT_EQ(d.events.outcomes[0].e, errc::malformed);
  EXPECT_EQ(d.queue.corrupt(), 1u);
}

TEST(offline_queue, a_busy_transport_is_retried_on_tick) {
  crash_storage disk;
  device d{disk};
  ASSERT_TRUE(d.send("{\"n\":0}").ok());
  d.port.fail_next_publish(errc::again);
  d.connect(100);
  EXPECT_EQ(d.port.publish_count, 0u);
  EXPECT_EQ(d.queue.size(), 1u);
  d.s.tick(110);
  ASSERT_EQ(d.port.publish_count, 1u);
  EXPECT_EQ(d.port.payload(0), "{\"n\":0}");
}

TEST(offline_queue, in_flight_messages_of_a_lost_connection_are_left_to_the_transport_then_resent) {
  crash_storage disk;
  offline_queue_config config = limits(8);
  config.resend_after_ms = 1000;
  device d{disk, config};
  ASSERT_TRUE(d.send("{\"n\":0}").ok());
  d.connect(0);
  ASSERT_EQ(d.port.publish_count, 1u);
  const tbmqtt::message_id old_id = d.port.publishes[0].id;
  d.s.on_disconnected();
  ASSERT_TRUE(d.send("{\"n\":1}").ok());
  d.connect(5000);
  EXPECT_EQ(d.port.publish_count, 1u);  // n:1 waits: n:0 may still be resent by the transport
  // The transport resent it under its old id and the PUBACK arrives: n:1 follows at once.
  d.s.on_puback(old_id);
  ASSERT_EQ(d.port.publish_count, 2u);
  EXPECT_EQ(d.port.payload(1), "{\"n\":1}");

  // A transport that lost it: sent again after resend_after_ms, still before newer ones.
  d.s.on_disconnected();
  ASSERT_TRUE(d.send("{\"n\":2}").ok());
  d.connect(10000);
  EXPECT_EQ(d.port.publish_count, 2u);
  d.s.tick(10999);
  EXPECT_EQ(d.port.publish_count, 2u);
  d.s.tick(11000);
  ASSERT_EQ(d.port.publish_count, 4u);
  EXPECT_EQ(d.port.payload(2), "{\"n\":1}");
  EXPECT_EQ(d.port.payload(3), "{\"n\":2}");
}

TEST(offline_queue, qos0_and_other_messages_bypass_the_queue) {
  crash_storage disk;
  device d{disk};
  EXPECT_EQ(d.s.publish_telemetry("{\"n\":0}", qos::at_most_once).error(), errc::not_connected);
  d.connect();
  ASSERT_TRUE(d.s.publish_telemetry("{\"n\":0}", qos::at_most_once).ok());
  ASSERT_TRUE(d.s.claim("secret", 0).ok());
  EXPECT_EQ(disk.stores, 0u);
  EXPECT_EQ(d.port.publish_count, 2u);
}

TEST(offline_queue, payload_over_the_session_cap_is_refused_before_storing) {
  crash_storage disk;
  tbmqtt_test::fake_transport port;
  forward_log events;
  tbmqtt::session_config config;
  config.max_payload = 4;
  tbmqtt::session s{port, events, config};
  queue8 q{disk};
  ASSERT_TRUE(q.open().ok());
  s.set_offline_queue(&q);
  EXPECT_EQ(s.publish_telemetry("{\"n\":1}", qos::at_least_once).error(), errc::payload_too_large);
  EXPECT_EQ(disk.stores, 0u);
}

// The crash contract at every point: the storage loses power after `budget` writes in a run of
// pushes, sends and acknowledgements. After the restart, every accepted message that was not
// acknowledged is there, nothing else, in order.
TEST(offline_queue, after_a_crash_at_any_write_no_accepted_unacknowledged_message_is_lost) {
  for (long budget = 0; budget < 24; ++budget) {
    crash_storage disk;
    bool accepted[12] = {};
    bool acknowledged[12] = {};
    {
      device d{disk, limits(8, queue_full_policy::refuse)};
      disk.writes_left = budget;
      for (int i = 0; i < 12; ++i) {
        char buf[24];
        accepted[i] = d.send(doc(buf, i)).ok();
        if (i == 5) d.connect();
        if (i >= 5 && i % 2 == 1) {  // a PUBACK for every publish so far
          for (std::size_t p = 0; p < d.port.recorded_publishes(); ++p) {
            const auto& rec = d.port.publishes[p];
            int n = 0;
            if (std::sscanf(rec.payload.view().data(), "{\"n\":%d}", &n) == 1) acknowledged[n] = true;
            d.s.on_puback(rec.id);
          }
        }
      }
    }
    disk.power_on();
    device after{disk, limits(8)};
    after.connect();
    int last = -1;
    bool seen[12] = {};
    for (std::size_t p = 0; p < after.port.recorded_publishes(); ++p) {
      int n = -1;
      ASSERT_EQ(std::sscanf(after.port.publishes[p].payload.view().data(), "{\"n\":%d}", &n), 1);
      ASSERT_GE(n, 0);
      ASSERT_LT(n, 12);
      EXPECT_TRUE(accepted[n]) << "budget " << budget << ": message " << n << " was never accepted";
      EXPECT_GT(n, last) << "budget " << budget << ": out of order";
      last = n;
      seen[n] = true;
    }
    for (int n = 0; n < 12; ++n) {
      if (accepted[n] && !acknowledged[n]) {
        EXPECT_TRUE(seen[n]) << "budget " << budget << ": lost message " << n;
      }
    }
  }
}

// ---- rate-limit pacing of the queue (tbmqtt/rate_limit.hpp) --------------------------------------

namespace {

// Publishes recorded on `topic` from index `from`.
std::size_t publishes_on(const tbmqtt_test::fake_transport& port, std::string_view topic, std::size_t from = 0) {
  std::size_t n = 0;
  for (std::size_t i = from; i < port.recorded_publishes(); ++i) n += port.topic(i) == topic ? 1 : 0;
  return n;
}

}  // namespace

TEST(offline_queue, queued_messages_wait_for_the_rate_limit_and_keep_their_order) {
  crash_storage disk;
  device d{disk};
  tbmqtt::rate_limiter limiter;
  ASSERT_TRUE(limiter.set(tbmqtt::rate_limit_kind::messages, "2:1", 0).ok());
  d.s.set_rate_limiter(&limiter);
  for (int i = 0; i < 6; ++i) {
    char buf[24];
    ASSERT_TRUE(d.send(doc(buf, i)).ok());
  }
  d.connect(0);
  EXPECT_EQ(d.port.publish_count, 1u);  // the burst of a 2:1 rule is 1
  std::uint32_t sent_at[8] = {};
  std::size_t seen = 1;
  for (std::uint32_t t = 1; t <= 10000 && seen < 6; ++t) {
    d.s.tick(t);
    d.ack_from(seen);  // acknowledged at once: only the limit holds them back
    for (; seen < d.port.publish_count; ++seen) sent_at[seen] = t;
  }
  ASSERT_EQ(d.port.publish_count, 6u);
  for (int i = 0; i < 6; ++i) {
    char buf[24];
    EXPECT_EQ(d.port.payload(static_cast<std::size_t>(i)), doc(buf, i));
  }
  for (std::size_t i = 2; i < 6; ++i) EXPECT_GE(sent_at[i] - sent_at[i - 2], 1000u) << i;  // never 3 in a second
}

TEST(offline_queue, session_limits_are_learned_on_connect_and_the_queue_waits_for_them) {
  crash_storage disk;
  tbmqtt_test::fake_transport port;
  forward_log events;
  tbmqtt::session_config config;
  config.learn_session_limits = true;
  tbmqtt::session s{port, events, config};
  queue8 queue{disk};
  ASSERT_TRUE(queue.open().ok());
  s.set_offline_queue(&queue);
  tbmqtt::rate_limiter limiter;
  s.set_rate_limiter(&limiter);
  ASSERT_TRUE(s.publish_telemetry("{\"n\":0}", qos::at_least_once).ok());
  ASSERT_TRUE(s.publish_telemetry("{\"n\":1}", qos::at_least_once).ok());
  s.on_connected(0);
  for (std::size_t i = 0; i < port.recorded_subscribes(); ++i) s.on_suback(port.subscribes[i].id, 1);
  ASSERT_EQ(port.publish_count, 1u);  // only the question
  EXPECT_EQ(port.topic(0).substr(0, 26), "v1/devices/me/rpc/request/");
  EXPECT_EQ(port.payload(0), "{\"method\":\"getSessionLimits\",\"params\":{}}");
  const std::string_view id = port.topic(0).substr(26);
  char response_topic[64] = "v1/devices/me/rpc/response/";
  std::memcpy(response_topic + 27, id.data(), id.size());
  s.on_message({response_topic, 27 + id.size()},
               tbmqtt_test::bytes(R"({"maxPayloadSize":4096,"maxInflightMessages":100,"rateLimits":)"
                                  R"({"messages":"10:1,300:60","telemetryMessages":"2:1","telemetryDataPoints":null}})"),
               5);
  EXPECT_EQ(s.config().max_payload, 4096u);
  ASSERT_EQ(limiter.buckets(tbmqtt::rate_limit_kind::messages).size(), 2u);
  ASSERT_EQ(limiter.buckets(tbmqtt::rate_limit_kind::telemetry_messages).size(), 1u);
  EXPECT_EQ(limiter.buckets(tbmqtt::rate_limit_kind::telemetry_data_points).size(), 0u);
  EXPECT_EQ(publishes_on(port, telemetry_topic), 1u);  // released, paced by telemetryMessages 2:1
  s.tick(2000);
  EXPECT_EQ(publishes_on(port, telemetry_topic), 2u);
  EXPECT_EQ(s.pending_requests(), 0u);
}

TEST(offline_queue, an_unanswered_session_limits_request_releases_the_queue_after_the_timeout) {
  crash_storage disk;
  tbmqtt_test::fake_transport port;
  forward_log events;
  tbmqtt::session_config config;
  config.learn_session_limits = true;
  config.request_timeout_ms = 500;
  tbmqtt::session s{port, events, config};
  queue8 queue{disk};
  ASSERT_TRUE(queue.open().ok());
  s.set_offline_queue(&queue);
  tbmqtt::rate_limiter limiter;
  s.set_rate_limiter(&limiter);
  ASSERT_TRUE(s.publish_telemetry("{\"n\":0}", qos::at_least_once).ok());
  s.on_connected(0);
  for (std::size_t i = 0; i < port.recorded_subscribes(); ++i) s.on_suback(port.subscribes[i].id, 1);
  EXPECT_EQ(publishes_on(port, telemetry_topic), 0u);
  s.tick(499);
  EXPECT_EQ(publishes_on(port, telemetry_topic), 0u);
  s.tick(500);
  EXPECT_EQ(publishes_on(port, telemetry_topic), 1u);
  EXPECT_FALSE(limiter.active());
}

TEST(offline_queue, asked_not_to_wait_a_publish_over_the_limit_fails_with_again) {
  crash_storage disk;
  tbmqtt_test::fake_transport port;
  forward_log events;
  tbmqtt::session_config config;
  config.fail_when_rate_limited = true;
  tbmqtt::session s{port, events, config};
  tbmqtt::rate_limiter limiter;
  ASSERT_TRUE(limiter.set(tbmqtt::rate_limit_kind::telemetry_messages, "2:1", 0).ok());
  s.set_rate_limiter(&limiter);
  s.on_connected(0);
  for (std::size_t i = 0; i < port.recorded_subscribes(); ++i) s.on_suback(port.subscribes[i].id, 1);
  ASSERT_TRUE(s.publish_telemetry("{\"n\":0}", qos::at_least_once).ok());
  EXPECT_EQ(s.publish_telemetry("{\"n\":1}", qos::at_least_once).error(), errc::again);
  EXPECT_TRUE(s.publish_attributes("{\"a\":1}", qos::at_least_once).ok());  // not telemetry
  s.tick(1200);
  EXPECT_TRUE(s.publish_telemetry("{\"n\":1}", qos::at_least_once).ok());
  EXPECT_EQ(publishes_on(port, telemetry_topic), 2u);
}

TEST(offline_queue, messages_outside_the_queue_are_counted_against_the_limit) {
  crash_storage disk;
  device d{disk};
  tbmqtt::rate_limiter limiter;
  ASSERT_TRUE(limiter.set(tbmqtt::rate_limit_kind::messages, "2:1", 0).ok());
  d.s.set_rate_limiter(&limiter);
  d.connect(0);
  ASSERT_TRUE(d.s.claim("secret", 0).ok());  // takes the one-message burst
  ASSERT_TRUE(d.send("{\"n\":0}").ok());
  EXPECT_EQ(publishes_on(d.port, telemetry_topic), 0u);
  d.s.tick(1000);
  EXPECT_EQ(publishes_on(d.port, telemetry_topic), 1u);
}
