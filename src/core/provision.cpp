#include "tbmqtt/provision.hpp"

#include "credential_text.hpp"
#include "tbmqtt/json.hpp"

namespace tbmqtt {

result<std::string_view> build_provision_request(span<char> out, const provision_request& r) noexcept {
  using type = provision_credentials_type;
  if (r.key.empty() || r.secret.empty()) return errc::invalid_argument;  // the server would just disconnect
  json::writer w{out};
  w.begin_object();
  if (!r.device_name.empty()) w.key("deviceName").value(r.device_name);
  w.key("provisionDeviceKey").value(r.key);
  w.key("provisionDeviceSecret").value(r.secret);
  switch (r.credentials_type) {
    case type::server_token: break;
    case type::access_token:
      if (r.token.empty()) return errc::invalid_argument;
      w.key("credentialsType").value("ACCESS_TOKEN").key("token").value(r.token);
      break;
    case type::mqtt_basic:
      if (r.client_id.empty() && r.username.empty()) return errc::invalid_argument;
      w.key("credentialsType").value("MQTT_BASIC");
      if (!r.client_id.empty()) w.key("clientId").value(r.client_id);
      if (!r.username.empty()) w.key("username").value(r.username);
      if (!r.password.empty()) w.key("password").value(r.password);
      break;
    case type::x509:
      if (r.certificate_pem.empty()) return errc::invalid_argument;
      w.key("credentialsType").value("X509_CERTIFICATE").key("hash").value(r.certificate_pem);
      break;
    default: return errc::invalid_argument;
  }
  if (r.gateway) w.key("gateway").value(true);
  w.end_object();
  return w.finish();
}

namespace {

using type = provision_credentials_type;

bool string_is(json::value v, std::string_view text) noexcept {
  auto s = v.as_string();
  return s && *s == text;
}

errc read_answer(std::string_view payload, credentials& c) noexcept {
  auto doc = json::value::parse(payload);
  if (!doc || !doc->is_object()) return errc::malformed;
  json::value status = (*doc)["status"];
  if (!status.is_string()) return errc::malformed;
  if (string_is(status, "NOT_FOUND")) return errc::provision_not_found;
  if (string_is(status, "FAILURE")) return errc::provision_failed;
  if (!string_is(status, "SUCCESS")) return errc::server_error;

  json::value kind = (*doc)["credentialsType"];
  json::value value = (*doc)["credentialsValue"];
  if (string_is(kind, "ACCESS_TOKEN")) {
    c.type = type::access_token;
    if (errc e = detail::read_text(value, c.token, false); e != errc{}) return e;
  } else if (string_is(kind, "MQTT_BASIC")) {
    c.type = type::mqtt_basic;
    if (!value.is_object()) return errc::malformed;
    for (errc e : {detail::read_text(value["clientId"], c.client_id, true),
                   detail::read_text(value["userName"], c.username, true),
                   detail::read_text(value["password"], c.password, true)})
      if (e != errc{}) return e;
  } else if (string_is(kind, "X509_CERTIFICATE")) {
    c.type = type::x509;
    if (errc e = detail::read_text(value, c.certificate, false); e != errc{}) return e;
  } else {
    return errc::malformed;
  }
  return c.complete() ? errc{} : errc::malformed;
}

}  // namespace

void credentials::clear() noexcept {
  type = provision_credentials_type::access_token;
  token.clear();
  client_id.clear();
  username.clear();
  password.clear();
  certificate.clear();
}

bool credentials::complete() const noexcept {
  switch (type) {
    case provision_credentials_type::access_token: return !token.empty();
    case provision_credentials_type::mqtt_basic: return !client_id.empty() || !username.empty();
    case provision_credentials_type::x509: return !certificate.empty();
    default: return false;
  }
}

result<void> credentials::assign_access_token(std::string_view t) noexcept {
  clear();
  if (t.empty()) return errc::invalid_argument;
  if (!token.assign(t)) return errc::not_enough_space;
  return {};
}

result<void> credentials::assign_mqtt_basic(std::string_view id, std::string_view user,
                                            std::string_view pass) noexcept {
  clear();
  if (id.empty() && user.empty()) return errc::invalid_argument;
  type = provision_credentials_type::mqtt_basic;
  if (!client_id.assign(id) || !username.assign(user) || !password.assign(pass)) {
    clear();
    return errc::not_enough_space;
  }
  return {};
}

result<void> credentials::assign_x509(std::string_view cert) noexcept {
  clear();
  if (cert.empty()) return errc::invalid_argument;
  type = provision_credentials_type::x509;
  if (!certificate.assign(cert)) {
    clear();
    return errc::not_enough_space;
  }
  return {};
}

result<void> parse_provision_response(std::string_view payload, credentials& out) noexcept {
  out.clear();
  const errc e = read_answer(payload, out);
  if (e == errc{}) return {};
  out.clear();
  return e;
}

}  // namespace tbmqtt
