// tbmqtt — ESP-IDF provisioning (protocol doc §4), the same API as on Linux
// (tbmqtt/linux/provisioned_client.hpp): provision() is one round trip by hand, and
// provisioned_client runs the credential lifecycle (tbmqtt/credentials_lifecycle.hpp, the same
// decisions as on Linux) over esp-mqtt and a tbmqtt::storage such as NVS. Credentials are stored
// in the core's format (store_credentials, key credentials_storage_key), the one
// `tbmqtt provision --save` and Linux write. The names are Linux's (the two headers are never
// compiled together); where they differ: the server is an esp_client_options (URI, TLS as
// PEM-or-file pointers) and the credentials live in a storage (Linux: also a file).
//
// The lifecycle: the first start provisions (retrying after 0, 1, 2, 4, ... 128 s), stores the
// credentials BEFORE using them, then connects with them; later starts find them stored and
// connect without provisioning.
//
//     static tbmqtt::esp_idf::nvs_storage store{"tbmqtt"};   // src/platform/esp_idf/nvs_storage.hpp
//     tbmqtt::esp_client_options server;                      // URI, TLS; no credentials
//     server.uri = "mqtt://thingsboard.local:1883";
//     tbmqtt::provisioning_options p;
//     p.request.device_name = "dev-1"; p.request.key = "K"; p.request.secret = "S";
//     p.store = &store;
//     p.max_attempts = 8;                                     // 0: until cancel() or the deadline
//     static tbmqtt::provisioned_client device{server, p};    // ~3 KB: not on a small stack
//     if (auto r = device.connect(std::chrono::seconds(15)); !r) return fail(r.error());
//     (void)device.get().send_telemetry("{\"temperature\":21.5}");
//
// One round trip by hand (no retries: the caller decides when to try again), as on Linux:
//
//     static tbmqtt::credentials creds;                       // the SDK's one credentials type
//     if (auto r = tbmqtt::provision(server, p.request, std::chrono::seconds(10), creds); !r)
//       return fail(r.error());
//     if (auto r = tbmqtt::save_credentials(store, creds); !r) return fail(r.error());  // before use
//     tbmqtt::apply_credentials(server, creds);               // then: tbmqtt::esp_client c{server}
//
// Both block the calling task; not from an esp_client callback. Compile-checked
// (tests/esp_idf/check.sh) and run on the linux target (tests/emulator/test_esp_idf_examples.py);
// the lifecycle loop (run_credentials_lifecycle), the round trip (detail::provision_engine) and
// its esp-mqtt event mapping are unit-tested on the host.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "tbmqtt/config.hpp"
#include "tbmqtt/credentials_lifecycle.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/esp_idf/client.hpp"
#include "tbmqtt/provision.hpp"
#include "tbmqtt/storage.hpp"

// The largest /provision/response accepted: TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY (tbmqtt/config.hpp).

