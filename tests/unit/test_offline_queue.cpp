// Tests of src/core/offline_queue.cpp: the persistent store-and-forward FIFO kept as a log, alone
// and driven by a session over the fake transport, over an in-memory segment store that can
// "lose power" after N operations (tests/unit/crash_log.hpp) to prove the crash contract at every
// point. The log over small blobs (kv_segment_store) is tested in test_segment_store.cpp, the
// publisher's pacing of the queue in test_publisher.cpp.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "crash_log.hpp"
#include "fake_transport.hpp"
#include "queue_rig.hpp"
#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/session.hpp"

using tbmqtt::errc;
using tbmqtt::ioffline_queue;
using tbmqtt::offline_queue_config;
using tbmqtt::qos;
using tbmqtt::queue_full_policy;
using tbmqtt::stored_topic;
using tbmqtt_test::crash_log;
using tbmqtt_test::power_loss;

using namespace tbmqtt_test::queue_rig;

TEST(offline_queue, messages_published_offline_are_stored_and_sent_in_order_once_ready) {
  crash_log disk;
  device d{disk};
  ASSERT_TRUE(d.send("{\"n\":1}").ok());
  ASSERT_TRUE(d.s.publish_attributes("{\"fw\":\"1.0\"}", qos::at_least_once).ok());
  ASSERT_TRUE(d.send("{\"n\":3}").ok());
  EXPECT_EQ(d.port.publish_count, 0u);  // nothing handed to the transport while offline
  EXPECT_EQ(d.queue.size(), 3u);
  EXPECT_EQ(disk.syncs, 4u);  // open, then one commit per push (commit_records = 1)

  d.connect();
  ASSERT_EQ(d.port.publish_count, 3u);
  EXPECT_EQ(d.port.topic(0), telemetry_topic);
  EXPECT_EQ(d.port.payload(0), "{\"n\":1}");
  EXPECT_EQ(d.port.topic(1), attributes_topic);
  EXPECT_EQ(d.port.payload(1), "{\"fw\":\"1.0\"}");
  EXPECT_EQ(d.port.payload(2), "{\"n\":3}");
  EXPECT_EQ(d.port.publishes[0].q, qos::at_least_once);
  EXPECT_EQ(d.queue.size(), 3u);  // sent is not delivered: done only on PUBACK

  d.s.on_puback(d.port.publishes[1].id);
  EXPECT_EQ(d.queue.size(), 2u);
  EXPECT_EQ(d.queue.watermark(), 0u);  // n:1 is not acknowledged yet
  ASSERT_EQ(d.events.count, 1u);
  EXPECT_EQ(d.events.outcomes[0].e, errc{});
  d.ack_from(0);
  EXPECT_EQ(d.queue.watermark(), 3u);
  EXPECT_TRUE(d.queue.empty());
  EXPECT_EQ(d.events.with(errc{}), 3u);
}

TEST(offline_queue, publish_returns_the_ticket_that_on_delivered_reports) {
  crash_log disk;
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
  crash_log disk;
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
  crash_log disk;
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
  crash_log disk;
  device d{disk, limits(2, queue_full_policy::refuse)};
  ASSERT_TRUE(d.send("{\"n\":0}").ok());
  ASSERT_TRUE(d.send("{\"n\":1}").ok());
  auto third = d.send("{\"n\":2}");
  EXPECT_EQ(third.error(), errc::queue_full);
  EXPECT_EQ(d.queue.size(), 2u);
  EXPECT_EQ(d.queue.dropped(), 0u);
  EXPECT_EQ(d.queue.next_sequence(), 2u);
  d.connect();
  EXPECT_EQ(d.port.payload(0), "{\"n\":0}");
  EXPECT_EQ(d.port.payload(1), "{\"n\":1}");
}

