// Tests of src/core/reassembler.cpp: fragmented and streamed inbound messages.
// Driven through the session façade between a fake transport and an event recorder
// (tests/unit/session_rig.hpp). Time is always a parameter, never a clock.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "session_rig.hpp"

using tbmqtt::errc;
using tbmqtt::qos;
using tbmqtt::session_state;
using tbmqtt_test::bytes;
using tbmqtt_test::event_kind;
using tbmqtt_test::event_record;
using namespace tbmqtt_test::session_rig;

// ==== fragmented messages ==========================================================================

TEST(reassembler, reassembles_in_order_fragments_into_one_dispatch) {
  rig r;
  std::byte buffer[256];
  r.s.set_reassembly_buffer(buffer);
  ASSERT_TRUE(r.s.add_rpc_method("setGpio").ok());
  connect(r);
  r.events.reset();
  constexpr std::string_view payload = R"({"method":"setGpio","params":{"pin":4}})";
  constexpr std::string_view topic = "v1/devices/me/rpc/request/17";
  r.s.on_message_fragment(topic, bytes(part(payload, 0, 10)), 0, payload.size(), 0);
  r.s.on_message_fragment("", bytes(part(payload, 10, 15)), 10, payload.size(), 0);
  EXPECT_EQ(r.events.event_count, 0u);
  r.s.on_message_fragment("", bytes(part(payload, 25)), 25, payload.size(), 0);
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  EXPECT_EQ(e->kind, event_kind::rpc_request);
  EXPECT_EQ(e->first.view(), std::string_view("17"));
  EXPECT_EQ(e->second.view(), std::string_view("setGpio"));
  EXPECT_EQ(e->third.view(), std::string_view(R"({"pin":4})"));
}

TEST(reassembler, passes_an_unfragmented_message_straight_through) {
  rig r;  // no reassembly buffer needed
  connect(r);
  r.events.claim_other_messages = true;
  r.events.reset();
  r.s.on_message_fragment("ext/topic", bytes("hello"), 0, 5, 0);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->kind, event_kind::other_message);
  EXPECT_EQ(r.events.last()->first.view(), std::string_view("ext/topic"));
  EXPECT_EQ(r.events.last()->second.view(), std::string_view("hello"));
}

TEST(reassembler, out_of_order_fragment_drops_the_message_as_malformed) {
  rig r;
  std::byte buffer[64];
  r.s.set_reassembly_buffer(buffer);
  connect(r);
  r.events.claim_other_messages = true;
  r.events.reset();
  r.s.on_message_fragment("ext/topic", bytes("0123"), 0, 12, 0);
  r.s.on_message_fragment("", bytes("89ab"), 8, 12, 0);  // 4..7 skipped
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  ASSERT_TRUE(is_error(e, errc::malformed));
  EXPECT_EQ(e->first.view(), std::string_view("ext/topic"));
  // The rest of the dropped message is ignored.
  r.s.on_message_fragment("", bytes("4567"), 4, 12, 0);
  EXPECT_EQ(r.events.event_count, 1u);
}

TEST(reassembler, fragment_with_a_changed_total_is_malformed) {
  rig r;
  std::byte buffer[64];
  r.s.set_reassembly_buffer(buffer);
  connect(r);
  r.events.claim_other_messages = true;
  r.events.reset();
  r.s.on_message_fragment("ext/topic", bytes("0123"), 0, 8, 0);
  r.s.on_message_fragment("", bytes("4567"), 4, 9, 0);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::malformed));
}

TEST(reassembler, message_larger_than_the_reassembly_buffer_is_payload_too_large) {
  rig r;
  std::byte buffer[8];
  r.s.set_reassembly_buffer(buffer);
  connect(r);
  r.events.claim_other_messages = true;
  r.events.reset();
  r.s.on_message_fragment("ext/big", bytes("01234"), 0, 9, 0);
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  ASSERT_TRUE(is_error(e, errc::payload_too_large));
  EXPECT_EQ(e->first.view(), std::string_view("ext/big"));
  r.s.on_message_fragment("", bytes("5678"), 5, 9, 0);
  EXPECT_EQ(r.events.event_count, 1u);
  // Exactly the buffer size fits.
  r.s.on_message_fragment("ext/fit", bytes("0123"), 0, 8, 0);
  r.s.on_message_fragment("", bytes("4567"), 4, 8, 0);
  ASSERT_EQ(r.events.event_count, 2u);
  EXPECT_EQ(r.events.last()->kind, event_kind::other_message);
  EXPECT_EQ(r.events.last()->second.view(), std::string_view("01234567"));
}

TEST(reassembler, fragments_without_a_reassembly_buffer_are_payload_too_large) {
  rig r;
  connect(r);
  r.events.reset();
  r.s.on_message_fragment("ext/topic", bytes("ab"), 0, 4, 0);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::payload_too_large));
}

