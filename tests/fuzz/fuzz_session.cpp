// Fuzzes the session's inbound dispatch: any topic and payload a broker could deliver, plus
// fragments (reassembled, or streamed to an extension for "v2/..." topics), with requests
// pending and handlers registered. Must never crash or trip UB.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "tbmqtt/session.hpp"

namespace {

struct null_port final : tbmqtt::transport_port {
  std::uint16_t next = 1;
  tbmqtt::result<tbmqtt::message_id> publish(std::string_view, tbmqtt::span<const std::byte>,
                                             tbmqtt::qos) noexcept override {
    return next++;
  }
  tbmqtt::result<tbmqtt::message_id> subscribe(std::string_view, tbmqtt::qos) noexcept override { return next++; }
};

// Touches everything a callback receives, so that bad views show up under ASan.
struct touching_events final : tbmqtt::session_events {
  tbmqtt::session* s = nullptr;
  std::size_t sum = 0;
  void walk(tbmqtt::json::value v) {
    sum += v.raw().size();
    for (auto m : v.members()) walk(m.val);
    for (auto e : v.elements()) walk(e);
  }
  void on_attributes_response(std::uint32_t, tbmqtt::errc, tbmqtt::json::value c,
                              tbmqtt::json::value sh) noexcept override {
    walk(c);
    walk(sh);
  }
  void on_rpc_response(std::uint32_t, tbmqtt::errc, tbmqtt::json::value r) noexcept override { walk(r); }
  void on_shared_attributes(std::size_t, tbmqtt::json::value u) noexcept override { walk(u); }
  void on_rpc_request(const tbmqtt::rpc_request& r) noexcept override {
    walk(r.params);
    sum += r.method.size();
    (void)s->reply_rpc(r.id, "{}");
  }
  void on_error(tbmqtt::errc, std::string_view context) noexcept override {
    for (char c : context) sum += static_cast<unsigned char>(c);
  }
};

// Takes fragmented messages on topics starting with "v2/" as streams and touches every byte.
struct touching_stream final : tbmqtt::session_extension {
  std::size_t sum = 0;
  bool on_stream_begin(std::string_view topic, std::size_t total, std::uint32_t) noexcept override {
    sum += total;
    return topic.substr(0, 3) == "v2/";
  }
  void on_stream_fragment(std::size_t offset, tbmqtt::span<const std::byte> fragment, std::uint32_t) noexcept override {
    sum += offset;
    for (std::byte b : fragment) sum += static_cast<unsigned char>(b);
  }
  void on_stream_end(tbmqtt::errc e, std::uint32_t) noexcept override { sum += static_cast<std::size_t>(e); }
};

}  // namespace

// Input layout: byte 0 = topic length, byte 1 = fragment size (0: deliver whole), the topic,
// then the payload.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t topic_size = data[0];
  const std::size_t step = data[1];
  if (size < 2 + topic_size) return 0;
  const std::string_view topic(reinterpret_cast<const char*>(data + 2), topic_size);
  const tbmqtt::span<const std::byte> payload(reinterpret_cast<const std::byte*>(data + 2 + topic_size),
                                              size - 2 - topic_size);
  static std::byte reassembly[512];
  null_port port;
  touching_events events;
  tbmqtt::session s(port, events);
  events.s = &s;
  s.set_reassembly_buffer(reassembly);
  touching_stream stream;
  (void)s.add_extension(stream);
  (void)s.add_rpc_method("setGpio");
  (void)s.subscribe_shared_attributes("mode,target");
  (void)s.subscribe_shared_attributes("");
  s.on_connected(0);
  for (tbmqtt::message_id id = 1; id < 8; ++id) s.on_suback(id, 1);
  (void)s.request_attributes("a", "b", 0);  // ids 1..4 pending
  (void)s.call_rpc("getTime", "", 0);
  (void)s.request_attributes("", "", 0);
  (void)s.call_rpc("x", "[1]", 0);
  if (step == 0) {
    s.on_message(topic, payload, 1);
  } else {
    for (std::size_t offset = 0; offset < payload.size() || offset == 0; offset += step) {
      const std::size_t n = payload.size() - offset < step ? payload.size() - offset : step;
      s.on_message_fragment(topic, payload.subspan(offset).first(n), offset, payload.size(), 1);
      if (payload.empty()) break;
    }
  }
  s.tick(20000);
  s.on_disconnected();
  return 0;
}
