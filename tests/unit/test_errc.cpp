// Tests of src/core/errc.cpp and of the errc values' one meaning each: every value has its own
// name; a failing storage medium is errc::storage_error and a queue that was never opened is
// errc::not_open, never a transport or connection error, and nothing is lost by the failure.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string_view>

#include "blob_storage.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/segment_store.hpp"
#include "tbmqtt/storage.hpp"

using tbmqtt::errc;

namespace {

constexpr int last_errc = static_cast<int>(errc::command_failed);

struct log_rig {
  tbmqtt_test::blob_storage medium;
  std::byte write_page[96];
  std::byte read_page[96];
  tbmqtt::kv_segment_store log{medium, write_page, read_page};
  tbmqtt::ioffline_queue::entry window[4];
  std::byte buffer[128];
  tbmqtt::ioffline_queue queue{log, window, buffer, {}};
};

}  // namespace

TEST(errc, every_value_has_its_own_name) {
  for (int i = 1; i <= last_errc; ++i) {
    const char* name = tbmqtt::to_string(static_cast<errc>(i));
    EXPECT_STRNE(name, "ok") << i;
    for (int j = 1; j < i; ++j) EXPECT_STRNE(name, tbmqtt::to_string(static_cast<errc>(j))) << i << " " << j;
  }
  EXPECT_STREQ(tbmqtt::to_string(errc{}), "ok");
  EXPECT_STREQ(tbmqtt::to_string(errc::storage_error), "storage_error");
  EXPECT_STREQ(tbmqtt::to_string(errc::not_open), "not_open");
  EXPECT_STREQ(tbmqtt::to_string(errc::not_found), "not_found");
  EXPECT_STREQ(tbmqtt::to_string(errc::out_of_memory), "out_of_memory");
  EXPECT_STREQ(tbmqtt::to_string(errc::would_deadlock), "would_deadlock");
  EXPECT_STREQ(tbmqtt::to_string(errc::system_error), "system_error");
  EXPECT_STREQ(tbmqtt::to_string(errc::command_failed), "command_failed");
  EXPECT_STREQ(tbmqtt::to_string(static_cast<errc>(last_errc + 1)), "ok");  // past the last value
}

TEST(errc, a_segment_that_does_not_exist_is_not_found_and_a_dead_medium_a_storage_error) {
  log_rig r;
  std::byte out[8];
  EXPECT_EQ(r.log.find(0).error(), errc::not_found);  // an empty log
  EXPECT_EQ(r.log.read(7, 0, out).error(), errc::not_found);
  log_rig dead;
  dead.medium.powered = false;
  EXPECT_EQ(dead.log.find(0).error(), errc::storage_error);  // cannot tell: never "not found"
}

TEST(errc, a_queue_that_was_never_opened_is_not_open_and_keeps_nothing) {
  log_rig r;
  EXPECT_EQ(r.queue.push(tbmqtt::stored_topic::telemetry, "{\"a\":1}").error(), errc::not_open);
  EXPECT_EQ(r.queue.size(), 0u);
  ASSERT_TRUE(r.queue.open().ok());  // opening afterwards works, with nothing stored by the refused push
  EXPECT_EQ(r.queue.size(), 0u);
  ASSERT_TRUE(r.queue.push(tbmqtt::stored_topic::telemetry, "{\"a\":2}").ok());
  EXPECT_EQ(r.queue.size(), 1u);
}

TEST(errc, a_dead_medium_is_a_storage_error_when_opening_and_pushing) {
  log_rig dead;
  dead.medium.powered = false;
  EXPECT_EQ(dead.queue.open().error(), errc::storage_error);

  log_rig r;
  ASSERT_TRUE(r.queue.open().ok());
  ASSERT_TRUE(r.queue.push(tbmqtt::stored_topic::telemetry, "{\"kept\":1}").ok());
  ASSERT_TRUE(r.queue.sync().ok());
  r.medium.powered = false;
  const auto refused = r.queue.push(tbmqtt::stored_topic::telemetry, "{\"kept\":2}");
  const auto committed = r.queue.sync();
  // Whichever call reaches the medium first reports it, as a storage error.
  EXPECT_TRUE(refused.error() == errc::storage_error || committed.error() == errc::storage_error);
  // The committed message is still there once the medium works again.
  r.medium.powered = true;
  tbmqtt::kv_segment_store again_log{r.medium, r.write_page, r.read_page};
  tbmqtt::ioffline_queue::entry window[4];
  std::byte buffer[128];
  tbmqtt::ioffline_queue reopened{again_log, window, buffer, {}};
  auto recovered = reopened.open();
  ASSERT_TRUE(recovered.ok());
  EXPECT_GE(*recovered, 1u);
}

TEST(errc, the_blob_log_refuses_a_write_out_of_order_as_an_invalid_argument) {
  tbmqtt_test::blob_storage medium;
  std::byte write_page[96];
  std::byte read_page[96];
  tbmqtt::kv_segment_store log{medium, write_page, read_page};
  const std::byte data[4] = {};
  ASSERT_TRUE(log.create(0).ok());
  ASSERT_TRUE(log.write(0, 0, data).ok());
  EXPECT_EQ(log.write(0, 100, data).error(), errc::invalid_argument);  // past the end: a gap
  EXPECT_EQ(log.write(7, 0, data).error(), errc::invalid_argument);    // not the newest segment
  ASSERT_TRUE(log.write(0, 4, data).ok());                             // the log itself goes on
  medium.powered = false;
  tbmqtt::kv_segment_store cold{medium, write_page, read_page};
  EXPECT_EQ(cold.find(0).error(), errc::storage_error);
}
