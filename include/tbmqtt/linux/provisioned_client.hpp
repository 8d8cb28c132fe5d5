// tbmqtt — Linux provisioning (protocol doc §4): a blocking round trip that turns a provisioning
// key and secret into device credentials, a small credentials file, and `provisioned_client`,
// which runs the whole credential lifecycle (tbmqtt/credentials_lifecycle.hpp) by itself.
//
// The lifecycle: the first start provisions (retrying after 0, 1, 2, 4, ... 128 s), stores the
// credentials (file mode 0600: temp file, fsync, rename) BEFORE using them, then connects with
// them; later starts find them stored and connect without provisioning.
//
//     tbmqtt::client_options server;                    // host, port, TLS; no credentials
//     server.host = "thingsboard.local";
//     tbmqtt::provisioning_options p;
//     p.request.device_name = "dev-1";
//     p.request.key = "K";
//     p.request.secret = "S";
//     p.credentials_file = "/var/lib/dev/credentials.json";
//     p.max_attempts = 8;                               // 0: until cancel() or the deadline
//     tbmqtt::provisioned_client device{server, p};
//     if (auto r = device.connect(std::chrono::seconds(10)); !r) return fail(r.error());
//     device.get().send_telemetry("{\"temperature\":21.5}");
//
// One round trip by hand:
//
//     tbmqtt::provision_request req;
//     req.device_name = "dev-1"; req.key = "K"; req.secret = "S";
//     tbmqtt::credentials creds;
//     if (auto r = tbmqtt::provision(server, req, std::chrono::seconds(10), creds); !r) return fail(r.error());
//     if (auto r = tbmqtt::save_credentials("/var/lib/dev/credentials.json", creds); !r) return fail(r.error());
//     tbmqtt::apply_credentials(server, creds);   // then: tbmqtt::client device{server};
//
// The same API on ESP-IDF (tbmqtt/esp_idf/provisioned_client.hpp): provision(), apply_credentials,
// provisioning_options, provisioned_client, with esp_client_options for client_options and a
// tbmqtt::storage (NVS) for the credentials file.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "tbmqtt/credentials_lifecycle.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/linux/client.hpp"
#include "tbmqtt/provision.hpp"

namespace tbmqtt {

// The credentials are the SDK's one type, tbmqtt::credentials (tbmqtt/provision.hpp): fixed
// capacities, fields read with .view() (or .c_str()), set with assign_access_token /
// assign_mqtt_basic / assign_x509.

/// @brief Provisions once: connects to `server` (host, port, TLS trust settings; its credentials
/// are ignored, and the client certificate is not sent: an X.509 device registers its
/// certificate in the request) with the username `provision`, subscribes to /provision/response,
/// publishes the request and waits for the answer. Blocks the calling thread at most about
/// `timeout`. Stores nothing: save the credentials (save_credentials) before using them. The same
/// call on ESP-IDF.
/// @param out_credentials Receives the granted credentials; unchanged on failure.
/// @return ok, or errc::invalid_argument (request incomplete),
/// errc::provision_not_found, errc::provision_failed, errc::server_error, errc::malformed,
/// errc::timeout, errc::unreachable, errc::refused_credentials (and other CONNACK refusals),
/// a TLS failure (errc::tls_unknown_ca, ... as client::connect), errc::disconnected (closed without
/// an answer), errc::transport_error.
[[nodiscard]] result<void> provision(const client_options& server, const provision_request& request,
                                     std::chrono::milliseconds timeout, credentials& out_credentials);

/// @brief Writes `c` as a small JSON file (to_json's format) with mode 0600, atomically (temp
/// file, fsync, rename, fsync of the directory).
/// @return ok, or errc::storage_error (cannot create, write, sync or rename the file),
/// errc::invalid_argument (`c` is not complete(), or a field is not UTF-8).
[[nodiscard]] result<void> save_credentials(const std::string& path, const credentials& c);
/// @brief Reads a file written by save_credentials. Like OpenSSH with private keys, a file that
/// group or others may read or write is refused unless `allow_readable`.
/// @return The credentials, or errc::invalid_argument (no such file), errc::storage_error (cannot
/// open or read it), errc::insecure_permissions
/// (mode not 0600 or stricter), errc::malformed, errc::not_enough_space (a field longer than its
/// capacity).
[[nodiscard]] result<credentials> load_credentials(const std::string& path, bool allow_readable = false);
/// @brief The credentials as one line of JSON: {"credentialsType":"ACCESS_TOKEN","token":..},
/// {"credentialsType":"MQTT_BASIC","clientId":..,"username":..,"password":..} or
/// {"credentialsType":"X509_CERTIFICATE","certificate":..} (write_credentials's format).
/// Contains the secrets. Empty when a field is not UTF-8.
std::string to_json(const credentials& c);

/// @brief Sets the authentication fields of `options` from `c`: the access token, or client id,
/// username and password (the other kind is cleared). X.509 changes nothing: the device
/// authenticates with its certificate and private key (options.tls.certificate / key_file).
void apply_credentials(client_options& options, const credentials& c);

// ---- the credential lifecycle ----------------------------------------------------------------

/// @brief What provisioned_client may do (the same on ESP-IDF, where the credentials live in
/// `store` only: no credentials_file). The request's views must stay valid while connect() runs.
struct provisioning_options {
  /// What to provision: key, secret, device name, credentials type (see provision_request).
  /// X.509: the device sends its own certificate; it then authenticates with the server
  /// options' tls.certificate / tls.private_key.
  provision_request request;
  /// Where credentials live: this storage (key credentials_storage_key), or, when null, the file
  /// `credentials_file` (the format of save_credentials; its directory is created, mode 0700,
  /// when missing). One of the two is required.
  storage* store = nullptr;
  std::string credentials_file;
  /// An existing `credentials_file` that group or others may read or write is refused (connect()
  /// fails with errc::insecure_permissions, as OpenSSH refuses such a key) unless this is true.
  bool allow_readable_credentials_file = false;
  /// Stored credentials the server refuses are replaced by provisioning again. false: connect()
  /// fails with errc::stored_credentials_refused and keeps them.
  bool allow_reprovision = false;
  /// Provisioning round trips per provisioning phase, the first included; 0 = unbounded.
  std::uint32_t max_attempts = 0;
  /// Bound on the provisioning of one connect() call (round trips and waits, counted from the
  /// call); 0 = none. Reaching it, or a retry wait that would pass it: errc::timeout.
  std::chrono::milliseconds deadline{0};
  /// Bound on one provisioning round trip.
  std::chrono::milliseconds attempt_timeout{10000};
  /// Optional; called on connect()'s thread after each failed round trip that will be retried:
  /// (attempt number from 1, its error, the wait before the next attempt).
  std::function<void(std::uint32_t attempt, errc error, std::chrono::milliseconds wait)> on_retry;
};

namespace detail {
class credentials_file;  // a credentials file as a storage (provisioned_client.cpp)
}  // namespace detail

/// @brief A client whose credentials come from provisioning: connect() uses the stored
/// credentials, or provisions, stores and then uses new ones (tbmqtt/credentials_lifecycle.hpp
/// decides). Afterwards get() is an ordinary, connected `client` that reconnects by itself with
/// those credentials. X.509: the device's certificate goes into the request
/// (request.certificate_pem) and the TLS client certificate and key into server.tls.
class provisioned_client {
 public:
  /// @param server Host, port, TLS and client settings; its credentials are replaced.
  provisioned_client(client_options server, provisioning_options options);
  /// Cancels a connect() running on another thread and waits until it returned.
  ~provisioned_client();
  provisioned_client(const provisioned_client&) = delete;
  provisioned_client& operator=(const provisioned_client&) = delete;

