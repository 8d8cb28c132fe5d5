// The Linux platform pieces on a real file system: atomic storage and the OTA file sink.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "tbmqtt/linux/platform.hpp"

namespace {

struct temp_dir {
  std::string path;
  temp_dir() {
    char pattern[] = "/tmp/tbmqtt-platform-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~temp_dir() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

TEST(file_storage, stores_loads_and_erases_blobs_with_private_permissions) {
  temp_dir dir;
  tbmqtt::file_storage store(dir.path + "/state");
  std::byte buffer[16];
  EXPECT_EQ(store.load("creds", buffer).error(), tbmqtt::errc::not_found);
  ASSERT_TRUE(store.store("creds", tbmqtt::as_bytes("token-123")));
  auto n = store.load("creds", buffer);
  ASSERT_TRUE(n);
  EXPECT_EQ(tbmqtt::as_text({buffer, *n}), "token-123");
  struct stat st {};
  ASSERT_EQ(::stat((dir.path + "/state/creds").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(exists(dir.path + "/state/creds.tmp"));
  ASSERT_TRUE(store.store("creds", tbmqtt::as_bytes("a-much-longer-token-value")));
  EXPECT_EQ(store.load("creds", buffer).error(), tbmqtt::errc::not_enough_space);
  ASSERT_TRUE(store.erase("creds"));
  EXPECT_TRUE(store.erase("creds"));  // erasing a missing key is fine
  EXPECT_EQ(store.load("creds", buffer).error(), tbmqtt::errc::not_found);
}

TEST(file_storage, a_precreated_world_writable_temp_file_or_symlink_never_receives_the_value) {
  temp_dir dir;
  const std::string state = dir.path + "/state";
  ASSERT_EQ(::mkdir(state.c_str(), 0700), 0);
  // What an attacker with write access to the directory could prepare: the old fixed temp name
  // as a world-writable file, symlinks at names an implementation might use, and the target
  // itself as a symlink to a file of the attacker's.
  const std::string victim = dir.path + "/victim";
  { std::ofstream(victim) << "untouched"; }
  const std::string planted = state + "/creds.tmp";
  { std::ofstream(planted) << "planted"; }
  ASSERT_EQ(::chmod(planted.c_str(), 0666), 0);
  ASSERT_EQ(::symlink(victim.c_str(), (state + "/.creds.tmp").c_str()), 0);
  ASSERT_EQ(::symlink(victim.c_str(), (state + "/creds").c_str()), 0);
  const mode_t old_umask = ::umask(0);  // the mode must not depend on the caller's umask
  tbmqtt::file_storage store(state);
  const bool stored = static_cast<bool>(store.store("creds", tbmqtt::as_bytes("SECRET-TOKEN")));
  ::umask(old_umask);
  ASSERT_TRUE(stored);
  EXPECT_EQ(read_file(victim), "untouched");
  EXPECT_EQ(read_file(planted), "planted");
  struct stat st {};
  ASSERT_EQ(::lstat((state + "/creds").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));  // the symlink was replaced, not followed
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_file(state + "/creds"), "SECRET-TOKEN");
  // No temp file left behind, and nothing else in the directory holds the value.
  std::string listing;
  const std::string cmd = "ls -A '" + state + "'";
  if (FILE* ls = ::popen(cmd.c_str(), "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, ls) != nullptr) listing += line;
    ::pclose(ls);
  }
  EXPECT_EQ(listing, ".creds.tmp\ncreds\ncreds.tmp\n");
}

TEST(file_sink, a_symlink_at_the_part_name_is_replaced_not_written_through) {
  temp_dir dir;
  const std::string target = dir.path + "/image.bin";
  const std::string victim = dir.path + "/victim";
  { std::ofstream(victim) << "untouched"; }
  ASSERT_EQ(::symlink(victim.c_str(), (target + ".part").c_str()), 0);
  tbmqtt::file_sink sink(target);
  tbmqtt::ota_package package;
  EXPECT_EQ(sink.begin(package, 4).error(), tbmqtt::errc::not_found);  // resume: never through a link
  ASSERT_TRUE(sink.begin(package, 0));
  ASSERT_TRUE(sink.write(0, tbmqtt::as_bytes("image")));
  ASSERT_TRUE(sink.finish());
  EXPECT_EQ(read_file(victim), "untouched");
  EXPECT_EQ(read_file(target), "image");
}

TEST(file_sink, writes_out_of_order_reads_back_and_renames_on_finish) {
  temp_dir dir;
  const std::string target = dir.path + "/image.bin";
  tbmqtt::file_sink sink(target);
  tbmqtt::ota_package package;
  ASSERT_TRUE(sink.begin(package, 0));
  ASSERT_TRUE(sink.write(5, tbmqtt::as_bytes("world")));
  ASSERT_TRUE(sink.write(0, tbmqtt::as_bytes("hello")));
  std::byte back[10];
  auto n = sink.read(0, back);
  ASSERT_TRUE(n);
  EXPECT_EQ(tbmqtt::as_text({back, *n}), "helloworld");
  EXPECT_FALSE(exists(target));  // nothing visible before finish()
  ASSERT_TRUE(sink.finish());
  EXPECT_EQ(read_file(target), "helloworld");
  EXPECT_FALSE(exists(target + ".part"));
}

TEST(file_sink, resume_keeps_the_partial_file_and_abort_removes_it) {
  temp_dir dir;
  const std::string target = dir.path + "/image.bin";
  tbmqtt::ota_package package;
  {
    tbmqtt::file_sink first(target);
    ASSERT_TRUE(first.begin(package, 0));
    ASSERT_TRUE(first.write(0, tbmqtt::as_bytes("0123456789")));
  }
  tbmqtt::file_sink second(target);
  EXPECT_EQ(second.begin(package, 11).error(), tbmqtt::errc::not_found);  // shorter than claimed
  ASSERT_TRUE(second.begin(package, 10));
  ASSERT_TRUE(second.write(10, tbmqtt::as_bytes("ab")));
  std::byte back[12];
  auto n = second.read(0, back);
  ASSERT_TRUE(n);
  EXPECT_EQ(tbmqtt::as_text({back, *n}), "0123456789ab");
  second.abort();
  EXPECT_FALSE(exists(target + ".part"));
  EXPECT_FALSE(exists(target));
}
