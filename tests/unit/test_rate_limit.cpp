// Tests of src/core/rate_limit.cpp: parsing ThingsBoard rate-limit strings, the token bucket's
// promise (never more than capacity in any window of the period, whatever its alignment) with
// one and several rules, and data-point counting. Time is a parameter, never a clock.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>

#include "tbmqtt/rate_limit.hpp"

using tbmqtt::errc;
using tbmqtt::rate_bucket;
using tbmqtt::rate_limit_kind;
using tbmqtt::rate_limiter;
using tbmqtt::rate_rule;

namespace {

// A greedy sender: from `start`, every millisecond for `duration_ms`, sends as many messages as
// the limiter allows. Records the send times (up to `max`); returns how many were sent.
template <std::size_t N>
std::size_t send_greedily(rate_limiter& limiter, std::uint32_t start, std::uint32_t duration_ms,
                          std::uint32_t (&times)[N], std::uint32_t points = 1) {
  std::size_t sent = 0;
  for (std::uint32_t t = start; t != start + duration_ms; ++t) {
    while (limiter.wait_ms(true, points, t) == 0) {
      limiter.take(true, points, t);
      if (sent < N) times[sent] = t - start;
      ++sent;
    }
  }
  return sent;
}

// The largest number of sends inside any half-open window [t, t + window_ms).
template <std::size_t N>
std::size_t busiest_window(const std::uint32_t (&times)[N], std::size_t count, std::uint32_t window_ms) {
  std::size_t best = 0;
  std::size_t first = 0;
  for (std::size_t last = 0; last < count && last < N; ++last) {
    while (times[last] - times[first] >= window_ms) ++first;
    if (last - first + 1 > best) best = last - first + 1;
  }
  return best;
}

}  // namespace

TEST(rate_limit, parses_several_rules_with_spaces) {
  rate_rule rules[4];
  auto n = tbmqtt::parse_rate_rules(" 10:1, 300:60 ", rules);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, 2u);
  EXPECT_EQ(rules[0].capacity, 10u);
  EXPECT_EQ(rules[0].period_ms, 1000u);
  EXPECT_EQ(rules[1].capacity, 300u);
  EXPECT_EQ(rules[1].period_ms, 60000u);
}

TEST(rate_limit, empty_and_null_mean_no_rule) {
  rate_rule rules[4];
  EXPECT_EQ(*tbmqtt::parse_rate_rules("", rules), 0u);
  EXPECT_EQ(*tbmqtt::parse_rate_rules("null", rules), 0u);
}

TEST(rate_limit, malformed_rules_are_invalid_argument) {
  rate_rule rules[4];
  for (std::string_view bad :
       {"10", "a:1", "10:b", "0:1", "10:0", "10:1,", ",10:1", "10:-1", "1:1:1", "99999999999:1", "10:9999999"})
    EXPECT_EQ(tbmqtt::parse_rate_rules(bad, rules).error(), errc::invalid_argument) << bad;
}

TEST(rate_limit, more_rules_than_room_is_queue_full) {
  rate_rule rules[2];
  EXPECT_EQ(tbmqtt::parse_rate_rules("1:1,2:2,3:3", rules).error(), errc::queue_full);
}

TEST(rate_limit, a_bucket_starts_with_half_its_capacity_and_says_how_long_to_wait) {
  rate_bucket b;
  b.configure({10, 1000}, 0);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(b.wait_ms(1, 0), 0u);
    b.take(1, 0);
  }
  const std::uint32_t wait = b.wait_ms(1, 0);
  EXPECT_GT(wait, 0u);
  EXPECT_GT(b.wait_ms(1, wait - 1), 0u);
  EXPECT_EQ(b.wait_ms(1, wait), 0u);  // exactly when it said
}

TEST(rate_limit, one_rule_is_never_exceeded_in_any_window_and_most_of_it_is_used) {
  rate_limiter limiter;
  ASSERT_TRUE(limiter.set(rate_limit_kind::messages, "10:1", 0).ok());
  std::uint32_t times[400];
  const std::size_t sent = send_greedily(limiter, 0, 30000, times);
  EXPECT_LE(busiest_window(times, sent, 1000), 10u);
  EXPECT_GE(sent, 150u);  // about 5.5 per second sustained plus the first burst
  EXPECT_LE(sent, 300u);
}

