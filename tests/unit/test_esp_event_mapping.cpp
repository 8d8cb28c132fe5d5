// Tests of src/transport/esp_mqtt/esp_event_mapping.hpp: esp-mqtt events -> core inputs, with a
// fake esp-mqtt (same event struct field names and enum values as the v4.4 and v5.x headers).
// The ESP-IDF glue around it is only compile-checked (tests/esp_idf/check.sh).
// tbmqtt: host-only
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../../src/transport/esp_mqtt/esp_event_mapping.hpp"
#include "fake_transport.hpp"
#include "ota_fakes.hpp"
#include "tbmqtt/checksum.hpp"
#include "tbmqtt/ota.hpp"
#include "tbmqtt/session.hpp"

using tbmqtt::errc;
using tbmqtt::session_state;
using tbmqtt::detail::esp_event_mapper;
using tbmqtt::detail::esp_event_outcome;
using tbmqtt_test::event_kind;

namespace fake_esp {

// Look-alikes of mqtt_client.h (values as in esp-mqtt for IDF v4.4 and v5.x).
enum esp_mqtt_event_id_t {
  MQTT_EVENT_ANY = -1,
  MQTT_EVENT_ERROR = 0,
  MQTT_EVENT_CONNECTED,
  MQTT_EVENT_DISCONNECTED,
  MQTT_EVENT_SUBSCRIBED,
  MQTT_EVENT_UNSUBSCRIBED,
  MQTT_EVENT_PUBLISHED,
  MQTT_EVENT_DATA,
  MQTT_EVENT_BEFORE_CONNECT,
  MQTT_EVENT_DELETED,
};
enum esp_mqtt_error_type_t {
  MQTT_ERROR_TYPE_NONE = 0,
  MQTT_ERROR_TYPE_TCP_TRANSPORT,
  MQTT_ERROR_TYPE_CONNECTION_REFUSED,
  MQTT_ERROR_TYPE_SUBSCRIBE_FAILED,  // v5.x only
};
enum esp_mqtt_connect_return_code_t {
  MQTT_CONNECTION_ACCEPTED = 0,
  MQTT_CONNECTION_REFUSE_PROTOCOL,
  MQTT_CONNECTION_REFUSE_ID_REJECTED,
  MQTT_CONNECTION_REFUSE_SERVER_UNAVAILABLE,
  MQTT_CONNECTION_REFUSE_BAD_USERNAME,
  MQTT_CONNECTION_REFUSE_NOT_AUTHORIZED,
};
struct esp_mqtt_error_codes_t {
  int esp_tls_last_esp_err = 0;
  int esp_tls_stack_err = 0;
  int esp_tls_cert_verify_flags = 0;
  esp_mqtt_error_type_t error_type = MQTT_ERROR_TYPE_NONE;
  esp_mqtt_connect_return_code_t connect_return_code = MQTT_CONNECTION_ACCEPTED;
  int esp_transport_sock_errno = 0;
};
struct esp_mqtt_event_t {
  esp_mqtt_event_id_t event_id = MQTT_EVENT_BEFORE_CONNECT;
  void* client = nullptr;
  char* data = nullptr;
  int data_len = 0;
  int total_data_len = 0;
  int current_data_offset = 0;
  char* topic = nullptr;
  int topic_len = 0;
  int msg_id = 0;
  int session_present = 0;
  esp_mqtt_error_codes_t* error_handle = nullptr;
  bool retain = false;
  int qos = 0;
  bool dup = false;
};

/// A fake esp-mqtt client: hands out message ids like esp_mqtt_client_publish/subscribe (QoS 0
/// publishes get 0), and plays the broker side by posting events to the mapper, the way the
/// real client's task would (its handler is `dispatch`).
class client final : public tbmqtt::transport_port {
 public:
  enum class idf { v4_4, v5_x };

  explicit client(tbmqtt::session& core) : mapper(core) {}

