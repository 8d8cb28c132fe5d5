// Tests of src/platform/mbedtls/mbedtls_hashes.cpp: MD5/SHA-2 through mbedTLS (known vectors,
// split updates, a cross-check against `openssl dgst`) and delegation of the core algorithms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "../../src/platform/mbedtls/mbedtls_hashes.hpp"

using tbmqtt::checksum_algorithm;
using tbmqtt::span;

namespace {

constexpr std::string_view fox = "The quick brown fox jumps over the lazy dog";

constexpr checksum_algorithm md_algorithms[] = {checksum_algorithm::md5, checksum_algorithm::sha256,
                                                checksum_algorithm::sha384, checksum_algorithm::sha512};

std::string finish_hex(tbmqtt::hasher& h) {
  std::byte digest[tbmqtt::max_digest_size];
  const std::size_t n = h.finish(digest);
  char hex[tbmqtt::max_digest_hex_size];
  const std::size_t m = tbmqtt::to_hex({digest, n}, hex);
  return std::string(hex, m);
}

std::string hash_hex(tbmqtt::hash_provider& p, checksum_algorithm a, span<const std::byte> data) {
  tbmqtt::hasher* h = p.acquire(a);
  if (h == nullptr) return "(unsupported)";
  h->update(data);
  return finish_hex(*h);
}

std::string hash_hex(tbmqtt::hash_provider& p, checksum_algorithm a, std::string_view text) {
  return hash_hex(p, a, tbmqtt::as_bytes(text));
}

struct vector_case {
  checksum_algorithm algorithm;
  std::string_view input;
  std::string_view hex;
};

// FIPS 180-2 / RFC 1321 vectors.
const vector_case known_vectors[] = {
    {checksum_algorithm::md5, "", "d41d8cd98f00b204e9800998ecf8427e"},
    {checksum_algorithm::md5, "abc", "900150983cd24fb0d6963f7d28e17f72"},
    {checksum_algorithm::md5, fox, "9e107d9d372bb6826bd81d3542a419d6"},
    {checksum_algorithm::sha256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {checksum_algorithm::sha256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {checksum_algorithm::sha256, fox, "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"},
    {checksum_algorithm::sha384, "",
     "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"},
    {checksum_algorithm::sha384, "abc",
     "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"},
    {checksum_algorithm::sha384, fox,
     "ca737f1014a48f4c0b6dd43cb177b0afd9e5169367544c494011e3317dbf9a509cb1e5dc1e85a941bbee3d7f2afbc9b1"},
    {checksum_algorithm::sha512, "",
     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a"
     "538327af927da3e"},
    {checksum_algorithm::sha512, "abc",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2"
     "a9ac94fa54ca49f"},
    {checksum_algorithm::sha512, fox,
     "07e547d9586f6a73f73fbac0435ed76951218fb7d0c8d788a309d785436bbb642e93a252a954f23912547d1e8a3b5ed6e1bfd7097821233fa"
     "0538f3db854fee6"},
};

std::vector<std::byte> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xFFU);
  return out;
}

/// Runs `openssl dgst -<name> -r FILE` and returns the hex digest ("" on failure).
std::string openssl_digest(const char* name, const std::string& path) {
  const std::string command = std::string("openssl dgst -") + name + " -r '" + path + "' 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  std::string output;
  char buffer[256];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  if (::pclose(pipe) != 0) return {};
  return output.substr(0, output.find(' '));  // "-r" prints "<hex> *<file>"
}

}  // namespace

TEST(mbedtls_hashes, known_vectors_match) {
  tbmqtt::mbedtls_hash_provider provider;
  for (const vector_case& v : known_vectors) {
    EXPECT_EQ(hash_hex(provider, v.algorithm, v.input), v.hex)
        << tbmqtt::to_string(v.algorithm) << " of \"" << v.input << "\"";
  }
}

TEST(mbedtls_hashes, digests_have_the_algorithm_size_and_compare_case_insensitively) {
  tbmqtt::mbedtls_hash_provider provider;
  for (checksum_algorithm a : md_algorithms) {
    tbmqtt::hasher* h = provider.acquire(a);
    ASSERT_NE(h, nullptr) << tbmqtt::to_string(a);
    EXPECT_EQ(h->algorithm(), a);
    h->update(tbmqtt::as_bytes("abc"));
    std::byte digest[tbmqtt::max_digest_size];
    const std::size_t n = h->finish(digest);
    EXPECT_EQ(n, tbmqtt::digest_size(a));
    for (const vector_case& v : known_vectors) {
      if (v.algorithm != a || v.input != "abc") continue;
      std::string upper(v.hex);
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      EXPECT_TRUE(tbmqtt::checksum_equals(upper, {digest, n}));
      EXPECT_FALSE(tbmqtt::checksum_equals(upper.substr(2), {digest, n}));
    }
  }
}

