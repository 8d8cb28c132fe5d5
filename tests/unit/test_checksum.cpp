// Tests of src/core/checksum.cpp: algorithm names, CRC-32 and MurmurHash3 hashers (streaming),
// the core hash provider and the hex helpers.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/checksum.hpp"

using tbmqtt::checksum_algorithm;
using tbmqtt::errc;
using tbmqtt::span;

namespace {

constexpr std::string_view fox = "The quick brown fox jumps over the lazy dog";

constexpr checksum_algorithm all_algorithms[] = {
    checksum_algorithm::md5,         checksum_algorithm::sha256, checksum_algorithm::sha384,
    checksum_algorithm::sha512,      checksum_algorithm::crc32,  checksum_algorithm::murmur3_32,
    checksum_algorithm::murmur3_128,
};

/// A digest and its lowercase hex, both fixed-size.
struct digest {
  std::byte bytes[tbmqtt::max_digest_size] = {};
  std::size_t size = 0;
  char hex_text[tbmqtt::max_digest_hex_size] = {};
  std::size_t hex_size = 0;

  span<const std::byte> view() const { return {bytes, size}; }
  std::string_view hex() const { return {hex_text, hex_size}; }
  bool operator==(const digest& other) const {
    if (size != other.size) return false;
    for (std::size_t i = 0; i < size; ++i) {
      if (bytes[i] != other.bytes[i]) return false;
    }
    return true;
  }
};

digest finish_digest(tbmqtt::hasher& h) {
  digest d;
  d.size = h.finish(d.bytes);
  d.hex_size = tbmqtt::to_hex(d.view(), d.hex_text);
  return d;
}

digest hash_once(tbmqtt::hasher& h, span<const std::byte> data) {
  h.reset();
  h.update(data);
  return finish_digest(h);
}

digest hash_once(tbmqtt::hasher& h, std::string_view text) { return hash_once(h, tbmqtt::as_bytes(text)); }

/// Fills `out` with a fixed pseudo-random byte sequence (a 32-bit LCG).
template <std::size_t N>
void fill_pattern(std::byte (&out)[N], std::uint32_t seed) {
  for (std::size_t i = 0; i < N; ++i) {
    seed = seed * 1664525U + 1013904223U;
    out[i] = static_cast<std::byte>(seed >> 24);
  }
}

// ---- one-shot references, written independently of the streaming code ----------------------

std::uint32_t ref_crc32(const std::byte* p, std::size_t n) {
  std::uint32_t crc = 0xFFFFFFFFU;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= static_cast<std::uint32_t>(p[i]);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320U & (0U - (crc & 1U)));
  }
  return ~crc;
}

