// tbmqtt: host-only
// (A RAM store of megabytes: more than 65,536 messages pending.)
// Tests of the delivery ticket (tbmqtt/session_ports.hpp: delivery_ticket, one 32-bit id space for
// every message) through src/core/publisher.cpp, the offline queue and the clients' callback map
// (src/platform/common/call_callbacks.hpp): a ticket is not a packet id, more than 65,536 pending
// messages each get their own outcome once, and the counter crosses 2^16 and 2^32 without two
// pending messages sharing a ticket.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "../../src/platform/common/call_callbacks.hpp"
#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/session.hpp"

using tbmqtt::delivery_ticket;
using tbmqtt::errc;
using tbmqtt::message_id;
using tbmqtt::qos;
using tbmqtt::result;

// ---- the types ----------------------------------------------------------------------------------

// A packet id (16 bits, the transport's) and a ticket (32 bits, the app's) do not convert into
// each other: a packet id passed where a ticket is meant (or the reverse) does not compile.
static_assert(sizeof(delivery_ticket) == 4);
static_assert(sizeof(message_id) == 2);
static_assert(!std::is_convertible_v<message_id, delivery_ticket>);
static_assert(!std::is_convertible_v<delivery_ticket, message_id>);
static_assert(!std::is_convertible_v<delivery_ticket, std::uint32_t>);
static_assert(!std::is_convertible_v<std::uint32_t, delivery_ticket>);
// Every publish call returns a ticket; on_delivered takes one; the transport hands out packet ids.
static_assert(std::is_same_v<decltype(std::declval<tbmqtt::session&>().publish_telemetry(std::string_view{}, qos{})),
                             result<delivery_ticket>>);
static_assert(
    std::is_same_v<decltype(std::declval<tbmqtt::session&>().publish_raw({}, {}, qos{})), result<delivery_ticket>>);
static_assert(
    std::is_same_v<decltype(std::declval<tbmqtt::transport_port&>().publish({}, {}, qos{})), result<message_id>>);
