// tbmqtt — test doubles for the sans-I/O session: a transport_port that records every publish and
// subscribe, and a session_events that records every callback with copies of its arguments.
// Portable (no heap, no std::string, no iostream): runs on the host and on the Cortex-M image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/json.hpp"
#include "tbmqtt/session.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt_test {

/// How many publishes, subscribes and events are kept; later ones are only counted.
inline constexpr std::size_t max_records = 32;

/// A fixed-capacity copy of some text. `size` is the full size of the original, so a test can
/// tell that a copy was cut short (`truncated()`).
template <std::size_t N>
struct text_copy {
  char data[N] = {};
  std::size_t size = 0;
  bool truncated() const noexcept { return size > N; }
  std::string_view view() const noexcept { return {data, size < N ? size : N}; }
  void assign(std::string_view s) noexcept {
    size = s.size();
    if (!s.empty()) std::memcpy(data, s.data(), s.size() < N ? s.size() : N);
  }
};

// ---- the transport ------------------------------------------------------------------------------

struct publish_record {
  text_copy<128> topic;
  text_copy<512> payload;
  tbmqtt::qos q = tbmqtt::qos::at_most_once;
  tbmqtt::message_id id = 0;
};

struct subscribe_record {
  text_copy<128> filter;
  tbmqtt::qos q = tbmqtt::qos::at_most_once;
  tbmqtt::message_id id = 0;
};

/// Records publishes and subscribes; hands out packet ids 1, 2, 3, ... shared by both (0 is skipped).
class fake_transport final : public tbmqtt::transport_port {
 public:
  tbmqtt::result<tbmqtt::message_id> publish(std::string_view topic, tbmqtt::span<const std::byte> payload,
                                             tbmqtt::qos q) noexcept override {
    ++publish_attempts;
    if (fail_publish_ != tbmqtt::errc{}) {
      const tbmqtt::errc e = fail_publish_;
      fail_publish_ = tbmqtt::errc{};
      return e;
    }
    const tbmqtt::message_id id = take_id();
    if (publish_count < max_records) {
      publish_record& r = publishes[publish_count];
      r.topic.assign(topic);
      r.payload.assign(tbmqtt::as_text(payload));
      r.q = q;
      r.id = id;
    }
    ++publish_count;
    return id;
  }

  tbmqtt::result<tbmqtt::message_id> subscribe(std::string_view filter, tbmqtt::qos q) noexcept override {
    ++subscribe_attempts;
    if (fail_subscribe_ != tbmqtt::errc{}) {
      const tbmqtt::errc e = fail_subscribe_;
      fail_subscribe_ = tbmqtt::errc{};
      return e;
    }
    const tbmqtt::message_id id = take_id();
    if (subscribe_count < max_records) {
      subscribe_record& r = subscribes[subscribe_count];
      r.filter.assign(filter);
      r.q = q;
      r.id = id;
    }
    ++subscribe_count;
    return id;
  }

  /// The next publish() fails with `e` (and is not recorded).
  void fail_next_publish(tbmqtt::errc e) noexcept { fail_publish_ = e; }
  /// The next subscribe() fails with `e` (and is not recorded).
  void fail_next_subscribe(tbmqtt::errc e) noexcept { fail_subscribe_ = e; }

  /// Topic / payload of recorded publish `i` (empty when out of range).
  std::string_view topic(std::size_t i) const noexcept {
    return i < recorded_publishes() ? publishes[i].topic.view() : std::string_view{};
  }
  std::string_view payload(std::size_t i) const noexcept {
    return i < recorded_publishes() ? publishes[i].payload.view() : std::string_view{};
  }
  std::string_view last_topic() const noexcept {
    return publish_count == 0 ? std::string_view{} : topic(publish_count - 1);
  }
  std::string_view last_payload() const noexcept {
    return publish_count == 0 ? std::string_view{} : payload(publish_count - 1);
  }
  std::string_view filter(std::size_t i) const noexcept {
    return i < recorded_subscribes() ? subscribes[i].filter.view() : std::string_view{};
  }
  /// Packet id of the recorded subscribe of `filter` at or after index `from`; 0 if none.
  tbmqtt::message_id subscribe_id(std::string_view f, std::size_t from = 0) const noexcept {
    for (std::size_t i = from; i < recorded_subscribes(); ++i)
      if (subscribes[i].filter.view() == f) return subscribes[i].id;
    return 0;
  }
  /// How many recorded subscribes (from index `from`) were for `filter`.
  std::size_t subscribe_times(std::string_view f, std::size_t from = 0) const noexcept {
    std::size_t n = 0;
    for (std::size_t i = from; i < recorded_subscribes(); ++i) n += subscribes[i].filter.view() == f ? 1 : 0;
    return n;
  }
  std::size_t recorded_publishes() const noexcept { return publish_count < max_records ? publish_count : max_records; }
  std::size_t recorded_subscribes() const noexcept {
    return subscribe_count < max_records ? subscribe_count : max_records;
  }

  publish_record publishes[max_records];
  subscribe_record subscribes[max_records];
  std::size_t publish_count = 0;     ///< Successful publishes (recorded or not).
  std::size_t subscribe_count = 0;   ///< Successful subscribes (recorded or not).
  std::size_t publish_attempts = 0;  ///< Every publish() call, failed ones included.
  std::size_t subscribe_attempts = 0;
  tbmqtt::message_id next_id = 1;