std::uint32_t ref_rotl32(std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
std::uint64_t ref_rotl64(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/// Little-endian value of bytes [from, to) of p.
std::uint64_t ref_le(const std::byte* p, std::size_t from, std::size_t to) {
  std::uint64_t v = 0;
  for (std::size_t i = to; i > from; --i) v = (v << 8) | static_cast<std::uint64_t>(p[i - 1]);
  return v;
}

std::uint32_t ref_murmur3_32(const std::byte* p, std::size_t n) {
  const std::uint32_t c1 = 0xcc9e2d51U, c2 = 0x1b873593U;
  std::uint32_t h = 0;
  const std::size_t whole = n / 4 * 4;
  for (std::size_t i = 0; i < whole; i += 4) {
    std::uint32_t k = static_cast<std::uint32_t>(ref_le(p, i, i + 4));
    k = ref_rotl32(k * c1, 15) * c2;
    h = ref_rotl32(h ^ k, 13) * 5U + 0xe6546b64U;
  }
  if (n != whole) {
    std::uint32_t k = static_cast<std::uint32_t>(ref_le(p, whole, n));
    h ^= ref_rotl32(k * c1, 15) * c2;
  }
  h ^= static_cast<std::uint32_t>(n);
  h = (h ^ (h >> 16)) * 0x85ebca6bU;
  h = (h ^ (h >> 13)) * 0xc2b2ae35U;
  return h ^ (h >> 16);
}

std::uint64_t ref_fmix64(std::uint64_t k) {
  k = (k ^ (k >> 33)) * 0xff51afd7ed558ccdULL;
  k = (k ^ (k >> 33)) * 0xc4ceb9fe1a85ec53ULL;
  return k ^ (k >> 33);
}

void ref_murmur3_128(const std::byte* p, std::size_t n, std::uint64_t& out_h1, std::uint64_t& out_h2) {
  const std::uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
  std::uint64_t h1 = 0, h2 = 0;
  const std::size_t whole = n / 16 * 16;
  for (std::size_t i = 0; i < whole; i += 16) {
    const std::uint64_t k1 = ref_rotl64(ref_le(p, i, i + 8) * c1, 31) * c2;
    h1 = (ref_rotl64(h1 ^ k1, 27) + h2) * 5U + 0x52dce729U;
    const std::uint64_t k2 = ref_rotl64(ref_le(p, i + 8, i + 16) * c2, 33) * c1;
    h2 = (ref_rotl64(h2 ^ k2, 31) + h1) * 5U + 0x38495ab5U;
  }
  const std::size_t tail = n - whole;
  if (tail > 8) h2 ^= ref_rotl64(ref_le(p, whole + 8, n) * c2, 33) * c1;
  if (tail > 0) h1 ^= ref_rotl64(ref_le(p, whole, whole + (tail < 8 ? tail : 8)) * c1, 31) * c2;
  h1 ^= n;
  h2 ^= n;
  h1 += h2;
  h2 += h1;
  h1 = ref_fmix64(h1);
  h2 = ref_fmix64(h2);
  h1 += h2;
  h2 += h1;
  out_h1 = h1;
  out_h2 = h2;
}

/// The reference digest of p[0, n) in ThingsBoard's byte order.
digest reference_digest(checksum_algorithm a, const std::byte* p, std::size_t n) {
  digest d;
  auto put_le = [&d](std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) d.bytes[d.size++] = static_cast<std::byte>(v >> (8 * i));
  };
  if (a == checksum_algorithm::crc32) put_le(ref_crc32(p, n), 4);
  if (a == checksum_algorithm::murmur3_32) put_le(ref_murmur3_32(p, n), 4);
  if (a == checksum_algorithm::murmur3_128) {
    std::uint64_t h1 = 0, h2 = 0;
    ref_murmur3_128(p, n, h1, h2);
    put_le(h1, 8);
    put_le(h2, 8);
  }
  d.hex_size = tbmqtt::to_hex(d.view(), d.hex_text);
  return d;
}

constexpr checksum_algorithm core_algorithms[] = {checksum_algorithm::crc32, checksum_algorithm::murmur3_32,
                                                  checksum_algorithm::murmur3_128};

}  // namespace

// ---- names ----------------------------------------------------------------------------------------

TEST(checksum, names_round_trip_through_parse_and_to_string) {
  for (checksum_algorithm a : all_algorithms) {
    auto parsed = tbmqtt::parse_checksum_algorithm(tbmqtt::to_string(a));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, a);
  }
}

TEST(checksum, to_string_spells_thingsboard_names) {
  EXPECT_EQ(tbmqtt::to_string(checksum_algorithm::md5), std::string_view("MD5"));
  EXPECT_EQ(tbmqtt::to_string(checksum_algorithm::sha256), std::string_view("SHA256"));
  EXPECT_EQ(tbmqtt::to_string(checksum_algorithm::sha384), std::string_view("SHA384"));
  EXPECT_EQ(tbmqtt::to_string(checksum_algorithm::sha512), std::string_view("SHA512"));
  EXPECT_EQ(tbmqtt::to_string(checksum_algorithm::crc32), std::string_view("CRC32"));
  EXPECT_EQ(tbmqtt::to_string(checksum_algorithm::murmur3_32), std::string_view("MURMUR3_32"));
  EXPECT_EQ(tbmqtt::to_string(checksum_algorithm::murmur3_128), std::string_view("MURMUR3_128"));
  EXPECT_EQ(tbmqtt::to_string(static_cast<checksum_algorithm>(99)), std::string_view());
}

TEST(checksum, parse_ignores_case) {
  auto a = tbmqtt::parse_checksum_algorithm("sha256");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, checksum_algorithm::sha256);
  auto b = tbmqtt::parse_checksum_algorithm("Murmur3_128");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, checksum_algorithm::murmur3_128);
  auto c = tbmqtt::parse_checksum_algorithm("crc32");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, checksum_algorithm::crc32);
  auto d = tbmqtt::parse_checksum_algorithm("mD5");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, checksum_algorithm::md5);
}