  tbmqtt::result<tbmqtt::message_id> publish(std::string_view topic, tbmqtt::span<const std::byte> payload,
                                             tbmqtt::qos q) noexcept override {
    const int rc = online ? (q == tbmqtt::qos::at_most_once ? 0 : next_id++) : -1;
    if (auto e = tbmqtt::detail::errc_from_esp_mqtt(rc); e != errc{}) return e;
    published.push_back({std::string(topic), std::string(tbmqtt::as_text(payload)), rc});
    return static_cast<tbmqtt::message_id>(rc);
  }
  tbmqtt::result<tbmqtt::message_id> subscribe(std::string_view filter, tbmqtt::qos) noexcept override {
    const int rc = online ? next_id++ : -1;
    if (auto e = tbmqtt::detail::errc_from_esp_mqtt(rc); e != errc{}) return e;
    subscribed.push_back({std::string(filter), rc});
    return static_cast<tbmqtt::message_id>(rc);
  }

  // ---- events, as esp-mqtt posts them ----
  esp_event_outcome dispatch(const esp_mqtt_event_t& e) {
    last = mapper.handle(tbmqtt::detail::view_of(e), now_ms);
    return last;
  }
  esp_event_outcome connected() {
    online = true;
    esp_mqtt_event_t e;
    e.event_id = MQTT_EVENT_CONNECTED;
    return dispatch(e);
  }
  esp_event_outcome disconnected() {
    online = false;
    esp_mqtt_event_t e;
    e.event_id = MQTT_EVENT_DISCONNECTED;
    return dispatch(e);
  }
  esp_event_outcome error(esp_mqtt_error_codes_t codes) {
    esp_mqtt_event_t e;
    e.event_id = MQTT_EVENT_ERROR;
    e.error_handle = &codes;
    return dispatch(e);
  }
  /// SUBACK with one return code. v4.4 passes the codes in `data`; v5.x additionally sets
  /// error_type MQTT_ERROR_TYPE_SUBSCRIBE_FAILED when one is 0x80.
  void suback(int msg_id, std::uint8_t code, idf version) {
    char codes[1] = {static_cast<char>(code)};
    esp_mqtt_error_codes_t errors;
    esp_mqtt_event_t e;
    e.event_id = MQTT_EVENT_SUBSCRIBED;
    e.msg_id = msg_id;
    e.data = codes;
    e.data_len = 1;
    e.error_handle = &errors;
    if (version == idf::v5_x && code == 0x80) errors.error_type = MQTT_ERROR_TYPE_SUBSCRIBE_FAILED;
    dispatch(e);
  }
  void suback_all(std::uint8_t code = 1, idf version = idf::v5_x) {
    for (const auto& s : subscribed) suback(s.id, code, version);
  }
  void puback(int msg_id) {
    esp_mqtt_event_t e;
    e.event_id = MQTT_EVENT_PUBLISHED;
    e.msg_id = msg_id;
    dispatch(e);
  }
  /// One inbound PUBLISH, split into MQTT_EVENT_DATA events of at most `chunk` bytes (the first
  /// one `first` bytes, if given); only the first carries the topic (as esp-mqtt does when a
  /// message exceeds its buffer). Returns the number of events posted.
  int message(std::string topic, std::string payload, std::size_t chunk, std::size_t first = 0) {
    int events = 0;
    std::size_t offset = 0;
    do {
      const std::size_t piece = offset == 0 && first != 0 ? first : chunk;
      const std::size_t n = payload.size() - offset < piece ? payload.size() - offset : piece;
      esp_mqtt_event_t e;
      e.event_id = MQTT_EVENT_DATA;
      e.msg_id = 7;
      if (offset == 0) {
        e.topic = topic.data();
        e.topic_len = static_cast<int>(topic.size());
      }
      e.data = payload.data() + offset;
      e.data_len = static_cast<int>(n);
      e.current_data_offset = static_cast<int>(offset);
      e.total_data_len = static_cast<int>(payload.size());
      dispatch(e);
      ++events;
      offset += n;
    } while (offset < payload.size());
    return events;
  }

  struct pub {
    std::string topic, payload;
    int id;
  };
  struct sub {
    std::string filter;
    int id;
  };
  esp_event_mapper mapper;
  std::vector<pub> published;
  std::vector<sub> subscribed;
  esp_event_outcome last;
  bool online = false;
  int next_id = 1;
  std::uint32_t now_ms = 1000;
};

// The session needs its port at construction; the fake client needs the session.
struct rig {
  tbmqtt_test::recording_events events;
  struct port_ref final : tbmqtt::transport_port {
    client* target = nullptr;
    tbmqtt::result<tbmqtt::message_id> publish(std::string_view t, tbmqtt::span<const std::byte> p,
                                               tbmqtt::qos q) noexcept override {
      return target->publish(t, p, q);
    }
    tbmqtt::result<tbmqtt::message_id> subscribe(std::string_view f, tbmqtt::qos q) noexcept override {
      return target->subscribe(f, q);
    }
  } port;
  tbmqtt::session core{port, events};
  client esp{core};
  std::byte reassembly[1024] = {};

