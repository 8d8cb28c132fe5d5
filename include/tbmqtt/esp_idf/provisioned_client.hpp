// tbmqtt — ESP-IDF provisioning (protocol doc §4): esp_provisioned_client runs the credential
// lifecycle (tbmqtt/credentials_lifecycle.hpp, the same decisions as Linux provisioned_client)
// over esp-mqtt and a tbmqtt::storage such as NVS; esp_provision is one round trip by hand.
// Credentials are stored in the core's format (store_credentials, key credentials_storage_key),
// the one `tbmqtt provision --save` and Linux write.
//
// The lifecycle: the first start provisions (retrying after 0, 1, 2, 4, ... 128 s), stores the
// credentials BEFORE using them, then connects with them; later starts find them stored and
// connect without provisioning.
//
//     static tbmqtt::esp_idf::nvs_storage store{"tbmqtt"};   // src/platform/esp_idf/nvs_storage.hpp
//     tbmqtt::esp_client_options device;                      // URI, TLS; no credentials
//     device.uri = "mqtt://thingsboard.local:1883";
//     tbmqtt::esp_provisioning_options p;
//     p.server.uri = device.uri;
//     p.request.device_name = "dev-1"; p.request.key = "K"; p.request.secret = "S";
//     p.store = &store;
//     p.max_attempts = 8;                                     // 0: until cancel() or the deadline
//     static tbmqtt::esp_provisioned_client client{device, p};  // ~3 KB: not on a small stack
//     if (auto r = client.connect(std::chrono::seconds(15)); !r) return fail(r.error());
//     (void)client.get().send_telemetry("{\"temperature\":21.5}");
//
// One round trip by hand (no retries: the caller decides when to try again):
//
//     static tbmqtt::credentials creds;                       // the SDK's one credentials type
//     if (auto r = tbmqtt::esp_provision(p.server, p.request, store, creds); !r) return fail(r.error());
//     tbmqtt::apply_credentials(device, creds);               // then: tbmqtt::esp_client c{device}
//
// Both block the calling task; not from an esp_client callback. Compile-checked only
// (tests/esp_idf/check.sh); the lifecycle loop (run_credentials_lifecycle), the round trip
// (detail::provision_engine) and its esp-mqtt event mapping are unit-tested on the host.
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

/// @brief Where to provision. `uri` is copied; the PEM pointers must stay valid during the call.
struct esp_provision_options {
  const char* uri = "mqtt://127.0.0.1:1883";  ///< mqtt://host:port, mqtts://host:port.
  /// Server verification as for esp_client (ca, use_crt_bundle, skip_verify). The client
  /// certificate and key are not sent: the provisioning session authenticates with the key and
  /// secret, and an X.509 device registers its certificate in the request.
  esp_tls_options tls;
  /// One round trip of esp_provision: connect, subscribe, request and answer.
  std::chrono::milliseconds timeout{10000};
  std::uint32_t task_stack = TBMQTT_ESP_TASK_STACK;  ///< Of the esp-mqtt task.
  unsigned task_priority = TBMQTT_ESP_TASK_PRIORITY;
};

/// @brief Provisions once: connects to `server` with the MQTT username `provision`, subscribes
/// to /provision/response, publishes `request`, waits for the answer (at most
/// server.timeout), disconnects. The granted credentials go into `out_credentials` and are
/// stored in `store` (store_credentials: key credentials_storage_key, atomically) before this
/// returns. Nothing is stored on failure.
/// @return ok, or errc::invalid_argument (request incomplete), errc::provision_not_found (bad
/// key or secret), errc::provision_failed (name exists, already provisioned, credentials
/// collide), errc::server_error, errc::malformed (not a provisioning answer),
/// errc::not_enough_space (a credential longer than TBMQTT_CREDENTIAL_FIELD_CAPACITY /
/// _CERTIFICATE_CAPACITY, or the storage is full), errc::payload_too_large (answer over
/// TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY), errc::timeout, errc::unreachable, errc::tls_error,
/// errc::refused_credentials (and the other CONNACK refusals), errc::subscription_refused,
/// errc::disconnected (closed without an answer), errc::out_of_memory,
/// errc::transport_error (esp-mqtt failed), errc::storage_error (the storage failed).
[[nodiscard]] result<void> esp_provision(const esp_provision_options& server, const provision_request& request,
                                         storage& store, credentials& out_credentials) noexcept;

