// tbmqtt — MQTT transport over libmosquitto (Linux). Knows MQTT, not ThingsBoard: it turns the
// core's publish/subscribe into libmosquitto calls and libmosquitto's callbacks into
// `transport_listener` events. Not part of the public API.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/session.hpp"
#include "tls_context.hpp"

struct mosquitto;
struct mosquitto_message;

namespace tbmqtt::detail {

/// @brief Where and how to connect. Strings are copied.
struct mqtt_endpoint {
  std::string host;
  std::uint16_t port = 1883;
  std::string client_id;  ///< Empty: libmosquitto generates one.
  std::string username;   ///< Empty: none sent.
  std::string password;   ///< Empty: none sent.
  /// MQTT keep-alive (0: off; libmosquitto refuses 1..4). Besides the PINGREQ libmosquitto sends,
  /// loop() drops a connection on which no data arrived for 1.5 x this (a stalled, half-open
  /// link; the kernel's TCP_INFO says when data last arrived).
  int keep_alive_s = 60;
  /// Non-zero: connect with MQTT 5 and send this as the Maximum Packet Size property, so the
  /// broker never sends a larger packet (it discards it instead). 0: MQTT 3.1.1, no limit.
  std::uint32_t max_inbound_packet = 0;
  bool tls = false;
  std::string ca_file, ca_dir, cert_file, key_file;
  std::string key_password;  ///< Decrypts key_file.
  bool tls_insecure = false;
  bool tls_skip_hostname_check = false;
};

/// @brief Events from the transport. All calls come from the thread that runs loop().
class transport_listener {
 public:
  /// CONNACK: errc{} when accepted, else the refusal (refused_credentials, ...).
  virtual void on_connack(errc result) = 0;
  /// The connection is gone (errc{} after our own disconnect()).
  virtual void on_connection_lost(errc reason) = 0;
  virtual void on_message(std::string_view topic, span<const std::byte> payload) = 0;
  virtual void on_suback(message_id id, std::uint8_t granted) = 0;
  virtual void on_puback(message_id id) = 0;

 protected:
  ~transport_listener() = default;
};

/// @brief One libmosquitto client. publish()/subscribe() may be called from any thread;
/// connect(), loop() and disconnect() only from the network thread.
class mosquitto_transport final : public transport_port {
 public:
  mosquitto_transport(mqtt_endpoint endpoint, transport_listener& listener);
  ~mosquitto_transport();
  mosquitto_transport(const mosquitto_transport&) = delete;
  mosquitto_transport& operator=(const mosquitto_transport&) = delete;

  /// @brief Opens TCP (and TLS) and sends CONNECT; the CONNACK arrives later through loop().
  /// @return ok, or errc::unreachable, errc::transport_error, a TLS failure (see loop()), or
  /// errc::tls_bad_client_key (the client certificate or key cannot be loaded).
  [[nodiscard]] result<void> connect();
  /// @brief Runs network I/O for up to `timeout_ms`; callbacks fire from here. When nothing
  /// arrived (not even a PINGRESP) for 1.5 x keep_alive_s since the last packet or the connect,
  /// it closes the socket: on_connection_lost(errc::timeout) follows.
  /// @return ok, or an error when the connection is gone. When TLS told us why (a certificate
  /// check failed, the server sent a fatal alert), that cause: errc::tls_unknown_ca,
  /// errc::tls_hostname_mismatch, errc::tls_certificate_expired,
  /// errc::tls_client_certificate_refused, errc::tls_error. on_connection_lost gets the same.
  result<void> loop(int timeout_ms);
  /// @brief Sends DISCONNECT and closes the socket.
  void disconnect();

  [[nodiscard]] result<message_id> publish(std::string_view topic, span<const std::byte> payload,
                                           qos q) noexcept override;
  [[nodiscard]] result<message_id> subscribe(std::string_view filter, qos q) noexcept override;

 private:
  static void handle_connect(mosquitto*, void* self, int rc);
  static void handle_disconnect(mosquitto*, void* self, int rc);
  static void handle_message(mosquitto*, void* self, const ::mosquitto_message* message);
  static void handle_subscribe(mosquitto*, void* self, int mid, int count, const int* granted);
  static void handle_publish(mosquitto*, void* self, int mid);
  // Milliseconds since data last arrived on socket `fd` (0 when the kernel cannot tell).
  static std::int64_t silent_for_ms(int fd) noexcept;
  errc with_tls_cause(errc e) const noexcept;

  mqtt_endpoint endpoint_;
  transport_listener& listener_;
  mosquitto* mosq_ = nullptr;
  std::string topic_buffer_;  // publish() needs a terminated topic
  tls_context tls_;
  bool tls_configured_ = false;
  std::atomic<bool> keepalive_expired_{false};
};

/// @brief The Maximum Packet Size sent for `max_payload`: the payload plus room for the fixed
/// header, a topic of up to 1 KiB and MQTT 5 properties (a message just over max_payload still
/// arrives and gets its typed error; anything larger is discarded by the broker).
std::uint32_t inbound_packet_limit(std::size_t max_payload) noexcept;
/// @brief Maps a libmosquitto return code (MOSQ_ERR_*) to errc. The only such mapping.
errc errc_from_mosquitto(int rc) noexcept;
/// @brief Maps a CONNACK return code (MQTT 3.1.1) or reason code (MQTT 5) to errc (errc{} for 0).
errc errc_from_connack(int code) noexcept;

}  // namespace tbmqtt::detail
