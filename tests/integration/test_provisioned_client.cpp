// tbmqtt::provisioned_client against a real mosquitto (password file) and a closed port: stored
// credentials are used without provisioning, refused ones give a typed error and stay stored,
// retries wait 0, 1, 2 s and end on the attempt bound, the deadline, cancel() and the
// destructor. The provisioning round trip itself is proven against the emulator
// (tests/emulator/test_provision_lifecycle.py).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "broker.hpp"
#include "tbmqtt/linux/platform.hpp"
#include "tbmqtt/linux/provisioned_client.hpp"

using namespace std::chrono_literals;
using tbmqtt::errc;
using tbmqtt::testing::broker;
using clock_type = std::chrono::steady_clock;

namespace {

struct temp_dir {
  std::string path;
  temp_dir() {
    char pattern[] = "/tmp/tbmqtt-provisioned-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~temp_dir() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
};

// A broker that admits only user "device" with password "secret" (so "provision" is refused).
std::string password_config(const temp_dir& dir) {
  const std::string file = dir.path + "/passwd";
  EXPECT_EQ(std::system(("mosquitto_passwd -b -c '" + file + "' device secret >/dev/null 2>&1").c_str()), 0);
  return "allow_anonymous false\npassword_file " + file + "\n";
}

tbmqtt::client_options server_on(std::uint16_t port) {
  tbmqtt::client_options o;
  o.port = port;
  return o;
}

tbmqtt::provisioning_options lifecycle(tbmqtt::storage& store) {
  tbmqtt::provisioning_options p;
  p.request.device_name = "dev-1";
  p.request.key = "K";
  p.request.secret = "S";
  p.store = &store;
  p.attempt_timeout = 2s;
  return p;
}

void store_basic(tbmqtt::storage& store, std::string_view password) {
  static tbmqtt::credentials record;
  ASSERT_TRUE(record.assign_mqtt_basic("", "device", password));
  static char scratch[tbmqtt::credentials_json_capacity];
  ASSERT_TRUE(tbmqtt::store_credentials(store, record, scratch));
}

std::string stored_text(tbmqtt::storage& store) {
  std::string text(tbmqtt::credentials_json_capacity, '\0');
  auto n = store.load(tbmqtt::credentials_storage_key,
                      tbmqtt::span<std::byte>{reinterpret_cast<std::byte*>(text.data()), text.size()});
  if (!n) return std::string("error: ") + tbmqtt::to_string(n.error());
  text.resize(*n);
  return text;
}

// A loopback port nothing listens on: every provisioning attempt fails with errc::unreachable.
std::uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), size), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size), 0);
  ::close(fd);  // bound but never listening, and now closed
  return ntohs(address.sin_port);
}

long long ms_since(clock_type::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t).count();
}

}  // namespace

TEST(provisioned_client, stored_credentials_connect_without_provisioning) {
  temp_dir dir;
  broker b(password_config(dir));
  tbmqtt::file_storage store(dir.path + "/state");
  store_basic(store, "secret");
  tbmqtt::provisioned_client device{server_on(b.port()), lifecycle(store)};
  ASSERT_TRUE(device.connect(5s));
  EXPECT_TRUE(device.get().connected());
  EXPECT_FALSE(device.provisioned());
  EXPECT_EQ(device.attempts(), 0u);
  EXPECT_EQ(device.current().username.view(), "device");
}

TEST(provisioned_client, refused_stored_credentials_are_a_typed_error_and_stay_stored) {
  temp_dir dir;
  broker b(password_config(dir));
  tbmqtt::file_storage store(dir.path + "/state");
  store_basic(store, "old-password");
  const std::string before = stored_text(store);
  tbmqtt::provisioned_client device{server_on(b.port()), lifecycle(store)};
  EXPECT_EQ(device.connect(5s).error(), errc::stored_credentials_refused);
  EXPECT_EQ(device.attempts(), 0u);
  EXPECT_EQ(stored_text(store), before);
}

TEST(provisioned_client, failed_reprovisioning_keeps_the_stored_credentials) {
  temp_dir dir;
  broker b(password_config(dir));  // refuses the `provision` user as well
  tbmqtt::file_storage store(dir.path + "/state");
  store_basic(store, "old-password");
  const std::string before = stored_text(store);
  auto p = lifecycle(store);
  p.allow_reprovision = true;
  p.max_attempts = 2;
  int retries = 0;
  p.on_retry = [&](std::uint32_t attempt, errc e, std::chrono::milliseconds wait) {
    ++retries;
    EXPECT_EQ(attempt, 1u);
    EXPECT_EQ(e, errc::refused_credentials);
    EXPECT_EQ(wait, 0ms);
  };
  tbmqtt::provisioned_client device{server_on(b.port()), p};
  EXPECT_EQ(device.connect(5s).error(), errc::refused_credentials);
  EXPECT_EQ(device.attempts(), 2u);
  EXPECT_EQ(retries, 1);
  EXPECT_EQ(stored_text(store), before);
}

TEST(provisioned_client, a_damaged_credentials_file_is_malformed_and_kept) {
  temp_dir dir;
  const std::string file = dir.path + "/creds.json";
  std::ofstream(file) << "{\"credentialsType\":\"ACCESS_TOKEN\"";
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  tbmqtt::provisioning_options p;
  p.request.key = "K";
  p.request.secret = "S";
  p.credentials_file = file;
  tbmqtt::provisioned_client device{server_on(closed_port()), p};
  EXPECT_EQ(device.connect(2s).error(), errc::malformed);
  EXPECT_EQ(device.attempts(), 0u);
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "{\"credentialsType\":\"ACCESS_TOKEN\"");
}

