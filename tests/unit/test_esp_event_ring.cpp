// Tests of src/transport/esp_mqtt/event_ring.hpp: the byte ring holding the topic and payload
// bytes of esp-mqtt events until the tbmqtt task takes them (FIFO, wrap-around, full, too large).
// Portable: runs on the host and on the Cortex-M image.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>

#include "../../src/transport/esp_mqtt/event_ring.hpp"

using tbmqtt::errc;
using tbmqtt::detail::event_ring;

namespace {

// Fills a reservation with bytes derived from `tag`, and checks them later.
void stamp(event_ring& ring, const event_ring::reservation& r, std::uint8_t tag) {
  auto b = ring.bytes(r);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::byte>(tag + i);
}
bool stamped(event_ring& ring, const event_ring::reservation& r, std::uint8_t tag) {
  auto b = ring.bytes(r);
  for (std::size_t i = 0; i < b.size(); ++i)
    if (b[i] != static_cast<std::byte>(tag + i)) return false;
  return true;
}

}  // namespace

TEST(esp_event_ring, reservations_are_contiguous_and_consumed_in_order) {
  std::byte storage[100];
  event_ring ring{storage};
  auto a = ring.reserve(30);
  auto b = ring.reserve(50);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->pos, 0u);
  EXPECT_EQ(b->pos, 30u);
  EXPECT_EQ(ring.used(), 80u);
  stamp(ring, *a, 1);
  stamp(ring, *b, 2);
  EXPECT_TRUE(stamped(ring, *a, 1));
  ring.release(*a);
  EXPECT_TRUE(stamped(ring, *b, 2));
  ring.release(*b);
  EXPECT_EQ(ring.used(), 0u);
}

TEST(esp_event_ring, a_reservation_that_does_not_fit_before_the_end_wraps_and_holds_the_tail) {
  std::byte storage[100];
  event_ring ring{storage};
  auto a = ring.reserve(60);
  auto b = ring.reserve(30);  // 60..89
  ASSERT_TRUE(a.ok() && b.ok());
  stamp(ring, *b, 9);
  ring.release(*a);  // 0..59 free again, 10 bytes left at the end
  auto c = ring.reserve(20);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->pos, 0u);        // wrapped
  EXPECT_EQ(c->reserved, 30u);  // 20 + the 10 skipped at the end
  EXPECT_EQ(ring.used(), 60u);
  stamp(ring, *c, 3);
  EXPECT_TRUE(stamped(ring, *b, 9));  // untouched by the wrap
  ring.release(*b);
  ring.release(*c);
  EXPECT_EQ(ring.used(), 0u);
  auto whole = ring.reserve(100);  // empty again: the whole buffer fits
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->pos, 0u);
}

TEST(esp_event_ring, a_full_ring_refuses_with_queue_full_and_corrupts_nothing) {
  std::byte storage[64];
  event_ring ring{storage};
  auto a = ring.reserve(40);
  auto b = ring.reserve(20);
  ASSERT_TRUE(a.ok() && b.ok());
  stamp(ring, *a, 10);
  stamp(ring, *b, 20);
  auto refused = ring.reserve(5);  // 4 bytes left
  EXPECT_EQ(refused.error(), errc::queue_full);
  EXPECT_EQ(ring.used(), 60u);
  auto fits = ring.reserve(4);
  ASSERT_TRUE(fits.ok());
  stamp(ring, *fits, 30);
  EXPECT_EQ(ring.reserve(1).error(), errc::queue_full);
  EXPECT_TRUE(stamped(ring, *a, 10));
  EXPECT_TRUE(stamped(ring, *b, 20));
  EXPECT_TRUE(stamped(ring, *fits, 30));
  // A wrapped request must also fit before the oldest live byte.
  ring.release(*a);  // 0..39 free; head at the end
  auto wrapped = ring.reserve(41);
  EXPECT_EQ(wrapped.error(), errc::queue_full);
  auto ok = ring.reserve(40);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->pos, 0u);
  EXPECT_TRUE(stamped(ring, *b, 20));
}

TEST(esp_event_ring, a_fragment_larger_than_the_ring_is_payload_too_large_even_when_empty) {
  std::byte storage[32];
  event_ring ring{storage};
  EXPECT_EQ(ring.reserve(33).error(), errc::payload_too_large);
  EXPECT_EQ(ring.used(), 0u);
  EXPECT_TRUE(ring.reserve(32).ok());
  event_ring none;  // no storage
  EXPECT_EQ(none.reserve(1).error(), errc::payload_too_large);
}

TEST(esp_event_ring, an_empty_reservation_holds_nothing) {
  std::byte storage[8];
  event_ring ring{storage};
  auto e = ring.reserve(0);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->reserved, 0u);
  EXPECT_EQ(ring.used(), 0u);
  ring.release(*e);
  EXPECT_EQ(ring.used(), 0u);
}

TEST(esp_event_ring, unreserving_the_newest_restores_the_write_position_also_after_a_wrap) {
  std::byte storage[100];
  event_ring ring{storage};
  auto a = ring.reserve(70);
  ASSERT_TRUE(a.ok());
  auto b = ring.reserve(10);  // 70..79
  ASSERT_TRUE(b.ok());
  ring.unreserve(*b);  // the queue was full: give it back
  EXPECT_EQ(ring.used(), 70u);
  auto again = ring.reserve(10);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->pos, 70u);
  ring.release(*a);
  auto wrapped = ring.reserve(25);  // 20 left at the end: wraps, skipping them
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(wrapped->pos, 0u);
  EXPECT_EQ(wrapped->reserved, 45u);
  ring.unreserve(*wrapped);
  EXPECT_EQ(ring.used(), 10u);
  auto tail = ring.reserve(20);  // exactly the tail that was skipped
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->pos, 80u);
}

// Many rounds of a producer and a consumer at different paces, with sizes that force every kind
// of wrap: live reservations never overlap and every byte comes back as written.
TEST(esp_event_ring, a_long_run_of_mixed_sizes_keeps_every_live_reservation_intact) {
  std::byte storage[257];
  event_ring ring{storage};
  constexpr std::size_t max_live = 16;
  event_ring::reservation live[max_live];
  std::uint8_t tags[max_live] = {};
  std::size_t first = 0, count = 0;
  std::uint32_t x = 99;
  std::size_t refused = 0, reserved = 0;
  for (int step = 0; step < 20000; ++step) {
    x = x * 1103515245u + 12345u;
    const bool produce = (x >> 16) % 3 != 0;
    if (produce && count < max_live) {
      const std::size_t n = 1 + (x >> 8) % 120;
      auto r = ring.reserve(n);
      if (!r) {
        ASSERT_EQ(r.error(), errc::queue_full);
        ++refused;
        continue;
      }
      ++reserved;
      const std::size_t slot = (first + count++) % max_live;
      live[slot] = *r;
      tags[slot] = static_cast<std::uint8_t>(step);
      stamp(ring, *r, tags[slot]);
    } else if (count > 0) {
      ASSERT_TRUE(stamped(ring, live[first], tags[first])) << "step " << step;
      ring.release(live[first]);
      first = (first + 1) % max_live;
      --count;
    }
    std::size_t held = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const auto& r = live[(first + i) % max_live];
      ASSERT_LE(r.pos + r.size, ring.capacity());
      held += r.reserved;
    }
    ASSERT_EQ(ring.used(), held);
  }
  EXPECT_GT(refused, 0u);
  EXPECT_GT(reserved, 5000u);
}
