// Fuzzes the offline queue's recovery scan (src/core/offline_queue.cpp, open()) over arbitrary
// segment bytes: the input is cut into up to four segments (first byte: how many; then each
// segment but the last: its length / 16 as one byte; then the segments in order), recovered, drained through a transport
// that acknowledges everything, and recovered again. Must never crash or trip UB, and the
// counts must hold: every recovered message is handed out once, and a drained log reopens empty.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "../unit/crash_log.hpp"
#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/session.hpp"

namespace {

struct acking_port final : tbmqtt::transport_port {
  std::uint16_t next = 1;
  std::size_t published = 0;
  tbmqtt::result<tbmqtt::message_id> publish(std::string_view, tbmqtt::span<const std::byte>,
                                             tbmqtt::qos) noexcept override {
    ++published;
    if (next == 0) next = 1;
    return next++;
  }
  tbmqtt::result<tbmqtt::message_id> subscribe(std::string_view, tbmqtt::qos) noexcept override { return next++; }
};

tbmqtt_test::crash_log disk;  // 48 KiB: static, reset for every input

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (auto& s : disk.segments) s.used = false;
  disk.power_on();
  if (size == 0) return 0;
  const std::size_t segments = 1 + data[0] % 4;
  std::size_t at = 1;
  std::size_t lengths[4] = {};
  for (std::size_t i = 0; i + 1 < segments && at < size; ++i) lengths[i] = data[at++] * 16u;
  for (std::size_t i = 0; i < segments; ++i) {
    auto& s = disk.segments[i];
    s.used = true;
    s.id = static_cast<std::uint32_t>(i + 1);
    const std::size_t n = i + 1 == segments ? size - at : (lengths[i] < size - at ? lengths[i] : size - at);
    const std::size_t kept =
        n < tbmqtt_test::crash_log::segment_capacity ? n : tbmqtt_test::crash_log::segment_capacity;
    if (kept > 0) std::memcpy(s.data, data + at, kept);
    s.size = s.synced = kept;
    at += n;
  }

  tbmqtt::offline_queue_config config;
  config.max_messages = 100000;
  config.max_bytes = 1u << 30;
  config.segment_bytes = 2048;
  acking_port port;
  tbmqtt::session_config topics;
  std::size_t recovered = 0;
  {
    tbmqtt::offline_queue<8, 512> queue{disk, config};
    auto opened = queue.open();
    if (!opened) return 0;
    recovered = *opened;
    for (int round = 0; round < 10000 && !queue.empty(); ++round) {
      const std::size_t before = port.published;
      const std::uint16_t first_id = port.next;
      // The publisher's loop (src/core/publisher.cpp): retrieve, publish, mark in flight.
      tbmqtt::stored_message m;
      while (queue.retrieve(static_cast<std::uint32_t>(round), m)) {
        auto sent =
            port.publish(m.topic == tbmqtt::stored_topic::attributes ? topics.attributes_topic : topics.telemetry_topic,
                         tbmqtt::as_bytes(m.payload), tbmqtt::qos::at_least_once);
        if (!sent) std::abort();
        queue.mark_in_flight(m.sequence, *sent);
      }
      for (std::uint16_t id = first_id; id != port.next; ++id) (void)queue.erase(id);
      if (port.published == before && !queue.empty() && queue.in_flight() == 0 && !queue.has_unsent()) std::abort();
    }
    if (!queue.empty()) std::abort();
    if (port.published > recovered) std::abort();  // nothing handed out twice
    if (!queue.push(tbmqtt::stored_topic::telemetry, "{\"a\":1}")) std::abort();
  }
  tbmqtt::offline_queue<8, 512> again{disk, config};
  auto reopened = again.open();
  if (!reopened || *reopened != 1) std::abort();  // only the message pushed after the drain
  return 0;
}