TEST(rate_limit, several_rules_are_all_kept) {
  rate_limiter limiter;
  ASSERT_TRUE(limiter.set(rate_limit_kind::messages, "8:1,20:10", 0).ok());
  std::uint32_t times[400];
  const std::size_t sent = send_greedily(limiter, 0, 40000, times);
  EXPECT_LE(busiest_window(times, sent, 1000), 8u);
  EXPECT_LE(busiest_window(times, sent, 10000), 20u);
  EXPECT_GE(sent, 40u);
}

TEST(rate_limit, data_points_are_paced_by_their_own_limit) {
  rate_limiter limiter;
  ASSERT_TRUE(limiter.set(rate_limit_kind::telemetry_data_points, "40:1", 0).ok());
  std::uint32_t times[400];
  const std::size_t sent = send_greedily(limiter, 0, 10000, times, 4);  // 4 points per message
  EXPECT_LE(busiest_window(times, sent, 1000), 10u);                    // 40 points
  EXPECT_GE(sent, 40u);
  // Other messages do not count data points.
  EXPECT_EQ(limiter.wait_ms(false, 0, 10000), 0u);
}

TEST(rate_limit, telemetry_message_limit_ignores_other_messages) {
  rate_limiter limiter;
  ASSERT_TRUE(limiter.set(rate_limit_kind::telemetry_messages, "1:1", 0).ok());
  limiter.take(true, 1, 0);
  EXPECT_GT(limiter.wait_ms(true, 1, 0), 0u);
  EXPECT_EQ(limiter.wait_ms(false, 0, 0), 0u);
}

TEST(rate_limit, a_cost_above_the_burst_waits_for_a_full_bucket_then_goes_into_debt) {
  rate_bucket b;
  b.configure({10, 1000}, 0);  // burst 5
  b.take(1, 0);
  const std::uint32_t wait = b.wait_ms(8, 0);
  EXPECT_GT(wait, 0u);
  ASSERT_EQ(b.wait_ms(8, wait), 0u);
  b.take(8, wait);
  EXPECT_GT(b.wait_ms(1, wait), 0u);  // the debt is repaid first
}

TEST(rate_limit, the_clock_may_wrap) {
  rate_limiter limiter;
  const std::uint32_t start = 0xFFFFFFFFu - 5000;
  ASSERT_TRUE(limiter.set(rate_limit_kind::messages, "5:1", start).ok());
  std::uint32_t times[200];
  const std::size_t sent = send_greedily(limiter, start, 10000, times);
  EXPECT_LE(busiest_window(times, sent, 1000), 5u);
  EXPECT_GE(sent, 20u);
}

TEST(rate_limit, a_bad_rule_string_keeps_the_old_rules) {
  rate_limiter limiter;
  ASSERT_TRUE(limiter.set(rate_limit_kind::messages, "3:1", 0).ok());
  EXPECT_EQ(limiter.set(rate_limit_kind::messages, "3:x", 0).error(), errc::invalid_argument);
  ASSERT_EQ(limiter.buckets(rate_limit_kind::messages).size(), 1u);
  EXPECT_EQ(limiter.buckets(rate_limit_kind::messages)[0].rule().capacity, 3u);
  EXPECT_TRUE(limiter.active());
  ASSERT_TRUE(limiter.set(rate_limit_kind::messages, "null", 0).ok());
  EXPECT_FALSE(limiter.active());
  EXPECT_EQ(limiter.wait_ms(true, 100, 0), 0u);
}

TEST(rate_limit, data_points_are_counted_as_thingsboard_does) {
  EXPECT_EQ(tbmqtt::count_data_points(R"({"a":1,"b":2})"), 2u);
  EXPECT_EQ(tbmqtt::count_data_points(R"({"ts":1,"values":{"a":1,"b":2,"c":3}})"), 3u);
  EXPECT_EQ(tbmqtt::count_data_points(R"([{"a":1},{"ts":1,"values":{"b":1,"c":2}}])"), 3u);
  EXPECT_EQ(tbmqtt::count_data_points("not json"), 0u);
  EXPECT_EQ(tbmqtt::count_data_points("42"), 0u);
}
