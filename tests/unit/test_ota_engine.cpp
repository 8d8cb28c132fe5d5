// Tests of src/core/ota_engine.cpp: the OTA engine (tbmqtt/ota.hpp) driven by a scripted server:
// chunk requests are answered from an in-memory image, with drops, reordering, errors, disconnects
// and restarts; the sink and storage are RAM doubles (ota_fakes.hpp). Time is a parameter.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <charconv>
#include <cstring>
#include <optional>
#include <string_view>

#include "ota_fakes.hpp"
#include "tbmqtt/ota.hpp"
#include "tbmqtt/topics.hpp"

namespace {

using tbmqtt::errc;
using tbmqtt::ota_state;

constexpr std::size_t image_capacity = 70000;
std::byte image[image_capacity];

void make_image(std::size_t size) {
  std::uint32_t x = 12345;
  for (std::size_t i = 0; i < size; ++i) {
    x = x * 1103515245u + 12345u;
    image[i] = static_cast<std::byte>(x >> 16);
  }
}

// Lowercase hex CRC32 (ThingsBoard's encoding) of the first `size` bytes of the image.
struct hex_digest {
  char text[16] = {};
  std::string_view view() const { return text; }
};
hex_digest crc32_of_image(std::size_t size) {
  tbmqtt::crc32_hasher h;
  h.update({image, size});
  std::byte digest[4];
  const std::size_t n = h.finish(digest);
  hex_digest out;
  (void)tbmqtt::to_hex({digest, n}, tbmqtt::span<char>(out.text, sizeof out.text - 1));
  return out;
}

struct chunk_request {
  std::uint32_t download = 0, chunk = 0, size = 0;
  bool software = false;
};

// The transport: records chunk requests, attribute requests and fw_state telemetry.
struct server_port final : tbmqtt::transport_port {
  chunk_request requests[512];
  std::size_t request_count = 0, served = 0;
  std::uint32_t last_attribute_request = 0;
  char states[32][24] = {};
  std::size_t state_count = 0;
  char last_error[160] = {};
  char last_current[160] = {};
  std::uint16_t next_id = 1;

  static std::uint32_t number(std::string_view s) {
    std::uint32_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  tbmqtt::result<tbmqtt::message_id> publish(std::string_view topic, tbmqtt::span<const std::byte> payload,
                                             tbmqtt::qos) noexcept override {
    const std::string_view body = tbmqtt::as_text(payload);
    if (topic.rfind("v2/fw/request/", 0) == 0 || topic.rfind("v2/sw/request/", 0) == 0) {
      const std::string_view rest = std::string_view(topic.data() + 14, topic.size() - 14);
      const std::size_t slash = rest.find('/');
      chunk_request& r = requests[request_count++ % 512];
      r.download = number(std::string_view(rest.data(), slash));
      r.chunk = number(std::string_view(rest.data() + slash + 7, rest.size() - slash - 7));
      r.size = number(body);
      r.software = topic[3] == 's';
    } else if (auto id = tbmqtt::topics::parse_decimal(topic.rfind("v1/devices/me/attributes/request/", 0) == 0
                                                           ? std::string_view(topic.data() + 33, topic.size() - 33)
                                                           : std::string_view{})) {
      last_attribute_request = *id;
    } else if (topic == "v1/devices/me/telemetry") {
      record_state(body);
    }
    return next_id++;
  }
  tbmqtt::result<tbmqtt::message_id> subscribe(std::string_view, tbmqtt::qos) noexcept override { return next_id++; }

  void record_state(std::string_view body) {
    auto doc = tbmqtt::json::value::parse(body);
    if (!doc) return;
    for (std::string_view key : {"fw_state", "sw_state"}) {
      auto state = (*doc)[key].as_string();
      if (state && state_count < 32) {
        std::memcpy(states[state_count], state->data(), state->size() < 23 ? state->size() : 23);
        ++state_count;
      }
    }
    for (std::string_view key : {"fw_error", "sw_error"})
      if (auto e = (*doc)[key].as_string()) {
        std::memset(last_error, 0, sizeof last_error);
        std::memcpy(last_error, e->data(), e->size() < 159 ? e->size() : 159);
      }
    if ((*doc)["current_fw_version"].present() || (*doc)["current_sw_version"].present()) {
      std::memset(last_current, 0, sizeof last_current);
      std::memcpy(last_current, body.data(), body.size() < 159 ? body.size() : 159);
    }
  }
  std::string_view state(std::size_t i) const { return states[i]; }
  std::string_view last_state() const { return state_count ? states[state_count - 1] : ""; }
  std::size_t pending() const { return request_count - served; }
};

using tbmqtt_test::memory_sink;
using tbmqtt_test::memory_storage;

struct listener final : tbmqtt::ota_listener {
  int ready = 0;
  errc last_error{};
  std::uint64_t progress = 0;
  void on_ota_state(tbmqtt::ota_kind, ota_state s, errc e, std::string_view) noexcept override {
    if (s == ota_state::failed) last_error = e;
  }
  void on_ota_progress(tbmqtt::ota_kind, std::uint64_t received, std::uint64_t) noexcept override {
    progress = received;
  }
  void on_ota_ready(tbmqtt::ota_kind, const tbmqtt::ota_package&) noexcept override { ++ready; }
};

struct null_events final : tbmqtt::session_events {};

tbmqtt::ota_config make_config(std::uint32_t chunk = 1024, std::uint8_t window = 4) {
  tbmqtt::ota_config c;
  c.current_title = "app";
  c.current_version = "1.0";
  c.chunk_size = chunk;
  c.window = window;
  c.chunk_timeout_ms = 100;
  c.max_retries = 3;
  c.checkpoint_bytes = 2048;
  return c;
}

// One device: session + engine + the scripted server.
struct rig {
  server_port port;
  null_events events;
  tbmqtt::session session{port, events};
  memory_sink& sink;
  memory_storage& storage;
  listener heard;
  tbmqtt::ota_engine engine;
  std::uint32_t now = 1000;

