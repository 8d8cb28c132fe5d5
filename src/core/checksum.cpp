// tbmqtt — checksum names, CRC-32 and MurmurHash3 (streaming, allocation-free), hex helpers.
#include "tbmqtt/checksum.hpp"

namespace tbmqtt {

namespace {

struct algorithm_info {
  std::string_view name;
  std::uint8_t size;
};

// Indexed by checksum_algorithm.
constexpr algorithm_info algorithms[] = {
    {"MD5", 16}, {"SHA256", 32}, {"SHA384", 48}, {"SHA512", 64}, {"CRC32", 4}, {"MURMUR3_32", 4}, {"MURMUR3_128", 16},
};
constexpr std::size_t algorithm_count = sizeof(algorithms) / sizeof(algorithms[0]);

constexpr char to_upper(char c) noexcept { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_upper(a[i]) != to_upper(b[i])) return false;
  }
  return true;
}

/// Value of a hex digit, or -1.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::uint32_t rotl32(std::uint32_t x, unsigned r) noexcept { return (x << r) | (x >> (32U - r)); }
constexpr std::uint64_t rotl64(std::uint64_t x, unsigned r) noexcept { return (x << r) | (x >> (64U - r)); }

std::uint32_t load_le32(const std::uint8_t* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
std::uint64_t load_le64(const std::uint8_t* p) noexcept {
  return static_cast<std::uint64_t>(load_le32(p)) | (static_cast<std::uint64_t>(load_le32(p + 4)) << 32);
}
void store_le32(std::byte* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
void store_le64(std::byte* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}

// ---- CRC-32 (IEEE, reflected) ---------------------------------------------------------------

constexpr std::uint32_t crc32_polynomial = 0xEDB88320U;

// CRC of each 4-bit value, processed low nibble first: a 64-byte table instead of 1 KB.
struct crc32_nibble_table {
  std::uint32_t entry[16] = {};
  constexpr crc32_nibble_table() noexcept {
    for (std::uint32_t n = 0; n < 16; ++n) {
      std::uint32_t c = n;
      for (int bit = 0; bit < 4; ++bit) c = (c & 1U) ? (c >> 1) ^ crc32_polynomial : c >> 1;
      entry[n] = c;
    }
  }
};
constexpr crc32_nibble_table crc32_table{};

// ---- MurmurHash3 constants (Austin Appleby's public-domain algorithm) -----------------------

constexpr std::uint32_t m32_c1 = 0xcc9e2d51U;
constexpr std::uint32_t m32_c2 = 0x1b873593U;

std::uint32_t m32_scramble(std::uint32_t k) noexcept {
  k *= m32_c1;
  k = rotl32(k, 15);
  return k * m32_c2;
}

std::uint32_t m32_block(std::uint32_t h, std::uint32_t k) noexcept {
  h ^= m32_scramble(k);
  h = rotl32(h, 13);
  return h * 5U + 0xe6546b64U;
}

std::uint32_t fmix32(std::uint32_t h) noexcept {
  h ^= h >> 16;
  h *= 0x85ebca6bU;
  h ^= h >> 13;
  h *= 0xc2b2ae35U;
  return h ^ (h >> 16);
}

constexpr std::uint64_t m128_c1 = 0x87c37b91114253d5ULL;
constexpr std::uint64_t m128_c2 = 0x4cf5ad432745937fULL;

std::uint64_t m128_scramble1(std::uint64_t k) noexcept {
  k *= m128_c1;
  k = rotl64(k, 31);
  return k * m128_c2;
}
std::uint64_t m128_scramble2(std::uint64_t k) noexcept {
  k *= m128_c2;
  k = rotl64(k, 33);
  return k * m128_c1;
}

std::uint64_t fmix64(std::uint64_t k) noexcept {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  return k ^ (k >> 33);
}

void m128_block(std::uint64_t& h1, std::uint64_t& h2, const std::uint8_t* block) noexcept {
  h1 ^= m128_scramble1(load_le64(block));
  h1 = rotl64(h1, 27);
  h1 += h2;
  h1 = h1 * 5U + 0x52dce729U;
  h2 ^= m128_scramble2(load_le64(block + 8));
  h2 = rotl64(h2, 31);
  h2 += h1;
  h2 = h2 * 5U + 0x38495ab5U;
}

/// Feeds `data` through fixed-size blocks: first completes the carried partial block, then
/// whole blocks straight from the input, then keeps the remainder in `carry`.
template <std::size_t Block, typename OnBlock>
void feed_blocks(span<const std::byte> data, std::uint8_t (&carry)[Block], std::uint8_t& carry_size,
                 OnBlock on_block) noexcept {
  const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
  std::size_t n = data.size();
  if (n == 0) return;
  if (carry_size != 0) {
    while (n != 0 && carry_size < Block) {
      carry[carry_size++] = *p++;
      --n;
    }
    if (carry_size < Block) return;
    on_block(carry);
    carry_size = 0;
  }
  for (; n >= Block; n -= Block, p += Block) on_block(p);
  while (n != 0) {
    carry[carry_size++] = *p++;
    --n;
  }
}

}  // namespace

// ---- names ----------------------------------------------------------------------------------

result<checksum_algorithm> parse_checksum_algorithm(std::string_view name) noexcept {
  for (std::size_t i = 0; i < algorithm_count; ++i) {
    if (equals_ignoring_case(name, algorithms[i].name)) return static_cast<checksum_algorithm>(i);
  }
  return errc::invalid_argument;
}

std::string_view to_string(checksum_algorithm a) noexcept {
  const auto i = static_cast<std::size_t>(a);
  return i < algorithm_count ? algorithms[i].name : std::string_view{};
}

std::size_t digest_size(checksum_algorithm a) noexcept {
  const auto i = static_cast<std::size_t>(a);
  return i < algorithm_count ? algorithms[i].size : 0;
}

// ---- CRC-32 ---------------------------------------------------------------------------------

void crc32_hasher::reset() noexcept { crc_ = 0xFFFFFFFFU; }

void crc32_hasher::update(span<const std::byte> data) noexcept {
  std::uint32_t c = crc_;
  for (std::byte b : data) {
    c ^= static_cast<std::uint32_t>(b);
    c = (c >> 4) ^ crc32_table.entry[c & 0x0FU];
    c = (c >> 4) ^ crc32_table.entry[c & 0x0FU];
  }
  crc_ = c;
}

std::size_t crc32_hasher::finish(span<std::byte> out) noexcept {
  if (out.size() < 4) return 0;
  store_le32(out.data(), crc_ ^ 0xFFFFFFFFU);
  return 4;
}

// ---- MurmurHash3 x86_32 ---------------------------------------------------------------------

void murmur3_32_hasher::reset() noexcept {
  h_ = 0;  // seed
  length_ = 0;
  carry_size_ = 0;
}

void murmur3_32_hasher::update(span<const std::byte> data) noexcept {
  length_ += static_cast<std::uint32_t>(data.size());
  std::uint32_t h = h_;
  feed_blocks(data, carry_, carry_size_, [&h](const std::uint8_t* block) { h = m32_block(h, load_le32(block)); });
  h_ = h;
}

std::size_t murmur3_32_hasher::finish(span<std::byte> out) noexcept {
  if (out.size() < 4) return 0;
  std::uint32_t h = h_;
  if (carry_size_ != 0) {
    std::uint32_t k = 0;
    for (unsigned i = carry_size_; i-- > 0;) k = (k << 8) | carry_[i];
    h ^= m32_scramble(k);
  }
  h ^= length_;
  store_le32(out.data(), fmix32(h));
  return 4;
}

// ---- MurmurHash3 x64_128 --------------------------------------------------------------------

void murmur3_128_hasher::reset() noexcept {
  h1_ = 0;  // seed
  h2_ = 0;
  length_ = 0;
  carry_size_ = 0;
}

void murmur3_128_hasher::update(span<const std::byte> data) noexcept {
  length_ += data.size();
  std::uint64_t h1 = h1_;
  std::uint64_t h2 = h2_;
  feed_blocks(data, carry_, carry_size_, [&h1, &h2](const std::uint8_t* block) { m128_block(h1, h2, block); });
  h1_ = h1;
  h2_ = h2;
}

std::size_t murmur3_128_hasher::finish(span<std::byte> out) noexcept {
  if (out.size() < 16) return 0;
  std::uint64_t h1 = h1_;
  std::uint64_t h2 = h2_;
  const unsigned tail = carry_size_;
  if (tail > 8) {
    std::uint64_t k2 = 0;
    for (unsigned i = tail; i-- > 8;) k2 = (k2 << 8) | carry_[i];
    h2 ^= m128_scramble2(k2);
  }
  if (tail > 0) {
    std::uint64_t k1 = 0;
    for (unsigned i = tail < 8 ? tail : 8; i-- > 0;) k1 = (k1 << 8) | carry_[i];
    h1 ^= m128_scramble1(k1);
  }
  h1 ^= length_;
  h2 ^= length_;
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 += h2;
  h2 += h1;
  store_le64(out.data(), h1);
  store_le64(out.data() + 8, h2);
  return 16;
}

// ---- provider and hex -----------------------------------------------------------------------

hasher* core_hash_provider::acquire(checksum_algorithm a) noexcept {
  hasher* h = nullptr;
  switch (a) {
    case checksum_algorithm::crc32: h = &crc32_; break;
    case checksum_algorithm::murmur3_32: h = &murmur3_32_; break;
    case checksum_algorithm::murmur3_128: h = &murmur3_128_; break;
    default: return nullptr;
  }
  h->reset();
  return h;
}

std::size_t to_hex(span<const std::byte> digest, span<char> out) noexcept {
  constexpr char digits[] = "0123456789abcdef";
  if (out.size() / 2 < digest.size()) return 0;
  std::size_t n = 0;
  for (std::byte b : digest) {
    const auto v = static_cast<unsigned>(b);
    out[n++] = digits[v >> 4];
    out[n++] = digits[v & 0x0FU];
  }
  return n;
}

bool checksum_equals(std::string_view expected_hex, span<const std::byte> digest) noexcept {
  if (expected_hex.size() / 2 != digest.size() || expected_hex.size() % 2 != 0) return false;
  for (std::size_t i = 0; i < digest.size(); ++i) {
    const int hi = hex_value(expected_hex[2 * i]);
    const int lo = hex_value(expected_hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    if (static_cast<unsigned>(hi * 16 + lo) != static_cast<unsigned>(digest[i])) return false;
  }
  return true;
}

}  // namespace tbmqtt
