// tbmqtt — the provisioning credential lifecycle, sans-I/O: the stored credentials (the one
// credentials type, tbmqtt::credentials in tbmqtt/provision.hpp), the retry schedule and the
// decisions (use stored credentials, provision, store, reprovision). No heap, no OS: the Linux `provisioned_client` and the ESP-IDF flow drive the same state machine.
//
// The lifecycle, as run_credentials_lifecycle runs it for a platform (credentials_platform):
//
//     tbmqtt::credentials_lifecycle life{{/*allow_reprovision=*/false, /*max_attempts=*/8}};
//     tbmqtt::credentials creds;
//     auto step = life.start(tbmqtt::load_credentials(store, creds, scratch).error());
//     for (;;) {
//       switch (step.next) {
//         case tbmqtt::credentials_step::provision:   // wait step.delay_ms (cancelable), then one round trip
//           step = life.provisioned(/* errc{} and creds filled, or the failure */);
//           break;
//         case tbmqtt::credentials_step::store:       // before the credentials are ever used
//           step = life.stored(tbmqtt::store_credentials(store, creds, scratch).error());
//           break;
//         case tbmqtt::credentials_step::connect:     // with `creds`
//           step = life.connected(/* the CONNACK outcome */);
//           break;
//         case tbmqtt::credentials_step::done: return ok;
//         case tbmqtt::credentials_step::fail: return step.error;
//       }
//     }
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/provision.hpp"
#include "tbmqtt/span.hpp"
#include "tbmqtt/storage.hpp"

namespace tbmqtt {

// ---- the stored credentials ----------------------------------------------------------------------

/// Storage key of the device credentials (14 characters: fits the NVS limit of 15).
inline constexpr std::string_view credentials_storage_key = "tb_credentials";

/// Bytes of JSON a `credentials` can take (every field full, every character escaped as
/// \\u00XX in the short fields; the certificate is Base64 and needs no escapes).
inline constexpr std::size_t credentials_json_capacity =
    96 + 6 * 4 * TBMQTT_CREDENTIAL_FIELD_CAPACITY + TBMQTT_CREDENTIAL_CERTIFICATE_CAPACITY;

/// @brief Writes the credentials as one JSON object, the format of `tbmqtt provision` and of saved
/// credentials files: {"credentialsType":"ACCESS_TOKEN","token":"..."},
/// {"credentialsType":"MQTT_BASIC","clientId":"..","username":"..","password":".."} or
/// {"credentialsType":"X509_CERTIFICATE","certificate":"..."}. Contains the secrets.
/// @return A view of the text inside `out`, or errc::not_enough_space, errc::invalid_argument
/// (a field is not UTF-8).
[[nodiscard]] result<std::string_view> write_credentials(span<char> out, const credentials& record) noexcept;

/// @brief Reads what write_credentials wrote. Missing or null fields read as empty.
/// @return ok (and `out` filled), or errc::malformed (not a JSON object, unknown credentialsType,
/// a field that is not a string, or the type's credential is empty), errc::not_enough_space (a
/// field is longer than its capacity). On error `out` is unspecified.
[[nodiscard]] result<void> read_credentials(std::string_view json_text, credentials& out) noexcept;

/// @brief Stores the credentials under credentials_storage_key (atomically: see storage).
/// @param scratch At least credentials_json_capacity bytes suffice.
/// @return ok, or errc::not_enough_space (scratch or medium), errc::invalid_argument, the
/// storage's errc::storage_error.
[[nodiscard]] result<void> store_credentials(storage& store, const credentials& record, span<char> scratch) noexcept;

/// @brief Loads the credentials stored under credentials_storage_key.
/// @param scratch At least credentials_json_capacity bytes suffice.
/// @return ok (and `out` filled), or errc::not_found (nothing stored), errc::malformed (stored
/// value unreadable), errc::not_enough_space (value larger than `scratch`, or a field larger than
/// its capacity), errc::storage_error (medium failed).
[[nodiscard]] result<void> load_credentials(storage& store, credentials& out, span<char> scratch) noexcept;

// ---- retries ----------------------------------------------------------------------------------

/// Longest wait between two provisioning attempts.
inline constexpr std::uint32_t provision_retry_cap_ms = 128000;

/// @brief The wait before retry number `retry` (0 = the first retry): 0, 1, 2, 4, 8, ... seconds,
/// then 128 s for every later retry.
/// @return Milliseconds.
std::uint32_t provision_retry_delay_ms(std::uint32_t retry) noexcept;

/// @brief Whether a provisioning attempt that failed with `e` is worth repeating unchanged:
/// true for timeouts, unreachable or refusing servers, disconnects and NOT_FOUND (the profile may
/// be created later); false for errc::invalid_argument, errc::not_enough_space,
/// errc::provision_failed (the server refuses this request for good: name exists, already
/// provisioned) and errc::cancelled.
bool provision_retryable(errc e) noexcept;

// ---- decisions ----------------------------------------------------------------------------------

/// @brief What the application allows.
struct credentials_policy {
  /// Stored credentials the server refuses (CONNACK 4/5 or 2) are replaced by provisioning again.
  /// false: the lifecycle fails with errc::stored_credentials_refused and keeps them.
  bool allow_reprovision = false;
  /// Provisioning round trips per provisioning phase, the first one included; 0 = unbounded.
  std::uint32_t max_attempts = 0;
};

/// @brief The next thing the platform does.
enum class credentials_step : std::uint8_t {
  provision,  ///< Wait `delay_ms`, then one provisioning round trip; report it with provisioned().
  store,      ///< Store the new credentials; report it with stored(). Nothing used them yet.
  connect,    ///< Connect with the current credentials; report the outcome with connected().
  done,       ///< Connected: the lifecycle is over.
  fail,       ///< Stop with `error`.
};

/// @brief A step and its parameters.
struct credentials_action {
  credentials_step next = credentials_step::fail;
  std::uint32_t delay_ms = 0;  ///< provision: wait this long first (cancelable).
  errc error{};                ///< fail: why.
};

/// @brief The lifecycle's decisions; a pure state machine (see the example at the top).
class credentials_lifecycle {
 public:
  explicit credentials_lifecycle(credentials_policy policy) noexcept : policy_(policy) {}

