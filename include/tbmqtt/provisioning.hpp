// tbmqtt — Linux provisioning helper (protocol doc §4): a blocking round trip that turns a
// provisioning key and secret into device credentials, and a small credentials file.
//
//     tbmqtt::client_options server;               // host, port, TLS; credentials ignored
//     server.host = "thingsboard.local";
//     tbmqtt::provision_request req;
//     req.device_name = "dev-1"; req.key = "K"; req.secret = "S";
//     auto creds = tbmqtt::provision(server, req, std::chrono::seconds(10));
//     if (!creds) return fail(creds.error());
//     tbmqtt::save_credentials("/var/lib/dev/credentials.json", *creds);
//     tbmqtt::apply_credentials(server, *creds);   // then: tbmqtt::client device{server};
#pragma once

#include <chrono>
#include <string>

#include "tbmqtt/client.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/provision.hpp"

namespace tbmqtt {

/// @brief Owned device credentials (see provisioned_credentials for the fields).
struct credentials {
  provision_credentials_type type = provision_credentials_type::access_token;
  std::string token;        ///< access_token.
  std::string client_id;    ///< mqtt_basic.
  std::string username;     ///< mqtt_basic.
  std::string password;     ///< mqtt_basic.
  std::string certificate;  ///< x509: the certificate's Base64 body.
};

/// @brief Connects to `server` (host, port, TLS trust settings; its credentials are ignored) with
/// the username `provision`, subscribes to /provision/response, publishes the request and waits
/// for the answer. Blocks the calling thread at most about `timeout`.
/// @return The credentials, or errc::invalid_argument (request incomplete),
/// errc::provision_not_found, errc::provision_failed, errc::server_error, errc::malformed,
/// errc::timeout, errc::unreachable, errc::refused_credentials (and other CONNACK refusals),
/// a TLS failure (errc::tls_unknown_ca, ... as client::connect), errc::disconnected (closed without
/// an answer), errc::transport_error.
[[nodiscard]] result<credentials> provision(const client_options& server, const provision_request& request,
                                            std::chrono::milliseconds timeout);

/// @brief Writes `c` as a small JSON file with mode 0600, atomically (temp file, fsync, rename).
/// @return ok, or errc::invalid_argument (cannot create or write the file).
[[nodiscard]] result<void> save_credentials(const std::string& path, const credentials& c);
/// @brief Reads a file written by save_credentials.
/// @return The credentials, or errc::invalid_argument (cannot read), errc::malformed.
[[nodiscard]] result<credentials> load_credentials(const std::string& path);
/// @brief The credentials as one line of JSON: {"credentialsType":"ACCESS_TOKEN","token":..},
/// {"credentialsType":"MQTT_BASIC","clientId":..,"username":..,"password":..} or
/// {"credentialsType":"X509_CERTIFICATE","certificate":..}. Contains the secrets.
std::string to_json(const credentials& c);

/// @brief Sets the authentication fields of `options` from `c`: the access token, or client id,
/// username and password (the other kind is cleared). X.509 changes nothing: the device
/// authenticates with its certificate and private key (options.tls.cert_file / key_file).
void apply_credentials(client_options& options, const credentials& c);

}  // namespace tbmqtt
