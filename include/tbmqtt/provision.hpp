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
//     char scratch[256];
//     auto creds = tbmqtt::parse_provision_response(response_payload, scratch);
//
// Connect with the MQTT username `provision`, subscribe to `/provision/response`, then publish
// the request. A request without key or secret gets no response at all (the server disconnects),
// so the builder refuses it.
#pragma once

#include <cstdint>
#include <string_view>

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

/// @brief Credentials the server granted. Views into the response payload or the scratch buffer
/// given to parse_provision_response: valid while both are.
struct provisioned_credentials {
  provision_credentials_type type = provision_credentials_type::access_token;  ///< Never server_token.
  std::string_view token;                                                      ///< access_token: the token.
  std::string_view client_id;                                                  ///< mqtt_basic (may be empty).
  std::string_view username;     ///< mqtt_basic (`userName` in the response; may be empty).
  std::string_view password;     ///< mqtt_basic (may be empty).
  std::string_view certificate;  ///< x509: the certificate's Base64 body.
};

/// @brief Parses a `/provision/response` payload. Escaped strings are decoded into `scratch`.
/// @return The credentials, or errc::provision_not_found (status NOT_FOUND: bad key or secret),
/// errc::provision_failed (FAILURE: name exists, already provisioned, colliding credentials),
/// errc::server_error (another status), errc::malformed (not JSON, no status, missing or
/// mistyped credentials), errc::not_enough_space (`scratch` too small for an escaped value).
[[nodiscard]] result<provisioned_credentials> parse_provision_response(std::string_view payload,
                                                                       span<char> scratch) noexcept;

}  // namespace tbmqtt
