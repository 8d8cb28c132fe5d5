#include "tbmqtt/topics.hpp"
#include "tbmqtt/detail/slice.hpp"

#include <charconv>
#include <cstring>

#include "tbmqtt/config.hpp"

namespace tbmqtt::topics {
namespace {

constexpr std::string_view attribute_request_prefix = "v1/devices/me/attributes/request/";
constexpr std::string_view attribute_response_prefix = "v1/devices/me/attributes/response/";
constexpr std::string_view rpc_request_prefix = "v1/devices/me/rpc/request/";
constexpr std::string_view rpc_response_prefix = "v1/devices/me/rpc/response/";

result<std::size_t> join(span<char> out, std::string_view prefix, std::string_view suffix) noexcept {
  if (prefix.size() + suffix.size() > out.size()) return errc::not_enough_space;
  std::memcpy(out.data(), prefix.data(), prefix.size());
  std::memcpy(out.data() + prefix.size(), suffix.data(), suffix.size());
  return prefix.size() + suffix.size();
}

result<std::size_t> join(span<char> out, std::string_view prefix, std::uint32_t id) noexcept {
  char digits[10];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, id);
  (void)ec;  // 10 digits always hold a uint32
  return join(out, prefix, std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

result<std::string_view> suffix_after(std::string_view topic, std::string_view prefix) noexcept {
  if (detail::slice(topic, 0, prefix.size()) != prefix) return errc::no_match;
  return detail::slice(topic, prefix.size());
}

}  // namespace

result<std::uint32_t> parse_decimal(std::string_view text) noexcept {
  if (text.empty() || text.size() > 10) return errc::malformed;
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return errc::malformed;
  return value;
}

result<std::size_t> attribute_request(span<char> out, std::uint32_t request_id) noexcept {
  return join(out, attribute_request_prefix, request_id);
}

result<std::size_t> rpc_request(span<char> out, std::uint32_t request_id) noexcept {
  return join(out, rpc_request_prefix, request_id);
}

result<std::size_t> rpc_response(span<char> out, std::string_view request_id) noexcept {
  TBMQTT_EXPECTS(!request_id.empty());
  return join(out, rpc_response_prefix, request_id);
}

result<std::uint32_t> parse_attribute_response(std::string_view topic) noexcept {
  auto id = suffix_after(topic, attribute_response_prefix);
  if (!id) return id.error();
  return parse_decimal(*id);
}

result<std::uint32_t> parse_rpc_response(std::string_view topic) noexcept {
  auto id = suffix_after(topic, rpc_response_prefix);
  if (!id) return id.error();
  return parse_decimal(*id);
}

result<std::string_view> parse_rpc_request(std::string_view topic) noexcept {
  auto id = suffix_after(topic, rpc_request_prefix);
  if (!id) return id.error();
  if (id->empty() || id->size() > TBMQTT_RPC_ID_CAPACITY || id->find('/') != std::string_view::npos)
    return errc::malformed;
  return *id;
}

// ---- v2 short topics ---------------------------------------------------------------------------

namespace {

/// One string per topic_style, in enum order.
std::string_view pick(topic_style s, std::string_view v1, std::string_view v2, std::string_view j,
                      std::string_view p) noexcept {
  switch (s) {
    case topic_style::v1: return v1;
    case topic_style::v2: return v2;
    case topic_style::v2_json: return j;
    case topic_style::v2_proto: return p;
  }
  return v1;
}

std::string_view attribute_request_prefix_for(topic_style s) noexcept {
  return pick(s, attribute_request_prefix, "v2/a/req/", "v2/a/req/j/", "v2/a/req/p/");
}
std::string_view attribute_response_prefix_for(topic_style s) noexcept {
  return pick(s, attribute_response_prefix, "v2/a/res/", "v2/a/res/j/", "v2/a/res/p/");
}
std::string_view rpc_request_prefix_for(topic_style s) noexcept {
  return pick(s, rpc_request_prefix, "v2/r/req/", "v2/r/req/j/", "v2/r/req/p/");
}
std::string_view rpc_response_prefix_for(topic_style s) noexcept {
  return pick(s, rpc_response_prefix, "v2/r/res/", "v2/r/res/j/", "v2/r/res/p/");
}

/// The id after the prefix of `s`; for bare v2 a `j/` or `p/` suffix belongs to the other styles.
result<std::string_view> v2_suffix(std::string_view topic, std::string_view prefix, topic_style s) noexcept {
  auto id = suffix_after(topic, prefix);
  if (!id) return id.error();
  if (s == topic_style::v2 && id->size() >= 2 && (*id)[1] == '/' && ((*id)[0] == 'j' || (*id)[0] == 'p'))
    return errc::no_match;
  return *id;
}

}  // namespace

std::string_view telemetry_topic(topic_style s) noexcept { return pick(s, telemetry, "v2/t", "v2/t/j", "v2/t/p"); }
std::string_view attributes_topic(topic_style s) noexcept { return pick(s, attributes, "v2/a", "v2/a/j", "v2/a/p"); }
std::string_view attribute_response_filter_for(topic_style s) noexcept {
  return pick(s, attribute_response_filter, "v2/a/res/+", "v2/a/res/j/+", "v2/a/res/p/+");
}
std::string_view rpc_request_filter_for(topic_style s) noexcept {
  return pick(s, rpc_request_filter, "v2/r/req/+", "v2/r/req/j/+", "v2/r/req/p/+");
}
std::string_view rpc_response_filter_for(topic_style s) noexcept {
  return pick(s, rpc_response_filter, "v2/r/res/+", "v2/r/res/j/+", "v2/r/res/p/+");
}

result<std::size_t> attribute_request(span<char> out, topic_style s, std::uint32_t request_id) noexcept {
  return join(out, attribute_request_prefix_for(s), request_id);
}
result<std::size_t> rpc_request(span<char> out, topic_style s, std::uint32_t request_id) noexcept {
  return join(out, rpc_request_prefix_for(s), request_id);
}
result<std::size_t> rpc_response(span<char> out, topic_style s, std::string_view request_id) noexcept {
  TBMQTT_EXPECTS(!request_id.empty());
  return join(out, rpc_response_prefix_for(s), request_id);
}

result<std::uint32_t> parse_attribute_response(std::string_view topic, topic_style s) noexcept {
  auto id = v2_suffix(topic, attribute_response_prefix_for(s), s);
  if (!id) return id.error();
  return parse_decimal(*id);
}
result<std::uint32_t> parse_rpc_response(std::string_view topic, topic_style s) noexcept {
  auto id = v2_suffix(topic, rpc_response_prefix_for(s), s);
  if (!id) return id.error();
  return parse_decimal(*id);
}
result<std::string_view> parse_rpc_request(std::string_view topic, topic_style s) noexcept {
  auto id = v2_suffix(topic, rpc_request_prefix_for(s), s);
  if (!id) return id.error();
  if (id->empty() || id->size() > TBMQTT_RPC_ID_CAPACITY || id->find('/') != std::string_view::npos)
    return errc::malformed;
  return *id;
}

}  // namespace tbmqtt::topics
