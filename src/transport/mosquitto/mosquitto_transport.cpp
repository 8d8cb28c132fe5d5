#include "mosquitto_transport.hpp"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstddef>
#include <mutex>
#include <stdexcept>

namespace tbmqtt::detail {
namespace {

void init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

const char* or_null(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

}  // namespace

errc errc_from_mosquitto(int rc) noexcept {
  switch (rc) {
    case MOSQ_ERR_SUCCESS: return errc{};
    case MOSQ_ERR_NOMEM: return errc::out_of_memory;
    case MOSQ_ERR_NO_CONN:
    case MOSQ_ERR_CONN_LOST: return errc::not_connected;
    case MOSQ_ERR_INVAL:
    case MOSQ_ERR_MALFORMED_UTF8: return errc::invalid_argument;
    case MOSQ_ERR_PAYLOAD_SIZE:
    case MOSQ_ERR_OVERSIZE_PACKET: return errc::payload_too_large;
    case MOSQ_ERR_TLS:
    case MOSQ_ERR_TLS_HANDSHAKE: return errc::tls_error;
    case MOSQ_ERR_ERRNO:
    case MOSQ_ERR_EAI:
    case MOSQ_ERR_UNKNOWN: return errc::unreachable;
    case MOSQ_ERR_CONN_REFUSED:
    case MOSQ_ERR_AUTH: return errc::refused_credentials;
    default: return errc::transport_error;
  }
}

errc errc_from_connack(int code) noexcept {
  switch (code) {
    case 0: return errc{};
    case 2:     // 3.1.1: identifier rejected
    case 0x85:  // 5: client identifier not valid
      return errc::identifier_rejected;
    case 3:     // 3.1.1: server unavailable
    case 0x88:  // 5: server unavailable
    case 0x89:  // 5: server busy
      return errc::server_unavailable;
    case 4:     // 3.1.1: bad user name or password
    case 5:     // 3.1.1: not authorized
    case 0x86:  // 5: bad user name or password
    case 0x87:  // 5: not authorized
      return errc::refused_credentials;
    default: return errc::refused;
  }
}

std::uint32_t inbound_packet_limit(std::size_t max_payload) noexcept {
  constexpr std::size_t room = 2048;           // fixed header (5), topic (2 + up to 1 KiB), id, properties
  constexpr std::size_t most = 268435455 + 5;  // the largest packet MQTT can encode
  return static_cast<std::uint32_t>(max_payload > most - room ? most : max_payload + room);
}

mosquitto_transport::mosquitto_transport(mqtt_endpoint endpoint, transport_listener& listener)
    : endpoint_(std::move(endpoint)), listener_(listener) {
  init_library_once();
  mosq_ = mosquitto_new(or_null(endpoint_.client_id), true, this);
  if (mosq_ == nullptr) throw std::runtime_error("mosquitto_new failed");
  mosquitto_threaded_set(mosq_, true);  // we run the loop on our own thread
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION,
                       endpoint_.max_inbound_packet > 0 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_connect_callback_set(mosq_, handle_connect);
  mosquitto_disconnect_callback_set(mosq_, handle_disconnect);
  mosquitto_message_callback_set(mosq_, handle_message);
  mosquitto_subscribe_callback_set(mosq_, handle_subscribe);
  mosquitto_publish_callback_set(mosq_, handle_publish);
  if (!endpoint_.username.empty() || !endpoint_.password.empty())
    mosquitto_username_pw_set(mosq_, or_null(endpoint_.username), or_null(endpoint_.password));
}

mosquitto_transport::~mosquitto_transport() { mosquitto_destroy(mosq_); }

result<void> mosquitto_transport::connect() {
  if (endpoint_.tls && !tls_configured_) {
    tls_settings settings{endpoint_.host,     endpoint_.ca_file,      endpoint_.ca_dir,      endpoint_.cert_file,
                          endpoint_.key_file, endpoint_.key_password, endpoint_.tls_insecure};
    settings.skip_hostname_check = endpoint_.tls_skip_hostname_check;
    TBMQTT_TRY(tls_.build(settings));
    // libmosquitto takes a reference, and must add nothing of its own ("with defaults" would
    // also refuse a context that has no cafile/capath of libmosquitto's).
    if (mosquitto_void_option(mosq_, MOSQ_OPT_SSL_CTX, tls_.native()) != MOSQ_ERR_SUCCESS ||
        mosquitto_int_option(mosq_, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0) != MOSQ_ERR_SUCCESS)
      return errc::tls_error;
    tls_configured_ = true;  // once: MOSQ_OPT_SSL_CTX again would leak the reference it holds
  }
  tls_.begin_attempt();
  keepalive_expired_ = false;
  int rc = MOSQ_ERR_SUCCESS;
  if (endpoint_.max_inbound_packet > 0) {
    // MQTT 5: the broker must not send us a packet larger than this (it discards it instead), so
    // libmosquitto, which reads a whole packet into memory before we see it, never has to.
    mosquitto_property* properties = nullptr;
    rc = mosquitto_property_add_int32(&properties, MQTT_PROP_MAXIMUM_PACKET_SIZE, endpoint_.max_inbound_packet);
    if (rc == MOSQ_ERR_SUCCESS)
      rc = mosquitto_connect_bind_v5(mosq_, endpoint_.host.c_str(), endpoint_.port, endpoint_.keep_alive_s, nullptr,
                                     properties);
    mosquitto_property_free_all(&properties);
  } else {
    rc = mosquitto_connect(mosq_, endpoint_.host.c_str(), endpoint_.port, endpoint_.keep_alive_s);
  }
  if (rc == MOSQ_ERR_SUCCESS) return {};
  return with_tls_cause(errc_from_mosquitto(rc));
}

result<void> mosquitto_transport::loop(int timeout_ms) {
  const int rc = mosquitto_loop(mosq_, timeout_ms, 1);
  if (rc != MOSQ_ERR_SUCCESS) return with_tls_cause(errc_from_mosquitto(rc));
  // Half-open detection: libmosquitto sends PINGREQ after keep_alive_s of silence but only gives
  // up a keep-alive later (up to 2 x keep_alive_s). A healthy link answers within the keep-alive,
  // so 1.5 x keep_alive_s without any data received means the link is dead: shut the socket
  // down, and libmosquitto's next read sees it closed (nothing waits on a stalled send buffer).
  // The kernel knows when data last arrived on the socket (TCP_INFO's tcpi_last_data_recv; set
  // at the handshake, then by every segment carrying data, PINGRESP included, not by bare ACKs).
  // Checked after each loop pass (at most 50 ms apart in the client): start 100 ms early so that
  // the connection is gone by 1.5 x keep_alive_s.
  const std::int64_t limit_ms = static_cast<std::int64_t>(endpoint_.keep_alive_s) * 1500 - 100;
  const int fd = mosquitto_socket(mosq_);
  if (limit_ms > 0 && fd >= 0 && !keepalive_expired_ && silent_for_ms(fd) > limit_ms) {
    keepalive_expired_ = true;
    ::shutdown(fd, SHUT_RDWR);
  }
  return {};
}

std::int64_t mosquitto_transport::silent_for_ms(int fd) noexcept {
  tcp_info info{};
  socklen_t size = sizeof info;
  // An older kernel may fill less than this header's struct: only the field we read must be there.
  const std::size_t needed = offsetof(tcp_info, tcpi_last_data_recv) + sizeof info.tcpi_last_data_recv;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0 || size < needed) return 0;
  return info.tcpi_last_data_recv;
}

// libmosquitto reports a failed handshake as MOSQ_ERR_TLS, and a server's refusal of our
// certificate after a TLS 1.3 handshake as a plain read error: what TLS recorded says why.
errc mosquitto_transport::with_tls_cause(errc e) const noexcept {
  if (e == errc{} || !endpoint_.tls) return e;
  const errc cause = tls_.failure();
  return cause != errc{} ? cause : e;
}

void mosquitto_transport::disconnect() { mosquitto_disconnect(mosq_); }

result<message_id> mosquitto_transport::publish(std::string_view topic, span<const std::byte> payload, qos q) noexcept {
  topic_buffer_.assign(topic);
  int mid = 0;
  const int rc = mosquitto_publish(mosq_, &mid, topic_buffer_.c_str(), static_cast<int>(payload.size()), payload.data(),
                                   static_cast<int>(q), false);
  // Offline, libmosquitto keeps a QoS 1 message queued (and sends it after reconnect) but still
  // answers MOSQ_ERR_NO_CONN: for QoS 1 that answer means "queued".
  const bool queued = rc == MOSQ_ERR_NO_CONN && q == qos::at_least_once && mid != 0;
  if (rc != MOSQ_ERR_SUCCESS && !queued) return errc_from_mosquitto(rc);
  return static_cast<message_id>(mid);
}

result<message_id> mosquitto_transport::subscribe(std::string_view filter, qos q) noexcept {
  const std::string terminated(filter);
  int mid = 0;
  const int rc = mosquitto_subscribe(mosq_, &mid, terminated.c_str(), static_cast<int>(q));
  if (rc != MOSQ_ERR_SUCCESS) return errc_from_mosquitto(rc);
  return static_cast<message_id>(mid);
}

void mosquitto_transport::handle_connect(mosquitto*, void* self_ptr, int rc) {
  auto* self = static_cast<mosquitto_transport*>(self_ptr);
  self->tls_.mqtt_answered();
  self->listener_.on_connack(errc_from_connack(rc));
}

void mosquitto_transport::handle_disconnect(mosquitto*, void* self_ptr, int rc) {
  auto* self = static_cast<mosquitto_transport*>(self_ptr);
  if (self->keepalive_expired_.exchange(false)) return self->listener_.on_connection_lost(errc::timeout);
  self->listener_.on_connection_lost(rc == 0 ? errc{} : self->with_tls_cause(errc::disconnected));
}

void mosquitto_transport::handle_message(mosquitto*, void* self, const mosquitto_message* message) {
  static_cast<mosquitto_transport*>(self)->listener_.on_message(
      message->topic, {static_cast<const std::byte*>(message->payload), static_cast<std::size_t>(message->payloadlen)});
}

void mosquitto_transport::handle_subscribe(mosquitto*, void* self, int mid, int count, const int* granted) {
  const std::uint8_t first = count > 0 ? static_cast<std::uint8_t>(granted[0]) : 0x80;
  static_cast<mosquitto_transport*>(self)->listener_.on_suback(static_cast<message_id>(mid), first);
}

void mosquitto_transport::handle_publish(mosquitto*, void* self, int mid) {
  static_cast<mosquitto_transport*>(self)->listener_.on_puback(static_cast<message_id>(mid));
}

}  // namespace tbmqtt::detail
