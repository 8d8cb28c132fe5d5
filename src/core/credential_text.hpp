// Private to src/core: reads a JSON string into a credentials field (provision.cpp reads the
// server's answer, credentials_lifecycle.cpp the stored record).
#pragma once

#include "tbmqtt/json.hpp"
#include "tbmqtt/provision.hpp"

namespace tbmqtt::detail {

/// Reads `v` unescaped into `field`; a missing or null `v` reads as empty when `optional`.
/// @return ok, errc::malformed (not a string, bad escape), errc::not_enough_space (too long).
template <std::size_t N>
errc read_text(const json::value& v, fixed_text<N>& field, bool optional) noexcept {
  field.clear();
  if (optional && (!v.present() || v.is_null())) return errc{};
  if (!v.is_string()) return errc::malformed;
  auto text = v.as_string(field.buffer());
  if (!text) return text.error() == errc::not_enough_space ? errc::not_enough_space : errc::malformed;
  field.commit(text->size());
  return errc{};
}

}  // namespace tbmqtt::detail
