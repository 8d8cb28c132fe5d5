// Tests of the session's time helpers: tbmqtt::time_reached (wrapping 32-bit millisecond clock)
// and tbmqtt::reconnect_delay_ms (capped exponential back-off with equal jitter).
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstdint>

#include "tbmqtt/session.hpp"

namespace {

constexpr std::uint32_t u32_max = 0xFFFFFFFFu;

// Small deterministic generator (xorshift32), so both targets see the same "random" values.
struct xorshift32 {
  std::uint32_t state = 0x9E3779B9u;
  std::uint32_t next() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  }
};

// min·2^attempt capped at max, computed without the helper's loop.
std::uint64_t expected_cap(std::uint32_t attempt, std::uint32_t min_ms, std::uint32_t max_ms) {
  if (min_ms >= max_ms) return max_ms;
  std::uint64_t d = min_ms;
  for (std::uint32_t i = 0; i < attempt && d < max_ms; ++i) d *= 2;
  return d < max_ms ? d : max_ms;
}

// Both helpers are usable in constant expressions.
static_assert(tbmqtt::time_reached(100, 100), "deadline equal to now is reached");
static_assert(!tbmqtt::time_reached(99, 100), "one millisecond early is not reached");
static_assert(tbmqtt::reconnect_delay_ms(0, 1000, 60000, 0) == 500, "attempt 0 starts at min/2");

}  // namespace

TEST(time_reached, is_true_at_and_after_the_deadline) {
  EXPECT_TRUE(tbmqtt::time_reached(1000, 1000));
  EXPECT_TRUE(tbmqtt::time_reached(1001, 1000));
  EXPECT_TRUE(tbmqtt::time_reached(500000, 1000));
  EXPECT_TRUE(tbmqtt::time_reached(0, 0));
}

TEST(time_reached, is_false_before_the_deadline) {
  EXPECT_FALSE(tbmqtt::time_reached(999, 1000));
  EXPECT_FALSE(tbmqtt::time_reached(0, 1));
  EXPECT_FALSE(tbmqtt::time_reached(0, 10000));
}

TEST(time_reached, handles_the_clock_wrapping_at_2_pow_32) {
  // Deadline set just before the wrap, clock read just after it: reached.
  EXPECT_TRUE(tbmqtt::time_reached(0x00000010u, 0xFFFFFFF0u));
  EXPECT_TRUE(tbmqtt::time_reached(0u, u32_max));
  // Deadline just after the wrap, clock still before it: not reached.
  EXPECT_FALSE(tbmqtt::time_reached(0xFFFFFFF0u, 0x00000010u));
  EXPECT_FALSE(tbmqtt::time_reached(u32_max, 0u));
  // A deadline computed as now + timeout that overflowed.
  const std::uint32_t now = u32_max - 5000;
  const std::uint32_t deadline = now + 10000;  // wraps to 4999
  EXPECT_FALSE(tbmqtt::time_reached(now, deadline));
  EXPECT_FALSE(tbmqtt::time_reached(now + 9999, deadline));
  EXPECT_TRUE(tbmqtt::time_reached(now + 10000, deadline));
  EXPECT_TRUE(tbmqtt::time_reached(now + 10001, deadline));
}

TEST(time_reached, is_valid_up_to_2_pow_31_minus_1_apart) {
  const std::uint32_t deadline = 0x12345678u;
  EXPECT_TRUE(tbmqtt::time_reached(deadline + 0x7FFFFFFFu, deadline));
  EXPECT_FALSE(tbmqtt::time_reached(deadline - 0x7FFFFFFFu, deadline));
  // Exactly 2^31 apart is ambiguous; the helper reads it as "not yet".
  EXPECT_FALSE(tbmqtt::time_reached(deadline + 0x80000000u, deadline));
}

TEST(time_reached, agrees_with_a_64_bit_clock_across_the_wrap) {
  xorshift32 rng;
  for (int i = 0; i < 2000; ++i) {
    // A 64-bit "true" time near a 2^32 boundary and an offset within ±2^30.
    const std::uint64_t base = (std::uint64_t{1} << 32) * (1 + (rng.next() % 4)) - (rng.next() % 100000);
    const std::int64_t offset = static_cast<std::int64_t>(rng.next() % (1u << 31)) - (std::int64_t{1} << 30);
    const std::uint64_t deadline64 = base;
    const std::uint64_t now64 = static_cast<std::uint64_t>(static_cast<std::int64_t>(base) + offset);
    const bool expected = now64 >= deadline64;
    ASSERT_EQ(tbmqtt::time_reached(static_cast<std::uint32_t>(now64), static_cast<std::uint32_t>(deadline64)),
              expected);
  }
}

TEST(reconnect_delay, attempt_0_lies_between_half_min_and_min) {
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(0, 1000, 60000, 0), 500u);
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(0, 1000, 60000, 500), 1000u);
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(0, 1000, 60000, 501), 500u);  // wraps around the range
  xorshift32 rng;
  for (int i = 0; i < 1000; ++i) {
    const std::uint32_t d = tbmqtt::reconnect_delay_ms(0, 1000, 60000, rng.next());
    ASSERT_GE(d, 500u);
    ASSERT_LE(d, 1000u);
  }
}

TEST(reconnect_delay, doubles_per_attempt_until_the_cap) {
  // With random 0 the result is exactly half the un-jittered delay.
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(1, 1000, 60000, 0), 1000u);
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(2, 1000, 60000, 0), 2000u);
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(5, 1000, 60000, 0), 16000u);
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(6, 1000, 60000, 0), 30000u);  // 64000 capped at 60000
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(6, 1000, 60000, 30000), 60000u);
  std::uint32_t previous = 0;
  for (std::uint32_t attempt = 0; attempt < 40; ++attempt) {
    const std::uint32_t d = tbmqtt::reconnect_delay_ms(attempt, 1000, 60000, 0);
    EXPECT_GE(d, previous);
    previous = d;
  }
  EXPECT_EQ(previous, 30000u);
}

