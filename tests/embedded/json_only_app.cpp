// A JSON-only device for tests/embedded/run.sh: a session that publishes telemetry, answers a
// server RPC and reads an attribute push, with the wire format left at v1 + JSON. Linked twice
// for the Cortex-M3, with the core as built (TBMQTT_WIRE_PROTOBUF 1) and with wire_codec.cpp built
// with TBMQTT_WIRE_PROTOBUF 0: the second image must hold no protobuf code (run.sh checks the symbols
// and prints the difference in .text). Built and linked only; not run.
#include <cstddef>
#include <string_view>

#include "tbmqtt/session.hpp"

namespace {

struct null_port final : tbmqtt::transport_port {
  tbmqtt::message_id next = 1;
  tbmqtt::result<tbmqtt::message_id> publish(std::string_view, tbmqtt::span<const std::byte>,
                                             tbmqtt::qos) noexcept override {
    return next++;
  }
  tbmqtt::result<tbmqtt::message_id> subscribe(std::string_view, tbmqtt::qos) noexcept override { return next++; }
};

struct answering_events final : tbmqtt::session_events {
  tbmqtt::session* s = nullptr;
  void on_rpc_request(const tbmqtt::rpc_request& r) noexcept override { (void)s->reply_rpc(r.id, "{\"ok\":true}"); }
};

}  // namespace

int main() {
  null_port port;
  answering_events events;
  tbmqtt::session s(port, events);
  events.s = &s;
  (void)s.add_rpc_method("ping");
  (void)s.subscribe_shared_attributes("");
  s.on_connected(0);
  (void)s.publish_telemetry("{\"temperature\":21.5}", tbmqtt::qos::at_least_once);
  const char rpc[] = "{\"method\":\"ping\",\"params\":{}}";
  s.on_message("v1/devices/me/rpc/request/1",
               tbmqtt::span<const std::byte>(reinterpret_cast<const std::byte*>(rpc), sizeof rpc - 1), 1);
  const char push[] = "{\"mode\":\"eco\"}";
  s.on_message("v1/devices/me/attributes",
               tbmqtt::span<const std::byte>(reinterpret_cast<const std::byte*>(push), sizeof push - 1), 2);
  return 0;
}
