// tbmqtt — the pure half of the esp-mqtt transport: esp-mqtt event fields -> core inputs, and
// esp-mqtt / ESP-IDF result codes -> tbmqtt::errc. No ESP-IDF header is included here, so this
// file compiles (and is unit-tested, tests/unit/test_esp_event_mapping.cpp) on the host with a
// fake esp-mqtt. The numeric values below are esp-mqtt's and ESP-IDF's; esp_mqtt_transport.cpp
// static_asserts each of them against the real headers (v4.4 and v5.x). Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/session.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt::detail {

/// esp_mqtt_event_id_t (same values in v4.4 and v5.x).
enum class esp_event_kind : int {
  error = 0,       ///< MQTT_EVENT_ERROR: error_handle says what (TCP/TLS, CONNACK refusal, ...).
  connected,       ///< MQTT_EVENT_CONNECTED: CONNACK accepted.
  disconnected,    ///< MQTT_EVENT_DISCONNECTED: also posted after a failed connection attempt.
  subscribed,      ///< MQTT_EVENT_SUBSCRIBED: msg_id; data = SUBACK return codes.
  unsubscribed,    ///< MQTT_EVENT_UNSUBSCRIBED.
  published,       ///< MQTT_EVENT_PUBLISHED: PUBACK for msg_id (QoS 1 only).
  data,            ///< MQTT_EVENT_DATA: one fragment (topic only in the first).
  before_connect,  ///< MQTT_EVENT_BEFORE_CONNECT.
  deleted,         ///< MQTT_EVENT_DELETED: an unacknowledged message expired from the outbox.
};

/// esp_mqtt_error_type_t (MQTT_ERROR_TYPE_SUBSCRIBE_FAILED exists on v5.x only).
enum class esp_error_type : int { none = 0, tcp_transport = 1, connection_refused = 2, subscribe_failed = 3 };

/// ESP-IDF esp_err_t values this mapping distinguishes.
namespace esp_err {
inline constexpr int ok = 0;
inline constexpr int fail = -1;
inline constexpr int no_mem = 0x101;
inline constexpr int invalid_arg = 0x102;
inline constexpr int invalid_state = 0x103;
inline constexpr int timeout = 0x107;
inline constexpr int nvs_base = 0x1100;  ///< ESP_ERR_NVS_BASE (nvs.h)
inline constexpr int nvs_not_found = nvs_base + 0x02;
inline constexpr int nvs_not_enough_space = nvs_base + 0x05;
inline constexpr int nvs_invalid_name = nvs_base + 0x06;
inline constexpr int nvs_key_too_long = nvs_base + 0x09;
inline constexpr int nvs_invalid_length = nvs_base + 0x0c;
inline constexpr int nvs_value_too_long = nvs_base + 0x0e;
/// ESP_ERR_ESP_TLS_BASE: esp-tls and mbedtls errors live in [base, base + 0xff].
inline constexpr int esp_tls_base = 0x8000;
/// ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME .. ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT (base + 1 .. + 6):
/// DNS, socket and TCP connect failures, i.e. "unreachable" rather than a TLS problem.
inline constexpr int esp_tls_last_socket_error = esp_tls_base + 0x06;
/// ESP_ERR_MBEDTLS_SSL_CONF_OWN_CERT_FAILED: the client certificate and key do not go together.
inline constexpr int mbedtls_conf_own_cert_failed = esp_tls_base + 0x16;
/// ESP_ERR_MBEDTLS_PK_PARSE_KEY_FAILED: the client key does not parse (or decrypt).
inline constexpr int mbedtls_pk_parse_key_failed = esp_tls_base + 0x19;
}  // namespace esp_err

/// mbedTLS values in an esp-tls error (same in mbedTLS 2.28 and 3.x). esp-tls reports mbedTLS
/// errors negated (positive), as esp_tls_stack_err; certificate flags as esp_tls_cert_verify_flags.
namespace mbedtls_values {
inline constexpr int err_pk_password_required = 0x3C00;  ///< -MBEDTLS_ERR_PK_PASSWORD_REQUIRED
inline constexpr int err_pk_password_mismatch = 0x3B80;  ///< -MBEDTLS_ERR_PK_PASSWORD_MISMATCH
inline constexpr int err_ssl_fatal_alert = 0x7780;       ///< -MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE
inline constexpr int badcert_expired = 0x01;             ///< MBEDTLS_X509_BADCERT_EXPIRED
inline constexpr int badcert_cn_mismatch = 0x04;         ///< MBEDTLS_X509_BADCERT_CN_MISMATCH
inline constexpr int badcert_not_trusted = 0x08;         ///< MBEDTLS_X509_BADCERT_NOT_TRUSTED
inline constexpr int badcert_future = 0x0200;            ///< MBEDTLS_X509_BADCERT_FUTURE
}  // namespace mbedtls_values

