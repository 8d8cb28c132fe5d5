// Shared by the provisioning examples in examples/common (pd11..px00, one source for Linux and
// ESP-IDF): their settings and the flow they run: provision (pd/ps: one round trip; px00: the
// credential lifecycle, which reuses stored credentials), store the credentials before use,
// connect with them, send one telemetry message. The provisioning API is the same on both
// platforms (tbmqtt::provision, apply_credentials, provisioned_client); what differs is here:
// where the credentials are stored (Linux: CREDENTIALS_FILE, mode 0600; ESP-IDF: NVS, namespace
// "tbmqtt") and where the device connects when not where it provisioned. Not part of the library.
//
// Settings (see example_device.hpp):
//   Linux:    PROGRAM HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME VARIANT...
//   ESP-IDF:  TBMQTT_URI, TBMQTT_PROVISION_KEY, TBMQTT_PROVISION_SECRET, TBMQTT_DEVICE_NAME and the
//             variant's (TBMQTT_TOKEN, TBMQTT_CA_FILE, ...); CREDENTIALS_FILE is NVS.
// Exit status, as the `tbmqtt` CLI: 0 sent, 1 not delivered (or not stored), 2 usage,
// 3 connection (refused, unreachable, TLS, lost), 4 timeout, 5 the server's answer
// (provision_not_found, provision_failed, ...), 6 stored credentials refused.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "example_device.hpp"

#if defined(ESP_PLATFORM)
#include "../../src/platform/esp_idf/nvs_storage.hpp"
#include "tbmqtt/esp_idf/provisioned_client.hpp"
#else
#include <fstream>
#include <sstream>

#include "tbmqtt/linux/provisioned_client.hpp"
#endif