 private:
  tbmqtt::message_id take_id() noexcept {
    if (next_id == 0) next_id = 1;
    return next_id++;
  }
  tbmqtt::errc fail_publish_{};
  tbmqtt::errc fail_subscribe_{};
};

// ---- the events ---------------------------------------------------------------------------------

enum class event_kind : std::uint8_t {
  ready,
  delivered,
  attributes_response,
  rpc_response,
  shared_attributes,
  rpc_request,
  error,
  other_message,
};

/// One callback. Which fields are used depends on the kind:
///   delivered           number = ticket, e
///   attributes_response number = request id, e, first = client, second = shared
///   rpc_response        number = request id, e, first = response
///   shared_attributes   number = subscription index, first = update
///   rpc_request         first = id, second = method, third = params
///   error               e, first = context
///   other_message       first = topic, second = payload
/// For json::value arguments, `*_kind` holds the value's kind (absent when not present) and the
/// text its raw JSON.
struct event_record {
  event_kind kind = event_kind::ready;
  tbmqtt::errc e{};
  std::uint32_t number = 0;
  text_copy<256> first;
  text_copy<256> second;
  text_copy<256> third;
  tbmqtt::json::kind first_kind = tbmqtt::json::kind::absent;
  tbmqtt::json::kind second_kind = tbmqtt::json::kind::absent;
  tbmqtt::json::kind third_kind = tbmqtt::json::kind::absent;
};

class recording_events final : public tbmqtt::session_events {
 public:
  void on_ready() noexcept override { add(event_kind::ready); }
  void on_delivered(tbmqtt::delivery_ticket ticket, tbmqtt::errc e) noexcept override {
    if (event_record* r = add(event_kind::delivered)) {
      r->number = tbmqtt::to_underlying(ticket);
      r->e = e;
    }
  }
  void on_attributes_response(std::uint32_t request_id, tbmqtt::errc e, tbmqtt::json::value client,
                              tbmqtt::json::value shared) noexcept override {
    if (event_record* r = add(event_kind::attributes_response)) {
      r->number = request_id;
      r->e = e;
      set(r->first, r->first_kind, client);
      set(r->second, r->second_kind, shared);
    }
  }
  void on_rpc_response(std::uint32_t request_id, tbmqtt::errc e, tbmqtt::json::value response) noexcept override {
    if (event_record* r = add(event_kind::rpc_response)) {
      r->number = request_id;
      r->e = e;
      set(r->first, r->first_kind, response);
    }
  }
  void on_shared_attributes(std::size_t subscription, tbmqtt::json::value update) noexcept override {
    if (event_record* r = add(event_kind::shared_attributes)) {
      r->number = static_cast<std::uint32_t>(subscription);
      set(r->first, r->first_kind, update);
    }
  }
  void on_rpc_request(const tbmqtt::rpc_request& request) noexcept override {
    if (event_record* r = add(event_kind::rpc_request)) {
      r->first.assign(request.id);
      r->second.assign(request.method);
      set(r->third, r->third_kind, request.params);
    }
  }
  void on_error(tbmqtt::errc e, std::string_view context) noexcept override {
    if (event_record* r = add(event_kind::error)) {
      r->e = e;
      r->first.assign(context);
    }
  }
  bool on_other_message(std::string_view topic, tbmqtt::span<const std::byte> payload) noexcept override {
    if (event_record* r = add(event_kind::other_message)) {
      r->first.assign(topic);
      r->second.assign(tbmqtt::as_text(payload));
    }
    return claim_other_messages;
  }

  /// How many callbacks of `kind` were recorded.
  std::size_t count(event_kind kind) const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < recorded(); ++i) n += events[i].kind == kind ? 1 : 0;
    return n;
  }
  /// The `nth` (0-based) recorded callback of `kind`, or nullptr.
  const event_record* find(event_kind kind, std::size_t nth = 0) const noexcept {
    for (std::size_t i = 0; i < recorded(); ++i)
      if (events[i].kind == kind && nth-- == 0) return &events[i];
    return nullptr;
  }
  /// The last recorded callback, or nullptr.
  const event_record* last() const noexcept { return event_count == 0 ? nullptr : &events[recorded() - 1]; }
  std::size_t recorded() const noexcept { return event_count < max_records ? event_count : max_records; }
  void reset() noexcept { event_count = 0; }

  event_record events[max_records];
  std::size_t event_count = 0;  ///< Every callback, recorded or not.
  /// What on_other_message answers.
  bool claim_other_messages = false;

 private:
  event_record* add(event_kind kind) noexcept {
    const std::size_t i = event_count++;
    if (i >= max_records) return nullptr;
    events[i] = event_record{};
    events[i].kind = kind;
    return &events[i];
  }
  static void set(text_copy<256>& text, tbmqtt::json::kind& kind, tbmqtt::json::value v) noexcept {
    kind = v.type();
    text.assign(v.raw());
  }
};

/// Views text as the byte span the session's inputs take.
inline tbmqtt::span<const std::byte> bytes(std::string_view text) noexcept { return tbmqtt::as_bytes(text); }

}  // namespace tbmqtt_test