/// The error_handle of an event, copied (absent -> all zero).
struct esp_error_view {
  esp_error_type type = esp_error_type::none;
  int connect_return_code = 0;   ///< esp_mqtt_connect_return_code_t = MQTT 3.1.1 CONNACK code.
  int esp_tls_last_esp_err = 0;  ///< esp_err_t from esp-tls.
  int esp_tls_stack_err = 0;     ///< mbedtls error.
  int esp_tls_cert_verify_flags = 0;
  int sock_errno = 0;
};

/// @brief One esp-mqtt event with the fields the core needs. Views point into the event and are
/// valid while the event is (inside the esp-mqtt handler, or while its queued copy is held).
struct esp_event_view {
  esp_event_kind kind = esp_event_kind::before_connect;
  int msg_id = 0;
  std::string_view topic;        ///< DATA: set in the first fragment only (offset 0).
  span<const std::byte> data;    ///< DATA: this fragment; SUBSCRIBED: the SUBACK return codes.
  std::size_t offset = 0;        ///< DATA: current_data_offset.
  std::size_t total = 0;         ///< DATA: total_data_len.
  bool session_present = false;  ///< CONNECTED.
  esp_error_view error;          ///< ERROR, SUBSCRIBED (v5.x: subscribe_failed).
};

namespace esp_detail {
constexpr std::size_t non_negative(int v) noexcept { return v > 0 ? static_cast<std::size_t>(v) : 0; }
}  // namespace esp_detail

/// @brief Reads an esp_mqtt_event_t (the real one, or a test's look-alike with the same field
/// names; both v4.4 and v5.x have these fields) into an esp_event_view.
template <class Event>
esp_event_view view_of(const Event& e) noexcept {
  esp_event_view v;
  v.kind = static_cast<esp_event_kind>(static_cast<int>(e.event_id));
  v.msg_id = e.msg_id;
  if (e.topic != nullptr) v.topic = {e.topic, esp_detail::non_negative(e.topic_len)};
  if (e.data != nullptr) v.data = {reinterpret_cast<const std::byte*>(e.data), esp_detail::non_negative(e.data_len)};
  v.offset = esp_detail::non_negative(e.current_data_offset);
  v.total = esp_detail::non_negative(e.total_data_len);
  v.session_present = e.session_present != 0;
  if (e.error_handle != nullptr) {
    v.error.type = static_cast<esp_error_type>(static_cast<int>(e.error_handle->error_type));
    v.error.connect_return_code = static_cast<int>(e.error_handle->connect_return_code);
    v.error.esp_tls_last_esp_err = static_cast<int>(e.error_handle->esp_tls_last_esp_err);
    v.error.esp_tls_stack_err = e.error_handle->esp_tls_stack_err;
    v.error.esp_tls_cert_verify_flags = e.error_handle->esp_tls_cert_verify_flags;
    v.error.sock_errno = e.error_handle->esp_transport_sock_errno;
  }
  return v;
}

// ---- the only esp-mqtt / ESP-IDF -> errc mapping ---------------------------------------------

/// @brief Maps the return value of esp_mqtt_client_publish/enqueue/subscribe: >= 0 is a message
/// id (errc{}), -1 "not connected or failed" (errc::not_connected), -2 "outbox full" (v5.x;
/// errc::again), anything else errc::transport_error.
constexpr errc errc_from_esp_mqtt(int rc) noexcept {
  if (rc >= 0) return errc{};
  if (rc == -1) return errc::not_connected;
  if (rc == -2) return errc::again;
  return errc::transport_error;
}

/// @brief Maps an esp_err_t from esp-mqtt (esp_mqtt_client_start, ...). Storage calls map with
/// errc_from_esp_storage_err.
constexpr errc errc_from_esp_err(int err) noexcept {
  switch (err) {
    case esp_err::ok: return errc{};
    case esp_err::no_mem: return errc::out_of_memory;
    case esp_err::invalid_arg: return errc::invalid_argument;
    case esp_err::invalid_state: return errc::not_connected;
    case esp_err::timeout: return errc::timeout;
    default: break;
  }
  if (err > esp_err::esp_tls_base && err <= esp_err::esp_tls_last_socket_error) return errc::unreachable;
  if (err > esp_err::esp_tls_base && err <= esp_err::esp_tls_base + 0xff) return errc::tls_error;
  return errc::transport_error;
}

