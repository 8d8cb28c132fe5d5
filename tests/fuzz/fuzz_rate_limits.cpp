// Fuzzes what the server says about rate limits: the input is read as a rule string
// ("10:1,300:60"), as telemetry whose data points are counted, and as a getSessionLimits answer
// to a session that learns its limits, then drives the limiter. Must never crash or trip UB.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/rate_limit.hpp"
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  tbmqtt::rate_rule rules[TBMQTT_MAX_RATE_RULES];
  (void)tbmqtt::parse_rate_rules(text, rules);
  (void)tbmqtt::count_data_points(text);

  tbmqtt::rate_limiter limiter;
  (void)limiter.set(tbmqtt::rate_limit_kind::telemetry_data_points, text, 0);
  null_port port;
  no_events events;
  tbmqtt::session_config config;
  config.learn_session_limits = true;
  tbmqtt::session s{port, events, config};
  s.set_rate_limiter(&limiter);
  s.on_connected(0);
  for (std::uint16_t id = 1; id < port.next; ++id) s.on_suback(id, 1);
  // The getSessionLimits request was the first request: id 1.
  s.on_message("v1/devices/me/rpc/response/1", tbmqtt::as_bytes(text), 1);
  for (std::uint32_t t = 0; t < 5000; t += 250) {
    if (limiter.wait_ms(true, 3, t) == 0) limiter.take(true, 3, t);
    s.tick(t);
  }
  return 0;
}