// A stored message's ticket is the low 32 bits of its sequence number.
static_assert(tbmqtt::ticket_of(0x1'0000'0005ull) == delivery_ticket{5});
static_assert(tbmqtt::to_underlying(tbmqtt::ticket_of(0xFFFF'FFFFull)) == 0xFFFF'FFFFu);

namespace {

// The offline queue's medium in RAM, as large as a test needs (segments of any size).
struct ram_store final : tbmqtt::segment_store {
  std::map<std::uint32_t, std::vector<std::byte>> segments;
  result<std::uint32_t> find(std::uint32_t from) noexcept override {
    auto it = segments.lower_bound(from);
    if (it == segments.end()) return errc::not_found;
    return it->first;
  }
  result<std::size_t> read(std::uint32_t segment, std::uint32_t offset, tbmqtt::span<std::byte> out) noexcept override {
    auto it = segments.find(segment);
    if (it == segments.end()) return errc::not_found;
    if (offset >= it->second.size()) return std::size_t{0};
    const std::size_t n = std::min<std::size_t>(out.size(), it->second.size() - offset);
    std::memcpy(out.data(), it->second.data() + offset, n);
    return n;
  }
  result<void> create(std::uint32_t segment) noexcept override {
    segments[segment].clear();
    return {};
  }
  result<void> write(std::uint32_t segment, std::uint32_t offset,
                     tbmqtt::span<const std::byte> data) noexcept override {
    auto& s = segments[segment];
    s.resize(offset);
    s.insert(s.end(), data.begin(), data.end());
    return {};
  }
  result<void> sync(std::uint32_t) noexcept override { return {}; }
  result<void> remove(std::uint32_t segment) noexcept override {
    segments.erase(segment);
    return {};
  }
};

// Hands out packet ids 1..65535 (wrapping, 0 skipped) as an MQTT client does, and remembers
// the QoS 1 ones not acknowledged yet; QoS 0 ones are written at once (ack_all reports them).
struct wrapping_transport final : tbmqtt::transport_port {
  message_id next = 1;
  std::deque<message_id> unacknowledged;
  std::deque<message_id> subscribed;
  std::size_t published = 0;
  result<message_id> publish(std::string_view, tbmqtt::span<const std::byte>, qos) noexcept override {
    if (next == 0) next = 1;
    unacknowledged.push_back(next);
    ++published;
    return next++;
  }
  result<message_id> subscribe(std::string_view, qos) noexcept override {
    if (next == 0) next = 1;
    subscribed.push_back(next);
    return next++;
  }
};

// Every outcome, by ticket, through the clients' callback map (as both clients keep it).
struct callback_events final : tbmqtt::session_events {
  tbmqtt::detail::call_callbacks calls;
  std::size_t unclaimed = 0;
  void on_delivered(delivery_ticket ticket, errc e) noexcept override {
    if (!calls.delivered(ticket, e)) ++unclaimed;
  }
};

struct device {
  wrapping_transport port;
  callback_events events;
  tbmqtt::session s{port, events};
  ram_store disk;
  tbmqtt::offline_queue<16, 64> queue;
  explicit device(std::size_t max_messages, std::uint64_t first_sequence = 0)
      : queue(disk, [&] {
          tbmqtt::offline_queue_config c;
          c.max_messages = max_messages;
          c.max_bytes = max_messages * 32;
          c.when_full = tbmqtt::queue_full_policy::refuse;
          c.segment_bytes = 1 << 20;
          return c;
        }()) {
    EXPECT_TRUE(queue.open().ok());
    queue.skip_to(first_sequence);  // the one ticket counter starts here (a log of an earlier life)
    s.set_offline_queue(&queue);
  }
  void connect() {
    s.on_connected(0);
    while (!port.subscribed.empty()) {  // the SUBACKs
      s.on_suback(port.subscribed.front(), 1);
      port.subscribed.pop_front();
    }
    ASSERT_EQ(s.state(), tbmqtt::session_state::ready);
  }
  // PUBACKs everything the transport has, until nothing is left to send.
  void drain() {
    std::uint32_t now = 1;
    while (!port.unacknowledged.empty()) {
      while (!port.unacknowledged.empty()) {
        const message_id id = port.unacknowledged.front();
        port.unacknowledged.pop_front();
        s.on_puback(id);
      }
      s.tick(now++);
    }
  }
};

// Sends `json` through the callback map: `heard[i]` counts the outcomes heard for message i.
result<delivery_ticket> send(device& d, std::string_view json, qos q, std::vector<std::uint8_t>& heard,
                             std::vector<errc>& outcome, std::size_t i) {
  return d.events.calls.send([&] { return d.s.publish_telemetry(json, q); },
                             [&heard, &outcome, i](errc e) {
                               ++heard[i];
                               outcome[i] = e;
                             },
                             [&d](delivery_ticket, errc) { ++d.events.unclaimed; });
}

}  // namespace

// The bug this type fixed: with 16-bit tickets, message 65,536 got message 0's ticket, and one
// of the two callbacks fired for the other message or never.
TEST(delivery_tickets, more_than_65536_pending_messages_each_hear_their_own_outcome_once) {
  constexpr std::size_t count = 70000;
  device d{count};
  std::vector<std::uint8_t> heard(count);
  std::vector<errc> outcome(count, errc::timeout);
  std::vector<delivery_ticket> tickets;
  tickets.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::string json = "{\"n\":" + std::to_string(i) + "}";
    auto ticket = send(d, json, qos::at_least_once, heard, outcome, i);
    ASSERT_TRUE(ticket.ok()) << i << ": " << tbmqtt::to_string(ticket.error());
    tickets.push_back(*ticket);
  }
  EXPECT_EQ(d.queue.size(), count);  // all pending at once
  std::vector<delivery_ticket> sorted = tickets;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "two pending messages share a ticket";

  d.connect();
  d.drain();
  EXPECT_EQ(d.port.published, count);
  EXPECT_TRUE(d.queue.empty());
  EXPECT_EQ(d.events.unclaimed, 0u);
  std::size_t once = 0;
  for (std::size_t i = 0; i < count; ++i) once += heard[i] == 1 && outcome[i] == errc{} ? 1 : 0;
  EXPECT_EQ(once, count);
}

// Direct sends (QoS 0, not stored) and stored messages share the one counter: across 2^16 every
// ticket is new, and each direct send's outcome reaches its own callback.
TEST(delivery_tickets, direct_and_stored_messages_cross_65536_with_distinct_tickets) {
  device d{64, 65536 - 8};
  d.connect();
  constexpr std::size_t count = 16;
  std::vector<std::uint8_t> heard(count);
  std::vector<errc> outcome(count, errc::timeout);
  std::vector<std::uint32_t> numbers;
  for (std::size_t i = 0; i < count; ++i) {
    auto ticket = send(d, "{\"a\":1}", i % 2 == 0 ? qos::at_least_once : qos::at_most_once, heard, outcome, i);
    ASSERT_TRUE(ticket.ok()) << i;
    numbers.push_back(tbmqtt::to_underlying(*ticket));
  }
  for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(numbers[i], 65536u - 8 + i) << i;  // 65528 .. 65543
  d.drain();
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(heard[i], 1u) << i;
    EXPECT_EQ(outcome[i], errc{}) << i;
  }
  EXPECT_EQ(d.events.unclaimed, 0u);
}