/// @brief Maps an esp_err_t from a storage call (nvs_*, esp_ota_*, esp_partition_*): a failure of
/// the medium is errc::storage_error, never a transport error. ESP_ERR_NO_MEM (RAM, not flash) is
/// errc::out_of_memory; a missing NVS key errc::not_found; a full partition or a value longer than NVS
/// holds errc::not_enough_space, and so is ESP_ERR_NVS_INVALID_LENGTH (the read buffer is too
/// small); a bad key or namespace name errc::invalid_argument.
constexpr errc errc_from_esp_storage_err(int err) noexcept {
  switch (err) {
    case esp_err::ok: return errc{};
    case esp_err::no_mem: return errc::out_of_memory;
    case esp_err::invalid_arg:
    case esp_err::nvs_invalid_name:
    case esp_err::nvs_key_too_long: return errc::invalid_argument;
    case esp_err::nvs_not_found: return errc::not_found;
    case esp_err::nvs_not_enough_space:
    case esp_err::nvs_invalid_length:
    case esp_err::nvs_value_too_long: return errc::not_enough_space;
    default: return errc::storage_error;
  }
}

/// @brief Maps a failed esp-tls connection (the TCP-transport fields of an error_handle), naming
/// the same causes as the Linux client, checked in the same order as OpenSSL does there:
/// - DNS, socket or TCP connect failure, or only a socket errno: errc::unreachable;
/// - certificate flags: NOT_TRUSTED errc::tls_unknown_ca, else CN_MISMATCH
///   errc::tls_hostname_mismatch, else EXPIRED or FUTURE errc::tls_certificate_expired. esp-tls
///   reads the flags only when mbedtls_ssl_get_peer_cert() is non-null, and mbedTLS (2.28, 3.6)
///   keeps the peer certificate in ssl->session only after a handshake completed: on a failed
///   first handshake the flags are 0 and stack_err is X509_CERT_VERIFY_FAILED (0x2700) whatever
///   the cause (seen on the linux target for an unknown CA and for a host-name mismatch), which
///   stays errc::tls_error below (naming one cause would mislead for the others). esp-mqtt's
///   configuration has no verify callback through which the flags could be had;
/// - the client key does not parse, decrypt (PK_PASSWORD_REQUIRED / _MISMATCH) or match the
///   certificate: errc::tls_bad_client_key;
/// - the server ended the handshake with a fatal alert: errc::tls_client_certificate_refused.
///   mbedTLS does not say which alert; after our own checks passed it is almost always the
///   server refusing (or requiring) our certificate. A guess, unlike on Linux, where the alert's
///   code decides;
/// - any other esp-tls / mbedTLS failure: errc::tls_error.
constexpr errc errc_from_esp_tls(int last_esp_err, int stack_err, int cert_verify_flags) noexcept {
  namespace m = mbedtls_values;
  const errc from_esp = last_esp_err != esp_err::ok ? errc_from_esp_err(last_esp_err) : errc{};
  if (from_esp == errc::unreachable) return errc::unreachable;
  if ((cert_verify_flags & m::badcert_not_trusted) != 0) return errc::tls_unknown_ca;
  if ((cert_verify_flags & m::badcert_cn_mismatch) != 0) return errc::tls_hostname_mismatch;
  if ((cert_verify_flags & (m::badcert_expired | m::badcert_future)) != 0) return errc::tls_certificate_expired;
  const int mbedtls_err = stack_err < 0 ? -stack_err : stack_err;
  if (mbedtls_err == m::err_pk_password_required || mbedtls_err == m::err_pk_password_mismatch ||
      last_esp_err == esp_err::mbedtls_pk_parse_key_failed || last_esp_err == esp_err::mbedtls_conf_own_cert_failed)
    return errc::tls_bad_client_key;
  if (mbedtls_err == m::err_ssl_fatal_alert) return errc::tls_client_certificate_refused;
  if (from_esp == errc::tls_error || mbedtls_err != 0 || cert_verify_flags != 0) return errc::tls_error;
  return errc::unreachable;
}

/// @brief Maps an MQTT_EVENT_ERROR's error_handle.
/// CONNACK refusals: 2 identifier_rejected, 3 server_unavailable, 4/5 refused_credentials,
/// others refused. TCP transport: see errc_from_esp_tls (unreachable, or a TLS failure).
constexpr errc errc_from_esp_error(const esp_error_view& e) noexcept {
  switch (e.type) {
    case esp_error_type::connection_refused:
      switch (e.connect_return_code) {
        case 0: return errc::refused;  // "refused" with code 0 should not happen
        case 2: return errc::identifier_rejected;
        case 3: return errc::server_unavailable;
        case 4:
        case 5: return errc::refused_credentials;
        default: return errc::refused;
      }
    case esp_error_type::subscribe_failed: return errc::subscription_refused;
    case esp_error_type::tcp_transport:
      return errc_from_esp_tls(e.esp_tls_last_esp_err, e.esp_tls_stack_err, e.esp_tls_cert_verify_flags);
    case esp_error_type::none: break;
  }
  return errc::transport_error;
}

