// Tests of kv_segment_store (src/core/segment_store.cpp): the offline log over small blobs (NVS on
// ESP-IDF), driven by a session and an offline queue over the fake transport, with a blob store
// that can lose power after N operations (tests/unit/blob_storage.hpp).
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdio>

#include "blob_storage.hpp"
#include "fake_transport.hpp"
#include "queue_rig.hpp"
#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/segment_store.hpp"
#include "tbmqtt/session.hpp"

using tbmqtt::offline_queue_config;
using tbmqtt::qos;

using namespace tbmqtt_test::queue_rig;

namespace {

using tbmqtt_test::blob_storage;

struct kv_device {
  std::byte write_page[96];
  std::byte read_page[96];
  tbmqtt::kv_segment_store log;
  tbmqtt_test::fake_transport port;
  forward_log events;
  tbmqtt::session s{port, events};
  queue8 queue;
  kv_device(blob_storage& blobs, offline_queue_config config) : log(blobs, write_page, read_page), queue(log, config) {
    EXPECT_TRUE(queue.open().ok());
    s.set_offline_queue(&queue);
  }
  void connect() {
    const std::size_t from = port.subscribe_count;
    s.on_connected(0);
    for (std::size_t i = from; i < port.recorded_subscribes(); ++i) s.on_suback(port.subscribes[i].id, 1);
  }
};

}  // namespace

TEST(kv_segment_store, the_log_over_blobs_keeps_order_across_pages_segments_and_restarts) {
  blob_storage blobs;
  offline_queue_config config = limits(16);
  config.segment_bytes = 200;  // pages of 96 bytes, segments of ~3 pages
  {
    kv_device d{blobs, config};
    for (int i = 0; i < 12; ++i) {
      char buf[24];
      ASSERT_TRUE(d.s.publish_telemetry(doc(buf, i), qos::at_least_once).ok()) << i;
    }
    d.connect();
    ASSERT_EQ(d.port.publish_count, 8u);  // the window
    for (std::size_t p = 0; p < 5; ++p) d.s.on_puback(d.port.publishes[p].id);
    EXPECT_EQ(d.port.publish_count, 12u);
    ASSERT_TRUE(d.queue.sync().ok());  // the watermark reaches the blobs (a client does it when it ends)
  }
  kv_device after{blobs, config};
  EXPECT_EQ(after.queue.size(), 7u);
  after.connect();
  ASSERT_EQ(after.port.publish_count, 7u);
  for (int i = 0; i < 7; ++i) {
    char buf[24];
    EXPECT_EQ(after.port.payload(static_cast<std::size_t>(i)), doc(buf, i + 5));
  }
}

TEST(kv_segment_store, a_power_cut_at_any_blob_operation_loses_no_committed_message) {
  for (long budget = 0; budget < 40; ++budget) {
    blob_storage blobs;
    bool accepted[8] = {};
    {
      offline_queue_config config = limits(16);
      config.segment_bytes = 150;
      kv_device d{blobs, config};
      blobs.ops_left = budget;
      for (int i = 0; i < 8; ++i) {
        char buf[24];
        accepted[i] = d.s.publish_telemetry(doc(buf, i), qos::at_least_once).ok();
      }
    }
    blobs.powered = true;
    blobs.ops_left = -1;
    offline_queue_config config = limits(16);
    kv_device after{blobs, config};
    after.connect();
    int last = -1;
    bool seen[8] = {};
    for (std::size_t p = 0; p < after.port.recorded_publishes(); ++p) {
      int n = -1;
      ASSERT_EQ(std::sscanf(after.port.publishes[p].payload.view().data(), "{\"n\":%d}", &n), 1);
      EXPECT_GT(n, last) << "budget " << budget;
      last = n;
      seen[n] = true;
    }
    for (int n = 0; n < 8; ++n) EXPECT_TRUE(!accepted[n] || seen[n]) << "budget " << budget << ": lost " << n;
  }
}
