// Store-and-forward (client_options::offline_store) against a real mosquitto: messages published
// with the broker down survive a kill -9 of the process and arrive in order after a restart; the
// full policy drops (and counts) or refuses; delivery callbacks report each outcome.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "broker.hpp"
#include "tbmqtt/checksum.hpp"
#include "tbmqtt/linux/client.hpp"
#include "tbmqtt/linux/platform.hpp"

using namespace std::chrono_literals;
using tbmqtt::errc;
using tbmqtt::qos;
using tbmqtt::testing::broker;
using tbmqtt::testing::message;
using tbmqtt::testing::peer;
using tbmqtt::testing::wait_until;

namespace {

// A fresh store directory, removed with everything in it at the end of the test.
struct temp_dir {
  std::string path;
  temp_dir() {
    char pattern[] = "/tmp/tbmqtt-store-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  operator const std::string&() const { return path; }  // NOLINT: reads like the path it is
};

std::string seq_doc(int i) { return "{\"seq\":" + std::to_string(i) + "}"; }

tbmqtt::client_options store_options(std::uint16_t port, const std::string& dir, std::size_t max_messages,
                                     tbmqtt::queue_full_policy policy = tbmqtt::queue_full_policy::drop_oldest) {
  tbmqtt::client_options o;
  o.port = port;
  o.access_token = "TEST_TOKEN";
  o.reconnect_min = 20ms;
  o.reconnect_max = 300ms;
  o.offline_store = dir;
  o.offline_queue.max_messages = max_messages;
  o.offline_queue.max_bytes = max_messages * 64;
  o.offline_queue.when_full = policy;
  return o;
}

// The seq numbers of the telemetry `server` received, in arrival order.
std::vector<int> sequence_of(peer& server) {
  std::vector<int> seqs;
  for (const auto& m : server.received("v1/devices/me/telemetry")) {
    const auto at = m.payload.find("\"seq\":");  // stored telemetry arrives as {"ts":..,"values":{"seq":N}}
    seqs.push_back(at == std::string::npos ? -1 : std::atoi(m.payload.c_str() + at + 6));
  }
  return seqs;
}

// Duplicates (allowed: at-least-once) removed, keeping first arrivals.
std::vector<int> first_arrivals(const std::vector<int>& seqs) {
  std::vector<int> out;
  for (int s : seqs)
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  return out;
}

// Waits until `count` distinct messages arrived: a count of all arrivals can be reached by a
// redelivered duplicate (at-least-once) before the last message is in.
void wait_for_distinct(peer& server, std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  (void)wait_until([&] { return first_arrivals(sequence_of(server)).size() >= count; }, timeout);
}

}  // namespace

TEST(offline_store, messages_stored_with_the_broker_down_survive_kill_9_and_arrive_in_order) {
  broker b;
  const std::uint16_t port = b.port();
  b.stop();
  const temp_dir dir;
  constexpr int stored = 50;

  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The device: stores 50 messages, says so, then keeps storing more until it is killed
    // (mid-write: the kill lands inside a store of the offline queue).
    ::close(ready[0]);
    tbmqtt::client device(store_options(port, dir, 1000));
    for (int i = 0; i < 900; ++i) {
      if (!device.send_telemetry(seq_doc(i), qos::at_least_once)) ::_exit(2);
      if (i + 1 == stored) (void)!::write(ready[1], "r", 1);
    }
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char signal_byte = 0;
  ASSERT_EQ(::read(ready[0], &signal_byte, 1), 1);
  ::close(ready[0]);
  std::this_thread::sleep_for(15ms);
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));

  b.start();
  peer server(port, "v1/devices/me/telemetry");
  tbmqtt::client device(store_options(port, dir, 1000));
  const std::size_t recovered = device.offline_queued();
  EXPECT_GE(recovered, static_cast<std::size_t>(stored));
  ASSERT_TRUE(device.connect(10s));
  ASSERT_TRUE(device.flush(30s));
  EXPECT_EQ(device.offline_queued(), 0u);
  wait_for_distinct(server, recovered, 10s);
  const std::vector<int> seqs = first_arrivals(sequence_of(server));
  ASSERT_EQ(seqs.size(), recovered);
  for (std::size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], static_cast<int>(i)) << "out of order or lost";
}

