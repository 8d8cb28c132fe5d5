#include "tbmqtt/provision.hpp"

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

// Reads a string member, unescaping into the front of `scratch` (which then advances).
// Absent or null gives an empty view when `optional`.
result<std::string_view> read_string(json::value v, span<char>& scratch, bool optional) noexcept {
  if (optional && (!v.present() || v.is_null())) return std::string_view{};
  if (!v.is_string()) return errc::malformed;
  auto plain = v.as_string();
  if (plain) return *plain;
  auto decoded = v.as_string(scratch);
  if (!decoded) return decoded.error() == errc::not_enough_space ? errc::not_enough_space : errc::malformed;
  scratch = scratch.subspan(decoded->size());
  return *decoded;
}

bool string_is(json::value v, std::string_view text) noexcept {
  auto s = v.as_string();
  return s && *s == text;
}

}  // namespace

result<provisioned_credentials> parse_provision_response(std::string_view payload, span<char> scratch) noexcept {
  auto doc = json::value::parse(payload);
  if (!doc || !doc->is_object()) return errc::malformed;
  json::value status = (*doc)["status"];
  if (!status.is_string()) return errc::malformed;
  if (string_is(status, "NOT_FOUND")) return errc::provision_not_found;
  if (string_is(status, "FAILURE")) return errc::provision_failed;
  if (!string_is(status, "SUCCESS")) return errc::server_error;

  json::value type = (*doc)["credentialsType"];
  json::value value = (*doc)["credentialsValue"];
  provisioned_credentials c;
  if (string_is(type, "ACCESS_TOKEN")) {
    c.type = provision_credentials_type::access_token;
    auto t = read_string(value, scratch, false);
    if (!t) return t.error();
    if (t->empty()) return errc::malformed;
    c.token = *t;
  } else if (string_is(type, "MQTT_BASIC")) {
    c.type = provision_credentials_type::mqtt_basic;
    if (!value.is_object()) return errc::malformed;
    auto id = read_string(value["clientId"], scratch, true);
    if (!id) return id.error();
    auto user = read_string(value["userName"], scratch, true);
    if (!user) return user.error();
    auto pass = read_string(value["password"], scratch, true);
    if (!pass) return pass.error();
    if (id->empty() && user->empty()) return errc::malformed;
    c.client_id = *id;
    c.username = *user;
    c.password = *pass;
  } else if (string_is(type, "X509_CERTIFICATE")) {
    c.type = provision_credentials_type::x509;
    auto cert = read_string(value, scratch, false);
    if (!cert) return cert.error();
    if (cert->empty()) return errc::malformed;
    c.certificate = *cert;
  } else {
    return errc::malformed;
  }
  return c;
}

}  // namespace tbmqtt
