#include "checksum.hpp"

#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace tbmqtt_emulator {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        s += digits[p[i] >> 4];
        s += digits[p[i] & 15];
    }
    return s;
}

std::string evp_hex(const EVP_MD* md, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(data.data(), data.size(), out, &len, md, nullptr)) throw std::runtime_error("digest failed");
    return hex(out, len);
}

void put_le32(unsigned char* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_le64(unsigned char* p, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

std::uint32_t crc32_ieee(std::string_view data) {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (unsigned char c : data) {
        crc ^= c;
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

std::uint32_t rotl32(std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
std::uint64_t rotl64(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

std::uint32_t murmur3_32(std::string_view data) {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    const std::size_t n = data.size();
    std::uint32_t h = 0;
    const std::uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        std::uint32_t k = p[i] | (p[i + 1] << 8) | (p[i + 2] << 16) | (std::uint32_t(p[i + 3]) << 24);
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
        h = rotl32(h, 13);
        h = h * 5 + 0xe6546b64;
    }
    std::uint32_t k = 0;
    switch (n & 3) {
        case 3: k ^= p[i + 2] << 16; [[fallthrough]];
        case 2: k ^= p[i + 1] << 8; [[fallthrough]];
        case 1:
            k ^= p[i];
            k *= c1;
            k = rotl32(k, 15);
            k *= c2;
            h ^= k;
    }
    h ^= static_cast<std::uint32_t>(n);
    h ^= h >> 16;
    h *= 0x85ebca6b;
    h ^= h >> 13;
    h *= 0xc2b2ae35;
    h ^= h >> 16;
    return h;
}

std::uint64_t fmix64(std::uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

void murmur3_128(std::string_view data, std::uint64_t& out1, std::uint64_t& out2) {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    const std::size_t n = data.size();
    std::uint64_t h1 = 0, h2 = 0;
    const std::uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
    auto load64 = [&](std::size_t off) {
        std::uint64_t v = 0;
        for (int b = 7; b >= 0; --b) v = (v << 8) | p[off + b];
        return v;
    };
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        std::uint64_t k1 = load64(i), k2 = load64(i + 8);
        k1 *= c1;
        k1 = rotl64(k1, 31);
        k1 *= c2;
        h1 ^= k1;
        h1 = rotl64(h1, 27);
        h1 += h2;
        h1 = h1 * 5 + 0x52dce729;
        k2 *= c2;
        k2 = rotl64(k2, 33);
        k2 *= c1;
        h2 ^= k2;
        h2 = rotl64(h2, 31);
        h2 += h1;
        h2 = h2 * 5 + 0x38495ab5;
    }
    const unsigned char* tail = p + i;
    std::uint64_t k1 = 0, k2 = 0;
    switch (n & 15) {
        case 15: k2 ^= std::uint64_t(tail[14]) << 48; [[fallthrough]];
        case 14: k2 ^= std::uint64_t(tail[13]) << 40; [[fallthrough]];
        case 13: k2 ^= std::uint64_t(tail[12]) << 32; [[fallthrough]];
        case 12: k2 ^= std::uint64_t(tail[11]) << 24; [[fallthrough]];
        case 11: k2 ^= std::uint64_t(tail[10]) << 16; [[fallthrough]];
        case 10: k2 ^= std::uint64_t(tail[9]) << 8; [[fallthrough]];
        case 9:
            k2 ^= std::uint64_t(tail[8]);
            k2 *= c2;
            k2 = rotl64(k2, 33);
            k2 *= c1;
            h2 ^= k2;
            [[fallthrough]];
        case 8: k1 ^= std::uint64_t(tail[7]) << 56; [[fallthrough]];
        case 7: k1 ^= std::uint64_t(tail[6]) << 48; [[fallthrough]];
        case 6: k1 ^= std::uint64_t(tail[5]) << 40; [[fallthrough]];
        case 5: k1 ^= std::uint64_t(tail[4]) << 32; [[fallthrough]];
        case 4: k1 ^= std::uint64_t(tail[3]) << 24; [[fallthrough]];
        case 3: k1 ^= std::uint64_t(tail[2]) << 16; [[fallthrough]];
        case 2: k1 ^= std::uint64_t(tail[1]) << 8; [[fallthrough]];
        case 1:
            k1 ^= std::uint64_t(tail[0]);
            k1 *= c1;
            k1 = rotl64(k1, 31);
            k1 *= c2;
            h1 ^= k1;
    }
    h1 ^= n;
    h2 ^= n;
    h1 += h2;
    h2 += h1;
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 += h2;
    h2 += h1;
    out1 = h1;
    out2 = h2;
}

}  // namespace

std::string ota_checksum(std::string_view algorithm, std::string_view data) {
    unsigned char buf[16];
    if (algorithm == "MD5") return evp_hex(EVP_md5(), data);
    if (algorithm == "SHA256") return evp_hex(EVP_sha256(), data);
    if (algorithm == "SHA384") return evp_hex(EVP_sha384(), data);
    if (algorithm == "SHA512") return evp_hex(EVP_sha512(), data);
    if (algorithm == "CRC32") {
        put_le32(buf, crc32_ieee(data));
        return hex(buf, 4);
    }
    if (algorithm == "MURMUR3_32") {
        put_le32(buf, murmur3_32(data));
        return hex(buf, 4);
    }
    if (algorithm == "MURMUR3_128") {
        std::uint64_t h1 = 0, h2 = 0;
        murmur3_128(data, h1, h2);
        put_le64(buf, h1);
        put_le64(buf + 8, h2);
        return hex(buf, 16);
    }
    throw std::runtime_error("unknown checksum algorithm: " + std::string(algorithm));
}

std::string sha3_256_hex(std::string_view data) { return evp_hex(EVP_sha3_256(), data); }

}  // namespace tbmqtt_emulator
