// tbmqtt — detail: what the engines of one session share: the transport, the app's events, the
// settings, the connection state and clock, the subscription set, the request table, the one
// outbound path (publisher) and the dispatcher. Owned by tbmqtt::session.
#pragma once

#include <cstdint>

#include "tbmqtt/detail/dispatcher.hpp"
#include "tbmqtt/detail/publisher.hpp"
#include "tbmqtt/detail/request_table.hpp"
#include "tbmqtt/detail/subscription_set.hpp"
#include "tbmqtt/session_ports.hpp"
#include "tbmqtt/topics.hpp"

namespace tbmqtt::detail {

struct session_context {
  session_context(transport_port& p, session_events& e, const session_config& c) noexcept
      : port(p), events(e), config(c) {
    // A v2 family renames the data topics unless the app renamed them itself.
    if (config.telemetry_topic == topics::telemetry)
      config.telemetry_topic = topics::telemetry_topic(config.wire.topics);
    if (config.attributes_topic == topics::attributes)
      config.attributes_topic = topics::attributes_topic(config.wire.topics);
  }
  session_context(const session_context&) = delete;
  session_context& operator=(const session_context&) = delete;

  transport_port& port;
  session_events& events;
  session_config config;
  session_state state = session_state::disconnected;
  std::uint32_t now_ms = 0;  // the last time seen (for inputs without a time of their own)
  subscription_set subscriptions{*this};
  request_table requests;
  publisher out{*this};
  dispatcher routes;
};

}  // namespace tbmqtt::detail