// The 32-bit counter wraps (after 2^32 messages): the tickets go ..., 2^32-1, 0, 1, ... while the
// sequence numbers of the log keep growing; the pending ones stay distinct and each is reported
// once, to its own callback.
TEST(delivery_tickets, the_ticket_counter_wraps_at_2_pow_32_and_pending_tickets_stay_distinct) {
  constexpr std::uint64_t start = 0xFFFF'FFFFull - 4;  // injected: a log of an earlier life ended here
  device d{64, start};
  constexpr std::size_t count = 12;
  std::vector<std::uint8_t> heard(count);
  std::vector<errc> outcome(count, errc::timeout);
  std::vector<std::uint32_t> numbers;
  for (std::size_t i = 0; i < count; ++i) {
    auto ticket = send(d, "{\"a\":1}", qos::at_least_once, heard, outcome, i);
    ASSERT_TRUE(ticket.ok()) << i;
    numbers.push_back(tbmqtt::to_underlying(*ticket));
  }
  EXPECT_EQ(d.queue.next_sequence(), start + count);  // the log's numbers do not wrap
  const std::uint32_t expected[count] = {0xFFFF'FFFBu, 0xFFFF'FFFCu, 0xFFFF'FFFDu, 0xFFFF'FFFEu, 0xFFFF'FFFFu, 0u,
                                         1u,           2u,           3u,           4u,           5u,           6u};
  for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(numbers[i], expected[i]) << i;
  d.connect();
  d.drain();
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(heard[i], 1u) << i;
    EXPECT_EQ(outcome[i], errc{}) << i;
  }
  EXPECT_EQ(d.events.unclaimed, 0u);
  // Direct sends after the wrap continue the same counter.
  std::vector<std::uint8_t> more(1);
  std::vector<errc> more_outcome(1, errc::timeout);
  auto direct = send(d, "{\"a\":2}", qos::at_most_once, more, more_outcome, 0);
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(*direct, delivery_ticket{7});
  d.drain();
  EXPECT_EQ(more[0], 1u);
}

// Where the two meet (the publisher's slot table): the transport's packet id and the message's
// ticket are different numbers, and the outcome names the ticket, never the packet id.
TEST(delivery_tickets, the_outcome_names_the_ticket_not_the_packet_id) {
  device d{8, 100000};
  d.connect();
  d.port.next = 40000;
  std::vector<std::uint8_t> heard(2);
  std::vector<errc> outcome(2, errc::timeout);
  auto direct = send(d, "{\"a\":1}", qos::at_most_once, heard, outcome, 0);
  auto stored = send(d, "{\"a\":2}", qos::at_least_once, heard, outcome, 1);
  ASSERT_TRUE(direct.ok() && stored.ok());
  EXPECT_EQ(*direct, delivery_ticket{100000});
  EXPECT_EQ(*stored, delivery_ticket{100001});
  ASSERT_EQ(d.port.unacknowledged.size(), 2u);
  EXPECT_EQ(d.port.unacknowledged[0], 40000u);
  d.drain();
  EXPECT_EQ(heard[0], 1u);
  EXPECT_EQ(heard[1], 1u);
  EXPECT_EQ(d.events.unclaimed, 0u);
}