TEST(checksum, parse_rejects_unknown_names_with_invalid_argument) {
  constexpr std::string_view bad[] = {"",     "SHA1", "SHA-256",    "SHA_256",  "MURMUR3",      "CRC32 ",    " MD5",
                                      "MD55", "CRC",  "MURMUR3_64", "SHA3_256", "MURMUR3_1288", "MURMUR3-32"};
  for (std::string_view name : bad) {
    auto r = tbmqtt::parse_checksum_algorithm(name);
    EXPECT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error(), errc::invalid_argument) << name;
  }
}

TEST(checksum, digest_size_matches_each_algorithm) {
  EXPECT_EQ(tbmqtt::digest_size(checksum_algorithm::md5), 16u);
  EXPECT_EQ(tbmqtt::digest_size(checksum_algorithm::sha256), 32u);
  EXPECT_EQ(tbmqtt::digest_size(checksum_algorithm::sha384), 48u);
  EXPECT_EQ(tbmqtt::digest_size(checksum_algorithm::sha512), 64u);
  EXPECT_EQ(tbmqtt::digest_size(checksum_algorithm::crc32), 4u);
  EXPECT_EQ(tbmqtt::digest_size(checksum_algorithm::murmur3_32), 4u);
  EXPECT_EQ(tbmqtt::digest_size(checksum_algorithm::murmur3_128), 16u);
  EXPECT_EQ(tbmqtt::digest_size(static_cast<checksum_algorithm>(99)), 0u);
  for (checksum_algorithm a : all_algorithms) EXPECT_LE(tbmqtt::digest_size(a), tbmqtt::max_digest_size);
}

// ---- ThingsBoard's vectors and other known values -------------------------------------------------

TEST(checksum, crc32_of_123456789_is_2639f4cb_little_endian) {
  tbmqtt::crc32_hasher h;
  EXPECT_EQ(hash_once(h, "123456789").hex(), std::string_view("2639f4cb"));
  EXPECT_EQ(hash_once(h, fox).hex(), std::string_view("39a34f41"));  // 0x414FA339
  EXPECT_EQ(h.algorithm(), checksum_algorithm::crc32);
}

TEST(checksum, murmur3_32_of_hello_is_47fa8b24_little_endian) {
  tbmqtt::murmur3_32_hasher h;
  EXPECT_EQ(hash_once(h, "hello").hex(), std::string_view("47fa8b24"));
  EXPECT_EQ(hash_once(h, fox).hex(), std::string_view("23f74f2e"));  // 0x2E4FF723
  EXPECT_EQ(h.algorithm(), checksum_algorithm::murmur3_32);
}

TEST(checksum, murmur3_128_of_the_fox_is_h1_then_h2_little_endian) {
  tbmqtt::murmur3_128_hasher h;
  EXPECT_EQ(hash_once(h, fox).hex(), std::string_view("6c1b07bc7bbc4be347939ac4a93c437a"));
  EXPECT_EQ(h.algorithm(), checksum_algorithm::murmur3_128);
}

TEST(checksum, empty_input_gives_the_known_digest_for_each_algorithm) {
  tbmqtt::crc32_hasher crc;
  tbmqtt::murmur3_32_hasher m32;
  tbmqtt::murmur3_128_hasher m128;
  EXPECT_EQ(hash_once(crc, "").hex(), std::string_view("00000000"));
  EXPECT_EQ(hash_once(m32, "").hex(), std::string_view("00000000"));
  EXPECT_EQ(hash_once(m128, "").hex(), std::string_view("00000000000000000000000000000000"));
  // A fresh hasher without any update, and one fed only empty spans, agree.
  tbmqtt::murmur3_128_hasher fresh;
  EXPECT_EQ(finish_digest(fresh).hex(), std::string_view("00000000000000000000000000000000"));
  crc.reset();
  crc.update({});
  crc.update(tbmqtt::as_bytes(""));
  EXPECT_EQ(finish_digest(crc).hex(), std::string_view("00000000"));
}

// ---- streaming ------------------------------------------------------------------------------------