  rig() {
    port.target = &esp;
    core.set_reassembly_buffer(reassembly);
  }
  void connect_ready() {
    esp.connected();
    esp.suback_all();
    ASSERT_EQ(core.state(), session_state::ready);
  }
};

bool has_filter(const client& c, std::string_view filter, std::size_t from = 0) {
  for (std::size_t i = from; i < c.subscribed.size(); ++i)
    if (c.subscribed[i].filter == filter) return true;
  return false;
}

}  // namespace fake_esp

namespace {

using fake_esp::client;
using fake_esp::has_filter;
using fake_esp::rig;

TEST(esp_event_mapping, connected_subscribes_every_registered_filter_and_again_after_a_reconnect) {
  rig r;
  ASSERT_TRUE(r.core.add_rpc_method("setGpio").ok());
  ASSERT_TRUE(r.core.subscribe_shared_attributes("").ok());
  EXPECT_EQ(r.esp.connected().what, esp_event_outcome::kind::connected);
  EXPECT_EQ(r.core.state(), session_state::subscribing);
  EXPECT_TRUE(has_filter(r.esp, "v1/devices/me/rpc/request/+"));
  EXPECT_TRUE(has_filter(r.esp, "v1/devices/me/attributes"));
  const std::size_t first = r.esp.subscribed.size();
  r.esp.suback_all();
  EXPECT_EQ(r.core.state(), session_state::ready);

  EXPECT_EQ(r.esp.disconnected().what, esp_event_outcome::kind::connection_lost);
  EXPECT_EQ(r.core.state(), session_state::disconnected);
  r.esp.connected();
  EXPECT_EQ(r.esp.subscribed.size(), 2 * first);  // every filter again (clean session)
  EXPECT_TRUE(has_filter(r.esp, "v1/devices/me/rpc/request/+", first));
  EXPECT_TRUE(has_filter(r.esp, "v1/devices/me/attributes", first));
}

TEST(esp_event_mapping, subscribed_with_each_msg_id_makes_the_session_ready_once) {
  rig r;
  r.esp.connected();
  ASSERT_GE(r.esp.subscribed.size(), 2u);
  r.esp.suback(r.esp.subscribed[0].id, 1, client::idf::v4_4);
  EXPECT_EQ(r.core.state(), session_state::subscribing);
  r.esp.suback(999, 1, client::idf::v4_4);  // unknown msg_id: ignored
  EXPECT_EQ(r.events.count(event_kind::ready), 0u);
  for (std::size_t i = 1; i < r.esp.subscribed.size(); ++i) r.esp.suback(r.esp.subscribed[i].id, 1, client::idf::v4_4);
  EXPECT_EQ(r.core.state(), session_state::ready);
  EXPECT_EQ(r.events.count(event_kind::ready), 1u);
}

TEST(esp_event_mapping, refused_subscription_is_reported_for_v5_error_type_and_for_v4_suback_data) {
  for (auto version : {client::idf::v5_x, client::idf::v4_4}) {
    rig r;
    ASSERT_TRUE(r.core.add_rpc_method("reboot").ok());
    r.esp.connected();
    for (const auto& s : r.esp.subscribed)
      r.esp.suback(s.id, s.filter == "v1/devices/me/rpc/request/+" ? 0x80 : 1, version);
    const auto* refused = r.events.find(event_kind::error);
    ASSERT_NE(refused, nullptr);
    EXPECT_EQ(refused->e, errc::subscription_refused);
    EXPECT_EQ(refused->first.view(), "v1/devices/me/rpc/request/+");
  }
}

TEST(esp_event_mapping, v5_subscribe_failed_error_event_is_left_to_the_subscribed_event) {
  rig r;
  fake_esp::esp_mqtt_error_codes_t codes;
  codes.error_type = fake_esp::MQTT_ERROR_TYPE_SUBSCRIBE_FAILED;
  EXPECT_EQ(r.esp.error(codes).what, esp_event_outcome::kind::none);
  EXPECT_EQ(r.events.count(event_kind::error), 0u);
}

TEST(esp_event_mapping, published_event_delivers_the_ticket_returned_by_publish) {
  rig r;
  r.connect_ready();
  auto id = r.core.publish_telemetry("{\"t\":1}", tbmqtt::qos::at_least_once);
  ASSERT_TRUE(id.ok());
  ASSERT_FALSE(r.esp.published.empty());
  EXPECT_EQ(r.esp.published.back().topic, "v1/devices/me/telemetry");
  r.esp.puback(r.esp.published.back().id);
  const auto* delivered = r.events.find(event_kind::delivered);
  ASSERT_NE(delivered, nullptr);
  EXPECT_EQ(delivered->number, tbmqtt::to_underlying(*id));
}

TEST(esp_event_mapping, data_fragmented_over_several_events_is_dispatched_once) {
  rig r;
  ASSERT_TRUE(r.core.add_rpc_method("setConfig").ok());
  r.connect_ready();
  const std::string blob(300, 'x');
  const std::string payload = "{\"method\":\"setConfig\",\"params\":{\"blob\":\"" + blob + "\"}}";
  EXPECT_EQ(r.esp.message("v1/devices/me/rpc/request/42", payload, 64), 6);
  ASSERT_EQ(r.events.count(event_kind::rpc_request), 1u);
  const auto* rpc = r.events.find(event_kind::rpc_request);
  EXPECT_EQ(rpc->first.view(), "42");
  EXPECT_EQ(rpc->second.view(), "setConfig");
  EXPECT_EQ(r.events.count(event_kind::error), 0u);
}

TEST(esp_event_mapping, unfragmented_data_event_is_dispatched_directly) {
  rig r;
  ASSERT_TRUE(r.core.add_rpc_method("ping").ok());
  r.connect_ready();
  EXPECT_EQ(r.esp.message("v1/devices/me/rpc/request/1", "{\"method\":\"ping\"}", 1024), 1);
  EXPECT_EQ(r.events.count(event_kind::rpc_request), 1u);
}

TEST(esp_event_mapping, data_larger_than_the_reassembly_buffer_is_a_payload_too_large_error) {
  rig r;
  ASSERT_TRUE(r.core.add_rpc_method("setConfig").ok());
  r.connect_ready();
  const std::string payload = "{\"method\":\"setConfig\",\"params\":\"" + std::string(2000, 'y') + "\"}";
  EXPECT_GT(r.esp.message("v1/devices/me/rpc/request/43", payload, 512), 1);
  EXPECT_EQ(r.events.count(event_kind::rpc_request), 0u);
  ASSERT_EQ(r.events.count(event_kind::error), 1u);  // one report, not one per fragment
  EXPECT_EQ(r.events.find(event_kind::error)->e, errc::payload_too_large);
  EXPECT_EQ(r.events.find(event_kind::error)->first.view(), "v1/devices/me/rpc/request/43");

  // The next message is unaffected.
  r.esp.message("v1/devices/me/rpc/request/44", "{\"method\":\"setConfig\",\"params\":{}}", 8);
  EXPECT_EQ(r.events.count(event_kind::rpc_request), 1u);
}

TEST(esp_event_mapping, data_larger_than_the_max_payload_is_dropped_before_a_byte_is_buffered) {
  rig r;
  ASSERT_TRUE(r.core.add_rpc_method("setConfig").ok());
  r.connect_ready();
  r.core.set_max_payload(600);  // smaller than the 1024-byte reassembly buffer
  const std::string payload = "{\"method\":\"setConfig\",\"params\":\"" + std::string(700, 'y') + "\"}";
  EXPECT_EQ(r.esp.message("v1/devices/me/rpc/request/45", payload, 256), 3);   // fragmented
  EXPECT_EQ(r.esp.message("v1/devices/me/rpc/request/46", payload, 1024), 1);  // in one event
  EXPECT_EQ(r.events.count(event_kind::rpc_request), 0u);
  ASSERT_EQ(r.events.count(event_kind::error), 2u);  // one report per message, not per fragment
  EXPECT_EQ(r.events.find(event_kind::error, 0)->e, errc::payload_too_large);
  EXPECT_EQ(r.events.find(event_kind::error, 1)->e, errc::payload_too_large);
  for (std::byte b : r.reassembly) ASSERT_EQ(b, std::byte{0});  // nothing of it was copied

  // At the limit it is still delivered.
  const std::string fits = "{\"method\":\"setConfig\",\"params\":\"" + std::string(600 - 34, 'z') + "\"}";
  ASSERT_EQ(fits.size(), 600u);
  r.esp.message("v1/devices/me/rpc/request/47", fits, 256);
  EXPECT_EQ(r.events.count(event_kind::rpc_request), 1u);
}

TEST(esp_event_mapping, disconnected_fails_pending_requests_with_the_last_error_as_reason) {
  rig r;
  r.connect_ready();
  auto rpc = r.core.call_rpc("getTime", "{}", r.esp.now_ms);
  auto attrs = r.core.request_attributes("", "fw_version", r.esp.now_ms);
  ASSERT_TRUE(rpc.ok());
  ASSERT_TRUE(attrs.ok());
  fake_esp::esp_mqtt_error_codes_t codes;
  codes.error_type = fake_esp::MQTT_ERROR_TYPE_TCP_TRANSPORT;
  codes.esp_transport_sock_errno = 104;                               // ECONNRESET
  EXPECT_EQ(r.esp.error(codes).what, esp_event_outcome::kind::none);  // still connected: wait for DISCONNECTED
  const esp_event_outcome lost = r.esp.disconnected();
  EXPECT_EQ(lost.what, esp_event_outcome::kind::connection_lost);
  EXPECT_EQ(lost.reason, errc::unreachable);
  const auto* rpc_done = r.events.find(event_kind::rpc_response);
  ASSERT_NE(rpc_done, nullptr);
  EXPECT_EQ(rpc_done->number, *rpc);
  EXPECT_EQ(rpc_done->e, errc::disconnected);
  const auto* attrs_done = r.events.find(event_kind::attributes_response);
  ASSERT_NE(attrs_done, nullptr);
  EXPECT_EQ(attrs_done->e, errc::disconnected);
  EXPECT_EQ(r.core.pending_requests(), 0u);
}

TEST(esp_event_mapping, disconnected_after_a_failed_attempt_is_not_a_connection_loss) {
  rig r;
  fake_esp::esp_mqtt_error_codes_t codes;
  codes.error_type = fake_esp::MQTT_ERROR_TYPE_CONNECTION_REFUSED;
  codes.connect_return_code = fake_esp::MQTT_CONNECTION_REFUSE_NOT_AUTHORIZED;
  const esp_event_outcome refused = r.esp.error(codes);
  EXPECT_EQ(refused.what, esp_event_outcome::kind::connect_failed);
  EXPECT_EQ(refused.reason, errc::refused_credentials);
  EXPECT_EQ(r.esp.disconnected().what, esp_event_outcome::kind::none);
}

TEST(esp_event_mapping, error_events_map_to_typed_errors) {
  using tbmqtt::detail::errc_from_esp_error;
  using tbmqtt::detail::esp_error_type;
  using tbmqtt::detail::esp_error_view;
  auto refused = [](int code) {
    esp_error_view e;
    e.type = esp_error_type::connection_refused;
    e.connect_return_code = code;
    return errc_from_esp_error(e);
  };
  EXPECT_EQ(refused(1), errc::refused);
  EXPECT_EQ(refused(2), errc::identifier_rejected);
  EXPECT_EQ(refused(3), errc::server_unavailable);
  EXPECT_EQ(refused(4), errc::refused_credentials);
  EXPECT_EQ(refused(5), errc::refused_credentials);
  esp_error_view tcp;
  tcp.type = esp_error_type::tcp_transport;
  tcp.esp_tls_last_esp_err = 0x8001;  // ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME
  EXPECT_EQ(errc_from_esp_error(tcp), errc::unreachable);
  tcp.esp_tls_last_esp_err = 0x8004;  // ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST
  EXPECT_EQ(errc_from_esp_error(tcp), errc::unreachable);
  tcp.esp_tls_last_esp_err = 0x801A;  // an mbedtls handshake failure
  EXPECT_EQ(errc_from_esp_error(tcp), errc::tls_error);
  tcp.esp_tls_last_esp_err = 0;
  tcp.esp_tls_cert_verify_flags = 8;  // certificate not trusted
  EXPECT_EQ(errc_from_esp_error(tcp), errc::tls_unknown_ca);
  EXPECT_EQ(errc_from_esp_error(esp_error_view{}), errc::transport_error);
}

// esp-tls values: ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED 0x801A, ESP_ERR_MBEDTLS_PK_PARSE_KEY_FAILED
// 0x8019, ESP_ERR_MBEDTLS_SSL_CONF_OWN_CERT_FAILED 0x8016; mbedTLS errors as esp-tls stores them
// (negated): X509_CERT_VERIFY_FAILED 0x2700, PK_PASSWORD_MISMATCH 0x3B80, PK_PASSWORD_REQUIRED
// 0x3C00, SSL_FATAL_ALERT_MESSAGE 0x7780; MBEDTLS_X509_BADCERT_ EXPIRED 0x01, CN_MISMATCH 0x04,
// NOT_TRUSTED 0x08, FUTURE 0x0200.
TEST(esp_event_mapping, tls_failures_name_their_cause_like_the_linux_client) {
  using tbmqtt::detail::errc_from_esp_tls;
  constexpr int handshake_failed = 0x801A, verify_failed = 0x2700;
  EXPECT_EQ(errc_from_esp_tls(handshake_failed, verify_failed, 0x08), errc::tls_unknown_ca);
  EXPECT_EQ(errc_from_esp_tls(handshake_failed, verify_failed, 0x04), errc::tls_hostname_mismatch);
  EXPECT_EQ(errc_from_esp_tls(handshake_failed, verify_failed, 0x01), errc::tls_certificate_expired);
  EXPECT_EQ(errc_from_esp_tls(handshake_failed, verify_failed, 0x0200), errc::tls_certificate_expired);
  // Several flags: the check OpenSSL makes first (trust, then name, then validity period).
  EXPECT_EQ(errc_from_esp_tls(handshake_failed, verify_failed, 0x08 | 0x04 | 0x01), errc::tls_unknown_ca);
  EXPECT_EQ(errc_from_esp_tls(handshake_failed, verify_failed, 0x04 | 0x01), errc::tls_hostname_mismatch);
  EXPECT_EQ(errc_from_esp_tls(handshake_failed, verify_failed, 0x10000), errc::tls_error);  // another flag
  // What esp-tls gives on a failed first handshake whatever the certificate's fault (untrusted CA,
  // another host name; seen on the linux target): no flags, so no cause is named.
  EXPECT_EQ(errc_from_esp_tls(handshake_failed, verify_failed, 0), errc::tls_error);
  // The client key.
  EXPECT_EQ(errc_from_esp_tls(0x8019, 0x3B80, 0), errc::tls_bad_client_key);   // wrong password
  EXPECT_EQ(errc_from_esp_tls(0x8019, 0x3C00, 0), errc::tls_bad_client_key);   // password missing
  EXPECT_EQ(errc_from_esp_tls(0x8019, -0x3B80, 0), errc::tls_bad_client_key);  // either sign
  EXPECT_EQ(errc_from_esp_tls(0x8016, 0, 0), errc::tls_bad_client_key);        // key and certificate differ
  // The server ended the handshake with a fatal alert: in the handshake (TLS 1.2) or at the first
  // read after it (TLS 1.3).
  EXPECT_EQ(errc_from_esp_tls(handshake_failed, 0x7780, 0), errc::tls_client_certificate_refused);
  EXPECT_EQ(errc_from_esp_tls(0, 0x7780, 0), errc::tls_client_certificate_refused);
  // Not TLS at all.
  EXPECT_EQ(errc_from_esp_tls(0x8004, 0, 0), errc::unreachable);
  EXPECT_EQ(errc_from_esp_tls(0, 0, 0), errc::unreachable);
}

TEST(esp_event_mapping, a_tls_failure_while_connecting_is_a_refusal_an_unreachable_broker_is_not) {
  rig r;
  fake_esp::esp_mqtt_error_codes_t codes;
  codes.error_type = fake_esp::MQTT_ERROR_TYPE_TCP_TRANSPORT;
  codes.esp_tls_last_esp_err = 0x801A;
  codes.esp_tls_stack_err = 0x2700;
  codes.esp_tls_cert_verify_flags = 0x01;
  const esp_event_outcome expired = r.esp.error(codes);
  EXPECT_EQ(expired.what, esp_event_outcome::kind::connect_failed);
  EXPECT_EQ(expired.reason, errc::tls_certificate_expired);
  fake_esp::esp_mqtt_error_codes_t socket_only;
  socket_only.error_type = fake_esp::MQTT_ERROR_TYPE_TCP_TRANSPORT;
  socket_only.esp_tls_last_esp_err = 0x8004;
  const esp_event_outcome unreachable = r.esp.error(socket_only);
  EXPECT_EQ(unreachable.what, esp_event_outcome::kind::error);  // nobody refused us
  EXPECT_EQ(unreachable.reason, errc::unreachable);
}

TEST(esp_event_mapping, call_results_map_to_typed_errors) {
  using tbmqtt::detail::errc_from_esp_err;
  using tbmqtt::detail::errc_from_esp_mqtt;
  EXPECT_EQ(errc_from_esp_mqtt(0), errc{});
  EXPECT_EQ(errc_from_esp_mqtt(17), errc{});
  EXPECT_EQ(errc_from_esp_mqtt(-1), errc::not_connected);
  EXPECT_EQ(errc_from_esp_mqtt(-2), errc::again);  // v5.x: outbox full
  EXPECT_EQ(errc_from_esp_mqtt(-3), errc::transport_error);
  EXPECT_EQ(errc_from_esp_err(0), errc{});
  EXPECT_EQ(errc_from_esp_err(0x101), errc::out_of_memory);  // ESP_ERR_NO_MEM: a heap allocation failed
  EXPECT_EQ(errc_from_esp_err(0x102), errc::invalid_argument);
  EXPECT_EQ(errc_from_esp_err(0x103), errc::not_connected);
  EXPECT_EQ(errc_from_esp_err(-1), errc::transport_error);
}

TEST(esp_event_mapping, storage_calls_map_to_storage_errors_not_transport_errors) {
  using tbmqtt::detail::errc_from_esp_storage_err;
  namespace esp_err = tbmqtt::detail::esp_err;
  EXPECT_EQ(errc_from_esp_storage_err(0), errc{});
  EXPECT_EQ(errc_from_esp_storage_err(-1), errc::storage_error);      // ESP_FAIL: a flash write failed
  EXPECT_EQ(errc_from_esp_storage_err(0x103), errc::storage_error);   // ESP_ERR_INVALID_STATE
  EXPECT_EQ(errc_from_esp_storage_err(0x1101), errc::storage_error);  // ESP_ERR_NVS_NOT_INITIALIZED
  EXPECT_EQ(errc_from_esp_storage_err(0x1104), errc::storage_error);  // ESP_ERR_NVS_READ_ONLY
  EXPECT_EQ(errc_from_esp_storage_err(0x1503), errc::storage_error);  // ESP_ERR_OTA_SELECT_INFO_INVALID
  EXPECT_EQ(errc_from_esp_storage_err(0x101), errc::out_of_memory);   // RAM, not flash
  EXPECT_EQ(errc_from_esp_storage_err(0x102), errc::invalid_argument);
  EXPECT_EQ(errc_from_esp_storage_err(esp_err::nvs_not_found), errc::not_found);
  EXPECT_EQ(errc_from_esp_storage_err(0x1102), errc::not_found);  // the number in nvs.h
  EXPECT_EQ(errc_from_esp_storage_err(0x1105), errc::not_enough_space);
  EXPECT_EQ(errc_from_esp_storage_err(0x110c), errc::not_enough_space);
  EXPECT_EQ(errc_from_esp_storage_err(0x110e), errc::not_enough_space);
  EXPECT_EQ(errc_from_esp_storage_err(0x1106), errc::invalid_argument);
  EXPECT_EQ(errc_from_esp_storage_err(0x1109), errc::invalid_argument);
}

TEST(esp_event_mapping, deleted_event_reports_an_expired_message) {
  rig r;
  fake_esp::esp_mqtt_event_t e;
  e.event_id = fake_esp::MQTT_EVENT_DELETED;
  e.msg_id = 12;
  const esp_event_outcome o = r.esp.dispatch(e);
  EXPECT_EQ(o.what, esp_event_outcome::kind::message_expired);
  EXPECT_EQ(o.msg_id, 12);
  EXPECT_EQ(o.reason, errc::timeout);
}

// esp-mqtt hands a PUBLISH larger than its buffer (CONFIG_TBMQTT_MQTT_BUFFER_SIZE, 1024) to the
// handler in pieces: the first holds what fit after the header and topic, then a buffer each.
// An OTA chunk of 16 KiB is four times the reassembly buffer (4096): it must stream.
TEST(esp_event_mapping,
     a_16_kib_ota_chunk_in_1_kib_fragments_streams_into_the_sink_with_a_4096_byte_reassembly_buffer) {
  rig r;
  std::byte reassembly[4096];  // the Kconfig default of TBMQTT_REASSEMBLY_BUFFER_SIZE
  r.core.set_reassembly_buffer(reassembly);
  tbmqtt_test::memory_sink sink;
  tbmqtt_test::memory_storage storage;
  tbmqtt::core_hash_provider hashes;
  struct quiet_listener final : tbmqtt::ota_listener {
  } listener;
  tbmqtt::ota_config config;
  config.current_title = "app";
  config.current_version = "1.0";
  config.chunk_size = 16384;
  config.window = 2;
  tbmqtt::ota_engine firmware{r.core, sink, hashes, &storage, listener, config};
  ASSERT_TRUE(r.core.add_extension(firmware).ok());
  r.connect_ready();

  std::string image(40000, '\0');  // chunks of 16384, 16384 and 7232 bytes
  std::uint32_t x = 7;
  for (char& c : image) c = static_cast<char>((x = x * 1103515245u + 12345u) >> 16);
  tbmqtt::crc32_hasher crc;
  crc.update(tbmqtt::as_bytes(image));
  std::byte digest[4];
  char hex[9] = {};
  ASSERT_EQ(tbmqtt::to_hex({digest, crc.finish(digest)}, tbmqtt::span<char>(hex, 8)), 8u);

  // The engine asked for the fw_* attributes on connect; answer with the package.
  std::string request_id;
  for (const auto& p : r.esp.published)
    if (p.topic.rfind("v1/devices/me/attributes/request/", 0) == 0) request_id = p.topic.substr(33);
  ASSERT_FALSE(request_id.empty());
  r.esp.message("v1/devices/me/attributes/response/" + request_id,
                R"({"shared":{"fw_title":"app","fw_version":"2.0","fw_size":40000,"fw_checksum":")" + std::string(hex) +
                    R"(","fw_checksum_algorithm":"CRC32"}})",
                1024);
  ASSERT_EQ(firmware.state(), tbmqtt::ota_state::downloading);

  // Answer chunk requests as they come, each as esp-mqtt would deliver it.
  int fragments = 0, chunks = 0;
  for (std::size_t i = 0; i < r.esp.published.size(); ++i) {
    const std::string topic = r.esp.published[i].topic;
    if (topic.rfind("v2/fw/request/", 0) != 0) continue;
    const std::size_t at = topic.find("/chunk/");
    const std::size_t chunk = std::stoul(topic.substr(at + 7));
    EXPECT_EQ(r.esp.published[i].payload, "16384");
    const std::string response = "v2/fw/response/" + topic.substr(14, at - 14) + "/chunk/" + std::to_string(chunk);
    const std::size_t first = 1024 - 2 - 2 - response.size() - 2;  // fixed header, topic length, packet id
    fragments += r.esp.message(response, image.substr(chunk * 16384, 16384), 1024, first);
    ++chunks;
  }
  EXPECT_EQ(chunks, 3);
  EXPECT_GE(fragments, 16 + 16 + 7);
  EXPECT_EQ(firmware.state(), tbmqtt::ota_state::updating);  // CRC32 over the streamed bytes matched
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sink.data), image.size()), image);
  EXPECT_EQ(sink.activations, 1);
  EXPECT_EQ(r.events.count(event_kind::error), 0u);  // no payload_too_large, no malformed
}

}  // namespace
