// Tests of src/transport/mosquitto/mosquitto_transport.cpp's error mapping: every libmosquitto
// return code the transport can see maps to its one errc (errc_from_mosquitto is the only such
// mapping), and a real allocation failure inside libmosquitto (MOSQ_ERR_NOMEM: the copy of a
// QoS 1 payload, under an address-space limit) reaches the caller as errc::out_of_memory.
#include <gtest/gtest.h>
#include <mosquitto.h>
#include <sys/resource.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "../../src/transport/mosquitto/mosquitto_transport.hpp"

using tbmqtt::errc;
using tbmqtt::detail::errc_from_mosquitto;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TBMQTT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define TBMQTT_SANITIZED 1
#endif
#endif

namespace {

struct no_listener final : tbmqtt::detail::transport_listener {
  void on_connack(errc) override {}
  void on_connection_lost(errc) override {}
  void on_message(std::string_view, tbmqtt::span<const std::byte>) override {}
  void on_suback(tbmqtt::message_id, std::uint8_t) override {}
  void on_puback(tbmqtt::message_id) override {}
};

// Address space in use now (VmSize of /proc/self/status), in bytes; 0 when unknown.
[[maybe_unused]] std::size_t address_space_in_use() {  // unused when sanitized (the test is skipped)
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  std::size_t kb = 0;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::strncmp(line, "VmSize:", 7) == 0) kb = std::strtoull(line + 7, nullptr, 10);
  std::fclose(f);
  return kb * 1024;
}

}  // namespace

TEST(mosquitto_transport, each_library_return_code_maps_to_its_one_errc) {
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_SUCCESS), errc{});
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_NOMEM), errc::out_of_memory);
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_NO_CONN), errc::not_connected);
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_CONN_LOST), errc::not_connected);
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_INVAL), errc::invalid_argument);
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_MALFORMED_UTF8), errc::invalid_argument);
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_PAYLOAD_SIZE), errc::payload_too_large);
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_OVERSIZE_PACKET), errc::payload_too_large);
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_TLS), errc::tls_error);
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_TLS_HANDSHAKE), errc::tls_error);
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_ERRNO), errc::unreachable);
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_EAI), errc::unreachable);
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_CONN_REFUSED), errc::refused_credentials);
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_AUTH), errc::refused_credentials);
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_PROTOCOL), errc::transport_error);  // anything else
  EXPECT_EQ(errc_from_mosquitto(MOSQ_ERR_KEEPALIVE), errc::transport_error);
}

// The real thing: libmosquitto copies a QoS 1 payload into its outgoing queue (even offline); with
// the address space capped below that copy its malloc fails and mosquitto_publish answers
// MOSQ_ERR_NOMEM. The transport reports errc::out_of_memory (which the publisher retries: a
// stored message stays stored), and publishes again once memory is there.
TEST(mosquitto_transport, a_failed_allocation_in_libmosquitto_is_out_of_memory) {
#ifdef TBMQTT_SANITIZED
  GTEST_SKIP() << "a sanitizer's allocator does not return null under an address-space limit";
#else
  no_listener listener;
  tbmqtt::detail::mqtt_endpoint endpoint;
  endpoint.host = "127.0.0.1";
  endpoint.client_id = "nomem";
  tbmqtt::detail::mosquitto_transport transport(endpoint, listener);  // never connected: QoS 1 is queued
  constexpr std::size_t payload_size = 64u << 20;
  std::vector<std::byte> payload(payload_size, std::byte{'x'});
  const std::size_t in_use = address_space_in_use();
  ASSERT_GT(in_use, 0u);
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_AS, &before), 0);
  rlimit capped = before;
  capped.rlim_cur = in_use + payload_size / 4;  // room for small allocations, not for the copy
  ASSERT_EQ(::setrlimit(RLIMIT_AS, &capped), 0);
  auto refused =
      transport.publish("t", tbmqtt::span<const std::byte>(payload.data(), payload.size()), tbmqtt::qos::at_least_once);
  ASSERT_EQ(::setrlimit(RLIMIT_AS, &before), 0);  // before any other allocation of the test
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), errc::out_of_memory);
  auto queued = transport.publish("t", tbmqtt::span<const std::byte>(payload.data(), 16), tbmqtt::qos::at_least_once);
  EXPECT_TRUE(queued.ok()) << tbmqtt::to_string(queued.error());
#endif
}
