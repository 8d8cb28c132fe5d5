#include "tbmqtt/errc.hpp"

#include <cstdlib>

namespace tbmqtt {

const char* to_string(errc e) noexcept {
  switch (e) {
    case errc::again: return "again";
    case errc::need_more: return "need_more";
    case errc::not_enough_space: return "not_enough_space";
    case errc::invalid_argument: return "invalid_argument";
    case errc::queue_full: return "queue_full";
    case errc::payload_too_large: return "payload_too_large";
    case errc::not_connected: return "not_connected";
    case errc::no_match: return "no_match";
    case errc::malformed: return "malformed";
    case errc::wrong_type: return "wrong_type";
    case errc::unknown_request: return "unknown_request";
    case errc::unknown_topic: return "unknown_topic";
    case errc::timeout: return "timeout";
    case errc::disconnected: return "disconnected";
    case errc::server_error: return "server_error";
    case errc::unknown_method: return "unknown_method";
    case errc::subscription_refused: return "subscription_refused";
    case errc::cancelled: return "cancelled";
    case errc::refused_credentials: return "refused_credentials";
    case errc::identifier_rejected: return "identifier_rejected";
    case errc::server_unavailable: return "server_unavailable";
    case errc::refused: return "refused";
    case errc::unreachable: return "unreachable";
    case errc::tls_error: return "tls_error";
    case errc::transport_error: return "transport_error";
    case errc::provision_not_found: return "provision_not_found";
    case errc::provision_failed: return "provision_failed";
    case errc::stored_credentials_refused: return "stored_credentials_refused";
    case errc::unknown_device: return "unknown_device";
    case errc::tls_unknown_ca: return "tls_unknown_ca";
    case errc::tls_hostname_mismatch: return "tls_hostname_mismatch";
    case errc::tls_certificate_expired: return "tls_certificate_expired";
    case errc::tls_client_certificate_refused: return "tls_client_certificate_refused";
    case errc::tls_bad_client_key: return "tls_bad_client_key";
    case errc::store_locked: return "store_locked";
    case errc::insecure_permissions: return "insecure_permissions";
    case errc::storage_error: return "storage_error";
    case errc::not_open: return "not_open";
    case errc::not_found: return "not_found";
    case errc::out_of_memory: return "out_of_memory";
    case errc::would_deadlock: return "would_deadlock";
    case errc::system_error: return "system_error";
    case errc::command_failed: return "command_failed";
  }
  return "ok";
}

namespace {
void default_contract_handler(const char*, const char*, int) { std::abort(); }
contract_handler current_handler = default_contract_handler;
}  // namespace

contract_handler set_contract_handler(contract_handler h) noexcept {
  contract_handler previous = current_handler;
  current_handler = h ? h : default_contract_handler;
  return previous;
}

namespace detail {
void contract_failed(const char* condition, const char* file, int line) noexcept {
  current_handler(condition, file, line);
  std::abort();  // a handler that returns cannot resume the violated contract
}
}  // namespace detail

}  // namespace tbmqtt