/// @brief Points the authentication fields of `options` at `c` (esp_client copies them in
/// start(), so `c` must stay unchanged until then): the access token, or client id, username and
/// password (the other kind cleared; empty fields become null). X.509 changes nothing: set
/// options.tls.certificate / private_key. The same call as on Linux (apply_credentials on
/// client_options).
void apply_credentials(esp_client_options& options, const credentials& c) noexcept;

// ---- the credential lifecycle ----------------------------------------------------------------

/// @brief What esp_provisioned_client may do, named as provisioning_options on Linux. The
/// request's views, the PEM pointers and `store` must stay valid while connect() runs.
struct esp_provisioning_options {
  esp_provision_options server;  ///< Where to provision (its `timeout` is not used: attempt_timeout is).
  /// What to provision: key, secret, device name, credentials type (see provision_request).
  /// X.509: the device sends its own certificate; it then authenticates with the device
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

/// @brief An esp_client whose credentials come from provisioning: connect() uses the stored
/// credentials, or provisions, stores and then uses new ones (credentials_lifecycle decides).
/// Afterwards get() is an ordinary, connected esp_client (esp-mqtt reconnects with those
/// credentials). Holds the credentials (about 2.6 KB): make it static or allocate it.
class esp_provisioned_client {
 public:
  /// @param device Where and how to connect; its credentials are replaced. Copied; its PEM
  ///               pointers must outlive this object. Results reach the handlers given to get()'s
  ///               calls, as on Linux.
  esp_provisioned_client(const esp_client_options& device, esp_provisioning_options provisioning);
  /// Cancels a connect() running on another task, waits until it returned, stops the client.
  ~esp_provisioned_client();
  esp_provisioned_client(const esp_provisioned_client&) = delete;
  esp_provisioned_client& operator=(const esp_provisioned_client&) = delete;

  /// @brief Runs the lifecycle on the calling task: load the stored credentials; if there are
  /// none, provision (waiting 0, 1, 2, 4, ... 128 s between attempts), store, then connect.
  /// Stored credentials the server refuses are reprovisioned only if allow_reprovision.
  /// @param connect_timeout Bound on each MQTT connection attempt (see esp_client::connect).
  /// @return ok (get() is connected), or errc::cancelled (cancel()), errc::stored_credentials_refused,
  /// errc::timeout (the provisioning deadline, or a connect timeout), the last provisioning error
  /// once max_attempts are used up or it is not worth repeating (errc::provision_not_found,
  /// errc::provision_failed, errc::unreachable, ...; see esp_provision), a storage error
  /// (errc::malformed or errc::not_enough_space for a damaged stored record, which is never
  /// replaced silently; errc::storage_error), an esp_client::connect error, or errc::out_of_memory
  /// (a heap allocation failed).
  /// @pre No other connect() of this object is running; not from an esp_client callback.
  [[nodiscard]] result<void> connect(std::chrono::milliseconds connect_timeout) noexcept;
  /// @brief Makes a running connect() return errc::cancelled: within about 100 ms during a
  /// retry wait or a provisioning round trip, after at most connect_timeout during an MQTT
  /// connect. A later connect() starts afresh. Any task (not an ISR).
  void cancel() noexcept;

  /// @brief The connected client. @pre connect() succeeded.
  esp_client& get() noexcept;
  /// @brief The credentials in use (after connect() succeeded). Contains secrets.
  const credentials& current() const noexcept { return record_; }
  /// @brief True when the last successful connect() provisioned new credentials.
  bool provisioned() const noexcept { return provisioned_; }
  /// @brief Provisioning round trips the last connect() made (in its last provisioning phase).
  std::uint32_t attempts() const noexcept { return attempts_; }

 private:
  struct platform;  // credentials_platform over FreeRTOS and esp-mqtt (provisioned_client.cpp)

  esp_client_options device_;
  esp_provisioning_options options_;
  credentials record_;
  std::optional<esp_client> client_;
  bool provisioned_ = false;
  std::uint32_t attempts_ = 0;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> running_{false};
};

}  // namespace tbmqtt
