// Shared by the tests of the offline queue and of the publisher that drives it
// (tests/unit/test_offline_queue.cpp, tests/unit/test_publisher.cpp): a session with a queue over
// an in-memory log that can lose power (crash_log.hpp), and a recorder of delivery outcomes.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "crash_log.hpp"
#include "fake_transport.hpp"
#include "session_rig.hpp"
#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/session.hpp"

namespace tbmqtt_test::queue_rig {
using tbmqtt::errc;
using tbmqtt::ioffline_queue;
using tbmqtt::offline_queue_config;
using tbmqtt::qos;
using tbmqtt::queue_full_policy;
using tbmqtt_test::crash_log;

using session_rig::attributes_topic;
using session_rig::telemetry_topic;

// Records delivery outcomes (on_delivered), up to 64.
struct forward_log final : tbmqtt::session_events {
  struct outcome {
    tbmqtt::delivery_ticket ticket;
    errc e;
  } outcomes[64];
  std::size_t count = 0;
  std::size_t ready = 0;
  void on_delivered(tbmqtt::delivery_ticket ticket, errc e) noexcept override {
    if (count < 64) outcomes[count] = {ticket, e};
    ++count;
  }
  void on_ready() noexcept override { ++ready; }
  std::size_t with(errc e) const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < count && i < 64; ++i) n += outcomes[i].e == e ? 1 : 0;
    return n;
  }
};

using queue8 = tbmqtt::offline_queue<8, 128>;

inline offline_queue_config limits(std::size_t messages, queue_full_policy policy = queue_full_policy::drop_oldest) {
  offline_queue_config c;
  c.max_messages = messages;
  c.when_full = policy;
  c.segment_bytes = 256;  // several segments in every test
  return c;
}

// A session with a queue over `disk`, as a device has after a (re)start.
struct device {
  tbmqtt_test::fake_transport port;
  forward_log events;
  tbmqtt::session s{port, events};
  queue8 queue;
  explicit device(crash_log& disk, offline_queue_config config = limits(8)) : queue(disk, config) {
    EXPECT_TRUE(queue.open().ok());
    s.set_offline_queue(&queue);
  }
  void connect(std::uint32_t now_ms = 0) {
    const std::size_t from = port.subscribe_count;
    s.on_connected(now_ms);
    for (std::size_t i = from; i < port.recorded_subscribes(); ++i) s.on_suback(port.subscribes[i].id, 1);
  }
  tbmqtt::result<tbmqtt::delivery_ticket> send(std::string_view json) {
    return s.publish_telemetry(json, qos::at_least_once);
  }
  // PUBACKs every publish recorded from index `from` on.
  void ack_from(std::size_t from) {
    for (std::size_t i = from; i < port.recorded_publishes(); ++i) s.on_puback(port.publishes[i].id);
  }
};

// "{"n":<i>}" in `buf`.
inline std::string_view doc(char (&buf)[24], int i) {
  const int n = std::snprintf(buf, sizeof buf, "{\"n\":%d}", i);
  return {buf, static_cast<std::size_t>(n)};
}

}  // namespace tbmqtt_test::queue_rig
