// Shared by the tests of the session's engines (tests/unit/test_*_engine.cpp and friends): a
// session between a fake transport and an event recorder, and small helpers to drive it.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "fake_transport.hpp"
#include "tbmqtt/config.hpp"
#include "tbmqtt/session.hpp"
#include "tbmqtt/topics.hpp"

namespace tbmqtt_test::session_rig {
using tbmqtt::errc;
using tbmqtt_test::bytes;
using tbmqtt_test::event_kind;
using tbmqtt_test::event_record;
}  // namespace tbmqtt_test::session_rig

namespace tbmqtt_test::session_rig {

inline constexpr std::string_view attr_response_filter = "v1/devices/me/attributes/response/+";
inline constexpr std::string_view rpc_response_filter = "v1/devices/me/rpc/response/+";
inline constexpr std::string_view rpc_request_filter = "v1/devices/me/rpc/request/+";
inline constexpr std::string_view attributes_topic = "v1/devices/me/attributes";
inline constexpr std::string_view telemetry_topic = "v1/devices/me/telemetry";
inline constexpr std::uint8_t granted_qos1 = 1;
inline constexpr std::uint8_t refused = 0x80;

// Everything one test needs: a transport, an event recorder and the session between them.
// A plain struct built inside each test (the embedded gtest look-alike has no fixtures).
struct rig {
  tbmqtt_test::fake_transport port;
  tbmqtt_test::recording_events events;
  tbmqtt::session s;
  explicit rig(tbmqtt::session_config config = {}) : s(port, events, config) {}
};

// Grants every subscribe recorded from index `from` on.
inline void grant_from(rig& r, std::size_t from) {
  for (std::size_t i = from; i < r.port.recorded_subscribes(); ++i)
    r.s.on_suback(r.port.subscribes[i].id, granted_qos1);
}

// CONNACK plus a granted SUBACK for every subscription: the session ends up ready.
inline void connect(rig& r, std::uint32_t now_ms = 0) {
  const std::size_t from = r.port.subscribe_count;
  r.s.on_connected(now_ms);
  grant_from(r, from);
}

inline void deliver(rig& r, std::string_view topic, std::string_view payload, std::uint32_t now_ms = 0) {
  r.s.on_message(topic, bytes(payload), now_ms);
}

// PUBACKs transport packet `packet_id`; true when the session then reported exactly the message
// with ticket `ticket` delivered (one id space: publish calls return tickets, not packet ids).
inline bool acknowledged_as(rig& r, tbmqtt::message_id packet_id, tbmqtt::delivery_ticket ticket) {
  const std::size_t before = r.events.count(event_kind::delivered);
  r.s.on_puback(packet_id);
  if (r.events.count(event_kind::delivered) != before + 1) return false;
  const event_record* e = r.events.find(event_kind::delivered, before);
  return e != nullptr && e->number == tbmqtt::to_underlying(ticket) && e->e == tbmqtt::errc{};
}

// Writes `prefix` followed by the decimal `n` into `buf`; returns a view of it.
inline std::string_view with_number(char (&buf)[96], std::string_view prefix, std::uint32_t n) {
  std::memcpy(buf, prefix.data(), prefix.size());
  char digits[10];
  std::size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  for (std::size_t i = 0; i < count; ++i) buf[prefix.size() + i] = digits[count - 1 - i];
  return {buf, prefix.size() + count};
}

inline std::string_view attr_response_topic(char (&buf)[96], std::uint32_t id) {
  return with_number(buf, "v1/devices/me/attributes/response/", id);
}
inline std::string_view rpc_response_topic(char (&buf)[96], std::uint32_t id) {
  return with_number(buf, "v1/devices/me/rpc/response/", id);
}
inline std::string_view rpc_request_topic(char (&buf)[96], std::uint32_t id) {
  return with_number(buf, "v1/devices/me/rpc/request/", id);
}

inline bool is_error(const event_record* e, errc code) {
  return e != nullptr && e->kind == event_kind::error && e->e == code;
}

// Like text.substr(pos, count) but clamping, without the throwing range check (which would drag
// the C++ unwinder into the bare-metal test image).
inline std::string_view part(std::string_view text, std::size_t pos, std::size_t count = std::string_view::npos) {
  if (pos > text.size()) pos = text.size();
  const std::size_t rest = text.size() - pos;
  return {text.data() + pos, count < rest ? count : rest};
}

}  // namespace tbmqtt_test::session_rig
