// tbmqtt — detail: string_view slicing without std::string_view::substr, whose range check
// calls a throwing libstdc++ helper and links the C++ unwinder into firmware even with
// -fno-exceptions. Not part of the contract.
#pragma once

#include <cstddef>
#include <string_view>

namespace tbmqtt::detail {

/// @brief Like text.substr(pos, count), but clamps instead of throwing.
constexpr std::string_view slice(std::string_view text, std::size_t pos,
                                 std::size_t count = std::string_view::npos) noexcept {
  if (pos > text.size()) pos = text.size();
  const std::size_t rest = text.size() - pos;
  return {text.data() + pos, count < rest ? count : rest};
}

}  // namespace tbmqtt::detail