namespace tbmqtt {

/// @brief Provisions once, as on Linux: connects to `server` (uri, tls: ca, use_crt_bundle,
/// skip_hostname_check, insecure; task_stack, task_priority; its credentials are ignored, and
/// the client certificate is not sent: an X.509 device registers its certificate in the request)
/// with the MQTT username `provision`, subscribes to /provision/response, publishes `request`,
/// waits for the answer (at most about `timeout`), disconnects. Stores nothing: store the
/// credentials (save_credentials) before using them.
/// @param out_credentials Receives the granted credentials (about 2.6 KB: not on a small stack);
///                        unchanged on failure.
/// @return ok, or errc::invalid_argument (request incomplete, a TLS file that cannot be read,
/// `insecure` without CONFIG_ESP_TLS_SKIP_SERVER_CERT_VERIFY), errc::provision_not_found (bad
/// key or secret), errc::provision_failed (name exists, already provisioned, credentials
/// collide), errc::server_error, errc::malformed (not a provisioning answer),
/// errc::not_enough_space (a credential longer than TBMQTT_CREDENTIAL_FIELD_CAPACITY /
/// _CERTIFICATE_CAPACITY), errc::payload_too_large (answer over
/// TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY), errc::timeout, errc::unreachable, a TLS failure
/// (errc::tls_unknown_ca, ... as esp_client::connect), errc::refused_credentials (and the other
/// CONNACK refusals), errc::subscription_refused, errc::disconnected (closed without an answer),
/// errc::out_of_memory, errc::transport_error (esp-mqtt failed).
[[nodiscard]] result<void> provision(const esp_client_options& server, const provision_request& request,
                                     std::chrono::milliseconds timeout, credentials& out_credentials) noexcept;

/// @brief Stores `c` in `store` (store_credentials: key credentials_storage_key, atomically), the
/// counterpart of Linux save_credentials(path, c).
/// @return ok, or errc::invalid_argument (`c` is not complete()), errc::not_enough_space (the
/// storage is full), errc::storage_error, errc::out_of_memory.
[[nodiscard]] result<void> save_credentials(storage& store, const credentials& c) noexcept;

/// @brief Points the authentication fields of `options` at `c` (esp_client copies them in
/// start(), so `c` must stay unchanged until then): the access token, or client id, username and
/// password (the other kind cleared; empty fields become null). X.509 changes nothing: set
/// options.tls.certificate / private_key. The same call as on Linux (apply_credentials on
/// client_options).
void apply_credentials(esp_client_options& options, const credentials& c) noexcept;

// ---- the credential lifecycle ----------------------------------------------------------------

/// @brief What provisioned_client may do, as on Linux (no credentials_file here: the credentials
/// live in `store`). The request's views and `store` must stay valid while connect() runs.
struct provisioning_options {
  /// What to provision: key, secret, device name, credentials type (see provision_request).
  /// X.509: the device sends its own certificate; it then authenticates with the server
  /// options' tls.certificate / tls.private_key.
  provision_request request;
  storage* store = nullptr;  ///< Required: where the credentials live (e.g. NVS).
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
  /// Optional; called on connect()'s task after each failed round trip that will be retried:
  /// (attempt number from 1, its error, the wait before the next attempt).
  std::function<void(std::uint32_t attempt, errc error, std::chrono::milliseconds wait)> on_retry;
};

/// @brief An esp_client whose credentials come from provisioning, as on Linux: connect() uses the
/// stored credentials, or provisions (to `server`, as provision() does), stores and then uses new
/// ones (credentials_lifecycle decides). Afterwards get() is an ordinary, connected esp_client
/// (esp-mqtt reconnects with those credentials). Holds the credentials (about 2.6 KB): make it
/// static or allocate it.
class provisioned_client {
 public:
  /// @param server Where and how to connect and provision; its credentials are replaced. Its PEM
  ///               pointers must outlive this object. Results reach the handlers given to
  ///               get()'s calls, as on Linux.
  provisioned_client(esp_client_options server, provisioning_options options);
  /// Cancels a connect() running on another task, waits until it returned, stops the client.
  ~provisioned_client();
  provisioned_client(const provisioned_client&) = delete;
  provisioned_client& operator=(const provisioned_client&) = delete;

  /// @brief Runs the lifecycle on the calling task: load the stored credentials; if there are
  /// none, provision (waiting 0, 1, 2, 4, ... 128 s between attempts), store, then connect.
  /// Stored credentials the server refuses are reprovisioned only if allow_reprovision.
  /// @param connect_timeout Bound on each MQTT connection attempt (see esp_client::connect).
  /// @return ok (get() is connected), or errc::cancelled (cancel() or the destructor),
  /// errc::stored_credentials_refused, errc::timeout (the provisioning deadline, or a connect
  /// timeout), the last provisioning error once max_attempts are used up or it is not worth
  /// repeating (errc::provision_not_found, errc::provision_failed, errc::unreachable, ...; see
  /// provision()), a storage error (errc::malformed or errc::not_enough_space for a damaged
  /// stored record, which is never replaced silently; errc::storage_error), an
  /// esp_client::connect error, or errc::out_of_memory (a heap allocation failed).
  /// @pre No other connect() of this object is running; not from an esp_client callback.
  [[nodiscard]] result<void> connect(std::chrono::milliseconds connect_timeout) noexcept;
  /// @brief Makes a running connect() return errc::cancelled: within about 100 ms during a
  /// retry wait or a provisioning round trip, after at most connect_timeout during an MQTT
  /// connect. A later connect() starts afresh. Any task (not an ISR).
  void cancel() noexcept;

  /// @brief The connected client. @pre connect() succeeded.
  esp_client& get() noexcept;
  /// @brief The credentials in use (after connect() succeeded). Contains secrets.
  const credentials& current() const noexcept { return current_; }
  /// @brief True when the last successful connect() provisioned new credentials.
  bool provisioned() const noexcept { return provisioned_; }
  /// @brief Provisioning round trips the last connect() made (in its last provisioning phase).
  std::uint32_t attempts() const noexcept { return attempts_; }

 private:
  struct platform;  // credentials_platform over FreeRTOS and esp-mqtt (provisioned_client.cpp)

  esp_client_options server_;
  provisioning_options options_;
  credentials current_;
  std::optional<esp_client> client_;
  bool provisioned_ = false;
  std::uint32_t attempts_ = 0;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> running_{false};
};

}  // namespace tbmqtt
