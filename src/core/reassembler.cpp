#include "tbmqtt/detail/reassembler.hpp"

#include <cstring>
#include <utility>

#include "tbmqtt/detail/session_context.hpp"

namespace tbmqtt::detail {

bool reassembler::on_fragment(std::string_view topic, span<const std::byte> fragment, std::size_t offset,
                              std::size_t total, std::uint32_t now_ms, std::string_view& out_topic,
                              span<const std::byte>& out_payload) noexcept {
  if (offset == 0) drop(errc::malformed, true);   // its last fragments never came
  if (offset == 0 && fragment.size() == total) {  // not fragmented
    out_topic = topic;
    out_payload = fragment;
    return true;
  }
  if (offset == 0) {
    // Larger than the max payload: dropped at its first fragment, before a byte is buffered or
    // streamed (its later fragments find nothing being reassembled).
    if (total > ctx_.config.max_payload || topic.size() > sizeof topic_) {
      ctx_.events.on_error(errc::payload_too_large, topic);
      return false;
    }
    streaming_ = ctx_.routes.take_stream(topic, total, now_ms);
    if (streaming_ == nullptr && total > buffer_.size()) {
      ctx_.events.on_error(errc::payload_too_large, topic);
      return false;
    }
    std::memcpy(topic_, topic.data(), topic.size());
    topic_size_ = topic.size();
    received_ = 0;
    total_ = total;
    active_ = true;
  }
  if (!active_) return false;  // the rest of a message already dropped
  if (offset != received_ || total != total_ || fragment.size() > total - offset) {
    drop(errc::malformed, true);
    return false;
  }
  if (streaming_ != nullptr)
    streaming_->on_stream_fragment(offset, fragment, now_ms);
  else if (!fragment.empty())
    std::memcpy(buffer_.data() + offset, fragment.data(), fragment.size());
  received_ += fragment.size();
  if (received_ < total) return false;
  active_ = false;
  if (session_extension* taker = std::exchange(streaming_, nullptr)) {
    taker->on_stream_end(errc{}, now_ms);
    return false;
  }
  out_topic = {topic_, topic_size_};
  out_payload = {buffer_.data(), total};
  return true;
}

void reassembler::drop(errc e, bool report) noexcept {
  if (!active_) return;
  active_ = false;
  if (session_extension* taker = std::exchange(streaming_, nullptr)) taker->on_stream_end(e, ctx_.now_ms);
  if (report) ctx_.events.on_error(e, {topic_, topic_size_});
}

void reassembler::forget(const session_extension& engine) noexcept {
  if (streaming_ != &engine) return;
  streaming_ = nullptr;
  active_ = false;
}

}  // namespace tbmqtt::detail