TEST(reconnect_delay, stays_capped_for_huge_attempts_without_overflow) {
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(u32_max, 1000, 60000, 0), 30000u);
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(u32_max, 1000, 60000, 30000), 60000u);
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(31, 1, u32_max, 0), 0x40000000u);
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(32, 1, u32_max, 0), 0x7FFFFFFFu);  // 2^32 capped at 2^32-1
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(u32_max, u32_max, u32_max, 0x80000000u), u32_max);
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(1, 0x80000000u, u32_max, 0), 0x7FFFFFFFu);
}

TEST(reconnect_delay, min_above_max_is_capped_at_max) {
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(0, 5000, 1000, 0), 500u);
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(3, 5000, 1000, 500), 1000u);
}

TEST(reconnect_delay, tiny_delays_do_not_divide_by_zero) {
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(0, 0, 0, 12345), 0u);
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(5, 0, 1000, 12345), 0u);
  EXPECT_LE(tbmqtt::reconnect_delay_ms(0, 1, 1000, 12345), 1u);
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(1, 1, 1000, 0), 1u);
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(1, 1, 1000, 1), 2u);
}

TEST(reconnect_delay, jitter_stays_within_half_to_full_delay_for_random_inputs) {
  xorshift32 rng;
  const std::uint32_t mins[] = {1, 3, 100, 1000, 2500};
  const std::uint32_t maxes[] = {1, 999, 60000, 300000, u32_max};
  for (std::uint32_t min_ms : mins) {
    for (std::uint32_t max_ms : maxes) {
      for (std::uint32_t attempt = 0; attempt < 34; ++attempt) {
        const std::uint64_t d = expected_cap(attempt, min_ms, max_ms);
        for (int i = 0; i < 64; ++i) {
          const std::uint32_t got = tbmqtt::reconnect_delay_ms(attempt, min_ms, max_ms, rng.next());
          ASSERT_GE(got, d / 2);
          ASSERT_LE(got, d);
        }
      }
    }
  }
}

TEST(reconnect_delay, jitter_reaches_both_ends_and_spreads_over_the_range) {
  const std::uint32_t d = 8000;  // attempt 3 of min 1000
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(3, 1000, 60000, 0), d / 2);
  EXPECT_EQ(tbmqtt::reconnect_delay_ms(3, 1000, 60000, d - d / 2), d);
  // Over many draws both halves of [d/2, d] are hit.
  xorshift32 rng;
  int low = 0;
  int high = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::uint32_t got = tbmqtt::reconnect_delay_ms(3, 1000, 60000, rng.next());
    if (got < d / 2 + d / 4) {
      ++low;
    } else {
      ++high;
    }
  }
  EXPECT_GT(low, 400);
  EXPECT_GT(high, 400);
}

// The schedule the ESP client drives esp-mqtt's reconnects with (auto-reconnect off).
TEST(reconnect_backoff, each_failure_doubles_the_delay_within_its_jitter_until_the_cap) {
  tbmqtt::reconnect_backoff b(200, 3000, 12345);
  EXPECT_FALSE(b.scheduled());
  EXPECT_FALSE(b.due(0));
  std::uint32_t now = 1000;
  const std::uint32_t ceilings[] = {200, 400, 800, 1600, 3000, 3000, 3000, 3000};
  for (std::uint32_t ceiling : ceilings) {
    const std::uint32_t attempt = b.attempt();
    const std::uint32_t d = b.failed(now);
    EXPECT_GE(d, ceiling / 2) << "attempt " << attempt;
    EXPECT_LE(d, ceiling) << "attempt " << attempt;
    EXPECT_TRUE(b.scheduled());
    if (d > 0) {
      EXPECT_FALSE(b.due(now + d - 1));
    }
    EXPECT_TRUE(b.due(now + d));
    b.cancel();  // the attempt starts ...
    EXPECT_FALSE(b.due(now + d));
    now += d + 50;  // ... and fails 50 ms later
  }
  EXPECT_EQ(b.attempt(), 8u);
}

TEST(reconnect_backoff, ready_starts_from_min_again) {
  tbmqtt::reconnect_backoff b(1000, 60000, 7);
  for (int i = 0; i < 10; ++i) (void)b.failed(0);
  EXPECT_GE(b.failed(0), 30000u);
  b.ready();
  EXPECT_EQ(b.attempt(), 0u);
  const std::uint32_t d = b.failed(0);
  EXPECT_GE(d, 500u);
  EXPECT_LE(d, 1000u);
}

TEST(reconnect_backoff, equal_min_and_max_is_a_fixed_delay_with_jitter) {
  tbmqtt::reconnect_backoff b(500, 500, 0);  // seed 0 is replaced: the jitter still varies
  bool varied = false;
  std::uint32_t first = b.failed(0);
  for (int i = 0; i < 50; ++i) {
    const std::uint32_t d = b.failed(0);
    EXPECT_GE(d, 250u);
    EXPECT_LE(d, 500u);
    varied = varied || d != first;
  }
  EXPECT_TRUE(varied);
}

TEST(reconnect_backoff, is_due_across_the_clock_wrap) {
  tbmqtt::reconnect_backoff b(1000, 1000, 99);
  const std::uint32_t now = 0xFFFFFF00u;
  const std::uint32_t d = b.failed(now);
  EXPECT_FALSE(b.due(now + d - 1));
  EXPECT_TRUE(b.due(now + d));  // wrapped past 0
  EXPECT_TRUE(b.due(now + d + 100000));
}