TEST(reassembler, a_new_message_after_a_dropped_one_is_reassembled) {
  rig r;
  std::byte buffer[16];
  r.s.set_reassembly_buffer(buffer);
  connect(r);
  r.events.claim_other_messages = true;
  r.events.reset();
  r.s.on_message_fragment("ext/a", bytes("0123456789"), 0, 40, 0);  // too large
  r.s.on_message_fragment("", bytes("0123456789"), 10, 40, 0);
  r.s.on_message_fragment("ext/b", bytes("abc"), 0, 6, 0);
  r.s.on_message_fragment("", bytes("de"), 3, 6, 0);
  r.s.on_message_fragment("", bytes("0"), 9, 10, 0);  // out of order
  r.s.on_message_fragment("ext/c", bytes("xy"), 0, 4, 0);
  r.s.on_message_fragment("", bytes("zw"), 2, 4, 0);
  ASSERT_EQ(r.events.event_count, 3u);
  EXPECT_TRUE(is_error(&r.events.events[0], errc::payload_too_large));
  EXPECT_TRUE(is_error(&r.events.events[1], errc::malformed));
  EXPECT_EQ(r.events.events[1].first.view(), std::string_view("ext/b"));
  EXPECT_EQ(r.events.events[2].kind, event_kind::other_message);
  EXPECT_EQ(r.events.events[2].first.view(), std::string_view("ext/c"));
  EXPECT_EQ(r.events.events[2].second.view(), std::string_view("xyzw"));
}

TEST(reassembler, reassembled_attribute_response_reaches_the_requester) {
  rig r;
  std::byte buffer[128];
  r.s.set_reassembly_buffer(buffer);
  connect(r);
  auto id = r.s.request_attributes("", "fw", 0);
  ASSERT_TRUE(id.ok());
  r.events.reset();
  char topic[96];
  const std::string_view t = attr_response_topic(topic, *id);
  constexpr std::string_view payload = R"({"shared":{"fw":"1.2.3"}})";
  for (std::size_t off = 0; off < payload.size(); off += 4)
    r.s.on_message_fragment(off == 0 ? t : std::string_view{}, bytes(part(payload, off, 4)), off, payload.size(), 0);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->kind, event_kind::attributes_response);
  EXPECT_EQ(r.events.last()->number, *id);
  EXPECT_EQ(r.events.last()->second.view(), std::string_view(R"({"fw":"1.2.3"})"));
}

// ==== streamed messages (session_extension::on_stream_*) ============================================

namespace {
// Takes fragmented messages whose topic starts with `prefix` and records what it was given.
struct streaming_extension final : tbmqtt::session_extension {
  std::string_view prefix = "stream/";
  char received[64] = {};
  std::size_t received_size = 0;
  std::size_t begins = 0, fragments = 0, ends = 0, total = 0;
  errc end_error = errc::again;  // not a value the session sends
  bool on_stream_begin(std::string_view topic, std::size_t size, std::uint32_t) noexcept override {
    if (part(topic, 0, prefix.size()) != prefix) return false;
    ++begins;
    total = size;
    received_size = 0;
    return true;
  }
  void on_stream_fragment(std::size_t offset, tbmqtt::span<const std::byte> fragment, std::uint32_t) noexcept override {
    ++fragments;
    EXPECT_EQ(offset, received_size);
    if (offset + fragment.size() <= sizeof received) std::memcpy(received + offset, fragment.data(), fragment.size());
    received_size = offset + fragment.size();
  }
  void on_stream_end(errc e, std::uint32_t) noexcept override {
    ++ends;
    end_error = e;
  }
  std::string_view text() const { return {received, received_size}; }
};

void send_fragments(rig& r, std::string_view topic, std::string_view payload, std::size_t piece) {
  for (std::size_t off = 0; off < payload.size(); off += piece)
    r.s.on_message_fragment(off == 0 ? topic : std::string_view{}, bytes(part(payload, off, piece)), off,
                            payload.size(), 0);
}
}  // namespace

TEST(reassembler, a_taken_stream_gets_every_fragment_in_order_without_a_reassembly_buffer) {
  rig r;  // no reassembly buffer at all
  streaming_extension ext;
  ASSERT_TRUE(r.s.add_extension(ext).ok());
  connect(r);
  r.events.reset();
  send_fragments(r, "stream/a", "0123456789abcdefghij", 3);
  EXPECT_EQ(ext.begins, 1u);
  EXPECT_EQ(ext.total, 20u);
  EXPECT_EQ(ext.fragments, 7u);
  EXPECT_EQ(ext.text(), std::string_view("0123456789abcdefghij"));
  EXPECT_EQ(ext.ends, 1u);
  EXPECT_EQ(ext.end_error, errc{});
  EXPECT_EQ(r.events.event_count, 0u);  // neither dispatched nor an error
}

