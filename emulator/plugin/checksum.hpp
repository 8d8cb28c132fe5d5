// Checksums ThingsBoard offers for OTA packages, encoded as protocol doc section 5 says.
#pragma once

#include <string>
#include <string_view>

namespace tbmqtt_emulator {

/// Lowercase hex checksum of `data` for a ThingsBoard algorithm name (MD5, SHA256, SHA384, SHA512,
/// CRC32, MURMUR3_32, MURMUR3_128). Throws std::runtime_error for an unknown algorithm.
std::string ota_checksum(std::string_view algorithm, std::string_view data);

/// Lowercase hex SHA3-256 of `data` (X.509 credential hash).
std::string sha3_256_hex(std::string_view data);

}  // namespace tbmqtt_emulator
