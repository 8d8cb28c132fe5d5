// tbmqtt — detail: the telemetry/attributes upload engine: validates what the app publishes and
// hands it to the publisher (`v1/devices/me/telemetry`, `v1/devices/me/attributes`, or the
// topics the session_config renames them to). No inbound topic.
#pragma once

#include <string_view>

#include "tbmqtt/payload.hpp"
#include "tbmqtt/session_ports.hpp"

namespace tbmqtt::detail {

struct session_context;

class upload_engine {
 public:
  explicit upload_engine(session_context& ctx) noexcept : ctx_(ctx) {}
  /// See session::publish_telemetry.
  [[nodiscard]] result<delivery_ticket> telemetry(std::string_view json_text, qos q) noexcept;
  [[nodiscard]] result<delivery_ticket> telemetry(itelemetry& payload, qos q) noexcept;
  /// See session::publish_attributes.
  [[nodiscard]] result<delivery_ticket> attributes(std::string_view json_text, qos q) noexcept;
  [[nodiscard]] result<delivery_ticket> attributes(iattributes& payload, qos q) noexcept;

 private:
  session_context& ctx_;
};

}  // namespace tbmqtt::detail