TEST(offline_queue, drop_oldest_policy_drops_counts_and_reports_the_oldest) {
  crash_log disk;
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

// Issue 16: drop_oldest never drops a message in flight (its PUBACK may still come): it drops the
// oldest one not sent yet, and when only messages in flight are left the push fails instead.
TEST(offline_queue, drop_oldest_never_drops_a_message_in_flight) {
  crash_log disk;
  offline_queue_config config = limits(3, queue_full_policy::drop_oldest);
  config.max_in_flight = 2;
  device d{disk, config};
  tbmqtt::delivery_ticket tickets[6];
  for (int i = 0; i < 3; ++i) {
    char buf[24];
    auto t = d.send(doc(buf, i));
    ASSERT_TRUE(t.ok());
    tickets[i] = *t;
  }
  d.connect();
  ASSERT_EQ(d.port.publish_count, 2u);  // n:0 and n:1 in flight, n:2 waits for the window
  EXPECT_EQ(d.queue.in_flight(), 2u);
  auto t3 = d.send("{\"n\":3}");  // full: n:2 (the oldest not sent) goes, not n:0
  ASSERT_TRUE(t3.ok());
  tickets[3] = *t3;
  EXPECT_EQ(d.queue.dropped(), 1u);
  ASSERT_EQ(d.events.count, 1u);
  EXPECT_EQ(d.events.outcomes[0].ticket, tickets[2]);
  EXPECT_EQ(d.events.outcomes[0].e, errc::queue_full);
  auto t4 = d.send("{\"n\":4}");  // n:3 goes
  ASSERT_TRUE(t4.ok());
  tickets[4] = *t4;
  ASSERT_EQ(d.events.count, 2u);
  EXPECT_EQ(d.events.outcomes[1].ticket, tickets[3]);
  EXPECT_EQ(d.queue.size(), 3u);
  EXPECT_EQ(d.port.publish_count, 2u);
  // The messages in flight are acknowledged as delivered; n:4 goes out on the way.
  d.s.on_puback(d.port.publishes[0].id);
  ASSERT_EQ(d.port.publish_count, 3u);
  EXPECT_EQ(d.port.payload(2), "{\"n\":4}");
  d.ack_from(1);
  EXPECT_TRUE(d.queue.empty());
  EXPECT_EQ(d.events.with(errc{}), 3u);
  EXPECT_EQ(d.events.with(errc::queue_full), 2u);
  for (tbmqtt::delivery_ticket t : {tickets[0], tickets[1], tickets[4]}) {
    bool delivered = false;
    for (std::size_t i = 0; i < d.events.count; ++i)
      delivered |= d.events.outcomes[i].ticket == t && d.events.outcomes[i].e == errc{};
    EXPECT_TRUE(delivered) << tbmqtt::to_underlying(t);
  }
  // After a restart nothing comes back: the drops are persistent, the watermark passed them.
  device after{disk, config};
  EXPECT_TRUE(after.queue.empty());
}

TEST(offline_queue, drop_oldest_fails_the_push_when_only_messages_in_flight_are_left) {
  crash_log disk;
  device d{disk, limits(2, queue_full_policy::drop_oldest)};
  d.connect();
  auto a = d.send("{\"n\":0}");
  auto b = d.send("{\"n\":1}");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(d.queue.in_flight(), 2u);
  EXPECT_EQ(d.send("{\"n\":2}").error(), errc::queue_full);
  EXPECT_EQ(d.queue.dropped(), 0u);
  EXPECT_EQ(d.events.count, 0u);  // nothing lost
  d.s.on_puback(d.port.publishes[0].id);
  ASSERT_EQ(d.events.count, 1u);
  EXPECT_EQ(d.events.outcomes[0].ticket, *a);
  EXPECT_EQ(d.events.outcomes[0].e, errc{});
  EXPECT_TRUE(d.send("{\"n\":2}").ok());  // room again
}

TEST(offline_queue, byte_limit_drops_as_many_old_messages_as_needed) {
  crash_log disk;
  offline_queue_config config = limits(8);
  config.max_bytes = 20;
  device d{disk, config};
  ASSERT_TRUE(d.send("{\"n\":0}").ok());             // 7 bytes
  ASSERT_TRUE(d.send("{\"n\":1}").ok());             // 14
  ASSERT_TRUE(d.send("{\"n\":\"abcdefgh\"}").ok());  // 16: both older ones must go
  EXPECT_EQ(d.queue.dropped(), 2u);
  EXPECT_EQ(d.queue.bytes(), 16u);
  EXPECT_EQ(d.s.publish_telemetry("{\"n\":\"abcdefghijklmnopqrstu\"}", qos::at_least_once).error(),
            errc::payload_too_large);  // larger than max_bytes on its own
  EXPECT_EQ(d.queue.size(), 1u);
}

TEST(offline_queue, payload_larger_than_the_record_buffer_is_refused) {
  crash_log disk;
  tbmqtt::offline_queue<4, 8> small{disk};
  ASSERT_TRUE(small.open().ok());
  EXPECT_EQ(small.push(stored_topic::telemetry, "{\"n\":123}").error(), errc::payload_too_large);
  EXPECT_TRUE(small.push(stored_topic::telemetry, "{\"n\":1}").ok());
  EXPECT_EQ(small.size(), 1u);
}

TEST(offline_queue, push_before_open_fails_with_not_open) {
  crash_log disk;
  queue8 q{disk};
  EXPECT_EQ(q.push(stored_topic::telemetry, "{}").error(), errc::not_open);
}

TEST(offline_queue, storage_failure_on_push_is_reported_and_queues_nothing) {
  crash_log disk;
  device d{disk};
  disk.ops_left = 0;
  EXPECT_EQ(d.send("{\"n\":0}").error(), errc::storage_error);
  EXPECT_TRUE(d.queue.empty());
  disk.power_on();
  crash_log small;
  offline_queue_config config = limits(400);
  config.segment_bytes = 8192;  // larger than the medium's segments: the medium fills up
  device f{small, config};
  tbmqtt::result<tbmqtt::delivery_ticket> last = errc::again;
  std::size_t accepted = 0;
  for (int i = 0; i < 400 && (last = f.send("{\"n\":\"filling the segment up\"}")).ok(); ++i) ++accepted;
  EXPECT_EQ(last.error(), errc::not_enough_space);
  EXPECT_EQ(f.queue.size(), accepted);
}

TEST(offline_queue, open_fails_when_the_storage_fails) {
  crash_log disk;
  disk.powered = false;
  queue8 q{disk};
  EXPECT_EQ(q.open().error(), errc::storage_error);
}

// A log cannot trust anything after a damaged record of a segment: the recovery keeps what
// comes before, counts the damage, and goes on with the next segment.
TEST(offline_queue, a_damaged_record_ends_its_segment_and_the_next_segments_are_recovered) {
  crash_log disk;
  {
    device before{disk};
    ASSERT_TRUE(before.send("{\"n\":0}").ok());
    ASSERT_TRUE(before.send("{\"n\":1}").ok());
    ASSERT_TRUE(before.send("{\"n\":2}").ok());
  }
  {
    device again{disk};  // a second run: a second segment
    ASSERT_TRUE(again.send("{\"n\":3}").ok());
  }
  crash_log::segment* first = disk.get(1);
  ASSERT_NE(first, nullptr);
  // Segment 1: start record, n:0, n:1, n:2 (header + 7 bytes each).
  const std::size_t second_record = ioffline_queue::header_size * 2 + 7;
  first->data[second_record + ioffline_queue::header_size + 1] = std::byte{'X'};  // n:1 fails its CRC
  device after{disk};
  EXPECT_EQ(after.queue.size(), 2u);
  EXPECT_EQ(after.queue.corrupt(), 1u);
  after.connect();
  ASSERT_EQ(after.port.publish_count, 2u);
  EXPECT_EQ(after.port.payload(0), "{\"n\":0}");
  EXPECT_EQ(after.port.payload(1), "{\"n\":3}");
}

TEST(offline_queue, a_record_damaged_after_open_is_dropped_as_malformed_and_the_next_one_sent) {
  crash_log disk;
  device d{disk};
  auto first = d.send("{\"n\":0}");
  ASSERT_TRUE(d.send("{\"n\":1}").ok());
  crash_log::segment* seg = disk.get(1);
  ASSERT_NE(seg, nullptr);
  seg->data[ioffline_queue::header_size * 2] = std::byte{'['};  // n:0's payload
  d.connect();
  ASSERT_EQ(d.port.publish_count, 1u);
  EXPECT_EQ(d.port.payload(0), "{\"n\":1}");
  ASSERT_EQ(d.events.count, 1u);
  EXPECT_EQ(d.events.outcomes[0].ticket, *first);
  EXPECT_EQ(d.events.outcomes[0].e, errc::malformed);
  EXPECT_EQ(d.queue.corrupt(), 1u);
}

TEST(offline_queue, a_busy_transport_is_retried_on_tick) {
  // Busy, out of memory for a moment (the MQTT library's allocation failed), offline, or a
  // transport not started (esp-mqtt before start() or after stop()): each keeps the message
  // stored and tries it again; none is a refusal of the message.
  for (errc busy : {errc::again, errc::out_of_memory, errc::not_connected, errc::not_open}) {
    crash_log disk;
    device d{disk};
    ASSERT_TRUE(d.send("{\"n\":0}").ok());
    d.port.fail_next_publish(busy);
    d.connect(100);
    EXPECT_EQ(d.port.publish_count, 0u) << tbmqtt::to_string(busy);
    EXPECT_EQ(d.queue.size(), 1u);
    EXPECT_EQ(d.events.count, 0u);  // no outcome: not dropped
    d.s.tick(110);
    ASSERT_EQ(d.port.publish_count, 1u);
    EXPECT_EQ(d.port.payload(0), "{\"n\":0}");
  }
}

TEST(offline_queue, in_flight_messages_of_a_lost_connection_are_left_to_the_transport_then_resent) {
  crash_log disk;
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
  crash_log disk;
  device d{disk};
  EXPECT_EQ(d.s.publish_telemetry("{\"n\":0}", qos::at_most_once).error(), errc::not_connected);
  d.connect();
  ASSERT_TRUE(d.s.publish_telemetry("{\"n\":0}", qos::at_most_once).ok());
  ASSERT_TRUE(d.s.claim("secret", 0).ok());
  EXPECT_EQ(d.queue.next_sequence(), 0u);
  EXPECT_EQ(d.port.publish_count, 2u);
}

TEST(offline_queue, payload_over_the_session_cap_is_refused_before_storing) {
  crash_log disk;
  tbmqtt_test::fake_transport port;
  forward_log events;
  tbmqtt::session_config config;
  config.max_payload = 4;
  tbmqtt::session s{port, events, config};
  queue8 q{disk};
  ASSERT_TRUE(q.open().ok());
  s.set_offline_queue(&q);
  EXPECT_EQ(s.publish_telemetry("{\"n\":1}", qos::at_least_once).error(), errc::payload_too_large);
  EXPECT_EQ(q.next_sequence(), 0u);
}

// The crash contract at every point: the medium loses power at each operation in turn (the
// write that meets the cut lands torn), during a run of pushes, sends and acknowledgements, and
// keeps all, none or half of what was not synced. After the restart every message that was
// committed (or, when the process alone died, accepted) and not acknowledged is there, nothing
// else, in order, and the sequence numbers continue above every one handed out before.
void crash_at_every_operation(std::uint32_t commit_records) {
  for (const power_loss loss : {power_loss::keep_all, power_loss::keep_synced, power_loss::torn}) {
    for (long budget = 0; budget < 48; ++budget) {
      crash_log disk;
      bool accepted[12] = {};
      int first_refused = 12;  // the push that met the cut may have reached the log anyway
      bool committed[12] = {};
      bool acknowledged[12] = {};
      std::uint64_t sent_sequences = 0;
      {
        offline_queue_config config = limits(8, queue_full_policy::refuse);
        config.commit_records = commit_records;
        config.segment_bytes = 96;  // a new segment every two messages
        device d{disk, config};
        disk.ops_left = budget;
        for (int i = 0; i < 12; ++i) {
          char buf[24];
          accepted[i] = d.send(doc(buf, i)).ok();
          if (!accepted[i] && first_refused == 12) first_refused = i;
          auto note_commit = [&] {
            if (d.queue.uncommitted() == 0)
              for (int j = 0; j <= i; ++j) committed[j] = accepted[j];
          };
          note_commit();
          if (i == 5) d.connect();
          if (i >= 5 && i % 2 == 1) {  // a PUBACK for every publish so far
            for (std::size_t p = 0; p < d.port.recorded_publishes(); ++p) {
              const auto& rec = d.port.publishes[p];
              int n = 0;
              if (std::sscanf(rec.payload.view().data(), "{\"n\":%d}", &n) == 1) acknowledged[n] = true;
              d.s.on_puback(rec.id);
            }
          }
          d.s.tick(static_cast<std::uint32_t>(i) * 20);  // the group commit's interval
          note_commit();
          for (std::size_t p = 0; p < d.port.recorded_publishes(); ++p) {
            int n = 0;
            ASSERT_EQ(std::sscanf(d.port.publishes[p].payload.view().data(), "{\"n\":%d}", &n), 1);
            EXPECT_TRUE(committed[n]) << "budget " << budget << ": message " << n << " sent before its commit";
            // Message n got sequence number n (every push before the cut reached the log).
            if (static_cast<std::uint64_t>(n) + 1 > sent_sequences) sent_sequences = static_cast<std::uint64_t>(n) + 1;
          }
        }
      }
      disk.power_on(loss);
      device after{disk, limits(8)};
      EXPECT_GE(after.queue.next_sequence(), sent_sequences) << "budget " << budget << ": sequence numbers went back";
      after.connect();
      int last = -1;
      bool seen[12] = {};
      for (std::size_t p = 0; p < after.port.recorded_publishes(); ++p) {
        int n = -1;
        ASSERT_EQ(std::sscanf(after.port.publishes[p].payload.view().data(), "{\"n\":%d}", &n), 1);
        ASSERT_GE(n, 0);
        ASSERT_LT(n, 12);
        EXPECT_TRUE(accepted[n] || n == first_refused)
            << "budget " << budget << ": message " << n << " was never accepted";
        EXPECT_GT(n, last) << "budget " << budget << ": out of order";
        last = n;
        seen[n] = true;
      }
      for (int n = 0; n < 12; ++n) {
        const bool kept = loss == power_loss::keep_all ? accepted[n] : committed[n];
        if (kept && !acknowledged[n]) {
          EXPECT_TRUE(seen[n]) << "budget " << budget << " loss " << static_cast<int>(loss) << ": lost message " << n;
        }
      }
    }
  }
}

TEST(offline_queue, after_a_crash_at_any_operation_no_committed_unacknowledged_message_is_lost) {
  crash_at_every_operation(1);
}

TEST(offline_queue, with_group_commit_a_crash_at_any_operation_loses_no_committed_message) {
  crash_at_every_operation(3);
}

TEST(offline_queue, group_commit_syncs_once_per_batch_and_sends_only_committed_messages) {
  crash_log disk;
  offline_queue_config config = limits(64);
  config.commit_records = 4;
  config.commit_interval_ms = 10;
  config.segment_bytes = 4096;
  device d{disk, config};
  d.connect(0);
  const std::size_t syncs_at_start = disk.syncs;
  for (int i = 0; i < 3; ++i) {
    char buf[24];
    ASSERT_TRUE(d.send(doc(buf, i)).ok());
  }
  EXPECT_EQ(d.port.publish_count, 0u);  // not committed yet: not sent
  EXPECT_EQ(d.queue.uncommitted(), 3u);
  char buf[24];
  ASSERT_TRUE(d.send(doc(buf, 3)).ok());  // the fourth: one sync for all four
  EXPECT_EQ(disk.syncs, syncs_at_start + 1);
  EXPECT_EQ(d.port.publish_count, 4u);
  ASSERT_TRUE(d.send(doc(buf, 4)).ok());
  d.s.tick(5);
  EXPECT_EQ(d.port.publish_count, 4u);  // waits at most commit_interval_ms
  d.s.tick(10);
  EXPECT_EQ(disk.syncs, syncs_at_start + 2);
  ASSERT_EQ(d.port.publish_count, 5u);
  EXPECT_EQ(d.port.payload(4), "{\"n\":4}");
  ASSERT_TRUE(d.send(doc(buf, 5)).ok());
  ASSERT_TRUE(d.queue.sync().ok());     // forced
  EXPECT_EQ(d.port.publish_count, 5u);  // sent on the next pump
  d.s.tick(11);
  EXPECT_EQ(d.port.publish_count, 6u);
}

TEST(offline_queue, sequence_numbers_only_grow_across_drains_and_restarts) {
  crash_log disk;
  std::uint64_t before = 0;
  {
    device d{disk};
    for (int i = 0; i < 3; ++i) {
      char buf[24];
      ASSERT_TRUE(d.send(doc(buf, i)).ok());
    }
    d.connect();
    d.ack_from(0);
    EXPECT_TRUE(d.queue.empty());
    before = d.queue.next_sequence();
    EXPECT_EQ(before, 3u);
  }
  for (int run = 0; run < 3; ++run) {  // restarts with an empty (drained) log
    device d{disk};
    EXPECT_TRUE(d.queue.empty());
    EXPECT_GE(d.queue.next_sequence(), before);
    before = d.queue.next_sequence();
  }
  device d{disk};
  auto ticket = d.send("{\"n\":9}");
  ASSERT_TRUE(ticket.ok());
  EXPECT_EQ(*ticket, tbmqtt::ticket_of(before));
  d.connect();
  ASSERT_EQ(d.port.publish_count, 1u);  // nothing acknowledged came back
  EXPECT_EQ(d.port.payload(0), "{\"n\":9}");
  EXPECT_LE(disk.count(), 2u);  // drained segments are removed
}

TEST(offline_queue, acknowledged_messages_are_not_sent_again_after_a_restart) {
  crash_log disk;
  {
    device d{disk};
    for (int i = 0; i < 6; ++i) {
      char buf[24];
      ASSERT_TRUE(d.send(doc(buf, i)).ok());
    }
    d.connect();
    for (std::size_t p = 0; p < 4; ++p) d.s.on_puback(d.port.publishes[p].id);
  }
  device after{disk};  // the watermark was written with the next operation (here: none): open()
  after.connect();
  ASSERT_EQ(after.port.publish_count, 2u);
  EXPECT_EQ(after.port.payload(0), "{\"n\":4}");
  EXPECT_EQ(after.port.payload(1), "{\"n\":5}");
}

// D3: a capacity change never strands records: the log is scanned whatever max_messages is.
TEST(offline_queue, messages_stored_with_a_larger_capacity_are_all_sent_after_a_smaller_one) {
  crash_log disk;
  {
    offline_queue_config big = limits(30);
    big.segment_bytes = 256;
    device d{disk, big};
    for (int i = 0; i < 30; ++i) {
      char buf[24];
      ASSERT_TRUE(d.send(doc(buf, i)).ok()) << i;
    }
  }
  device after{disk, limits(8)};
  EXPECT_EQ(after.queue.size(), 30u);
  after.connect();
  std::size_t from = 0;
  for (int round = 0; round < 20 && from < after.port.recorded_publishes(); ++round) {
    const std::size_t to = after.port.recorded_publishes();
    after.ack_from(from);
    from = to;
  }
  ASSERT_EQ(after.port.publish_count, 30u);
  for (int i = 0; i < 30; ++i) {
    char buf[24];
    EXPECT_EQ(after.port.payload(static_cast<std::size_t>(i)), doc(buf, i));
  }
  EXPECT_TRUE(after.queue.empty());
  EXPECT_LE(disk.count(), 2u);
}

// A full log pushed with drop_oldest while offline: the drop persists, order is kept.
TEST(offline_queue, dropped_messages_stay_dropped_after_a_restart) {
  crash_log disk;
  {
    device d{disk, limits(3)};
    for (int i = 0; i < 7; ++i) {
      char buf[24];
      ASSERT_TRUE(d.send(doc(buf, i)).ok());
    }
    EXPECT_EQ(d.queue.dropped(), 4u);
  }
  device after{disk, limits(3)};
  EXPECT_EQ(after.queue.size(), 3u);
  after.connect();
  ASSERT_EQ(after.port.publish_count, 3u);
  EXPECT_EQ(after.port.payload(0), "{\"n\":4}");
  EXPECT_EQ(after.port.payload(2), "{\"n\":6}");
}

TEST(offline_queue, telemetry_is_stamped_with_its_capture_time_when_stored) {
  crash_log disk;
  device d{disk};
  ASSERT_TRUE(d.queue.push(stored_topic::telemetry, "{\"t\":1}", {}, 1700000000123).ok());
  ASSERT_TRUE(d.queue.push(stored_topic::telemetry, "{\"ts\":5,\"values\":{\"t\":2}}", {}, 1700000000999).ok());
  ASSERT_TRUE(d.queue.push(stored_topic::telemetry, "[{\"t\":3},{\"ts\":6,\"values\":{\"t\":4}}]", {}, 42).ok());
  ASSERT_TRUE(d.queue.push(stored_topic::attributes, "{\"a\":1}", {}, 42).ok());  // attributes have no ts
  d.connect(100000);  // delivered much later: the capture time stays
  ASSERT_EQ(d.port.publish_count, 4u);
  EXPECT_EQ(d.port.payload(0), "{\"ts\":1700000000123,\"values\":{\"t\":1}}");
  EXPECT_EQ(d.port.payload(1), "{\"ts\":5,\"values\":{\"t\":2}}");
  EXPECT_EQ(d.port.payload(2), "[{\"ts\":42,\"values\":{\"t\":3}},{\"ts\":6,\"values\":{\"t\":4}}]");
  EXPECT_EQ(d.port.payload(3), "{\"a\":1}");
}

TEST(offline_queue, the_configured_clock_stamps_telemetry_published_through_the_session) {
  crash_log disk;
  offline_queue_config config = limits(8);
  config.epoch_ms = []() noexcept -> std::uint64_t { return 1600000000000; };
  device d{disk, config};
  ASSERT_TRUE(d.send("{\"n\":1}").ok());
  d.connect();
  EXPECT_EQ(d.port.payload(0), "{\"ts\":1600000000000,\"values\":{\"n\":1}}");
}

// A protobuf message is not JSON: the publisher stores it as it is (its encoder stamped it when
// its schema can carry a time), even where its bytes would read as JSON text.
TEST(offline_queue, a_payload_pushed_as_is_is_never_stamped) {
  crash_log disk;
  offline_queue_config config = limits(8);
  config.epoch_ms = []() noexcept -> std::uint64_t { return 1600000000000; };
  device d{disk, config};
  ASSERT_TRUE(d.queue.push(stored_topic::telemetry, "\n\t{\"x\":123}", {}, ioffline_queue::as_is).ok());
  ASSERT_TRUE(d.queue.push(stored_topic::telemetry, "{\"x\":1}").ok());  // 0: the clock's time
  d.connect();
  ASSERT_EQ(d.port.publish_count, 2u);
  EXPECT_EQ(d.port.payload(0), "\n\t{\"x\":123}");
  EXPECT_EQ(d.port.payload(1), "{\"ts\":1600000000000,\"values\":{\"x\":1}}");
  char out[64];  // what stamping would have made of the first one
  auto stamped = tbmqtt::stamp_telemetry("\n\t{\"x\":123}", 1600000000000, out);
  ASSERT_TRUE(stamped.ok());
  EXPECT_EQ(std::string_view(out, *stamped), "{\"ts\":1600000000000,\"values\":{\"x\":123}}");
}

TEST(offline_queue, a_stamp_that_does_not_fit_is_payload_too_large) {
  crash_log disk;
  tbmqtt::offline_queue<4, 16> small{disk};
  ASSERT_TRUE(small.open().ok());
  EXPECT_EQ(small.push(stored_topic::telemetry, "{\"n\":1}", {}, 1700000000000).error(), errc::payload_too_large);
  EXPECT_TRUE(small.push(stored_topic::telemetry, "{\"n\":1}").ok());
  char out[8];
  EXPECT_EQ(tbmqtt::stamp_telemetry("{\"n\":", 1, out).error(), errc::invalid_argument);
}