TEST(reassembler, a_declined_fragmented_message_is_reassembled_as_before) {
  rig r;
  std::byte buffer[32];
  r.s.set_reassembly_buffer(buffer);
  streaming_extension ext;
  ASSERT_TRUE(r.s.add_extension(ext).ok());
  connect(r);
  r.events.claim_other_messages = true;
  r.events.reset();
  send_fragments(r, "other/a", "0123456789", 4);
  EXPECT_EQ(ext.begins, 0u);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->kind, event_kind::other_message);
  EXPECT_EQ(r.events.last()->second.view(), std::string_view("0123456789"));
}

TEST(reassembler, an_unfragmented_message_is_not_offered_as_a_stream) {
  rig r;
  streaming_extension ext;
  ASSERT_TRUE(r.s.add_extension(ext).ok());
  connect(r);
  r.events.claim_other_messages = true;
  r.s.on_message_fragment("stream/a", bytes("whole"), 0, 5, 0);
  EXPECT_EQ(ext.begins, 0u);
  EXPECT_EQ(r.events.count(event_kind::other_message), 1u);
}

TEST(reassembler, a_missing_fragment_ends_the_stream_as_malformed_and_drops_the_rest) {
  rig r;
  streaming_extension ext;
  ASSERT_TRUE(r.s.add_extension(ext).ok());
  connect(r);
  r.events.reset();
  r.s.on_message_fragment("stream/a", bytes("0123"), 0, 12, 0);
  r.s.on_message_fragment("", bytes("89ab"), 8, 12, 0);  // 4..7 lost by the transport
  EXPECT_EQ(ext.ends, 1u);
  EXPECT_EQ(ext.end_error, errc::malformed);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::malformed));
  EXPECT_EQ(r.events.last()->first.view(), std::string_view("stream/a"));
  r.s.on_message_fragment("", bytes("4567"), 4, 12, 0);  // late: ignored
  EXPECT_EQ(ext.fragments, 1u);
  EXPECT_EQ(ext.ends, 1u);
  EXPECT_EQ(r.events.event_count, 1u);
}

TEST(reassembler, a_disconnect_ends_the_stream_as_disconnected) {
  rig r;
  streaming_extension ext;
  ASSERT_TRUE(r.s.add_extension(ext).ok());
  connect(r);
  r.events.reset();
  r.s.on_message_fragment("stream/a", bytes("0123"), 0, 8, 0);
  r.s.on_disconnected();
  EXPECT_EQ(ext.ends, 1u);
  EXPECT_EQ(ext.end_error, errc::disconnected);
  EXPECT_EQ(r.events.count(event_kind::error), 0u);
  connect(r);
  r.s.on_message_fragment("", bytes("4567"), 4, 8, 0);  // the old message's tail: ignored
  EXPECT_EQ(ext.fragments, 1u);
  EXPECT_EQ(ext.ends, 1u);
}

TEST(reassembler, a_new_message_before_the_last_fragment_ends_the_old_one_as_malformed) {
  rig r;
  std::byte buffer[16];
  r.s.set_reassembly_buffer(buffer);
  streaming_extension ext;
  ASSERT_TRUE(r.s.add_extension(ext).ok());
  connect(r);
  r.events.claim_other_messages = true;
  r.events.reset();
  r.s.on_message_fragment("stream/a", bytes("0123"), 0, 8, 0);  // its last fragment never comes
  send_fragments(r, "stream/b", "abcdef", 2);
  EXPECT_EQ(ext.begins, 2u);
  EXPECT_EQ(ext.ends, 2u);
  EXPECT_EQ(ext.text(), std::string_view("abcdef"));
  EXPECT_EQ(ext.end_error, errc{});
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::malformed));
  EXPECT_EQ(r.events.last()->first.view(), std::string_view("stream/a"));
  // Likewise a partially reassembled message cut short by a whole one.
  r.s.on_message_fragment("other/x", bytes("01"), 0, 4, 0);
  r.s.on_message_fragment("other/y", bytes("whole"), 0, 5, 0);
  ASSERT_EQ(r.events.event_count, 3u);
  EXPECT_TRUE(is_error(&r.events.events[1], errc::malformed));
  EXPECT_EQ(r.events.events[1].first.view(), std::string_view("other/x"));
  EXPECT_EQ(r.events.events[2].second.view(), std::string_view("whole"));
}

TEST(reassembler, a_stream_whose_extension_is_removed_goes_nowhere) {
  rig r;
  streaming_extension ext;
  ASSERT_TRUE(r.s.add_extension(ext).ok());
  connect(r);
  r.events.reset();
  r.s.on_message_fragment("stream/a", bytes("0123"), 0, 8, 0);
  r.s.remove_extension(ext);
  r.s.on_message_fragment("", bytes("4567"), 4, 8, 0);
  EXPECT_EQ(ext.fragments, 1u);
  EXPECT_EQ(ext.ends, 0u);
  EXPECT_EQ(r.events.event_count, 0u);
}
