// tbmqtt — MD5 and SHA-2 checksums through mbedTLS's generic message-digest API (mbedtls/md.h).
// Builds against mbedTLS 2.28 (Debian 12, ESP-IDF v4.4) and 3.x (ESP-IDF v5.x): it uses only
// mbedtls_md_info_from_type and mbedtls_md_init/setup/starts/update/finish/free.
#pragma once

#include <mbedtls/md.h>

#include "tbmqtt/checksum.hpp"

namespace tbmqtt {

/// @brief A hasher backed by one mbedtls_md_context_t. Errors from mbedTLS are remembered and
/// make finish() return 0. Owned by mbedtls_hash_provider; not copyable.
class mbedtls_hasher final : public hasher {
 public:
  mbedtls_hasher() noexcept;
  ~mbedtls_hasher();
  mbedtls_hasher(const mbedtls_hasher&) = delete;
  mbedtls_hasher& operator=(const mbedtls_hasher&) = delete;

  /// @brief (Re)binds the context to `a` (md5, sha256, sha384 or sha512) and resets it.
  /// mbedtls_md_setup allocates the digest state on mbedTLS's heap, once per algorithm change.
  /// @return false when mbedTLS lacks the algorithm (e.g. MBEDTLS_MD5_C off) or setup failed.
  bool select(checksum_algorithm a) noexcept;

  void reset() noexcept override;
  void update(span<const std::byte> data) noexcept override;
  std::size_t finish(span<std::byte> out) noexcept override;
  checksum_algorithm algorithm() const noexcept override { return algorithm_; }

 private:
  mbedtls_md_context_t context_;
  checksum_algorithm algorithm_ = checksum_algorithm::sha256;
  bool bound_ = false;   ///< context_ is set up for algorithm_.
  bool failed_ = false;  ///< An mbedTLS call failed since the last reset().
};

/// @brief Serves md5, sha256, sha384 and sha512 through mbedTLS, and crc32, murmur3_32 and
/// murmur3_128 through the core (core_hash_provider). One hasher per family: the pointer
/// returned by acquire() stays valid until the next acquire() of an mbedTLS algorithm (for
/// md5/sha*) or as long as the provider (for the core algorithms). Not thread-safe.
///
///     tbmqtt::mbedtls_hash_provider hashes;
///     tbmqtt::hasher* h = hashes.acquire(tbmqtt::checksum_algorithm::sha256);
///     if (h) { h->update(chunk); ...; std::byte d[64]; auto n = h->finish(d); }
class mbedtls_hash_provider final : public hash_provider {
 public:
  /// @return A reset hasher, or nullptr when mbedTLS is built without the algorithm.
  hasher* acquire(checksum_algorithm a) noexcept override;

 private:
  mbedtls_hasher md_;
  core_hash_provider core_;
};

}  // namespace tbmqtt
