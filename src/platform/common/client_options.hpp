// What the Linux and ESP-IDF clients derive alike from their options (client_options,
// esp_client_options): the session's settings and whether rate-limit pacing is asked for. The
// option types differ only in how text is held (std::string on Linux, const char* on ESP-IDF).
#pragma once

#include <cstdint>
#include <string>

#include "tbmqtt/session.hpp"

namespace tbmqtt::detail {

/// True when a text option is given (not empty; not null).
inline bool option_given(const std::string& text) noexcept { return !text.empty(); }
inline bool option_given(const char* text) noexcept { return text != nullptr && *text != '\0'; }

/// The session's settings from a client's options.
template <class Options>
session_config session_config_from(const Options& o) noexcept {
  session_config c;
  c.request_timeout_ms = static_cast<std::uint32_t>(o.request_timeout.count());
  c.max_payload = o.max_payload;
  c.learn_session_limits = o.rate_limits.learn;
  c.fail_when_rate_limited = o.rate_limits.fail_instead_of_waiting;
  c.wire = o.wire;
  return c;
}

/// True when the options ask for rate-limit pacing (learned limits or a rule).
template <class Options>
bool wants_pacing(const Options& o) noexcept {
  const auto& r = o.rate_limits;
  return r.learn || option_given(r.messages) || option_given(r.telemetry_messages) ||
         option_given(r.telemetry_data_points);
}

}  // namespace tbmqtt::detail