namespace example {

/// One provisioning example's settings.
struct provisioning {
  device_options server;              ///< Where to provision: the server and its TLS trust.
  device_options device;              ///< How to connect afterwards (credentials come from provisioning).
  tbmqtt::provision_request request;  ///< Key, secret, device name; the example sets the credentials.
  std::string credentials_file;       ///< Linux: where the credentials are saved (ESP-IDF: NVS).
  std::string certificate_pem;        ///< X.509: the certificate request.certificate_pem points into.
};

#if defined(ESP_PLATFORM)
/// The examples' storage: NVS namespace "tbmqtt".
inline tbmqtt::storage& nvs() {
  static tbmqtt::esp_idf::nvs_storage store{"tbmqtt"};
  return store;
}

/// Where the credentials are stored, for the messages.
inline const char* stored_where(const provisioning&) { return "NVS"; }

/// Stores `c` before it is used.
inline tbmqtt::result<void> store(const provisioning&, const tbmqtt::credentials& c) {
  return tbmqtt::save_credentials(nvs(), c);
}

/// The lifecycle's storage.
inline void store_in(const provisioning&, tbmqtt::provisioning_options& flow) { flow.store = &nvs(); }

/// The device's credentials from `c` (which must outlive the client); a client id unique on
/// linux when provisioning granted none.
inline void use_credentials(provisioning& p, const tbmqtt::credentials& c) {
  tbmqtt::apply_credentials(p.device, c);
  if (p.device.client_id == nullptr) p.device.client_id = settings::client_id();
}

/// X.509: the device connects to TBMQTT_DEVICE_URI when set (ThingsBoard: where it provisioned;
/// the emulator: its X.509 port).
inline bool device_server(int, char**, int, provisioning& p) {
  p.device.uri = settings::device_uri(p.device.uri);
  return true;
}

/// X.509: registers `pem` (the device certificate, PEM text) in the request.
inline bool request_certificate(provisioning& p, const char* pem) {
  p.certificate_pem = pem;
  p.request.credentials_type = tbmqtt::provision_credentials_type::x509;
  p.request.certificate_pem = p.certificate_pem;
  return true;
}
#else
inline const char* stored_where(const provisioning& p) { return p.credentials_file.c_str(); }

/// Saves `c` to CREDENTIALS_FILE (mode 0600, atomically) before it is used.
inline tbmqtt::result<void> store(const provisioning& p, const tbmqtt::credentials& c) {
  return tbmqtt::save_credentials(p.credentials_file, c);
}

inline void store_in(const provisioning& p, tbmqtt::provisioning_options& flow) {
  flow.credentials_file = p.credentials_file;
}

inline void use_credentials(provisioning& p, const tbmqtt::credentials& c) { tbmqtt::apply_credentials(p.device, c); }

/// X.509: the device connects to argv[index] (X509_PORT) on HOST. ThingsBoard serves both on one
/// port; the emulator has a separate mutual-TLS port (see emulator/README.md).
inline bool device_server(int argc, char** argv, int index, provisioning& p) {
  if (argc <= index) return false;
  p.device.port = static_cast<std::uint16_t>(std::atoi(argv[index]));
  return true;
}

/// X.509: registers the certificate in `cert_file` in the request; false (printed) when it
/// cannot be read.
inline bool request_certificate(provisioning& p, const char* cert_file) {
  std::ifstream in(cert_file, std::ios::binary);
  std::ostringstream text;
  if (in.is_open()) text << in.rdbuf();
  if (text.str().empty()) {
    std::fprintf(stderr, "cannot read %s\n", cert_file);
    return false;
  }
  p.certificate_pem = text.str();
  p.request.credentials_type = tbmqtt::provision_credentials_type::x509;
  p.request.certificate_pem = p.certificate_pem;
  return true;
}
#endif

/// KEY SECRET CREDENTIALS_FILE DEVICE_NAME (an empty name lets the server choose) and exactly
/// `count` more settings (`usage`); prints the usage and returns false otherwise.
inline bool provision_settings(int argc, char** argv, const char* usage, int count, provisioning& p) {
  const std::string all = std::string("KEY SECRET CREDENTIALS_FILE DEVICE_NAME ") + usage;
  if (!server_settings(argc, argv, all.c_str(), 4 + count, p.server)) return false;
  p.request.key = text_arg(argc, argv, 3, "KEY", "YOUR_PROVISION_KEY");  // the device profile's
  p.request.secret = text_arg(argc, argv, 4, "SECRET", "YOUR_PROVISION_SECRET");
  p.credentials_file = text_arg(argc, argv, 5, "CREDENTIALS_FILE", "");
  p.request.device_name = text_arg(argc, argv, 6, "DEVICE_NAME", "");
  p.device = p.server;
  return true;
}

/// Provisioning and connecting verify the server against `ca` (one-way TLS).
inline void use_tls(provisioning& p, const char* ca) {
  use_tls(p.server, ca);
  use_tls(p.device, ca);
}

/// The exit status for a failed provisioning (see the top of this file).
inline int provision_exit_code(tbmqtt::errc e) {
  if (tbmqtt::is_tls_failure(e)) return 3;
  switch (e) {
    case tbmqtt::errc::refused_credentials:
    case tbmqtt::errc::identifier_rejected:
    case tbmqtt::errc::server_unavailable:
    case tbmqtt::errc::refused:
    case tbmqtt::errc::unreachable:
    case tbmqtt::errc::disconnected: return 3;
    case tbmqtt::errc::timeout: return 4;
    case tbmqtt::errc::provision_not_found:
    case tbmqtt::errc::provision_failed:
    case tbmqtt::errc::server_error:
    case tbmqtt::errc::malformed:
    case tbmqtt::errc::subscription_refused: return 5;
    case tbmqtt::errc::stored_credentials_refused: return 6;
    default: return 1;
  }
}

/// One provisioning round trip (tbmqtt::provision: no retries), the credentials stored before
/// use; then p.device connects with them and sends `{"example":"<id>"}` once
/// (connect_and_send_once). Secrets are never printed.
inline int provision_and_send(provisioning& p, const char* id) {
  auto granted = std::make_unique<tbmqtt::credentials>();  // ~2.6 KB: off a small task stack
  if (auto r = tbmqtt::provision(p.server, p.request, std::chrono::seconds(10), *granted); !r) {
    std::fprintf(stderr, "%s: provisioning failed: %s\n", id, tbmqtt::to_string(r.error()));
    return provision_exit_code(r.error());
  }
  if (auto r = store(p, *granted); !r) {
    std::fprintf(stderr, "%s: cannot store the credentials in %s: %s\n", id, stored_where(p),
                 tbmqtt::to_string(r.error()));
    return 1;
  }
  std::printf("%s: provisioned, credentials saved to %s\n", id, stored_where(p));
  use_credentials(p, *granted);
  return connect_and_send_once(p.device, id);
}

/// The credential lifecycle (tbmqtt::provisioned_client): the stored credentials, else
/// provisioning with retries after 0, 1, 2, 4, ... s (at most `max_attempts` round trips) and
/// storing them before use; then send `{"example":"<id>"}` once. Stored credentials the server
/// refuses: stored_credentials_refused (exit 6), and they are kept.
inline int provision_flow_and_send(provisioning& p, const char* id, std::uint32_t max_attempts) {
  tbmqtt::provisioning_options flow;
  flow.request = p.request;
  store_in(p, flow);
  flow.max_attempts = max_attempts;
  flow.on_retry = [id](std::uint32_t attempt, tbmqtt::errc error, std::chrono::milliseconds wait) {
    std::fprintf(stderr, "%s: provisioning attempt %u failed: %s; next in %lld ms\n", id,
                 static_cast<unsigned>(attempt), tbmqtt::to_string(error), static_cast<long long>(wait.count()));
  };
  auto device = std::make_unique<tbmqtt::provisioned_client>(p.device, flow);  // holds ~2.6 KB of credentials
  if (auto r = device->connect(std::chrono::seconds(15)); !r) {
    std::fprintf(stderr, "%s: failed: %s\n", id, tbmqtt::to_string(r.error()));
    return provision_exit_code(r.error());
  }
  if (device->provisioned())
    std::printf("%s: provisioned, credentials saved to %s\n", id, stored_where(p));
  else
    std::printf("%s: using saved credentials from %s\n", id, stored_where(p));
  return send_once(device->get(), id);
}

}  // namespace example
