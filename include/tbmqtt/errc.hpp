// tbmqtt — error codes and the result type shared by every part of the SDK.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

namespace tbmqtt {

/// @brief Every failure the SDK reports. One enum for the whole library, so that callers can
/// switch on it without knowing which layer produced it.
enum class errc : std::uint8_t {
  // "Come back later" outcomes: not failures.
  again =
      1,  ///< Busy right now (transport buffer full, a slot or answer not there yet); the same call may succeed later.
  need_more,  ///< A fragmented message is incomplete; more input is expected.
  // Local, caller-side problems.
  not_enough_space,   ///< An output buffer or fixed-size table is too small.
  invalid_argument,   ///< An argument is malformed (e.g. JSON text that does not parse).
  queue_full,         ///< A fixed-capacity table (pending requests, handlers) is full.
  payload_too_large,  ///< A payload exceeds the configured server limit (default 65536 bytes).
  not_connected,      ///< The operation needs a connection to the server and there is none (never "not opened").
  // Inbound data problems.
  no_match,         ///< A topic does not belong to the feature that was asked (a topic parser's "not mine").
  malformed,        ///< Inbound payload is not valid JSON or lacks a required member.
  wrong_type,       ///< A JSON value has a different type than requested.
  unknown_request,  ///< A response names a request id nobody is waiting for.
  unknown_topic,    ///< An inbound message arrived on a topic no feature handles.
  // Outcomes of requests.
  timeout,               ///< No answer before the deadline.
  disconnected,          ///< The connection dropped while the request was pending.
  server_error,          ///< The server answered with an error (e.g. {"error":"..."} for RPC).
  unknown_method,        ///< A server-side RPC named a method no handler is registered for.
  subscription_refused,  ///< The broker's SUBACK refused a subscription (0x80).
  cancelled,             ///< The request was cancelled by the application or by shutdown.
  // Connection outcomes.
  refused_credentials,  ///< CONNACK 4/5: bad token, user name or password; not authorized.
  identifier_rejected,  ///< CONNACK 2: client id not accepted.
  server_unavailable,   ///< CONNACK 3: server unavailable or rate limited.
  refused,              ///< CONNACK with another refusal code (protocol version, ...).
  unreachable,          ///< TCP connect failed: host unknown, port closed, network down.
  tls_error,            ///< TLS setup or handshake failed.
  transport_error,      ///< Any other error reported by the MQTT library or the network (never storage, never the OS).
  // Provisioning outcomes.
  provision_not_found,         ///< Provisioning NOT_FOUND ("Provision data was not found!"): bad key or secret.
  provision_failed,            ///< Provisioning FAILURE: name exists, already provisioned, or credentials collide.
  stored_credentials_refused,  ///< The server refused stored credentials and reprovisioning is not allowed.
  unknown_device,              ///< A gateway message names a sub-device that is not connected through the gateway.
  // TLS failures with a known cause (errc::tls_error stays the fallback for any other).
  tls_unknown_ca,                  ///< The server certificate does not chain to a trusted CA.
  tls_hostname_mismatch,           ///< The server certificate is not issued for the host connected to.
  tls_certificate_expired,         ///< The server certificate has expired or is not valid yet.
  tls_client_certificate_refused,  ///< The server refused our client certificate, or required one.
  tls_bad_client_key,              ///< The client certificate or key cannot be loaded (wrong key password, no match).
  // Storage.
  store_locked,          ///< The offline store is in use by another process (one process per store).
  insecure_permissions,  ///< A file holding secrets is accessible by group or others (chmod 600 it).
  storage_error,         ///< The storage medium failed: a file or flash/NVS open, read, write, fsync, rename or remove.
  not_open,  ///< The object was never opened, started or attached (offline queue before open(), OTA sink before
             ///< begin(), a registry or gateway not attached to a session).
  // Added later (at the end, so that the earlier values keep their numbers).
  not_found,       ///< A thing looked up by key or id does not exist: a storage key, file or segment, a pending
                   ///< update, a protobuf field name, a queue entry.
  out_of_memory,   ///< A heap allocation (malloc, new(nothrow), the MQTT library's) failed.
  would_deadlock,  ///< A blocking call made on the client's own thread or task (from a callback) would wait on itself.
  system_error,    ///< An operating-system call other than storage or the network failed (fork, exec, pipe, ...).
  command_failed,  ///< An external command run for the application (the CLI's `--exec`) exited non-zero or was killed.
};

/// @brief A short, stable, lower-case name for an error code, e.g. "timeout".
const char* to_string(errc e) noexcept;

/// @brief True for the TLS failures: tls_error, tls_unknown_ca, tls_hostname_mismatch,
/// tls_certificate_expired, tls_client_certificate_refused, tls_bad_client_key.
constexpr bool is_tls_failure(errc e) noexcept {
  return e == errc::tls_error || e == errc::tls_unknown_ca || e == errc::tls_hostname_mismatch ||
         e == errc::tls_certificate_expired || e == errc::tls_client_certificate_refused ||
         e == errc::tls_bad_client_key;
}

/// @brief Handler called when a precondition fails. Replaceable; the default aborts.
using contract_handler = void (*)(const char* condition, const char* file, int line);
/// @brief Installs a new precondition handler; returns the previous one.
contract_handler set_contract_handler(contract_handler h) noexcept;
namespace detail {
[[noreturn]] void contract_failed(const char* condition, const char* file, int line) noexcept;
}  // namespace detail

#ifndef TBMQTT_NO_CONTRACTS
/// Checks a precondition; a violation calls the contract handler (see set_contract_handler).
#define TBMQTT_EXPECTS(cond) \
  ((cond) ? static_cast<void>(0) : ::tbmqtt::detail::contract_failed(#cond, __FILE__, __LINE__))
#else
#define TBMQTT_EXPECTS(cond) static_cast<void>(0)
#endif

/// @brief Either a value of type T or an errc. Cheap, trivially movable, no exceptions.
template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : value_(std::move(value)), error_{} {}  // NOLINT: implicit on purpose
  result(errc e) : value_{}, error_(e) {}                  // NOLINT: implicit on purpose
  bool ok() const noexcept { return error_ == errc{}; }
  explicit operator bool() const noexcept { return ok(); }
  errc error() const noexcept { return error_; }
  /// @pre ok()
  const T& value() const& {
    TBMQTT_EXPECTS(ok());
    return value_;
  }
  T& value() & {
    TBMQTT_EXPECTS(ok());
    return value_;
  }
  T value_or(T fallback) const { return ok() ? value_ : fallback; }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }

 private:
  T value_;
  errc error_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() : error_{} {}
  result(errc e) : error_(e) {}  // NOLINT: implicit on purpose
  bool ok() const noexcept { return error_ == errc{}; }
  explicit operator bool() const noexcept { return ok(); }
  errc error() const noexcept { return error_; }

 private:
  errc error_;
};

/// Returns early from the enclosing function with the error of `expr` if it failed.
#define TBMQTT_TRY(expr)                                             \
  do {                                                               \
    auto tbmqtt_try_result_ = (expr);                                \
    if (!tbmqtt_try_result_.ok()) return tbmqtt_try_result_.error(); \
  } while (0)

}  // namespace tbmqtt