  rig(memory_sink& s, memory_storage& st, tbmqtt::ota_config config = make_config())
      : sink(s), storage(st), engine(session, s, provider(), &st, heard, config) {
    (void)session.add_extension(engine);
  }
  static tbmqtt::core_hash_provider& provider() {
    static tbmqtt::core_hash_provider p;
    return p;
  }
  void connect() {
    session.on_connected(now);
    for (tbmqtt::message_id id = 1; id < 40; ++id) session.on_suback(id, 1);
  }
  tbmqtt::message_id acked = 1;  // the broker acknowledges what was published before it answers
  void ack() {
    for (; acked != port.next_id; ++acked) session.on_puback(acked);
  }
  void message(std::string_view topic, std::string_view payload) {
    ack();
    session.on_message(topic, tbmqtt::as_bytes(payload), now);
  }
  // Answers the engine's attribute request with a package of `size` bytes of the image.
  void assign(std::size_t size, std::string_view version = "2.0", const char* checksum = nullptr,
              std::string_view prefix = "fw") {
    hex_digest crc = crc32_of_image(size);
    char body[400];
    tbmqtt::json::writer w{body};
    char k[5][40];
    auto key = [&](int i, std::string_view suffix) {
      std::memcpy(k[i], prefix.data(), 2);
      std::memcpy(k[i] + 2, suffix.data(), suffix.size());
      return std::string_view(k[i], 2 + suffix.size());
    };
    w.begin_object().key("shared").begin_object();
    w.key(key(0, "_title")).value("app").key(key(1, "_version")).value(version);
    w.key(key(2, "_size")).value(static_cast<std::uint64_t>(size));
    w.key(key(3, "_checksum")).value(checksum ? std::string_view(checksum) : crc.view());
    w.key(key(4, "_checksum_algorithm")).value("CRC32");
    w.end_object().end_object();
    char topic[64] = "v1/devices/me/attributes/response/";
    auto r = std::to_chars(topic + 34, topic + sizeof topic, port.last_attribute_request);
    message(std::string_view(topic, static_cast<std::size_t>(r.ptr - topic)), *w.finish());
  }
  // The response topic of a chunk request, written into `topic`.
  static std::string_view response_topic(char (&topic)[64], const chunk_request& r) {
    std::size_t n = 0;
    auto put = [&](std::string_view s) {
      std::memcpy(topic + n, s.data(), s.size());
      n += s.size();
    };
    put(r.software ? "v2/sw/response/" : "v2/fw/response/");
    n = static_cast<std::size_t>(std::to_chars(topic + n, topic + sizeof topic, r.download).ptr - topic);
    put("/chunk/");
    n = static_cast<std::size_t>(std::to_chars(topic + n, topic + sizeof topic, r.chunk).ptr - topic);
    return {topic, n};
  }
  // The server's answer to a chunk request: its bytes of the image, `size_delta` bytes longer.
  static tbmqtt::span<const std::byte> response_bytes(const chunk_request& r, std::size_t image_size, int size_delta) {
    const std::size_t start = static_cast<std::size_t>(r.chunk) * r.size;
    std::size_t len = start >= image_size ? 0 : (image_size - start < r.size ? image_size - start : r.size);
    len = static_cast<std::size_t>(static_cast<long>(len) + size_delta);
    return {image + start, len};
  }
  // Answers one queued chunk request (index into the queue) with the right bytes.
  void answer(const chunk_request& r, std::size_t image_size, int size_delta = 0) {
    char topic[64];
    ack();
    session.on_message(response_topic(topic, r), response_bytes(r, image_size, size_delta), now);
  }
  // The same answer as esp-mqtt delivers a message larger than its buffer: fragments of `piece`
  // bytes after a first one of `first` bytes, only the first with the topic. Fragment number
  // `lose` (1-based; 0: none) is lost on the way; after `stop_after` fragments nothing more comes.
  struct fragments {
    std::size_t first = 1000, piece = 1000, lose = 0, stop_after = SIZE_MAX;
    int size_delta = 0;
  };
  void answer_in_fragments(const chunk_request& r, std::size_t image_size, fragments f) {
    char topic[64];
    ack();
    const std::string_view t = response_topic(topic, r);
    const tbmqtt::span<const std::byte> payload = response_bytes(r, image_size, f.size_delta);
    std::size_t offset = 0, count = 0;
    do {
      const std::size_t want = count == 0 ? f.first : f.piece;
      const std::size_t n = payload.size() - offset < want ? payload.size() - offset : want;
      if (++count > f.stop_after) return;
      if (count != f.lose)
        session.on_message_fragment(offset == 0 ? t : std::string_view{}, {payload.data() + offset, n}, offset,
                                    payload.size(), now);
      offset += n;
    } while (offset < payload.size());
  }
  // Serves every request in arrival order, each in fragments, until none is left.
  void serve_in_fragments(std::size_t image_size, fragments f) {
    while (port.pending() > 0) answer_in_fragments(port.requests[port.served++ % 512], image_size, f);
  }
  // Serves every request in arrival order until none is left; returns how many were served.
  std::size_t serve(std::size_t image_size, std::size_t limit = 100000) {
    std::size_t count = 0;
    while (port.pending() > 0 && count < limit) {
      answer(port.requests[port.served++ % 512], image_size);
      ++count;
    }
    return count;
  }
  bool sink_holds_image(std::size_t size) const { return std::memcmp(sink.data, image, size) == 0; }
  // The server stops answering: every chunk request times out after all its retries.
  void starve() {
    for (int i = 0; i < 10 && engine.state() == ota_state::downloading; ++i) {
      port.served = port.request_count;
      now += 100000;
      session.tick(now);
    }
  }
  // Chunk numbers requested since request `from`, in order.
  std::size_t chunks_requested(std::size_t from, std::uint32_t* out, std::size_t capacity) const {
    std::size_t n = 0;
    for (std::size_t i = from; i < port.request_count && n < capacity; ++i) out[n++] = port.requests[i % 512].chunk;
    return n;
  }
};

// The offset of the engine's checkpoint record in `storage` (its last 8 bytes, as
// src/core/ota_engine.cpp lays it out), or -1 when there is none.
long long checkpoint_offset(memory_storage& storage, std::string_view key = "tb_fw_ckpt") {
  const memory_storage::entry* e = storage.find(key);
  if (e == nullptr || e->size < 8) return -1;
  std::uint64_t offset = 0;
  std::memcpy(&offset, e->value + e->size - 8, sizeof offset);
  return static_cast<long long>(offset);
}

// True when the chunk requests are exactly `first`, first + 1, ..., `end` - 1, each once.
bool requested_once_each(const std::uint32_t* chunks, std::size_t n, std::uint32_t first, std::uint32_t end) {
  if (n != end - first) return false;
  for (std::size_t i = 0; i < n; ++i)
    if (chunks[i] != first + i) return false;
  return true;
}

// Each test: one device on a sink and a storage of its own, which outlive the device's process
// (a second boot() is a restart on the same sink and storage).
class ota_engine_test : public ::testing::Test {
 protected:
  memory_sink sink;
  memory_storage storage;

