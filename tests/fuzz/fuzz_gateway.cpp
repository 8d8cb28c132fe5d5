// Fuzzes the gateway's inbound dispatch (tbmqtt/gateway.hpp): any payload on the three gateway
// topics, with sub-devices connected, attribute requests pending and RPCs answered from the
// callback. Must never crash or trip UB.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/gateway.hpp"
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

struct no_events final : tbmqtt::session_events {};

// Touches everything a callback receives, so that bad views show up under ASan.
struct touching_listener final : tbmqtt::gateway_listener {
  tbmqtt::igateway* gw = nullptr;
  std::size_t sum = 0;
  void walk(tbmqtt::json::value v) {
    sum += v.raw().size();
    for (auto m : v.members()) walk(m.val);
    for (auto e : v.elements()) walk(e);
  }
  void touch(std::string_view text) {
    for (char c : text) sum += static_cast<unsigned char>(c);
  }
  void on_attribute_update(std::string_view device, tbmqtt::json::value data) noexcept override {
    touch(device);
    walk(data);
  }
  void on_rpc_request(const tbmqtt::gateway_rpc_request& r) noexcept override {
    touch(r.device);
    touch(r.method);
    walk(r.params);
    (void)gw->reply_rpc(r.device, r.id, "{}");
  }
  void on_attributes_response(std::uint32_t, tbmqtt::errc,
                              const tbmqtt::gateway_attributes_answer& a) noexcept override {
    touch(a.device);
    walk(a.value);
    walk(a.values);
  }
  void on_error(tbmqtt::errc, std::string_view context) noexcept override { touch(context); }
};

}  // namespace

// Input layout: byte 0 selects the topic (attributes, rpc, attributes/response), then the payload.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static constexpr std::string_view topics[] = {tbmqtt::topics::gateway_attributes, tbmqtt::topics::gateway_rpc,
                                                tbmqtt::topics::gateway_attribute_response};
  const std::string_view topic = topics[data[0] % 3];
  const tbmqtt::span<const std::byte> payload(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  null_port port;
  no_events events;
  tbmqtt::session s(port, events);
  touching_listener listener;
  tbmqtt::gateway<2, 256> gw{listener};
  listener.gw = &gw;
  (void)gw.attach(s);
  s.on_connected(0);
  for (tbmqtt::message_id id = 1; id < 8; ++id) s.on_suback(id, 1);
  (void)gw.connect_device("A");
  (void)gw.connect_device("Sensor \xc3\xa9");
  (void)gw.request_attributes("A", tbmqtt::attribute_scope::shared, "k", 0);  // ids 1, 2 pending
  (void)gw.request_attributes("B", tbmqtt::attribute_scope::client, "a,b", 0);
  s.on_message(topic, payload, 1);
  s.on_message(topic, payload, 2);  // again: re-sent RPCs, answered requests
  s.tick(200000);
  s.on_disconnected();
  return 0;
}