TEST(checksum, lengths_0_to_40_match_a_one_shot_reference) {
  std::byte input[40];
  fill_pattern(input, 7);
  tbmqtt::core_hash_provider provider;
  for (checksum_algorithm a : core_algorithms) {
    for (std::size_t n = 0; n <= sizeof(input); ++n) {
      tbmqtt::hasher* h = provider.acquire(a);
      ASSERT_TRUE(h != nullptr);
      h->update({input, n});
      const digest got = finish_digest(*h);
      const digest want = reference_digest(a, input, n);
      EXPECT_EQ(got.size, tbmqtt::digest_size(a));
      EXPECT_EQ(got.hex(), want.hex()) << tbmqtt::to_string(a) << " length " << n;
      // Byte by byte gives the same digest.
      h->reset();
      for (std::size_t i = 0; i < n; ++i) h->update({input + i, 1});
      EXPECT_EQ(finish_digest(*h).hex(), want.hex()) << tbmqtt::to_string(a) << " bytewise, length " << n;
    }
  }
}

TEST(checksum, every_split_into_two_or_three_updates_gives_the_same_digest) {
  std::byte input[300];
  fill_pattern(input, 12345);
  tbmqtt::core_hash_provider provider;
  for (checksum_algorithm a : core_algorithms) {
    tbmqtt::hasher* h = provider.acquire(a);
    ASSERT_TRUE(h != nullptr);
    const digest whole = hash_once(*h, span<const std::byte>(input));
    EXPECT_EQ(whole.hex(), reference_digest(a, input, sizeof(input)).hex()) << tbmqtt::to_string(a);
    constexpr std::size_t n = sizeof(input);
    int two_way_mismatches = 0;
    for (std::size_t i = 0; i <= n; ++i) {
      h->reset();
      h->update({input, i});
      h->update({input + i, n - i});
      if (!(finish_digest(*h) == whole)) ++two_way_mismatches;
    }
    EXPECT_EQ(two_way_mismatches, 0) << tbmqtt::to_string(a);
    int three_way_mismatches = 0;
    for (std::size_t i = 0; i <= n; ++i) {
      for (std::size_t j = i; j <= n; ++j) {
        h->reset();
        h->update({input, i});
        h->update({input + i, j - i});
        h->update({input + j, n - j});
        std::byte out[tbmqtt::max_digest_size];
        const std::size_t size = h->finish(out);
        bool same = size == whole.size;
        for (std::size_t k = 0; same && k < size; ++k) same = out[k] == whole.bytes[k];
        if (!same) ++three_way_mismatches;
      }
    }
    EXPECT_EQ(three_way_mismatches, 0) << tbmqtt::to_string(a);
  }
}

TEST(checksum, reset_makes_a_used_hasher_start_over) {
  tbmqtt::crc32_hasher crc;
  tbmqtt::murmur3_32_hasher m32;
  tbmqtt::murmur3_128_hasher m128;
  tbmqtt::hasher* hashers[] = {&crc, &m32, &m128};
  for (tbmqtt::hasher* h : hashers) {
    // Leave a partial block and unfinished state behind, then reuse.
    h->reset();
    h->update(tbmqtt::as_bytes("abcdefg"));
    std::byte scratch[tbmqtt::max_digest_size];
    EXPECT_NE(h->finish(scratch), 0u);
    h->update(tbmqtt::as_bytes("xyz"));  // ignored by reset() below
    h->reset();
    h->update(tbmqtt::as_bytes(fox));
    const digest reused = finish_digest(*h);
    const digest fresh = reference_digest(h->algorithm(), reinterpret_cast<const std::byte*>(fox.data()), fox.size());
    EXPECT_EQ(reused.hex(), fresh.hex()) << tbmqtt::to_string(h->algorithm());
  }
  EXPECT_EQ(hash_once(m128, fox).hex(), std::string_view("6c1b07bc7bbc4be347939ac4a93c437a"));
  EXPECT_EQ(hash_once(m32, "hello").hex(), std::string_view("47fa8b24"));
  EXPECT_EQ(hash_once(crc, "123456789").hex(), std::string_view("2639f4cb"));
}

TEST(checksum, finish_reports_zero_for_a_short_output) {
  tbmqtt::crc32_hasher crc;
  tbmqtt::murmur3_32_hasher m32;
  tbmqtt::murmur3_128_hasher m128;
  std::byte small[3];
  std::byte mid[15];
  EXPECT_EQ(crc.finish(small), 0u);
  EXPECT_EQ(m32.finish(small), 0u);
  EXPECT_EQ(m128.finish(mid), 0u);
  std::byte exact[16];
  EXPECT_EQ(m128.finish(exact), 16u);
}

