// tbmqtt — a minimal span (C++17 has none): a pointer and a length, never owning.
#pragma once

#include <cstddef>
#include <string_view>

namespace tbmqtt {

template <typename T>
class span {
 public:
  constexpr span() noexcept = default;
  constexpr span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
  template <std::size_t N>
  constexpr span(T (&array)[N]) noexcept : data_(array), size_(N) {}  // NOLINT: implicit like std::span
  template <typename U, typename = decltype(static_cast<T*>(static_cast<U*>(nullptr)))>
  constexpr span(span<U> other) noexcept : data_(other.data()), size_(other.size()) {}  // NOLINT

  constexpr T* data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }
  constexpr T* begin() const noexcept { return data_; }
  constexpr T* end() const noexcept { return data_ + size_; }
  /// @pre offset <= size()
  constexpr span subspan(std::size_t offset) const noexcept { return {data_ + offset, size_ - offset}; }
  constexpr span first(std::size_t n) const noexcept { return {data_, n}; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

/// @brief Views text as bytes (no copy).
inline span<const std::byte> as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}
/// @brief Views bytes as text (no copy).
inline std::string_view as_text(span<const std::byte> bytes) noexcept {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace tbmqtt
