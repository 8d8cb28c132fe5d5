// tbmqtt — device provisioning (protocol doc §4), sans-I/O: the `/provision/request` payload
// builder and the `/provision/response` parser. No heap, no exceptions.
//
//     tbmqtt::provision_request req;
//     req.device_name = "dev-1";
//     req.key = "K";
//     req.secret = "S";
//     char buf[256];
//     auto payload = tbmqtt::build_provision_request(buf, req);   // publish to /provision/request
//     ...
//     static tbmqtt::credentials creds;                          // ~2.6 KB
//     auto parsed = tbmqtt::parse_provision_response(response_payload, creds);
//
// Connect with the MQTT username `provision`, subscribe to `/provision/response`, then publish
// the request. A request without key or secret gets no response at all (the server disconnects),
// so the builder refuses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt {

/// MQTT username of a provisioning session.
inline constexpr std::string_view provision_username = "provision";
/// Topic the device publishes its provisioning request to.
inline constexpr std::string_view provision_request_topic = "/provision/request";
/// Topic the server answers on (subscribe before publishing the request).
inline constexpr std::string_view provision_response_topic = "/provision/response";

/// @brief Which credentials the new device gets.
enum class provision_credentials_type : std::uint8_t {
  server_token,  ///< Request: none given, the server generates an access token.
  access_token,  ///< ACCESS_TOKEN: the device chooses its token.
  mqtt_basic,    ///< MQTT_BASIC: client id, user name, password.
  x509,          ///< X509_CERTIFICATE: the device's certificate.
};

/// @brief What to ask for. Views: they must stay valid while build_provision_request runs.
struct provision_request {
  std::string_view device_name;  ///< Empty: the server picks a random name.
  std::string_view key;          ///< provisionDeviceKey (required).
  std::string_view secret;       ///< provisionDeviceSecret (required).
  provision_credentials_type credentials_type = provision_credentials_type::server_token;
  std::string_view token;            ///< access_token: the token (required).
  std::string_view client_id;        ///< mqtt_basic: client id (this or username required).
  std::string_view username;         ///< mqtt_basic: user name.
  std::string_view password;         ///< mqtt_basic: password (optional).
  std::string_view certificate_pem;  ///< x509: certificate PEM or Base64, sent as `hash` (required).
  bool gateway = false;              ///< Mark the new device as a gateway.
};

/// @brief Writes the `/provision/request` JSON into `out`: deviceName (if given),
/// provisionDeviceKey, provisionDeviceSecret, then credentialsType and its fields, then
/// `"gateway":true` (if set). MQTT basic fields that are empty are left out.
/// @return A view of the payload inside `out`, or errc::invalid_argument (key, secret or the
/// credentials the type needs are empty; text is not UTF-8), errc::not_enough_space.
[[nodiscard]] result<std::string_view> build_provision_request(span<char> out,
                                                               const provision_request& request) noexcept;

namespace detail {
/// @brief Text of at most N bytes stored inline (no heap), always NUL-terminated (c_str()) for
/// APIs that take C strings (the ESP-IDF client's options).
template <std::size_t N>
class fixed_text {
 public:
  std::string_view view() const noexcept { return {data_, size_}; }
  const char* c_str() const noexcept { return data_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  /// @return false (and unchanged) when `s` is longer than N.
  [[nodiscard]] bool assign(std::string_view s) noexcept {
    if (s.size() > N) return false;
    for (std::size_t i = 0; i < s.size(); ++i) data_[i] = s[i];
    commit(s.size());
    return true;
  }
  void clear() noexcept { commit(0); }
  /// @brief Lets a decoder write in place: fill buffer(), then commit(bytes written).
  span<char> buffer() noexcept { return {data_, N}; }
  void commit(std::size_t size) noexcept {
    size_ = size <= N ? size : N;
    data_[size_] = '\0';
  }
  static constexpr std::size_t capacity = N;

  friend bool operator==(const fixed_text& a, std::string_view b) noexcept { return a.view() == b; }
  friend bool operator!=(const fixed_text& a, std::string_view b) noexcept { return a.view() != b; }

 private:
  char data_[N + 1]{};
  std::size_t size_ = 0;
};
}  // namespace detail

/// @brief Device credentials: the one credentials type of the SDK, on every platform. What
/// provisioning grants (parse_provision_response), what is stored (tbmqtt/credentials_lifecycle.hpp:
/// store_credentials, load_credentials), what the platforms' apply_credentials put into client
/// options. Fixed capacities (TBMQTT_CREDENTIAL_* in tbmqtt/config.hpp), no heap; every field is
/// also a C string (c_str()). About 2.6 KB with the default capacities: keep it static or on the
/// heap on small stacks.
struct credentials {
  provision_credentials_type type = provision_credentials_type::access_token;  ///< Never server_token.
  detail::fixed_text<TBMQTT_CREDENTIAL_FIELD_CAPACITY> token;                  ///< access_token.
  detail::fixed_text<TBMQTT_CREDENTIAL_FIELD_CAPACITY> client_id;              ///< mqtt_basic (may be empty).
  detail::fixed_text<TBMQTT_CREDENTIAL_FIELD_CAPACITY> username;               ///< mqtt_basic (may be empty).
  detail::fixed_text<TBMQTT_CREDENTIAL_FIELD_CAPACITY> password;               ///< mqtt_basic (may be empty).
  detail::fixed_text<TBMQTT_CREDENTIAL_CERTIFICATE_CAPACITY> certificate;      ///< x509: Base64 body.

  /// @brief Makes these access-token credentials (the other fields cleared).
  /// @return ok, or errc::invalid_argument (empty), errc::not_enough_space (longer than
  /// TBMQTT_CREDENTIAL_FIELD_CAPACITY); on error the credentials are cleared.
  [[nodiscard]] result<void> assign_access_token(std::string_view token) noexcept;
  /// @brief Makes these MQTT basic credentials (the other fields cleared).
  /// @return ok, or errc::invalid_argument (client id and user name both empty),
  /// errc::not_enough_space; on error the credentials are cleared.
  [[nodiscard]] result<void> assign_mqtt_basic(std::string_view client_id, std::string_view username,
                                               std::string_view password) noexcept;
  /// @brief Makes these X.509 credentials (the certificate's Base64 body; the other fields cleared).
  /// @return ok, or errc::invalid_argument (empty), errc::not_enough_space; on error the
  /// credentials are cleared.
  [[nodiscard]] result<void> assign_x509(std::string_view certificate) noexcept;
  /// @brief Clears every field (type access_token).
  void clear() noexcept;
  /// @brief True when the type's credential is there: the token, a client id or user name, the
  /// certificate (server_token is never complete).
  bool complete() const noexcept;
};

/// @brief Parses a `/provision/response` payload into `out` (escaped strings decoded into its
/// fields).
/// @return ok, or errc::provision_not_found (status NOT_FOUND: bad key or secret),
/// errc::provision_failed (FAILURE: name exists, already provisioned, colliding credentials),
/// errc::server_error (another status), errc::malformed (not JSON, no status, missing or
/// mistyped credentials), errc::not_enough_space (a credential longer than its capacity:
/// TBMQTT_CREDENTIAL_FIELD_CAPACITY, _CERTIFICATE_CAPACITY). On error `out` is cleared.
[[nodiscard]] result<void> parse_provision_response(std::string_view payload, credentials& out) noexcept;

}  // namespace tbmqtt
