// The Linux storage paths report a failing file system as errc::storage_error (never as a
// transport error), an object used before it was opened as errc::not_open, and lose nothing:
// the OTA file sink, the blob storage, the offline store's segment files, the credentials file
// and the client's offline store. Failures are real ones (a path through a regular file, a
// directory where a file belongs), so they happen as root too.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "tbmqtt/linux/client.hpp"
#include "tbmqtt/linux/platform.hpp"
#include "tbmqtt/linux/provisioned_client.hpp"

using tbmqtt::errc;

namespace {

struct temp_dir {
  std::string path;
  temp_dir() {
    char pattern[] = "/tmp/tbmqtt-storage-errors-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~temp_dir() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
};

// A regular file: any path below it fails with ENOTDIR.
std::string plain_file(const temp_dir& dir) {
  const std::string file = dir.path + "/plain";
  std::ofstream(file) << "x";
  return file;
}

}  // namespace

TEST(storage_errors, the_ota_file_sink_used_before_begin_is_not_open) {
  temp_dir dir;
  tbmqtt::file_sink sink(dir.path + "/image.bin");
  const std::byte data[4] = {};
  std::byte out[4];
  EXPECT_EQ(sink.write(0, data).error(), errc::not_open);
  EXPECT_EQ(sink.read(0, out).error(), errc::not_open);
  EXPECT_EQ(sink.finish().error(), errc::not_open);
  EXPECT_NE(::access((dir.path + "/image.bin").c_str(), F_OK), 0);  // nothing was written
}

TEST(storage_errors, the_ota_file_sink_that_cannot_create_its_file_is_a_storage_error) {
  temp_dir dir;
  tbmqtt::file_sink sink(plain_file(dir) + "/image.bin");
  EXPECT_EQ(sink.begin(tbmqtt::ota_package{}, 0).error(), errc::storage_error);
}

TEST(storage_errors, blob_storage_failures_are_storage_errors_and_keep_the_old_value) {
  temp_dir dir;
  tbmqtt::file_storage store(dir.path);
  const std::byte old_value[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
  ASSERT_TRUE(store.store("kept", old_value));
  std::byte out[16];
  ASSERT_EQ(::mkdir((dir.path + "/dir").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((dir.path + "/dir/inside").c_str(), 0700), 0);
  EXPECT_EQ(store.load("dir", out).error(), errc::storage_error);         // a directory is not a value
  EXPECT_EQ(store.store("dir", old_value).error(), errc::storage_error);  // rename onto a directory
  EXPECT_EQ(store.erase("dir").error(), errc::storage_error);
  EXPECT_EQ(store.load("missing", out).error(), errc::not_found);
  tbmqtt::file_storage broken(plain_file(dir) + "/state");
  EXPECT_EQ(broken.store("kept", old_value).error(), errc::storage_error);
  EXPECT_EQ(broken.load("kept", out).error(), errc::storage_error);
  auto loaded = store.load("kept", out);  // untouched by the failures
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, 3u);
  EXPECT_EQ(out[2], std::byte{3});
}

TEST(storage_errors, a_segment_store_that_cannot_create_its_directory_is_a_storage_error) {
  temp_dir dir;
  tbmqtt::file_segment_store files(plain_file(dir) + "/queue");
  EXPECT_EQ(files.open().error(), errc::storage_error);
}

TEST(storage_errors, the_credentials_file_missing_is_invalid_argument_unreadable_is_a_storage_error) {
  temp_dir dir;
  EXPECT_EQ(tbmqtt::load_credentials(dir.path + "/missing.json").error(), errc::invalid_argument);
  ASSERT_EQ(::mkdir((dir.path + "/a-directory.json").c_str(), 0700), 0);
  EXPECT_EQ(tbmqtt::load_credentials(dir.path + "/a-directory.json").error(), errc::storage_error);
  tbmqtt::credentials c;
  ASSERT_TRUE(c.assign_access_token("token-1"));
  EXPECT_EQ(tbmqtt::save_credentials(plain_file(dir) + "/creds.json", c).error(), errc::storage_error);
  const std::string good = dir.path + "/creds.json";
  ASSERT_TRUE(tbmqtt::save_credentials(good, c));
  tbmqtt::credentials other;
  ASSERT_TRUE(other.assign_access_token("token-2"));
  // A failed save leaves the saved file as it was.
  ASSERT_EQ(::mkdir((dir.path + "/blocked.json").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((dir.path + "/blocked.json/x").c_str(), 0700), 0);
  EXPECT_EQ(tbmqtt::save_credentials(dir.path + "/blocked.json", other).error(), errc::storage_error);
  auto loaded = tbmqtt::load_credentials(good);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->token.view(), "token-1");
}

TEST(storage_errors, the_clients_offline_store_failing_is_a_storage_error_and_none_is_not_open) {
  temp_dir dir;
  tbmqtt::client_options o;
  o.host = "127.0.0.1";
  o.port = 1;
  o.access_token = "t";
  tbmqtt::client without_store(o);
  EXPECT_EQ(without_store.sync_offline_store().error(), errc::not_open);
  o.offline_store = plain_file(dir) + "/queue";
  try {
    tbmqtt::client device(o);
    ADD_FAILURE() << "a store below a regular file opened";
  } catch (const tbmqtt::store_error& e) {
    EXPECT_EQ(e.code(), errc::storage_error);
    EXPECT_NE(std::string(e.what()).find("cannot be created or locked"), std::string::npos) << e.what();
  }
}