// ---- provider -------------------------------------------------------------------------------------

TEST(checksum, core_provider_serves_crc32_and_murmur_only) {
  tbmqtt::core_hash_provider provider;
  EXPECT_TRUE(provider.acquire(checksum_algorithm::md5) == nullptr);
  EXPECT_TRUE(provider.acquire(checksum_algorithm::sha256) == nullptr);
  EXPECT_TRUE(provider.acquire(checksum_algorithm::sha384) == nullptr);
  EXPECT_TRUE(provider.acquire(checksum_algorithm::sha512) == nullptr);
  for (checksum_algorithm a : core_algorithms) {
    tbmqtt::hasher* h = provider.acquire(a);
    ASSERT_TRUE(h != nullptr);
    EXPECT_EQ(h->algorithm(), a);
  }
}

TEST(checksum, core_provider_returns_a_reset_hasher) {
  tbmqtt::core_hash_provider provider;
  tbmqtt::hasher* h = provider.acquire(checksum_algorithm::murmur3_32);
  ASSERT_TRUE(h != nullptr);
  h->update(tbmqtt::as_bytes("left over"));
  h = provider.acquire(checksum_algorithm::murmur3_32);
  ASSERT_TRUE(h != nullptr);
  h->update(tbmqtt::as_bytes("hello"));
  EXPECT_EQ(finish_digest(*h).hex(), std::string_view("47fa8b24"));
}

// ---- hex helpers ----------------------------------------------------------------------------------

TEST(checksum, to_hex_writes_lowercase_pairs) {
  const std::byte bytes[] = {std::byte{0x00}, std::byte{0xAB}, std::byte{0x0F}, std::byte{0xF0}, std::byte{0x9C}};
  char out[10];
  ASSERT_EQ(tbmqtt::to_hex(bytes, out), 10u);
  EXPECT_EQ(std::string_view(out, 10), std::string_view("00ab0ff09c"));
  EXPECT_EQ(tbmqtt::to_hex({}, span<char>()), 0u);
}

TEST(checksum, to_hex_reports_zero_for_a_short_output) {
  const std::byte bytes[] = {std::byte{0x12}, std::byte{0x34}};
  char out[3] = {'x', 'x', 'x'};
  EXPECT_EQ(tbmqtt::to_hex(bytes, out), 0u);
}

TEST(checksum, checksum_equals_ignores_case) {
  tbmqtt::crc32_hasher crc;
  const digest d = hash_once(crc, "123456789");
  EXPECT_TRUE(tbmqtt::checksum_equals("2639f4cb", d.view()));
  EXPECT_TRUE(tbmqtt::checksum_equals("2639F4CB", d.view()));
  EXPECT_TRUE(tbmqtt::checksum_equals("2639f4Cb", d.view()));
  tbmqtt::murmur3_128_hasher m128;
  const digest f = hash_once(m128, fox);
  EXPECT_TRUE(tbmqtt::checksum_equals("6C1B07BC7BBC4BE347939AC4A93C437A", f.view()));
}

TEST(checksum, checksum_equals_rejects_other_lengths_digits_and_non_hex) {
  tbmqtt::crc32_hasher crc;
  const digest d = hash_once(crc, "123456789");
  EXPECT_FALSE(tbmqtt::checksum_equals("", d.view()));
  EXPECT_FALSE(tbmqtt::checksum_equals("2639f4c", d.view()));
  EXPECT_FALSE(tbmqtt::checksum_equals("2639f4cb0", d.view()));
  EXPECT_FALSE(tbmqtt::checksum_equals("2639f4cb00", d.view()));
  EXPECT_FALSE(tbmqtt::checksum_equals("0x2639f4cb", d.view()));
  EXPECT_FALSE(tbmqtt::checksum_equals("2639f4cc", d.view()));
  EXPECT_FALSE(tbmqtt::checksum_equals("cbf43926", d.view()));  // big-endian spelling
  EXPECT_FALSE(tbmqtt::checksum_equals("2639f4cg", d.view()));
  EXPECT_FALSE(tbmqtt::checksum_equals("2639f4 b", d.view()));
  EXPECT_TRUE(tbmqtt::checksum_equals("", span<const std::byte>()));
  EXPECT_FALSE(tbmqtt::checksum_equals("00", span<const std::byte>()));
}