TEST(offline_store, a_full_store_drops_the_oldest_counts_it_and_reports_it) {
  broker b;
  const std::uint16_t port = b.port();
  b.stop();
  const temp_dir dir;
  tbmqtt::client device(store_options(port, dir, 5));
  std::vector<errc> outcomes(8, errc::timeout);
  std::atomic<int> called{0};
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(device.send_telemetry(seq_doc(i), qos::at_least_once, [&, i](errc e) {
      outcomes[static_cast<std::size_t>(i)] = e;
      ++called;
    }));
  std::uint32_t dropped = 0;
  EXPECT_EQ(device.offline_queued(&dropped), 5u);
  EXPECT_EQ(dropped, 3u);
  EXPECT_EQ(called.load(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(outcomes[static_cast<std::size_t>(i)], errc::queue_full);

  b.start();
  peer server(port, "v1/devices/me/telemetry");
  ASSERT_TRUE(device.connect(10s));
  ASSERT_TRUE(device.flush(10s));
  EXPECT_TRUE(wait_until([&] { return called.load() == 8; }));
  for (int i = 3; i < 8; ++i) EXPECT_EQ(outcomes[static_cast<std::size_t>(i)], errc{});
  wait_for_distinct(server, 5);
  EXPECT_EQ(first_arrivals(sequence_of(server)), (std::vector<int>{3, 4, 5, 6, 7}));
}

// More messages pending than a 16-bit id space holds (issue 13: one 32-bit ticket space): each
// send returns its own ticket and each callback hears its own message's outcome exactly once.
TEST(offline_store, more_than_65536_stored_messages_each_get_their_own_ticket_and_callback) {
  constexpr std::size_t count = 70000;
  broker b;
  const temp_dir dir;
  std::vector<std::uint8_t> heard(count);  // written by the client's thread; read after flush
  std::vector<errc> outcomes(count, errc::timeout);
  std::atomic<std::size_t> called{0};
  tbmqtt::client_options o = store_options(b.port(), dir, count);
  o.offline_queue.max_bytes = count * 48;
  o.offline_queue.when_full = tbmqtt::queue_full_policy::refuse;
  o.offline_queue.max_in_flight = 20;
  o.offline_queue.commit_records = 1000;  // group commit: fewer syncs, same contract
  o.offline_store_sync = false;           // a process crash is not what this test is about
  std::vector<tbmqtt::delivery_ticket> tickets;
  tickets.reserve(count);
  tbmqtt::client device(o);
  for (std::size_t i = 0; i < count; ++i) {
    auto ticket = device.send_telemetry("{\"n\":" + std::to_string(i) + "}", qos::at_least_once, [&, i](errc e) {
      ++heard[i];
      outcomes[i] = e;
      ++called;
    });
    ASSERT_TRUE(ticket) << i << ": " << tbmqtt::to_string(ticket.error());
    tickets.push_back(*ticket);
  }
  EXPECT_EQ(device.offline_queued(), count);  // all pending before connect
  std::sort(tickets.begin(), tickets.end());
  EXPECT_EQ(std::adjacent_find(tickets.begin(), tickets.end()), tickets.end()) << "two messages share a ticket";
  ASSERT_TRUE(device.connect(10s));
  ASSERT_TRUE(device.flush(60s));
  ASSERT_TRUE(wait_until([&] { return called.load() >= count; }, 10s)) << called.load();
  std::size_t once_ok = 0;
  for (std::size_t i = 0; i < count; ++i) once_ok += heard[i] == 1 && outcomes[i] == errc{} ? 1 : 0;
  EXPECT_EQ(once_ok, count);
  EXPECT_EQ(called.load(), count);
}

TEST(offline_store, a_full_store_with_the_refuse_policy_fails_with_queue_full_and_keeps_the_rest) {
  broker b;
  const std::uint16_t port = b.port();
  b.stop();
  const temp_dir dir;
  tbmqtt::client device(store_options(port, dir, 3, tbmqtt::queue_full_policy::refuse));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(device.send_telemetry(seq_doc(i), qos::at_least_once));
  EXPECT_EQ(device.send_telemetry(seq_doc(3), qos::at_least_once).error(), errc::queue_full);
  EXPECT_EQ(device.send_attributes("{\"a\":1}", qos::at_least_once).error(), errc::queue_full);
  EXPECT_EQ(device.offline_queued(), 3u);
  b.start();
  peer server(port, "v1/devices/me/telemetry");
  ASSERT_TRUE(device.connect(10s));
  ASSERT_TRUE(device.flush(10s));
  wait_for_distinct(server, 3);
  EXPECT_EQ(first_arrivals(sequence_of(server)), (std::vector<int>{0, 1, 2}));
}

TEST(offline_store, messages_published_across_a_broker_outage_arrive_in_order) {
  broker b("persistence true\npersistence_location {dir}/\n");  // the peer's session survives the outage
  peer server(b.port(), "v1/devices/me/#", "tb-server-peer-store");
  const temp_dir dir;
  tbmqtt::client device(store_options(b.port(), dir, 500));
  ASSERT_TRUE(device.connect(10s));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(device.send_telemetry(seq_doc(i), qos::at_least_once));
  ASSERT_TRUE(device.flush(10s));
  b.stop();
  ASSERT_TRUE(wait_until([&] { return !device.connected(); }));
  for (int i = 20; i < 60; ++i) ASSERT_TRUE(device.send_telemetry(seq_doc(i), qos::at_least_once));
  ASSERT_TRUE(device.send_attributes("{\"after\":true}", qos::at_least_once));
  EXPECT_EQ(device.offline_queued(), 41u);
  EXPECT_EQ(device.flush(200ms).error(), errc::timeout);  // stored, not delivered
  b.start();
  ASSERT_TRUE(device.flush(20s));
  wait_for_distinct(server, 60);
  std::vector<int> expected(60);
  for (int i = 0; i < 60; ++i) expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(first_arrivals(sequence_of(server)), expected);
  EXPECT_EQ(server.wait_for("v1/devices/me/attributes", 1).size(), 1u);
}

TEST(offline_store, an_unreadable_store_directory_throws_at_construction) {
  tbmqtt::client_options o = store_options(1, "/proc/version/not-a-dir", 4);
  EXPECT_THROW(tbmqtt::client device(o), std::runtime_error);
}

// D4: one process per store directory; a second one gets a typed error, and nothing is overwritten.
TEST(offline_store, a_second_client_on_the_same_directory_gets_store_locked) {
  const temp_dir dir;
  tbmqtt::client first(store_options(1, dir, 16));
  ASSERT_TRUE(first.send_telemetry(seq_doc(0), qos::at_least_once));
  try {
    tbmqtt::client second(store_options(1, dir, 16));
    ADD_FAILURE() << "the second client opened a locked store";
  } catch (const tbmqtt::store_error& e) {
    EXPECT_EQ(e.code(), errc::store_locked);
    EXPECT_NE(std::string(e.what()).find("in use by another process (pid "), std::string::npos) << e.what();
  }
  EXPECT_EQ(first.offline_queued(), 1u);
}

// D3: stored with a larger capacity, sent with a smaller one: nothing stranded, in order.
TEST(offline_store, messages_stored_with_a_larger_capacity_all_arrive_with_the_default) {
  broker b;
  const std::uint16_t port = b.port();
  const temp_dir dir;
  constexpr int count = 2000;
  {
    tbmqtt::client_options o = store_options(port, dir, 3000);
    o.offline_queue.commit_records = 64;
    tbmqtt::client device(o);  // not connected: everything stays in the store
    for (int i = 0; i < count; ++i) ASSERT_TRUE(device.send_telemetry(seq_doc(i), qos::at_least_once)) << i;
    EXPECT_EQ(device.offline_queued(), static_cast<std::size_t>(count));
  }
  peer server(port, "v1/devices/me/telemetry");
  tbmqtt::client device(store_options(port, dir, 1000));
  EXPECT_EQ(device.offline_queued(), static_cast<std::size_t>(count));
  ASSERT_TRUE(device.connect(10s));
  ASSERT_TRUE(device.flush(60s));
  EXPECT_EQ(device.offline_queued(), 0u);
  wait_for_distinct(server, count, 20s);
  const std::vector<int> seqs = first_arrivals(sequence_of(server));
  ASSERT_EQ(seqs.size(), static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) ASSERT_EQ(seqs[static_cast<std::size_t>(i)], i) << "out of order or lost";
}

// Issue 15: telemetry stored during an outage keeps its capture time.
TEST(offline_store, telemetry_stored_during_an_outage_carries_its_capture_time) {
  broker b;
  const std::uint16_t port = b.port();
  b.stop();
  const temp_dir dir;
  const auto unix_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const long long before = unix_ms();
  {
    tbmqtt::client device(store_options(port, dir, 16));
    ASSERT_TRUE(device.send_telemetry("{\"t\":1}", qos::at_least_once));
    ASSERT_TRUE(device.send_telemetry("[{\"t\":2},{\"ts\":5,\"values\":{\"t\":3}}]", qos::at_least_once));
  }
  const long long stored_by = unix_ms();  // delivery can only start after this
  b.start();
  peer server(port, "v1/devices/me/telemetry");
  tbmqtt::client device(store_options(port, dir, 16));
  ASSERT_TRUE(device.connect(10s));
  ASSERT_TRUE(device.flush(10s));
  const auto got = server.wait_for("v1/devices/me/telemetry", 2, 10s);
  ASSERT_EQ(got.size(), 2u);
  auto ts_of = [](const std::string& p) { return std::atoll(p.c_str() + p.find("\"ts\":") + 5); };
  const long long ts = ts_of(got[0].payload);
  EXPECT_GE(ts, before);
  EXPECT_LE(ts, stored_by);
  EXPECT_EQ(got[0].payload, "{\"ts\":" + std::to_string(ts) + ",\"values\":{\"t\":1}}");
  EXPECT_EQ(got[1].payload.rfind("[{\"ts\":", 0), 0u);
  EXPECT_NE(got[1].payload.find(",\"values\":{\"t\":2}},{\"ts\":5,\"values\":{\"t\":3}}]"), std::string::npos)
      << got[1].payload;
}

namespace {

// One message in the store format before the log: file `tbq<slot>` holding 'Q', 1, topic kind,
// 0, sequence (u32 LE), CRC-32 of the payload (u32 LE), payload; modified at `mtime_s`.
void write_legacy_file(const std::string& dir, int slot, std::uint32_t sequence, const std::string& payload,
                       std::time_t mtime_s) {
  tbmqtt::crc32_hasher crc;
  crc.update({reinterpret_cast<const std::byte*>(payload.data()), payload.size()});
  std::byte digest[4];
  (void)crc.finish(digest);
  std::string bytes{'Q', 1, 1, 0};
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>(sequence >> (8 * i)));
  for (auto b : digest) bytes.push_back(static_cast<char>(b));
  bytes += payload;
  const std::string file = dir + "/tbq" + std::to_string(slot);
  std::FILE* f = std::fopen(file.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  std::fclose(f);
  const timespec times[2] = {{mtime_s, 0}, {mtime_s, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
}

std::vector<std::string> legacy_files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind("tbq", 0) == 0) names.push_back(e.path().filename().string());
  return names;
}

}  // namespace

// The store format before the log (one file per message) is imported on open, in sequence order
// (not file order; across the 32-bit wrap), then removed. A crash after the import's commit and
// before the removal is simulated by putting the files back: they are imported again, so the
// messages arrive twice (at-least-once), none is lost, and the first arrivals keep their order.
TEST(offline_store, files_of_the_format_before_the_log_are_imported_in_order_then_removed) {
  temp_dir dir;
  constexpr int total = 20;
  constexpr std::time_t stored_at = 1700000000;
  auto write_all = [&] {
    for (int i = 0; i < total; ++i)
      write_legacy_file(dir, (i * 7) % total, 0xFFFFFFF6u + static_cast<std::uint32_t>(i), seq_doc(i), stored_at);
    std::FILE* damaged = std::fopen((dir.path + "/tbq" + std::to_string(total)).c_str(), "wb");
    std::fputs("Q\x01\x01", damaged);  // a torn record: counted and removed, never sent
    std::fclose(damaged);
  };
  write_all();
  std::FILE* other = std::fopen((dir.path + "/notes.txt").c_str(), "wb");  // not the store's
  std::fclose(other);

  broker b;
  {
    tbmqtt::client device(store_options(b.port(), dir, 100));  // not connected: nothing is sent
    EXPECT_TRUE(legacy_files_in(dir).empty());                 // imported, committed, removed
  }
  write_all();  // the simulated crash: the files were imported and committed, never removed

  peer server(b.port(), "v1/devices/me/telemetry");
  tbmqtt::client device(store_options(b.port(), dir, 100));
  EXPECT_TRUE(legacy_files_in(dir).empty());
  ASSERT_TRUE(device.connect(5s));
  ASSERT_TRUE(wait_until([&] { return sequence_of(server).size() >= 2 * total; }, 20s));
  std::vector<int> expected(total);
  for (int i = 0; i < total; ++i) expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(first_arrivals(sequence_of(server)), expected);
  EXPECT_EQ(sequence_of(server).size(), 2u * total);  // each twice: before and after the "crash"
  for (const auto& m : server.received("v1/devices/me/telemetry"))
    EXPECT_NE(m.payload.find("\"ts\":1700000000000"), std::string::npos) << m.payload;  // its file's time
  EXPECT_TRUE(std::filesystem::exists(dir.path + "/notes.txt"));
}

// kill -9 at every step of that import (each message appended, the commit, each file removed,
// the directory sync): a child process opens the store and SIGKILLs itself at step k, for k = 0, 1,
// ... until an import runs to its end. Each time the next open finishes the import, and every
// message arrives: none lost, first arrivals in sequence order; a message arrives at most twice
// (a crash after an append or the commit, before its file is removed, imports it again — the
// documented at-least-once). A kill keeps what was written before it (the page cache), so this
// catches a file removed before its message is in the log; that the commit (fsync) comes before
// the removals matters for a power loss, which this does not simulate.
TEST(offline_store, a_kill_9_at_any_step_of_the_import_of_older_files_loses_nothing) {
  constexpr int total = 8;
  constexpr std::time_t stored_at = 1700000000;
  broker b;
  int killed_at = 0;
  for (int k = 0;; ++k) {
    SCOPED_TRACE("killed at step " + std::to_string(k));
    temp_dir dir;
    for (int i = 0; i < total; ++i)
      write_legacy_file(dir, (i * 5) % total, 0xFFFFFFFAu + static_cast<std::uint32_t>(i), seq_doc(i), stored_at);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      static int kill_at;
      kill_at = k;
      tbmqtt::detail::legacy_import_step_hook = [](std::size_t step) {
        if (static_cast<int>(step) == kill_at) ::raise(SIGKILL);
      };
      { tbmqtt::client device(store_options(b.port(), dir, 100)); }  // opens the store: imports, never connects
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    ASSERT_TRUE(killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << status;

    peer server(b.port(), "v1/devices/me/telemetry");
    tbmqtt::client device(store_options(b.port(), dir, 100));
    EXPECT_TRUE(legacy_files_in(dir).empty());
    const std::size_t queued = device.offline_queued();
    EXPECT_GE(queued, static_cast<std::size_t>(total));
    EXPECT_LE(queued, 2u * total);  // each message at most twice
    ASSERT_TRUE(device.connect(5s));
    ASSERT_TRUE(device.flush(20s));
    ASSERT_TRUE(wait_until([&] { return sequence_of(server).size() >= queued; }, 20s));
    std::vector<int> expected(total);
    for (int i = 0; i < total; ++i) expected[static_cast<std::size_t>(i)] = i;
    EXPECT_EQ(first_arrivals(sequence_of(server)), expected);
    if (!killed) {
      EXPECT_EQ(queued, static_cast<std::size_t>(total));  // a whole import: each message once
      break;
    }
    ++killed_at;
  }
  // Every step was hit: total appends, the commit, total removals, the directory sync.
  EXPECT_EQ(killed_at, 2 * total + 2);
}