  /// @brief Starts with the outcome of load_credentials.
  /// @return connect (ok: the stored credentials), provision with no delay (errc::not_found), or
  /// fail with the load error (anything else: a damaged record is never silently replaced).
  credentials_action start(errc load_result) noexcept;
  /// @brief Reports a provisioning round trip.
  /// @return store (ok); provision after provision_retry_delay_ms (a retryable error while
  /// attempts are left); otherwise fail with `result` (the last attempt's error).
  credentials_action provisioned(errc result) noexcept;
  /// @brief Reports store_credentials.
  /// @return connect with the new credentials (ok), or fail with the storage error.
  credentials_action stored(errc result) noexcept;
  /// @brief Reports the connection attempt.
  /// @return done (ok). When the server refuses stored credentials (errc::refused_credentials
  /// or errc::identifier_rejected): provision (policy allows it) or fail with
  /// errc::stored_credentials_refused. Every other error (also a refusal of credentials just
  /// provisioned): fail with `result`.
  credentials_action connected(errc result) noexcept;

  /// True while the current credentials came from storage (not provisioned by this run).
  bool using_stored() const noexcept { return using_stored_; }
  /// True once this run provisioned credentials.
  bool provisioned_new() const noexcept { return provisioned_new_; }
  /// Provisioning round trips reported in the current provisioning phase.
  std::uint32_t attempts() const noexcept { return attempts_; }

 private:
  credentials_action provision_after(std::uint32_t delay_ms) noexcept;
  credentials_policy policy_;
  std::uint32_t attempts_ = 0;
  bool using_stored_ = false;
  bool provisioned_new_ = false;
};

// ---- the loop -----------------------------------------------------------------------------------

/// @brief What a platform does for run_credentials_lifecycle: wait, one provisioning round trip,
/// one connection. provisioned_client implements it on Linux and on ESP-IDF.
class credentials_platform {
 public:
  /// @brief Waits `delay_ms` before a provisioning round trip; returns early when cancelled.
  /// @return ok, errc::cancelled, or errc::timeout (the wait would pass the caller's deadline).
  virtual errc wait_before_provisioning(std::uint32_t delay_ms) noexcept = 0;
  /// @brief One provisioning round trip; on success `out` holds the granted credentials
  /// (parse_provision_response).
  /// @return ok, or the round trip's error (errc::cancelled when cancelled).
  virtual errc provision(credentials& out) noexcept = 0;
  /// @brief Connects with `credentials`.
  /// @return ok, or the connection's error (errc::refused_credentials, ...).
  virtual errc connect(const credentials& credentials) noexcept = 0;
  /// @brief After a failed round trip that will be retried: attempt number (from 1), its error,
  /// the wait before the next one.
  virtual void on_retry(std::uint32_t /*attempt*/, errc /*error*/, std::uint32_t /*delay_ms*/) noexcept {}
  /// True once the run should stop with errc::cancelled (asked before every step).
  virtual bool cancelled() const noexcept { return false; }

 protected:
  ~credentials_platform() = default;
};

/// @brief Runs `life` to its end: loads `record` from `store`, then provisions, stores and
/// connects through `platform` as the lifecycle decides (the loop at the top of this file).
/// @param record  The credentials: the stored ones, then the new ones; they are stored before
///                platform.connect() sees them.
/// @param scratch At least credentials_json_capacity bytes suffice.
/// @return ok (platform.connect() succeeded), or errc::cancelled, the error of
/// wait_before_provisioning, or the lifecycle's failure (credentials_lifecycle::start,
/// provisioned, stored, connected: e.g. errc::stored_credentials_refused).
[[nodiscard]] result<void> run_credentials_lifecycle(credentials_lifecycle& life, storage& store, credentials& record,
                                                     span<char> scratch, credentials_platform& platform) noexcept;

}  // namespace tbmqtt
