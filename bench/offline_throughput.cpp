// tbmqtt — end-to-end throughput of store-and-forward (client_options::offline_store, the log
// of tbmqtt/offline_queue.hpp) against a local MQTT broker, with its yardsticks measured in the
// same run, alternating so that every variant sees the same machine state:
//   - "no store": the same client without an offline store (libmosquitto keeps QoS 1 in RAM);
//   - "disk: append+fdatasync every K": the raw disk, in the same directory, appending 60-byte
//     records and calling fdatasync every K records (what a log with that batch can do at best).
// The store variants: fsync with group commit (commit_records 64, commit_interval_ms 10: the
// CLI's default), fsync on every message (commit_records 1: a push is durable when it returns),
// and without fsync (survives a crash of the process, not a power loss).
//
//   bench_offline_throughput --host 127.0.0.1 --port 1883 [--messages N] [--repeats R] [--dir D]
//
// One measurement = connect (untimed), publish N messages of 40 bytes through
// client::send_telemetry (QoS 1), stop the clock when the store is empty (every message
// acknowledged and done). Prints the median msg/s of each variant and the RAM the store uses
// (its window and record buffer). Always exits 0 on a completed run: a measurement, not a test.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tbmqtt/linux/client.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::string_view payload = R"({"t":21.5,"h":40,"id":"abcdefghijklmno"})";

struct options {
  std::string host = "127.0.0.1";
  int port = 1883;
  long messages = 5000;
  int repeats = 3;
  std::string dir;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_offline_throughput: %s\n", what.c_str());
  std::exit(2);
}

std::string fresh_dir(const options& o) {
  std::string path = o.dir + "/store-XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) die("mkdtemp " + path);
  return path;
}

enum class variant { no_store, group_commit, commit_each, no_fsync };

const char* name_of(variant v) {
  switch (v) {
    case variant::no_store: return "client, no store (yardstick)";
    case variant::group_commit: return "store, fsync, group commit 64 / 10 ms";
    case variant::commit_each: return "store, fsync every message";
    case variant::no_fsync: return "store, no fsync";
  }
  return "";
}

double measure(const options& o, variant v, long n) {
  tbmqtt::client_options co;
  co.host = o.host;
  co.port = static_cast<std::uint16_t>(o.port);
  co.client_id = "bench-offline";
  co.username = "bench";
  std::string store;
  if (v != variant::no_store) {
    store = fresh_dir(o);
    co.offline_store = store;
    co.offline_store_sync = v != variant::no_fsync;
    co.offline_queue.max_messages = static_cast<std::size_t>(n) + 1;
    co.offline_queue.max_bytes = static_cast<std::size_t>(n + 1) * 256;
    co.offline_queue.commit_records = v == variant::commit_each ? 1 : 64;
    co.offline_queue.commit_interval_ms = 10;
  }
  double rate = 0;
  {
    tbmqtt::client device{co};
    if (auto r = device.connect(std::chrono::seconds(10)); !r)
      die(std::string("connect: ") + tbmqtt::to_string(r.error()));
    const auto start = clock_type::now();
    for (long i = 0; i < n; ++i)
      if (auto r = device.send_telemetry(payload, tbmqtt::qos::at_least_once); !r)
        die(std::string("send_telemetry: ") + tbmqtt::to_string(r.error()));
    if (auto r = device.flush(std::chrono::seconds(300)); !r) die("flush timed out");
    const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    if (device.offline_queued() != 0) die("the store is not empty after flush");
    rate = static_cast<double>(n) / seconds;
  }
  if (!store.empty()) std::filesystem::remove_all(store);
  return rate;
}

// The raw disk: append 60-byte records to one file, fdatasync every `batch` records.
double measure_disk(const options& o, long n, long batch) {
  const std::string dir = fresh_dir(o);
  const std::string path = dir + "/raw.log";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) die("open " + path);
  char record[60];
  std::memset(record, 'x', sizeof record);
  const auto start = clock_type::now();
  for (long i = 0; i < n; ++i) {
    if (::write(fd, record, sizeof record) != static_cast<ssize_t>(sizeof record)) die("write");
    if ((i + 1) % batch == 0 || i + 1 == n)
      if (::fdatasync(fd) != 0) die("fdatasync");
  }
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  ::close(fd);
  std::filesystem::remove_all(dir);
  return static_cast<double>(n) / seconds;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  const char* tmp = std::getenv("TMPDIR");
  o.dir = tmp != nullptr ? tmp : "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--host")
      o.host = next();
    else if (a == "--port")
      o.port = std::atoi(next().c_str());
    else if (a == "--messages")
      o.messages = std::atol(next().c_str());
    else if (a == "--repeats")
      o.repeats = std::atoi(next().c_str());
    else if (a == "--dir")
      o.dir = next();
    else
      die("unknown argument " + a);
  }
  const variant variants[] = {variant::no_store, variant::group_commit, variant::commit_each, variant::no_fsync};
  std::vector<double> rates[4];
  std::vector<double> disk_each;
  std::vector<double> disk_batch;
  // Every message fsynced one by one is slow: measure it on a tenth of the messages.
  const long each_n = std::max(200L, o.messages / 10);
  for (int r = 0; r < o.repeats; ++r) {
    for (int v = 0; v < 4; ++v)
      rates[v].push_back(measure(o, variants[v], variants[v] == variant::commit_each ? each_n : o.messages));
    disk_each.push_back(measure_disk(o, each_n, 1));
    disk_batch.push_back(measure_disk(o, o.messages, 64));
  }
  std::printf(
      "offline store end to end, QoS 1, %ld messages of %zu bytes (%ld for fsync every message), "
      "median of %d, store in %s\n",
      o.messages, payload.size(), each_n, o.repeats, o.dir.c_str());
  for (int v = 0; v < 4; ++v) std::printf("  %-44s %10.0f msg/s\n", name_of(variants[v]), median(rates[v]));
  std::printf("  %-44s %10.0f msg/s\n", "disk: append+fdatasync every record", median(disk_each));
  std::printf("  %-44s %10.0f msg/s\n", "disk: append+fdatasync every 64 records", median(disk_batch));
  std::printf("  RAM of the store in the client: window of 16 x %zu bytes + one record buffer (max payload + %zu)\n",
              sizeof(tbmqtt::ioffline_queue::entry), tbmqtt::ioffline_queue::header_size);
  return 0;
}