TEST(mbedtls_hashes, every_split_into_two_updates_gives_the_same_digest) {
  tbmqtt::mbedtls_hash_provider provider;
  const std::vector<std::byte> input = random_bytes(300, 1);
  for (checksum_algorithm a : md_algorithms) {
    const std::string whole = hash_hex(provider, a, {input.data(), input.size()});
    for (std::size_t i = 0; i <= input.size(); ++i) {
      tbmqtt::hasher* h = provider.acquire(a);
      ASSERT_NE(h, nullptr);
      h->update({input.data(), i});
      h->update({input.data() + i, input.size() - i});
      ASSERT_EQ(finish_hex(*h), whole) << tbmqtt::to_string(a) << " split at " << i;
    }
  }
}

TEST(mbedtls_hashes, reset_reuses_the_hasher_and_switching_algorithms_works) {
  tbmqtt::mbedtls_hash_provider provider;
  tbmqtt::hasher* h = provider.acquire(checksum_algorithm::sha256);
  ASSERT_NE(h, nullptr);
  h->update(tbmqtt::as_bytes("garbage"));
  h->reset();
  h->update(tbmqtt::as_bytes("abc"));
  EXPECT_EQ(finish_hex(*h), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  h->reset();
  h->update(tbmqtt::as_bytes("abc"));
  EXPECT_EQ(finish_hex(*h), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Alternating algorithms re-binds the one mbedTLS context each time.
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(hash_hex(provider, checksum_algorithm::md5, "abc"), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(hash_hex(provider, checksum_algorithm::sha512, ""),
              "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd"
              "47417a81a538327af927da3e");
  }
}

TEST(mbedtls_hashes, finish_reports_zero_for_a_short_output_or_a_second_finish) {
  tbmqtt::mbedtls_hash_provider provider;
  tbmqtt::hasher* h = provider.acquire(checksum_algorithm::sha384);
  ASSERT_NE(h, nullptr);
  std::byte small[47];
  EXPECT_EQ(h->finish(small), 0u);
  std::byte full[48];
  EXPECT_EQ(h->finish(full), 48u);
  EXPECT_EQ(h->finish(full), 0u);  // finished: needs reset()
  h->reset();
  EXPECT_EQ(h->finish(full), 48u);
}

TEST(mbedtls_hashes, core_algorithms_are_delegated_to_the_core) {
  tbmqtt::mbedtls_hash_provider provider;
  EXPECT_EQ(hash_hex(provider, checksum_algorithm::crc32, "123456789"), "2639f4cb");
  EXPECT_EQ(hash_hex(provider, checksum_algorithm::murmur3_32, "hello"), "47fa8b24");
  EXPECT_EQ(hash_hex(provider, checksum_algorithm::murmur3_128, fox), "6c1b07bc7bbc4be347939ac4a93c437a");
}

TEST(mbedtls_hashes, one_megabyte_file_matches_openssl_dgst) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "openssl not installed";
  const std::vector<std::byte> data = random_bytes(1 << 20, 2024);
  char path[] = "/tmp/tbmqtt_hashes_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    ASSERT_GT(n, 0);
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);

  struct named {
    checksum_algorithm algorithm;
    const char* openssl_name;
  };
  const named algorithms[] = {{checksum_algorithm::md5, "md5"},
                              {checksum_algorithm::sha256, "sha256"},
                              {checksum_algorithm::sha384, "sha384"},
                              {checksum_algorithm::sha512, "sha512"}};
  tbmqtt::mbedtls_hash_provider provider;
  for (const named& n : algorithms) {
    const std::string expected = openssl_digest(n.openssl_name, path);
    ASSERT_EQ(expected.size(), 2 * tbmqtt::digest_size(n.algorithm)) << n.openssl_name << ": " << expected;
    // Fed in uneven chunks, as an OTA download would.
    tbmqtt::hasher* h = provider.acquire(n.algorithm);
    ASSERT_NE(h, nullptr);
    std::size_t offset = 0;
    std::size_t chunk = 1;
    while (offset < data.size()) {
      const std::size_t size = std::min(chunk, data.size() - offset);
      h->update({data.data() + offset, size});
      offset += size;
      chunk = chunk * 3 % 4099 + 1;
    }
    EXPECT_EQ(finish_hex(*h), expected) << n.openssl_name;
    EXPECT_EQ(hash_hex(provider, n.algorithm, {data.data(), data.size()}), expected) << n.openssl_name;
  }
  ::unlink(path);
}
