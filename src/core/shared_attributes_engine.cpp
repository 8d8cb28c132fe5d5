#include "tbmqtt/detail/shared_attributes_engine.hpp"

#include "tbmqtt/detail/session_context.hpp"
#include "tbmqtt/detail/slice.hpp"
#include "tbmqtt/detail/wire_codec.hpp"

namespace tbmqtt::detail {
namespace {

// The text between the quotes of a JSON string value (escapes kept).
std::string_view raw_string(json::value v) noexcept { return slice(v.raw(), 1, v.raw().size() - 2); }

// True when the raw JSON string text `raw_key` (quotes removed, escapes kept) names one of the
// comma-separated keys in `list`. Compared without unescaping, so any key length works.
bool list_contains(std::string_view list, std::string_view raw_key) noexcept {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view item = slice(list, 0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (json::key_equals(raw_key, item)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// True when the push `update` concerns a key of `keys` (empty: every key).
bool matches(std::string_view keys, json::value update) noexcept {
  if (keys.empty()) return true;
  for (auto m : update.members()) {
    if (json::key_equals(m.key, "deleted") && m.val.is_array()) {
      for (auto deleted : m.val.elements())
        if (deleted.is_string() && list_contains(keys, raw_string(deleted))) return true;
      continue;
    }
    if (list_contains(keys, m.key)) return true;
  }
  return false;
}

}  // namespace

result<std::size_t> shared_attributes_engine::subscribe(std::string_view keys) noexcept {
  if (count_ == TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS) return errc::queue_full;
  TBMQTT_TRY(ctx_.subscriptions.ensure(ctx_.config.attributes_topic));
  keys_[count_] = keys;
  return count_++;
}

bool shared_attributes_engine::on_message(std::string_view topic, span<const std::byte> payload,
                                          std::uint32_t now_ms) noexcept {
  if (topic != ctx_.config.attributes_topic) return false;
  with_downlink_json(ctx_.config.wire, downlink::attribute_push, payload, [&](result<std::string_view> text) {
    auto doc = text ? json::value::parse(*text) : result<json::value>(text.error());
    if (!doc || !doc->is_object()) {
      // Protobuf that does not decode is reported as malformed with the topic (binary context is useless).
      ctx_.events.on_error(text ? errc::malformed : text.error(), text ? as_text(payload) : topic);
      return;
    }
    ctx_.routes.shared_attributes(*doc, now_ms);  // every engine first (OTA, registry, ...)
    for (std::size_t i = 0; i < count_; ++i)
      if (matches(keys_[i], *doc)) ctx_.events.on_shared_attributes(i, *doc);
  });
  return true;
}

}  // namespace tbmqtt::detail