// Like OpenSSH with private keys: a credentials file that group or others may read is refused,
// by load_credentials and by provisioned_client, and left as it is, unless explicitly allowed.
TEST(provisioned_client, a_credentials_file_readable_by_others_is_refused_unless_allowed) {
  temp_dir dir;
  broker b(password_config(dir));
  const std::string file = dir.path + "/creds.json";
  tbmqtt::credentials c;
  ASSERT_TRUE(c.assign_mqtt_basic("", "device", "secret"));
  ASSERT_TRUE(tbmqtt::save_credentials(file, c));
  ASSERT_TRUE(tbmqtt::load_credentials(file));  // saved 0600
  for (const mode_t mode : {0640, 0604, 0620}) {
    ASSERT_EQ(::chmod(file.c_str(), mode), 0);
    EXPECT_EQ(tbmqtt::load_credentials(file).error(), errc::insecure_permissions) << std::oct << mode;
  }
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  auto allowed = tbmqtt::load_credentials(file, true);
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->password.view(), "secret");

  tbmqtt::provisioning_options p;
  p.request.key = "K";
  p.request.secret = "S";
  p.credentials_file = file;
  p.allow_reprovision = true;  // even so, the file is neither used nor replaced
  {
    tbmqtt::provisioned_client device{server_on(b.port()), p};
    EXPECT_EQ(device.connect(5s).error(), errc::insecure_permissions);
    EXPECT_EQ(device.attempts(), 0u);
  }
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  ASSERT_TRUE(tbmqtt::load_credentials(file, true));

  p.allow_readable_credentials_file = true;
  tbmqtt::provisioned_client device{server_on(b.port()), p};
  ASSERT_TRUE(device.connect(5s));
  EXPECT_FALSE(device.provisioned());
  EXPECT_EQ(device.current().username.view(), "device");
}

TEST(provisioned_client, retries_wait_0_1_2_seconds_until_the_attempt_bound) {
  temp_dir dir;
  tbmqtt::file_storage store(dir.path + "/state");
  auto p = lifecycle(store);
  p.max_attempts = 3;
  std::vector<long long> waits;
  p.on_retry = [&](std::uint32_t, errc e, std::chrono::milliseconds wait) {
    EXPECT_EQ(e, errc::unreachable);
    waits.push_back(wait.count());
  };
  tbmqtt::provisioned_client device{server_on(closed_port()), p};
  const auto started = clock_type::now();
  EXPECT_EQ(device.connect(2s).error(), errc::unreachable);
  EXPECT_GE(ms_since(started), 1000);
  EXPECT_LT(ms_since(started), 1900);  // no third wait of 2 s after the last attempt
  EXPECT_EQ(waits, (std::vector<long long>{0, 1000}));
  EXPECT_EQ(device.attempts(), 3u);
  EXPECT_EQ(stored_text(store), "error: not_found");
}

TEST(provisioned_client, the_deadline_ends_retrying_with_timeout) {
  temp_dir dir;
  tbmqtt::file_storage store(dir.path + "/state");
  auto p = lifecycle(store);
  p.deadline = 2500ms;  // attempts at 0 s and 1 s; the 2 s wait would pass it
  tbmqtt::provisioned_client device{server_on(closed_port()), p};
  const auto started = clock_type::now();
  EXPECT_EQ(device.connect(2s).error(), errc::timeout);
  EXPECT_GE(ms_since(started), 1000);
  EXPECT_LT(ms_since(started), 2500);
  EXPECT_EQ(device.attempts(), 3u);
}

TEST(provisioned_client, cancel_from_another_thread_ends_a_retry_wait_at_once) {
  temp_dir dir;
  tbmqtt::file_storage store(dir.path + "/state");
  auto p = lifecycle(store);
  std::promise<void> waiting_long;
  p.on_retry = [&](std::uint32_t attempt, errc, std::chrono::milliseconds) {
    if (attempt == 2) waiting_long.set_value();  // now in the 1 s wait
  };
  tbmqtt::provisioned_client device{server_on(closed_port()), p};
  auto outcome = std::async(std::launch::async, [&] { return device.connect(2s).error(); });
  ASSERT_EQ(waiting_long.get_future().wait_for(5s), std::future_status::ready);
  const auto cancelled_at = clock_type::now();
  device.cancel();
  EXPECT_EQ(outcome.get(), errc::cancelled);
  EXPECT_LT(ms_since(cancelled_at), 600);  // well inside the 1 s wait
  EXPECT_EQ(stored_text(store), "error: not_found");
}

TEST(provisioned_client, the_destructor_cancels_a_running_connect) {
  temp_dir dir;
  tbmqtt::file_storage store(dir.path + "/state");
  auto p = lifecycle(store);
  std::promise<void> waiting_long;
  p.on_retry = [&](std::uint32_t attempt, errc, std::chrono::milliseconds) {
    if (attempt == 2) waiting_long.set_value();
  };
  auto device = std::make_unique<tbmqtt::provisioned_client>(server_on(closed_port()), p);
  auto* raw = device.get();
  auto outcome = std::async(std::launch::async, [raw] { return raw->connect(2s).error(); });
  ASSERT_EQ(waiting_long.get_future().wait_for(5s), std::future_status::ready);
  const auto destroyed_at = clock_type::now();
  device.reset();
  EXPECT_LT(ms_since(destroyed_at), 600);
  EXPECT_EQ(outcome.get(), errc::cancelled);
}
