// tbmqtt — mbedTLS message-digest adapter (see mbedtls_hashes.hpp).
#include "mbedtls_hashes.hpp"

namespace tbmqtt {

namespace {

/// The mbedTLS digest for an algorithm, or MBEDTLS_MD_NONE for the core ones.
mbedtls_md_type_t to_md_type(checksum_algorithm a) noexcept {
  switch (a) {
    case checksum_algorithm::md5: return MBEDTLS_MD_MD5;
    case checksum_algorithm::sha256: return MBEDTLS_MD_SHA256;
    case checksum_algorithm::sha384: return MBEDTLS_MD_SHA384;
    case checksum_algorithm::sha512: return MBEDTLS_MD_SHA512;
    default: return MBEDTLS_MD_NONE;
  }
}

}  // namespace

mbedtls_hasher::mbedtls_hasher() noexcept { mbedtls_md_init(&context_); }

mbedtls_hasher::~mbedtls_hasher() { mbedtls_md_free(&context_); }

bool mbedtls_hasher::select(checksum_algorithm a) noexcept {
  if (!bound_ || a != algorithm_) {
    const mbedtls_md_type_t type = to_md_type(a);
    const mbedtls_md_info_t* info = type == MBEDTLS_MD_NONE ? nullptr : mbedtls_md_info_from_type(type);
    if (info == nullptr) return false;
    mbedtls_md_free(&context_);
    mbedtls_md_init(&context_);
    bound_ = false;
    if (mbedtls_md_setup(&context_, info, /*hmac=*/0) != 0) return false;
    bound_ = true;
    algorithm_ = a;
  }
  reset();
  return true;
}

void mbedtls_hasher::reset() noexcept { failed_ = !bound_ || mbedtls_md_starts(&context_) != 0; }

void mbedtls_hasher::update(span<const std::byte> data) noexcept {
  if (failed_ || data.empty()) return;
  failed_ = mbedtls_md_update(&context_, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 0;
}

std::size_t mbedtls_hasher::finish(span<std::byte> out) noexcept {
  const std::size_t size = digest_size(algorithm_);
  if (failed_ || out.size() < size) return 0;
  failed_ = true;  // the context needs starts() again
  if (mbedtls_md_finish(&context_, reinterpret_cast<unsigned char*>(out.data())) != 0) return 0;
  return size;
}

hasher* mbedtls_hash_provider::acquire(checksum_algorithm a) noexcept {
  if (to_md_type(a) == MBEDTLS_MD_NONE) return core_.acquire(a);
  return md_.select(a) ? &md_ : nullptr;
}

}  // namespace tbmqtt