// ---- event -> core -----------------------------------------------------------------------------

/// @brief What happened, beyond the core inputs the mapper already fed; the client layer turns
/// it into connection events and error reports.
struct esp_event_outcome {
  enum class kind : std::uint8_t {
    none,             ///< Nothing for the client layer.
    connected,        ///< CONNACK accepted; the core is subscribing (ready comes via on_ready).
    connect_failed,   ///< Refused: CONNACK (refused_credentials, ...) or TLS handshake (tls_*).
    connection_lost,  ///< A live connection dropped (reason: the last error, or disconnected).
    error,            ///< A transport error while not connected (reason: unreachable, ...).
    message_expired,  ///< esp-mqtt gave up on QoS 1 message `msg_id` (reason: timeout).
  };
  kind what = kind::none;
  errc reason{};
  int msg_id = 0;
};

/// @brief Feeds esp-mqtt events into a session. Not thread-safe: the owner serialises calls
/// (esp_client calls it on its task with the session mutex held).
class esp_event_mapper {
 public:
  explicit esp_event_mapper(session& core) noexcept : core_(core) {}

  /// @brief Maps one event:
  /// - CONNECTED -> session::on_connected (which re-subscribes every filter);
  /// - DISCONNECTED -> session::on_disconnected (pending requests fail with errc::disconnected),
  ///   only if a connection was up (esp-mqtt also posts it after a failed attempt);
  /// - SUBSCRIBED -> session::on_suback(msg_id, granted): granted is the first SUBACK return
  ///   code (v4.4 and v5.x pass them in `data`), 0x80 when v5.x flags
  ///   MQTT_ERROR_TYPE_SUBSCRIBE_FAILED, and QoS 1 when the event carries no codes;
  /// - PUBLISHED -> session::on_puback(msg_id);
  /// - DATA -> session::on_message_fragment(topic, data, offset, total) (an extension may take
  ///   the message as a stream, as OTA does with chunk responses; otherwise the session
  ///   reassembles it into its reassembly buffer; too large -> errc::payload_too_large via on_error);
  /// - ERROR -> remembered as the reason of the next loss, and reported in the outcome: a CONNACK
  ///   refusal, or a TLS failure while not connected, as connect_failed (the server refused us).
  esp_event_outcome handle(const esp_event_view& e, std::uint32_t now_ms) noexcept {
    using k = esp_event_outcome::kind;
    switch (e.kind) {
      case esp_event_kind::connected:
        connected_ = true;
        last_error_ = errc{};
        core_.on_connected(now_ms);
        return {k::connected, errc{}, 0};
      case esp_event_kind::disconnected: {
        if (!connected_) return {};
        connected_ = false;
        const errc reason = last_error_ != errc{} ? last_error_ : errc::disconnected;
        last_error_ = errc{};
        core_.on_disconnected();
        return {k::connection_lost, reason, 0};
      }
      case esp_event_kind::subscribed: {
        std::uint8_t granted = 1;
        if (!e.data.empty()) granted = static_cast<std::uint8_t>(e.data[0]);
        if (e.error.type == esp_error_type::subscribe_failed) granted = suback_refused;
        core_.on_suback(static_cast<message_id>(e.msg_id), granted);
        return {};
      }
      case esp_event_kind::published: core_.on_puback(static_cast<message_id>(e.msg_id)); return {};
      case esp_event_kind::data: core_.on_message_fragment(e.topic, e.data, e.offset, e.total, now_ms); return {};
      case esp_event_kind::error: {
        const errc reason = errc_from_esp_error(e.error);
        if (e.error.type == esp_error_type::subscribe_failed) return {};  // reported via SUBSCRIBED
        last_error_ = reason;
        if (e.error.type == esp_error_type::connection_refused || (!connected_ && is_tls_failure(reason)))
          return {k::connect_failed, reason, 0};
        return {connected_ ? k::none : k::error, reason, 0};
      }
      case esp_event_kind::deleted: return {k::message_expired, errc::timeout, e.msg_id};
      case esp_event_kind::unsubscribed:
      case esp_event_kind::before_connect: break;
    }
    return {};
  }

  /// True between CONNECTED and DISCONNECTED.
  bool connected() const noexcept { return connected_; }

  /// SUBACK return code of a refusal.
  static constexpr std::uint8_t suback_refused = 0x80;

 private:
  session& core_;
  bool connected_ = false;
  errc last_error_{};
};

}  // namespace tbmqtt::detail