  /// @brief Runs the lifecycle on the calling thread: load the stored credentials; if there are
  /// none, provision (waiting 0, 1, 2, 4, ... 128 s between attempts), store, then connect.
  /// Stored credentials the server refuses are reprovisioned only if allow_reprovision.
  /// @param connect_timeout Bound on each MQTT connection attempt (see client::connect).
  /// @return ok (get() is connected), or errc::cancelled (cancel() or the destructor),
  /// errc::stored_credentials_refused, errc::timeout (the provisioning deadline, or a connect
  /// timeout), the last provisioning error once max_attempts are used up or it is not worth
  /// repeating (errc::provision_not_found, errc::provision_failed, errc::unreachable, ...), a
  /// storage error (errc::malformed or errc::not_enough_space for a damaged stored record, which
  /// is never replaced silently; errc::storage_error when the file cannot be read or written), or
  /// a client::connect error.
  /// @pre No other connect() of this object is running.
  [[nodiscard]] result<void> connect(std::chrono::milliseconds connect_timeout);
  /// @brief Makes a running connect() return errc::cancelled: at once during a retry wait,
  /// within about 100 ms during a provisioning round trip, after at most connect_timeout during
  /// an MQTT connect. A later connect() starts afresh. Any thread (not a signal handler).
  void cancel();

  /// @brief The connected client. @pre connect() succeeded.
  client& get();
  /// @brief The credentials in use (after connect() succeeded). Contains secrets.
  const credentials& current() const { return current_; }
  /// @brief True when the last successful connect() provisioned new credentials.
  bool provisioned() const { return provisioned_; }
  /// @brief Provisioning round trips the last connect() made (in its last provisioning phase).
  std::uint32_t attempts() const { return attempts_; }

 private:
  result<void> run(std::chrono::milliseconds connect_timeout);
  bool wait(std::chrono::milliseconds delay);  // false: cancelled

  client_options server_;
  provisioning_options options_;
  std::unique_ptr<detail::credentials_file> own_store_;  // when no storage was given
  std::unique_ptr<client> client_;
  credentials current_;  // about 2.6 KB
  bool provisioned_ = false;
  std::uint32_t attempts_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::atomic<bool> cancelled_{false};
  bool running_ = false;
};

}  // namespace tbmqtt
