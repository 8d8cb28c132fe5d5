// Shared by the Linux provisioning examples pd11..px00: `PROGRAM HOST PORT KEY SECRET
// CREDENTIALS_FILE DEVICE_NAME VARIANT...` and the flow they run: provision (pd/ps: one round
// trip; px00: the credential lifecycle, which reuses saved credentials), save the credentials
// (mode 0600, before use), connect with them, send one telemetry message. Each example fills in
// only what it asks for (its credentials type and transport security).
#pragma once

#include <tbmqtt/linux/provisioned_client.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "auth_example.hpp"

namespace example {

/// One provisioning example's settings.
struct provisioning {
  tbmqtt::client_options server;      ///< Where to provision: host, port, TLS trust.
  tbmqtt::client_options device;      ///< How to connect afterwards (credentials come from provisioning).
  tbmqtt::provision_request request;  ///< Key, secret, device name; the example sets the credentials.
  std::string credentials_file;       ///< Where the credentials are saved.
  std::string certificate_pem;        ///< X.509: the certificate request.certificate_pem points into.
};

/// Fills `p` from HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME (an empty name lets the
/// server choose); returns the `count` arguments after them, or nullptr after printing the usage.
inline char** provision_args(int argc, char** argv, const char* usage, int count, provisioning& p) {
  const std::string all = std::string("KEY SECRET CREDENTIALS_FILE DEVICE_NAME ") + usage;
  char** arg = auth_args(argc, argv, all.c_str(), count + 4, p.server);
  if (arg == nullptr) return nullptr;
  p.request.key = arg[0];
  p.request.secret = arg[1];
  p.credentials_file = arg[2];
  p.request.device_name = arg[3];
  p.device = p.server;
  return arg + 4;
}

/// Provisioning and connecting verify the server against `ca_file` (one-way TLS).
inline void use_tls(provisioning& p, const char* ca_file) {
  for (tbmqtt::client_options* o : {&p.server, &p.device}) {
    o->tls.enabled = true;
    o->tls.ca = ca_file;
  }
}

/// Reads the X.509 certificate to register; false (printed) when it cannot be read.
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

/// Exit status for a failed provisioning, as the `tbmqtt` CLI: 3 connection (refused,
/// unreachable, TLS, lost), 4 timeout, 5 the server's answer (provision_not_found,
/// provision_failed, ...), 6 saved credentials refused (stored_credentials_refused), 1 anything
/// else.
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

/// One provisioning round trip (no retries), the credentials saved to `p.credentials_file`
/// (mode 0600, atomically) before use; then connect `p.device` with them and send
/// `{"example":"<id>"}` once (send_once). Secrets are never printed. Exit status: send_once's
/// (0 sent, 3 connect failed, 1 not delivered), or provision_exit_code(...) when provisioning
/// failed, 1 when the file cannot be written.
inline int provision_and_send(provisioning& p, const char* id) {
  auto got = tbmqtt::provision(p.server, p.request, std::chrono::seconds(10));
  if (!got) {
    std::fprintf(stderr, "%s: provisioning failed: %s\n", id, tbmqtt::to_string(got.error()));
    return provision_exit_code(got.error());
  }
  if (auto saved = tbmqtt::save_credentials(p.credentials_file, *got); !saved) {
    std::fprintf(stderr, "%s: cannot save %s: %s\n", id, p.credentials_file.c_str(), tbmqtt::to_string(saved.error()));
    return 1;
  }
  std::printf("%s: provisioned, credentials saved to %s\n", id, p.credentials_file.c_str());
  tbmqtt::apply_credentials(p.device, *got);
  return send_once(p.device, id);
}

/// The credential lifecycle (tbmqtt::provisioned_client): the credentials saved in
/// `p.credentials_file`, else provisioning with retries after 0, 1, 2, 4, ... s (at most
/// `max_attempts` round trips) and saving them before use; then send `{"example":"<id>"}` once.
/// Exit status: 0 sent, 1 not delivered; on failure the typed error is printed and the status
/// is provision_exit_code(...), which gives 6 for stored_credentials_refused (saved credentials
/// the server refuses; the file is kept) as the `tbmqtt` CLI does.
inline int provision_flow_and_send(provisioning& p, const char* id, std::uint32_t max_attempts) {
  tbmqtt::provisioning_options flow;
  flow.request = p.request;
  flow.credentials_file = p.credentials_file;
  flow.max_attempts = max_attempts;
  flow.on_retry = [id](std::uint32_t attempt, tbmqtt::errc error, std::chrono::milliseconds wait) {
    std::fprintf(stderr, "%s: provisioning attempt %u failed: %s; next in %lld ms\n", id,
                 static_cast<unsigned>(attempt), tbmqtt::to_string(error), static_cast<long long>(wait.count()));
  };
  tbmqtt::provisioned_client device{p.device, flow};
  if (auto r = device.connect(std::chrono::seconds(10)); !r) {
    std::fprintf(stderr, "%s: failed: %s\n", id, tbmqtt::to_string(r.error()));
    return provision_exit_code(r.error());
  }
  if (device.provisioned())
    std::printf("%s: provisioned, credentials saved to %s\n", id, p.credentials_file.c_str());
  else
    std::printf("%s: using saved credentials from %s\n", id, p.credentials_file.c_str());
  return send_once(device.get(), id);
}

}  // namespace example
