// tbmqtt — firmware checksums for OTA: algorithm names, an incremental hasher interface, the
// portable CRC32 / MurmurHash3 hashers of the core, and hex helpers. No heap, no exceptions.
// MD5 and SHA-2 come from a platform (e.g. src/platform/mbedtls) through `hash_provider`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt {

/// @brief Checksum algorithms ThingsBoard offers for `fw_checksum_algorithm`.
enum class checksum_algorithm : std::uint8_t {
  md5,          ///< "MD5": 16-byte digest.
  sha256,       ///< "SHA256": 32-byte digest.
  sha384,       ///< "SHA384": 48-byte digest.
  sha512,       ///< "SHA512": 64-byte digest.
  crc32,        ///< "CRC32": IEEE CRC-32, 4 bytes little-endian.
  murmur3_32,   ///< "MURMUR3_32": MurmurHash3 x86_32, seed 0, 4 bytes little-endian.
  murmur3_128,  ///< "MURMUR3_128": MurmurHash3 x64_128, seed 0, h1 (LE) then h2 (LE).
};

/// Largest digest of any checksum_algorithm (SHA512), in bytes.
inline constexpr std::size_t max_digest_size = 64;
/// Hex characters needed for the largest digest (no terminator).
inline constexpr std::size_t max_digest_hex_size = 2 * max_digest_size;

/// @brief Parses ThingsBoard's algorithm name, case-insensitively: "MD5", "SHA256", "SHA384",
/// "SHA512", "CRC32", "MURMUR3_32", "MURMUR3_128" (so "sha256" is accepted too).
/// @return The algorithm, or errc::invalid_argument for any other text (including "").
[[nodiscard]] result<checksum_algorithm> parse_checksum_algorithm(std::string_view name) noexcept;

/// @brief ThingsBoard's upper-case name of an algorithm, e.g. "MURMUR3_128"; "" for a value
/// outside the enum.
std::string_view to_string(checksum_algorithm a) noexcept;

/// @brief Digest length in bytes: 16, 32, 48, 64, 4, 4, 16 (in enum order); 0 for a value
/// outside the enum.
std::size_t digest_size(checksum_algorithm a) noexcept;

/// @brief An incremental hash. Usage: reset(), update() any number of times with any split of
/// the input, then finish(). Call reset() again before hashing the next input. The same
/// digest comes out however the input was split. Not thread-safe.
class hasher {
 public:
  /// Starts a new input; forgets everything fed so far.
  virtual void reset() noexcept = 0;
  /// Feeds the next bytes of the input (may be empty).
  virtual void update(span<const std::byte> data) noexcept = 0;
  /// @brief Writes the digest of everything fed since reset(), in ThingsBoard's byte order
  /// (the order whose lowercase hex is `fw_checksum`).
  /// @param out Destination; at least digest_size(algorithm()) bytes.
  /// @return Bytes written, or 0 when `out` is too small or the backend failed (nothing useful
  /// is written then). Afterwards only reset() may be called.
  virtual std::size_t finish(span<std::byte> out) noexcept = 0;
  /// The algorithm this hasher computes.
  virtual checksum_algorithm algorithm() const noexcept = 0;

 protected:
  ~hasher() = default;
};

/// @brief IEEE 802.3 CRC-32 (reflected, polynomial 0xEDB88320, initial and final XOR
/// 0xFFFFFFFF), as 4 little-endian bytes: "123456789" gives 0xCBF43926, hex "2639f4cb".
/// Uses a 16-entry table (64 bytes of flash).
class crc32_hasher final : public hasher {
 public:
  crc32_hasher() noexcept { reset(); }
  void reset() noexcept override;
  void update(span<const std::byte> data) noexcept override;
  std::size_t finish(span<std::byte> out) noexcept override;
  checksum_algorithm algorithm() const noexcept override { return checksum_algorithm::crc32; }

 private:
  std::uint32_t crc_ = 0;
};

/// @brief MurmurHash3 x86_32 with seed 0, as 4 little-endian bytes: "hello" gives
/// 0x248BFA47, hex "47fa8b24".
class murmur3_32_hasher final : public hasher {
 public:
  murmur3_32_hasher() noexcept { reset(); }
  void reset() noexcept override;
  void update(span<const std::byte> data) noexcept override;
  std::size_t finish(span<std::byte> out) noexcept override;
  checksum_algorithm algorithm() const noexcept override { return checksum_algorithm::murmur3_32; }

 private:
  std::uint32_t h_ = 0;
  std::uint32_t length_ = 0;  ///< Input length mod 2^32, as the algorithm mixes it in.
  std::uint8_t carry_[4] = {};
  std::uint8_t carry_size_ = 0;  ///< Bytes of an incomplete 4-byte block held in carry_.
};

/// @brief MurmurHash3 x64_128 with seed 0, as h1 (8 bytes LE) then h2 (8 bytes LE):
/// "The quick brown fox jumps over the lazy dog" gives hex "6c1b07bc7bbc4be347939ac4a93c437a".
class murmur3_128_hasher final : public hasher {
 public:
  murmur3_128_hasher() noexcept { reset(); }
  void reset() noexcept override;
  void update(span<const std::byte> data) noexcept override;
  std::size_t finish(span<std::byte> out) noexcept override;
  checksum_algorithm algorithm() const noexcept override { return checksum_algorithm::murmur3_128; }

 private:
  std::uint64_t h1_ = 0;
  std::uint64_t h2_ = 0;
  std::uint64_t length_ = 0;
  std::uint8_t carry_[16] = {};
  std::uint8_t carry_size_ = 0;  ///< Bytes of an incomplete 16-byte block held in carry_.
};

/// @brief Hands out hashers by algorithm, so that the OTA engine does not depend on a crypto
/// library. A provider owns its hashers: the pointer stays valid as long as the provider, and
/// acquiring again may return the same object (so hash one input at a time per provider).
class hash_provider {
 public:
  /// @return A hasher for `a`, already reset; nullptr when this provider does not support `a`.
  virtual hasher* acquire(checksum_algorithm a) noexcept = 0;

 protected:
  ~hash_provider() = default;
};

/// @brief Serves the core algorithms (crc32, murmur3_32, murmur3_128); nullptr for md5 and
/// sha*. Under 100 bytes of state (vtable pointers included), no heap.
class core_hash_provider final : public hash_provider {
 public:
  hasher* acquire(checksum_algorithm a) noexcept override;

 private:
  crc32_hasher crc32_;
  murmur3_32_hasher murmur3_32_;
  murmur3_128_hasher murmur3_128_;
};

/// @brief Writes `digest` as lowercase hex (two characters per byte, no terminator).
/// @return Characters written (2 * digest.size()), or 0 when `out` is too small.
std::size_t to_hex(span<const std::byte> digest, span<char> out) noexcept;

/// @brief True when `expected_hex` (e.g. `fw_checksum`) spells exactly `digest`: compared
/// case-insensitively; its length must be 2 * digest.size(); any non-hex character fails.
bool checksum_equals(std::string_view expected_hex, span<const std::byte> digest) noexcept;

}  // namespace tbmqtt
