#include "tbmqtt/rate_limit.hpp"

#include "tbmqtt/json.hpp"

namespace tbmqtt {
namespace {

constexpr std::uint32_t max_seconds = 0xFFFFFFFFu / 1000u / 2u;  // period_ms stays far below 2^31

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_number(std::string_view s, std::uint32_t& out) noexcept {
  if (s.empty() || s.size() > 10) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v == 0 || v > 0xFFFFFFFFu) return false;
  out = static_cast<std::uint32_t>(v);
  return true;
}

std::uint32_t points_of(json::value v) noexcept {
  if (!v.is_object()) return 0;
  json::value values = v["values"];
  if (v["ts"].present() && values.is_object()) return static_cast<std::uint32_t>(values.size());
  return static_cast<std::uint32_t>(v.size());
}

}  // namespace

result<std::size_t> parse_rate_rules(std::string_view text, span<rate_rule> out) noexcept {
  text = trim(text);
  if (text.empty() || text == "null") return std::size_t{0};
  std::size_t count = 0;
  for (;;) {
    const std::size_t comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    const std::size_t colon = item.find(':');
    std::uint32_t capacity = 0;
    std::uint32_t seconds = 0;
    if (colon == std::string_view::npos || !parse_number(trim(item.substr(0, colon)), capacity) ||
        !parse_number(trim(item.substr(colon + 1)), seconds) || seconds > max_seconds)
      return errc::invalid_argument;
    if (count == out.size()) return errc::queue_full;
    out[count++] = rate_rule{capacity, seconds * 1000u};
    if (comma == std::string_view::npos) return count;
    text.remove_prefix(comma + 1);
  }
}

// ---- one bucket ---------------------------------------------------------------------------------

void rate_bucket::configure(rate_rule rule, std::uint32_t now_ms) noexcept {
  TBMQTT_EXPECTS(rule.capacity > 0 && rule.period_ms > 0);
  rule_ = rule;
  period_ = rule.period_ms + rule.period_ms / 20 + 50;
  const std::uint32_t burst = rule.capacity / 2 > 0 ? rule.capacity / 2 : 1;
  // b tokens at the start of an interval plus what refills strictly inside it:
  // at most burst + (capacity + 1 - burst) - 1 = capacity whole tokens.
  refill_ = rule.capacity + 1 - burst;
  full_ = static_cast<std::int64_t>(burst) * period_;
  level_ = full_;
  last_ms_ = now_ms;
}

void rate_bucket::refill(std::uint32_t now_ms) noexcept {
  const std::uint32_t elapsed = now_ms - last_ms_;
  last_ms_ = now_ms;
  if (static_cast<std::int32_t>(elapsed) <= 0) return;  // time went backwards or did not move
  level_ += static_cast<std::int64_t>(elapsed) * refill_;
  if (level_ > full_) level_ = full_;
}

std::int64_t rate_bucket::needed(std::uint32_t cost) const noexcept {
  const std::int64_t want = static_cast<std::int64_t>(cost) * period_;
  return want > full_ ? full_ : want;  // larger than the burst: waits for a full bucket
}

std::uint32_t rate_bucket::wait_ms(std::uint32_t cost, std::uint32_t now_ms) noexcept {
  if (rule_.capacity == 0 || cost == 0) return 0;
  refill(now_ms);
  const std::int64_t missing = needed(cost) - level_;
  if (missing <= 0) return 0;
  return static_cast<std::uint32_t>((missing + refill_ - 1) / refill_);
}

void rate_bucket::take(std::uint32_t cost, std::uint32_t now_ms) noexcept {
  if (rule_.capacity == 0) return;
  refill(now_ms);
  level_ -= static_cast<std::int64_t>(cost) * period_;
}

// ---- the three limits ---------------------------------------------------------------------------

result<void> rate_limiter::set(rate_limit_kind kind, std::string_view rules, std::uint32_t now_ms) noexcept {
  rate_rule parsed[TBMQTT_MAX_RATE_RULES];
  auto count = parse_rate_rules(rules, parsed);
  if (!count) return count.error();
  limit& l = limits_[static_cast<std::size_t>(kind)];
  l.count = *count;
  for (std::size_t i = 0; i < l.count; ++i) l.buckets[i].configure(parsed[i], now_ms);
  return {};
}

std::uint32_t rate_limiter::cost(rate_limit_kind kind, bool telemetry, std::uint32_t data_points) const noexcept {
  switch (kind) {
    case rate_limit_kind::messages: return 1;
    case rate_limit_kind::telemetry_messages: return telemetry ? 1 : 0;
    case rate_limit_kind::telemetry_data_points: return telemetry ? data_points : 0;
  }
  return 0;
}

std::uint32_t rate_limiter::wait_ms(bool telemetry, std::uint32_t data_points, std::uint32_t now_ms) noexcept {
  std::uint32_t longest = 0;
  for (std::size_t k = 0; k < 3; ++k) {
    limit& l = limits_[k];
    const std::uint32_t c = cost(static_cast<rate_limit_kind>(k), telemetry, data_points);
    for (std::size_t i = 0; i < l.count; ++i) {
      const std::uint32_t w = l.buckets[i].wait_ms(c, now_ms);
      if (w > longest) longest = w;
    }
  }
  return longest;
}

void rate_limiter::take(bool telemetry, std::uint32_t data_points, std::uint32_t now_ms) noexcept {
  for (std::size_t k = 0; k < 3; ++k) {
    limit& l = limits_[k];
    const std::uint32_t c = cost(static_cast<rate_limit_kind>(k), telemetry, data_points);
    if (c == 0) continue;
    for (std::size_t i = 0; i < l.count; ++i) l.buckets[i].take(c, now_ms);
  }
}

bool rate_limiter::active() const noexcept {
  for (const auto& l : limits_)
    if (l.count > 0) return true;
  return false;
}

span<const rate_bucket> rate_limiter::buckets(rate_limit_kind kind) const noexcept {
  const limit& l = limits_[static_cast<std::size_t>(kind)];
  return {l.buckets, l.count};
}

std::uint32_t count_data_points(std::string_view telemetry_json) noexcept {
  auto doc = json::value::parse(telemetry_json);
  if (!doc) return 0;
  if (!doc->is_array()) return points_of(*doc);
  std::uint32_t total = 0;
  for (auto element : doc->elements()) total += points_of(element);
  return total;
}

}  // namespace tbmqtt