  // A process: session and engine on this test's sink and storage, connected. Ends the last one.
  rig& boot(tbmqtt::ota_config config = make_config()) {
    device_.reset();
    device_.emplace(sink, storage, config);
    device_->connect();
    return *device_;
  }
  // A new device (fresh sink and storage), connected, with a package of the first `size` bytes of
  // the image assigned (checksum: the image's CRC32 unless given).
  rig& start(std::size_t size, std::string_view version = "2.0", const char* checksum = nullptr,
             tbmqtt::ota_config config = make_config()) {
    device_.reset();
    sink = memory_sink{};
    storage = memory_storage{};
    make_image(size);
    rig& r = boot(config);
    r.assign(size, version, checksum, config.kind == tbmqtt::ota_kind::software ? "sw" : "fw");
    return r;
  }

 private:
  std::optional<rig> device_;
};

}  // namespace

TEST_F(ota_engine_test, downloads_verifies_and_activates_with_a_window_of_requests) {
  rig& r = start(10000);
  EXPECT_EQ(r.engine.state(), ota_state::downloading);
  EXPECT_EQ(r.port.pending(), 4u);  // the window
  EXPECT_EQ(r.port.requests[0].size, 1024u);
  r.serve(10000);
  EXPECT_EQ(r.engine.state(), ota_state::updating);
  EXPECT_TRUE(r.sink_holds_image(10000));
  EXPECT_EQ(r.port.request_count, 10u);  // ceil(10000 / 1024), no retries
  EXPECT_EQ(r.heard.ready, 1);
  EXPECT_EQ(sink.finishes, 1);
  EXPECT_EQ(sink.activations, 1);
  ASSERT_EQ(r.port.state_count, 4u);
  EXPECT_EQ(r.port.state(0), std::string_view("DOWNLOADING"));
  EXPECT_EQ(r.port.state(1), std::string_view("DOWNLOADED"));
  EXPECT_EQ(r.port.state(2), std::string_view("VERIFIED"));
  EXPECT_EQ(r.port.state(3), std::string_view("UPDATING"));
}

TEST_F(ota_engine_test, edge_sizes_download_exactly) {
  const std::size_t sizes[] = {0, 1, 1023, 1024, 1025, 4096, 65000};
  for (std::size_t size : sizes) {
    rig& r = start(size);
    r.serve(size);
    EXPECT_EQ(r.engine.state(), ota_state::updating);
    EXPECT_TRUE(r.sink_holds_image(size));
    EXPECT_EQ(r.port.request_count, (size + 1023) / 1024);
  }
}

TEST_F(ota_engine_test, reports_current_version_and_requests_the_package_attributes_on_connect) {
  rig& r = boot();
  EXPECT_EQ(std::string_view(r.port.last_current),
            std::string_view(R"({"current_fw_title":"app","current_fw_version":"1.0"})"));
  EXPECT_NE(r.port.last_attribute_request, 0u);
}

TEST_F(ota_engine_test, the_running_version_is_not_downloaded_again) {
  rig& r = start(100, "1.0");
  EXPECT_EQ(r.engine.state(), ota_state::idle);
  EXPECT_EQ(r.port.request_count, 0u);
}

TEST_F(ota_engine_test, wrong_checksum_fails_and_discards_the_image) {
  rig& r = start(3000, "2.0", "deadbeef");
  r.serve(3000);
  EXPECT_EQ(r.engine.state(), ota_state::failed);
  EXPECT_EQ(r.port.last_state(), std::string_view("FAILED"));
  EXPECT_EQ(std::string_view(r.port.last_error).substr(0, 17), std::string_view("checksum mismatch"));
  EXPECT_EQ(sink.aborts, 1);
  EXPECT_EQ(sink.activations, 0);
  EXPECT_EQ(r.heard.last_error, errc::malformed);
}

TEST_F(ota_engine_test, a_dropped_chunk_is_requested_again_after_its_timeout) {
  rig& r = start(5000);
  r.port.served = 1;  // the server never answers chunk 0's first request
  r.serve(5000);
  EXPECT_EQ(r.engine.state(), ota_state::downloading);
  r.now += 100;
  r.session.tick(r.now);  // chunk 0 timed out: asked again
  EXPECT_EQ(r.port.pending(), 1u);
  EXPECT_EQ(r.port.requests[r.port.served].chunk, 0u);
  r.serve(5000);
  EXPECT_EQ(r.engine.state(), ota_state::updating);
  EXPECT_TRUE(r.sink_holds_image(5000));
}

TEST_F(ota_engine_test, chunks_arriving_out_of_order_are_hashed_in_order) {
  rig& r = start(8192);
  while (r.port.pending() >= 2) {  // answer each pair backwards
    const chunk_request second = r.port.requests[(r.port.served + 1) % 512];
    const chunk_request first = r.port.requests[r.port.served % 512];
    r.port.served += 2;
    r.answer(second, 8192);
    r.answer(first, 8192);
  }
  r.serve(8192);
  EXPECT_EQ(r.engine.state(), ota_state::updating);
  EXPECT_TRUE(r.sink_holds_image(8192));
}

TEST_F(ota_engine_test, retries_are_bounded_then_the_download_fails_with_timeout) {
  rig& r = start(2000);
  for (int i = 0; i < 10; ++i) {
    r.port.served = r.port.request_count;  // the server ignores everything
    r.now += 100000;
    r.session.tick(r.now);
  }
  EXPECT_EQ(r.engine.state(), ota_state::failed);
  EXPECT_EQ(r.heard.last_error, errc::timeout);
  EXPECT_EQ(r.port.request_count, 2u * 4u);  // two chunks, each asked 1 + 3 times
}

TEST_F(ota_engine_test, a_short_chunk_that_is_not_the_last_fails) {
  rig& r = start(4096);
  r.answer(r.port.requests[r.port.served++], 4096, -1);
  EXPECT_EQ(r.engine.state(), ota_state::failed);
  EXPECT_EQ(r.heard.last_error, errc::malformed);
}

TEST_F(ota_engine_test, server_error_text_fails_the_download) {
  rig& r = start(4096);
  r.message("v2/fw/error", "PAYLOAD_TOO_LARGE");
  EXPECT_EQ(r.engine.state(), ota_state::failed);
  EXPECT_EQ(std::string_view(r.port.last_error), std::string_view("PAYLOAD_TOO_LARGE"));
  EXPECT_EQ(r.heard.last_error, errc::server_error);
  EXPECT_EQ(sink.aborts, 0);  // nothing says the bytes are bad: kept for a resume
}

TEST_F(ota_engine_test, chunk_size_is_capped_at_the_server_payload_limit) {
  make_image(3000);
  rig& r = boot(make_config(100000, 2));
  r.session.set_max_payload(1000);  // read when the package is assigned
  r.assign(3000);
  EXPECT_EQ(r.port.requests[0].size, 1000u);
  r.serve(3000);
  EXPECT_EQ(r.engine.state(), ota_state::updating);
}

TEST_F(ota_engine_test, a_disconnect_resumes_from_the_received_bytes_not_from_chunk_zero) {
  rig& r = start(10240);
  r.serve(10240, 5);  // chunks 0..4 arrive
  EXPECT_EQ(r.engine.received(), 5u * 1024u);
  r.session.on_disconnected();
  r.port.served = r.port.request_count;  // answers to the old requests are lost
  r.connect();
  r.assign(10240);  // the same package is still assigned
  EXPECT_EQ(r.port.requests[r.port.served].chunk, 5u);
  r.serve(10240);
  EXPECT_EQ(r.engine.state(), ota_state::updating);
  EXPECT_TRUE(r.sink_holds_image(10240));
}

TEST_F(ota_engine_test, a_restarted_process_resumes_from_the_checkpoint) {
  {
    rig& first = start(20000);
    first.serve(20000, 9);  // 9 KiB in: checkpoints every 2 KiB
  }
  rig& second = boot();  // same sink and storage, new process
  second.assign(20000);
  EXPECT_EQ(sink.begun_at, 8192u);  // the last checkpoint
  EXPECT_EQ(second.port.requests[0].chunk, 8u);
  second.serve(20000);
  EXPECT_EQ(second.engine.state(), ota_state::updating);  // the re-hashed prefix verified
  EXPECT_TRUE(second.sink_holds_image(20000));
}

TEST_F(ota_engine_test, a_new_assignment_during_a_download_restarts_cleanly) {
  rig& r = start(6000, "2.0");
  r.serve(6000, 2);
  const std::uint32_t old_download = r.port.requests[0].download;
  r.message("v1/devices/me/attributes", R"({"fw_version":"3.0"})");  // a push: the engine asks again
  r.assign(6000, "3.0");
  EXPECT_EQ(sink.aborts, 1);
  EXPECT_EQ(r.engine.package().version_text(), std::string_view("3.0"));
  // Late answers to the old download are ignored.
  const chunk_request stale{old_download, 3, 1024, false};
  r.answer(stale, 6000);
  std::size_t first_new = r.port.served;
  while (r.port.requests[first_new].download == old_download) ++first_new;
  r.port.served = first_new;
  EXPECT_EQ(r.port.requests[first_new].chunk, 0u);
  r.serve(6000);
  EXPECT_EQ(r.engine.state(), ota_state::updating);
}

TEST_F(ota_engine_test, updated_is_reported_only_after_the_restarted_app_confirms) {
  {
    rig& before = start(1500, "2.0");
    before.serve(1500);
    EXPECT_EQ(before.engine.state(), ota_state::updating);
  }
  tbmqtt::ota_config config = make_config();
  config.current_version = "2.0";  // the new image runs
  rig& after = boot(config);
  after.assign(1500, "2.0");
  EXPECT_EQ(after.port.request_count, 0u);
  EXPECT_NE(after.port.last_state(), std::string_view("UPDATED"));
  ASSERT_TRUE(after.engine.confirm());
  EXPECT_EQ(after.port.last_state(), std::string_view("UPDATED"));
  EXPECT_EQ(std::string_view(after.port.last_current),
            std::string_view(R"({"current_fw_title":"app","current_fw_version":"2.0"})"));
  EXPECT_EQ(after.engine.confirm().error(), errc::not_found);  // nothing pending any more
}

TEST_F(ota_engine_test, a_rolled_back_update_is_reported_failed_after_the_restart) {
  {
    rig& before = start(1500, "2.0");
    before.serve(1500);
  }
  rig& after = boot();  // still runs 1.0: the bootloader rolled back
  EXPECT_EQ(after.port.last_state(), std::string_view("FAILED"));
  EXPECT_EQ(after.engine.confirm().error(), errc::not_found);
}

TEST_F(ota_engine_test, malformed_package_attributes_fail_with_a_typed_error) {
  rig& r = boot();
  char topic[64] = "v1/devices/me/attributes/response/";
  auto end = std::to_chars(topic + 34, topic + sizeof topic, r.port.last_attribute_request).ptr;
  r.message(
      std::string_view(topic, static_cast<std::size_t>(end - topic)),
      R"({"shared":{"fw_title":"app","fw_version":"2.0","fw_size":"big","fw_checksum":"00","fw_checksum_algorithm":"CRC32"}})");
  EXPECT_EQ(r.engine.state(), ota_state::failed);
  EXPECT_EQ(r.heard.last_error, errc::malformed);
}

TEST_F(ota_engine_test, software_packages_use_the_sw_topics_and_attributes) {
  tbmqtt::ota_config config = make_config();
  config.kind = tbmqtt::ota_kind::software;
  config.checkpoint_key = "tb_sw_ckpt";
  config.pending_key = "tb_sw_pend";
  rig& r = start(2500, "2.0", nullptr, config);
  ASSERT_EQ(r.port.pending(), 3u);
  EXPECT_TRUE(r.port.requests[0].software);
  r.serve(2500);
  EXPECT_EQ(r.engine.state(), ota_state::updating);
  EXPECT_TRUE(r.sink_holds_image(2500));
}

TEST_F(ota_engine_test, chunks_of_the_new_package_arriving_for_old_requests_are_not_an_error) {
  rig& r = start(6000, "2.0");
  r.serve(6000, 2);  // chunks 2..5 are still in flight
  r.message("v1/devices/me/attributes", R"({"fw_version":"3.0","fw_size":3000})");
  const std::size_t sent_before = r.port.request_count;
  r.serve(3000);  // the server answers them from the new, smaller file: wrong sizes
  EXPECT_EQ(r.engine.state(), ota_state::downloading);  // not FAILED
  r.now += 100000;
  r.session.tick(r.now);
  EXPECT_EQ(r.port.request_count, sent_before);  // nothing requested until the assignment is read
  r.assign(3000, "3.0");
  r.serve(3000);
  EXPECT_EQ(r.engine.state(), ota_state::updating);
  EXPECT_TRUE(r.sink_holds_image(3000));
  for (std::size_t i = 0; i < r.port.state_count; ++i) EXPECT_NE(r.port.state(i), std::string_view("FAILED"));
}

TEST_F(ota_engine_test, a_lost_attribute_request_is_asked_again) {
  rig& r = boot();
  const std::uint32_t first = r.port.last_attribute_request;
  r.now += 20000;  // past the session's request timeout
  r.session.tick(r.now);
  EXPECT_NE(r.port.last_attribute_request, first);
}

TEST_F(ota_engine_test, confirm_keeps_the_update_pending_when_the_sink_cannot_confirm_and_reject_rolls_back) {
  {
    rig& before = start(1500, "2.0");
    before.serve(1500);
  }
  tbmqtt::ota_config config = make_config();
  config.current_version = "2.0";
  rig& after = boot(config);
  sink.confirm_error = errc::storage_error;
  EXPECT_EQ(after.engine.confirm().error(), errc::storage_error);
  EXPECT_NE(after.port.last_state(), std::string_view("UPDATED"));
  ASSERT_TRUE(after.engine.reject("self-test failed"));  // still pending: can be rejected
  EXPECT_EQ(sink.rollbacks, 1);
  EXPECT_EQ(after.port.last_state(), std::string_view("FAILED"));
  EXPECT_EQ(std::string_view(after.port.last_error), std::string_view("self-test failed"));
  EXPECT_EQ(sink.confirms, 1);
}

// ==== chunks streamed in fragments (session_extension::on_stream_*) ================================
// The rig's session has no reassembly buffer: every fragmented chunk must stream into the sink.

TEST_F(ota_engine_test, a_chunk_streamed_in_one_byte_fragments_reaches_the_sink_and_the_hash) {
  rig& r = start(3000);
  r.serve_in_fragments(3000, {1, 1});
  EXPECT_EQ(r.engine.state(), ota_state::updating);  // the CRC32 over the streamed bytes matched
  EXPECT_TRUE(r.sink_holds_image(3000));
  EXPECT_EQ(sink.writes, 3000);
  EXPECT_EQ(r.port.request_count, 3u);
}

TEST_F(ota_engine_test, fragment_boundaries_need_not_align_with_chunks_or_each_other) {
  struct split {
    std::size_t first, piece;
  };
  // esp-mqtt's first fragment is its buffer minus the PUBLISH header and topic.
  const split splits[] = {{1, 7}, {977, 1024}, {1000, 333}, {17, 1023}, {1023, 1}, {2, 5000}};
  for (const split& f : splits) {
    rig& r = start(5000);  // chunks of 1024, the last one 904; a fresh sink each time
    r.serve_in_fragments(5000, {f.first, f.piece});
    EXPECT_EQ(r.engine.state(), ota_state::updating) << f.first << "/" << f.piece;
    EXPECT_TRUE(r.sink_holds_image(5000)) << f.first << "/" << f.piece;
    EXPECT_EQ(r.port.request_count, 5u);
  }
}

TEST_F(ota_engine_test, a_lost_fragment_leaves_the_chunk_in_flight_and_its_retry_completes_the_image) {
  rig& r = start(6000);
  ASSERT_EQ(r.port.pending(), 4u);
  // Chunk 0 (being hashed as it arrives) and chunk 2 (ahead of the hashed prefix) each lose one.
  r.answer_in_fragments(r.port.requests[r.port.served++], 6000, {100, 100, 3});
  r.answer_in_fragments(r.port.requests[r.port.served++], 6000, {100, 100});
  r.answer_in_fragments(r.port.requests[r.port.served++], 6000, {100, 100, 2});
  r.serve_in_fragments(6000, {100, 100});
  EXPECT_EQ(r.engine.state(), ota_state::downloading);
  EXPECT_EQ(r.engine.received(), 0u);  // chunk 0 is missing
  r.now += 100;
  r.session.tick(r.now);  // both timed out: asked again
  ASSERT_EQ(r.port.pending(), 2u);
  r.serve_in_fragments(6000, {100, 100});
  EXPECT_EQ(r.engine.state(), ota_state::updating);  // the hash saw each byte once, in order
  EXPECT_TRUE(r.sink_holds_image(6000));
}

TEST_F(ota_engine_test, a_disconnect_mid_chunk_rehashes_the_prefix_and_the_resumed_download_verifies) {
  rig& r = start(8000);
  r.answer_in_fragments(r.port.requests[r.port.served++], 8000, {300, 300});
  r.answer_in_fragments(r.port.requests[r.port.served++], 8000, {300, 300});
  // Chunk 2 starts at the hashed prefix: its first 600 bytes are hashed, then the link drops.
  r.answer_in_fragments(r.port.requests[r.port.served++], 8000, {300, 300, 0, 2});
  EXPECT_EQ(r.engine.received(), 2048u);
  r.session.on_disconnected();
  r.port.served = r.port.request_count;  // answers to the old requests are lost
  r.connect();
  r.assign(8000);
  EXPECT_EQ(r.port.requests[r.port.served].chunk, 2u);
  r.serve_in_fragments(8000, {300, 300});
  EXPECT_EQ(r.engine.state(), ota_state::updating);
  EXPECT_TRUE(r.sink_holds_image(8000));
}

TEST_F(ota_engine_test, a_streamed_chunk_whose_total_is_not_the_chunk_size_fails_before_a_byte_is_written) {
  for (int delta : {-1, 1}) {
    rig& r = start(4096);
    r.answer_in_fragments(r.port.requests[r.port.served++], 4096, {100, 100, 0, SIZE_MAX, delta});
    EXPECT_EQ(r.engine.state(), ota_state::failed);
    EXPECT_EQ(r.heard.last_error, errc::malformed);
    EXPECT_EQ(std::string_view(r.port.last_error), std::string_view("chunk 0 has the wrong size"));
    EXPECT_EQ(sink.writes, 0);
    EXPECT_EQ(sink.aborts, 1);
  }
}

TEST_F(ota_engine_test, streamed_chunks_arriving_out_of_order_are_hashed_in_order) {
  rig& r = start(9000);
  while (r.port.pending() >= 2) {  // answer each pair backwards
    const chunk_request second = r.port.requests[(r.port.served + 1) % 512];
    const chunk_request first = r.port.requests[r.port.served % 512];
    r.port.served += 2;
    r.answer_in_fragments(second, 9000, {10, 250});
    r.answer_in_fragments(first, 9000, {10, 250});
  }
  r.serve_in_fragments(9000, {10, 250});
  EXPECT_EQ(r.engine.state(), ota_state::updating);
  EXPECT_TRUE(r.sink_holds_image(9000));
}

TEST_F(ota_engine_test, a_sink_failing_mid_stream_fails_the_download_with_its_error) {
  rig& r = start(4096);
  sink.fail_from = 1500;  // inside chunk 1
  sink.write_error = errc::not_enough_space;
  r.serve_in_fragments(4096, {200, 200});
  EXPECT_EQ(r.engine.state(), ota_state::failed);
  EXPECT_EQ(r.heard.last_error, errc::not_enough_space);
  EXPECT_EQ(std::string_view(r.port.last_error), std::string_view("the sink failed to write"));
  EXPECT_EQ(sink.aborts, 1);
}

TEST_F(ota_engine_test, stale_and_duplicate_streamed_chunks_are_taken_and_dropped) {
  rig& r = start(3000);
  const chunk_request first = r.port.requests[0];
  r.serve_in_fragments(3000, {100, 100});
  ASSERT_EQ(r.engine.state(), ota_state::updating);
  const int writes = sink.writes;
  r.answer_in_fragments(first, 3000, {100, 100});  // a late duplicate after the end
  chunk_request stale = first;
  stale.download += 7;
  r.answer_in_fragments(stale, 3000, {100, 100});
  EXPECT_EQ(sink.writes, writes);
  EXPECT_EQ(r.engine.state(), ota_state::updating);
}

// ==== what a failure keeps =========================================================================
// Transient failures keep the sink's bytes and the checkpoint (the next attempt resumes); bad data
// drops them (the next attempt starts from byte 0). FAILED is reported with the reason either way.

TEST_F(ota_engine_test, a_timeout_keeps_the_checkpoint_and_the_restarted_download_fetches_only_the_missing_chunks) {
  {
    rig& first = start(10240);  // 10 chunks of 1024
    first.serve(10240, 5);      // chunks 0..4 arrive (checkpoint every 2 KiB: the last one at 4096)
    ASSERT_EQ(first.engine.received(), 5120u);
    first.starve();
    EXPECT_EQ(first.engine.state(), ota_state::failed);
    EXPECT_EQ(first.port.last_state(), std::string_view("FAILED"));
    EXPECT_EQ(std::string_view(first.port.last_error).substr(0, 20), std::string_view("no answer for chunk "));
    EXPECT_EQ(first.heard.last_error, errc::timeout);
    EXPECT_EQ(sink.aborts, 0);
    EXPECT_EQ(checkpoint_offset(storage), 5120);  // the progress at the failure, not the last periodic one
  }
  rig& second = boot();  // a restart; the same package is still assigned
  second.assign(10240);
  EXPECT_EQ(sink.begun_at, 5120u);
  second.serve(10240);
  EXPECT_EQ(second.engine.state(), ota_state::updating);  // the re-hashed prefix verified
  EXPECT_TRUE(second.sink_holds_image(10240));
  std::uint32_t chunks[32];
  const std::size_t n = second.chunks_requested(0, chunks, 32);
  EXPECT_TRUE(requested_once_each(chunks, n, 5, 10)) << n << " requests";
  EXPECT_EQ(checkpoint_offset(storage), -1);  // done: nothing to resume
}

TEST_F(ota_engine_test, after_a_timeout_the_next_reading_of_the_same_assignment_resumes_in_the_same_process) {
  rig& r = start(10240);
  r.serve(10240, 3);
  r.starve();  // e.g. a disconnect storm: nothing answered
  ASSERT_EQ(r.engine.state(), ota_state::failed);
  EXPECT_EQ(r.heard.last_error, errc::timeout);
  r.session.on_disconnected();
  r.connect();  // the engine reads the assignment again
  const std::size_t before = r.port.request_count;
  r.assign(10240);
  EXPECT_EQ(r.engine.state(), ota_state::downloading);
  EXPECT_EQ(sink.begun_at, 3072u);
  r.port.served = before;
  r.serve(10240);
  EXPECT_EQ(r.engine.state(), ota_state::updating);
  EXPECT_TRUE(r.sink_holds_image(10240));
  std::uint32_t chunks[32];
  const std::size_t n = r.chunks_requested(before, chunks, 32);
  EXPECT_TRUE(requested_once_each(chunks, n, 3, 10)) << n << " requests";
  EXPECT_EQ(sink.aborts, 0);
  // Reported honestly: FAILED, then the resumed download's states.
  const std::string_view expected[] = {"DOWNLOADING", "FAILED", "DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING"};
  ASSERT_EQ(r.port.state_count, 6u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(r.port.state(i), expected[i]);
}

TEST_F(ota_engine_test, a_server_error_keeps_the_checkpoint_and_the_package_assigned_again_resumes) {
  rig& r = start(10240);
  r.serve(10240, 4);
  r.message("v2/fw/error", "Internal error");
  ASSERT_EQ(r.engine.state(), ota_state::failed);
  EXPECT_EQ(std::string_view(r.port.last_error), std::string_view("Internal error"));
  EXPECT_EQ(checkpoint_offset(storage), 4096);
  const std::size_t before = r.port.request_count;
  r.message("v1/devices/me/attributes", R"({"fw_version":"2.0"})");  // the same package pushed again:
  r.assign(10240);                                                   // not retried (the server said no)
  EXPECT_EQ(r.engine.state(), ota_state::failed);
  EXPECT_EQ(r.port.request_count, before);
  // Removed, then assigned again: tried again, from the checkpoint.
  r.message("v1/devices/me/attributes",
            R"({"deleted":["fw_title","fw_version","fw_size","fw_checksum","fw_checksum_algorithm"]})");
  char topic[64] = "v1/devices/me/attributes/response/";
  auto end = std::to_chars(topic + 34, topic + sizeof topic, r.port.last_attribute_request).ptr;
  r.message(std::string_view(topic, static_cast<std::size_t>(end - topic)), R"({"shared":{}})");
  EXPECT_EQ(r.engine.state(), ota_state::idle);
  r.message("v1/devices/me/attributes", R"({"fw_title":"app"})");
  r.assign(10240);
  EXPECT_EQ(sink.begun_at, 4096u);
  r.port.served = before;
  r.serve(10240);
  EXPECT_EQ(r.engine.state(), ota_state::updating);
  EXPECT_TRUE(r.sink_holds_image(10240));
  std::uint32_t chunks[32];
  const std::size_t n = r.chunks_requested(before, chunks, 32);
  EXPECT_TRUE(requested_once_each(chunks, n, 4, 10)) << n << " requests";
}

TEST_F(ota_engine_test, a_checksum_mismatch_erases_the_checkpoint_and_the_next_attempt_starts_from_zero) {
  {
    rig& first = start(10240);       // the checksum of the right image
    image[6000] ^= std::byte{0x5a};  // the server sends one wrong byte in chunk 5
    first.serve(10240);
    image[6000] ^= std::byte{0x5a};
    EXPECT_EQ(first.engine.state(), ota_state::failed);
    EXPECT_EQ(std::string_view(first.port.last_error).substr(0, 17), std::string_view("checksum mismatch"));
    EXPECT_EQ(first.heard.last_error, errc::malformed);
    EXPECT_EQ(sink.aborts, 1);
    EXPECT_EQ(checkpoint_offset(storage), -1);
  }
  rig& second = boot();  // the same package again, after a restart
  second.assign(10240);
  EXPECT_EQ(sink.begun_at, 0u);
  second.serve(10240);
  EXPECT_EQ(second.engine.state(), ota_state::updating);
  EXPECT_TRUE(second.sink_holds_image(10240));
  std::uint32_t chunks[32];
  const std::size_t n = second.chunks_requested(0, chunks, 32);
  EXPECT_TRUE(requested_once_each(chunks, n, 0, 10)) << n << " requests";
}

TEST_F(ota_engine_test, a_failed_checksum_is_not_retried_while_assigned_but_is_from_zero_once_assigned_again) {
  rig& r = start(4096, "2.0", "deadbeef");
  r.serve(4096);
  ASSERT_EQ(r.engine.state(), ota_state::failed);
  const std::size_t before = r.port.request_count;
  r.session.on_disconnected();
  r.connect();
  r.assign(4096, "2.0", "deadbeef");  // read again on connect: a bad package would loop
  EXPECT_EQ(r.engine.state(), ota_state::failed);
  EXPECT_EQ(r.port.request_count, before);
  char topic[64] = "v1/devices/me/attributes/response/";
  r.message("v1/devices/me/attributes", R"({"deleted":["fw_title"]})");
  auto end = std::to_chars(topic + 34, topic + sizeof topic, r.port.last_attribute_request).ptr;
  r.message(std::string_view(topic, static_cast<std::size_t>(end - topic)), R"({"shared":{}})");
  r.message("v1/devices/me/attributes", R"({"fw_title":"app"})");
  r.assign(4096, "2.0", "deadbeef");  // assigned again: downloaded again, from byte 0
  EXPECT_EQ(r.engine.state(), ota_state::downloading);
  EXPECT_EQ(sink.begun_at, 0u);
  EXPECT_EQ(r.port.requests[before % 512].chunk, 0u);
}

TEST_F(ota_engine_test, a_wrong_chunk_size_or_a_refusing_sink_erases_the_checkpoint) {
  for (int sink_refuses = 0; sink_refuses < 2; ++sink_refuses) {
    {
      rig& first = start(10240);
      first.serve(10240, 5);
      ASSERT_EQ(checkpoint_offset(storage), 4096);
      if (sink_refuses) {
        sink.fail_from = 6000;  // inside the next chunk
        first.serve(10240);
      } else {
        first.answer(first.port.requests[first.port.served++ % 512], 10240, -1);  // chunk 5, one byte short
      }
      EXPECT_EQ(first.engine.state(), ota_state::failed);
      EXPECT_EQ(first.heard.last_error, sink_refuses ? errc::storage_error : errc::malformed);
      EXPECT_EQ(sink.aborts, 1);
      EXPECT_EQ(checkpoint_offset(storage), -1);
    }
    sink.fail_from = UINT64_MAX;
    rig& second = boot();
    second.assign(10240);
    EXPECT_EQ(sink.begun_at, 0u);
    EXPECT_EQ(second.port.requests[0].chunk, 0u);
  }
}

TEST_F(ota_engine_test, another_package_assigned_after_a_timeout_erases_the_old_checkpoint) {
  {
    rig& first = start(10240, "2.0");
    first.serve(10240, 5);
    first.starve();
    ASSERT_EQ(checkpoint_offset(storage), 5120);
    first.message("v1/devices/me/attributes", R"({"fw_version":"3.0"})");
    first.assign(10240, "3.0");  // 3.0 starts from byte 0; 2.0's progress is gone
    EXPECT_EQ(first.engine.state(), ota_state::downloading);
    EXPECT_EQ(sink.begun_at, 0u);
    EXPECT_EQ(checkpoint_offset(storage), -1);
  }
  rig& second = boot();  // 2.0 assigned again after a restart: from byte 0
  second.assign(10240, "2.0");
  EXPECT_EQ(sink.begun_at, 0u);
  EXPECT_EQ(second.port.requests[0].chunk, 0u);
}

// ==== chunks that arrive ahead of a missing one ====================================================
// The window keeps several chunk requests out, so a later chunk can arrive before an earlier one
// (whose answer is late or lost). It goes to the sink at once and is hashed once the gap fills;
// the checkpoint counts only the hashed prefix (why: tbmqtt/ota.hpp, ota_engine).

namespace {

tbmqtt::ota_config checkpoint_every_chunk() {
  tbmqtt::ota_config config = make_config();  // chunks of 1024, a window of 4
  config.checkpoint_bytes = 1024;
  return config;
}

// Of a 10-chunk image: chunks 0..4 arrive in order, chunk 5's answer is lost, 6 and 7 arrive.
void leave_a_gap_at_chunk_5(rig& r) {
  r.serve(10240, 5);
  ASSERT_EQ(r.port.pending(), 4u);
  ASSERT_EQ(r.port.requests[r.port.served % 512].chunk, 5u);
  ++r.port.served;  // chunk 5's answer is lost
  r.answer(r.port.requests[r.port.served++ % 512], 10240);
  r.answer(r.port.requests[r.port.served++ % 512], 10240);
  ASSERT_EQ(r.port.requests[(r.port.served - 1) % 512].chunk, 7u);
  ASSERT_EQ(r.engine.received(), 5120u);  // 6 and 7 are in the sink, past the hashed prefix
  ASSERT_EQ(checkpoint_offset(r.storage), 5120);
}

}  // namespace

TEST_F(ota_engine_test, chunks_ahead_of_a_gap_are_counted_in_the_checkpoint_once_it_fills) {
  rig& r = start(10240, "2.0", nullptr, checkpoint_every_chunk());
  leave_a_gap_at_chunk_5(r);
  r.serve(10240);  // chunk 8 arrives too; nothing past the window (5 + 4) is asked
  EXPECT_EQ(r.port.request_count, 9u);
  r.now += 100;
  r.session.tick(r.now);  // chunk 5 timed out: asked again, and only chunk 5
  ASSERT_EQ(r.port.pending(), 1u);
  EXPECT_EQ(r.port.requests[r.port.served % 512].chunk, 5u);
  r.serve(10240, 1);
  EXPECT_EQ(r.engine.received(), 9216u);
  EXPECT_EQ(checkpoint_offset(storage), 9216);  // 5 to 8 hashed and checkpointed together
  r.serve(10240);
  EXPECT_EQ(r.engine.state(), ota_state::updating);  // the CRC32 over the whole image matched
  EXPECT_TRUE(r.sink_holds_image(10240));
  EXPECT_EQ(r.port.request_count, 11u);  // 10 chunks, 1 retry: nothing fetched twice
}

TEST_F(ota_engine_test, a_disconnect_keeps_the_chunks_ahead_of_a_gap_and_requests_only_the_missing_ones) {
  rig& r = start(10240, "2.0", nullptr, checkpoint_every_chunk());
  leave_a_gap_at_chunk_5(r);
  r.session.on_disconnected();
  r.port.served = r.port.request_count;  // answers to the old requests are lost
  const std::size_t before = r.port.request_count;
  r.connect();
  r.assign(10240);  // the same package is still assigned: carried on, no begin()
  EXPECT_EQ(sink.begins, 1);
  std::uint32_t chunks[32];
  std::size_t n = r.chunks_requested(before, chunks, 32);
  ASSERT_EQ(n, 2u);  // the window, less the 2 chunks the sink holds
  EXPECT_EQ(chunks[0], 5u);
  EXPECT_EQ(chunks[1], 8u);
  r.answer(r.port.requests[r.port.served++ % 512], 10240);  // chunk 5 fills the gap
  EXPECT_EQ(r.engine.received(), 8192u);
  EXPECT_EQ(checkpoint_offset(storage), 8192);
  r.serve(10240);
  EXPECT_EQ(r.engine.state(), ota_state::updating);  // the CRC32 over the whole image matched
  EXPECT_TRUE(r.sink_holds_image(10240));
  n = r.chunks_requested(before, chunks, 32);
  const std::uint32_t expected[] = {5, 8, 9};  // 6 and 7 not again
  ASSERT_EQ(n, 3u);
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(chunks[i], expected[i]);
}

TEST_F(ota_engine_test, a_restart_requests_the_chunks_ahead_of_a_gap_again) {
  // Pins a limit (tbmqtt/ota.hpp, ota_engine): the checkpoint is the hashed prefix only, and a
  // resumed sink keeps only that prefix, so 6 and 7 are fetched again after the restart.
  {
    rig& first = start(10240, "2.0", nullptr, checkpoint_every_chunk());
    leave_a_gap_at_chunk_5(first);
  }
  rig& second = boot(checkpoint_every_chunk());  // a restart; the same package is still assigned
  second.assign(10240);
  EXPECT_EQ(sink.begun_at, 5120u);
  std::uint32_t chunks[32];
  std::size_t n = second.chunks_requested(0, chunks, 32);
  EXPECT_TRUE(requested_once_each(chunks, n, 5, 9)) << n << " requests";  // the window: 5, 6, 7, 8
  second.serve(10240);
  EXPECT_EQ(second.engine.state(), ota_state::updating);  // the re-hashed prefix verified
  EXPECT_TRUE(second.sink_holds_image(10240));
  n = second.chunks_requested(0, chunks, 32);
  EXPECT_TRUE(requested_once_each(chunks, n, 5, 10)) << n << " requests";
}

// A power loss keeps only what the sink made durable: the engine syncs the sink before each
// checkpoint, and a sink that cannot sync leaves the old checkpoint, so a resume never counts
// bytes that did not reach the medium.
TEST_F(ota_engine_test, a_checkpoint_never_covers_bytes_the_sink_has_not_made_durable) {
  rig& r = start(10240, "2.0", nullptr, checkpoint_every_chunk());
  r.serve(10240, 3);
  EXPECT_EQ(checkpoint_offset(storage), 3072);
  EXPECT_GE(sink.synced, 3072u);
  sink.sync_fails = true;
  r.serve(10240, 2);
  EXPECT_EQ(r.engine.received(), 5120u);
  EXPECT_EQ(checkpoint_offset(storage), 3072);  // 3..4 may not be on the medium: not counted
  sink.sync_fails = false;
  r.serve(10240);
  EXPECT_EQ(r.engine.state(), ota_state::updating);
  EXPECT_TRUE(r.sink_holds_image(10240));
}
