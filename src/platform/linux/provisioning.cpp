#include "tbmqtt/provisioning.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "../../transport/mosquitto/mosquitto_transport.hpp"
#include "tbmqtt/detail/provision_exchange.hpp"
#include "tbmqtt/json.hpp"

namespace tbmqtt {
namespace {

using clock_type = std::chrono::steady_clock;

// One provisioning round trip on the caller's thread: libmosquitto's callbacks feed the portable
// exchange (CONNACK -> SUBSCRIBE -> SUBACK -> PUBLISH -> response), which the ESP-IDF call shares.
class provisioning_session final : public detail::transport_listener {
 public:
  result<std::string_view> run(detail::mosquitto_transport& t, std::string_view payload, span<char> response,
                               clock_type::time_point deadline) {
    exchange_.emplace(t, payload, response);
    if (auto r = t.connect(); !r) return r.error();
    while (!exchange_->finished()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
      if (left <= 0) {
        exchange_->on_deadline();
        break;
      }
      if (auto r = t.loop(static_cast<int>(left < 100 ? left : 100)); !r)
        exchange_->on_connection_lost(r.error() == errc::not_connected ? errc::unreachable : r.error());
    }
    if (connected_) {
      t.disconnect();
      (void)t.loop(10);
    }
    return exchange_->outcome();
  }

  void on_connack(errc result) override {
    connected_ = result == errc{};
    exchange_->on_connack(result);
  }
  void on_connection_lost(errc reason) override {
    connected_ = false;
    exchange_->on_connection_lost(reason);
  }
  void on_message(std::string_view topic, span<const std::byte> payload) override {
    exchange_->on_message_fragment(topic, payload, 0, payload.size());
  }
  void on_suback(message_id id, std::uint8_t granted) override { exchange_->on_suback(id, granted); }
  void on_puback(message_id) override {}

 private:
  std::optional<detail::provision_exchange> exchange_;
  bool connected_ = false;
};

credentials to_owned(const provisioned_credentials& c) {
  credentials o;
  o.type = c.type;
  o.token = std::string(c.token);
  o.client_id = std::string(c.client_id);
  o.username = std::string(c.username);
  o.password = std::string(c.password);
  o.certificate = std::string(c.certificate);
  return o;
}

std::string_view type_name(provision_credentials_type t) {
  switch (t) {
    case provision_credentials_type::mqtt_basic: return "MQTT_BASIC";
    case provision_credentials_type::x509: return "X509_CERTIFICATE";
    default: return "ACCESS_TOKEN";
  }
}

}  // namespace

result<credentials> provision(const client_options& server, const provision_request& request,
                              std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  std::size_t size = 256;
  for (auto s : {request.device_name, request.key, request.secret, request.token, request.client_id,
                 request.username, request.password, request.certificate_pem})
    size += s.size() * 6;
  std::vector<char> buf(size);
  auto payload = build_provision_request(span<char>{buf.data(), buf.size()}, request);
  if (!payload) return payload.error();

  detail::mqtt_endpoint e;
  e.host = server.host;
  e.port = server.port != 0 ? server.port : (server.tls.enabled ? 8883 : 1883);
  e.username = std::string(provision_username);
  e.keep_alive_s = static_cast<int>(server.keep_alive.count());
  e.tls = server.tls.enabled;
  e.ca_file = server.tls.ca_file;
  e.ca_dir = server.tls.ca_dir;
  e.tls_insecure = server.tls.insecure;

  provisioning_session session;
  detail::mosquitto_transport transport{e, session};
  std::vector<char> answer(TBMQTT_DEFAULT_MAX_PAYLOAD);  // the largest message the server sends
  auto response = session.run(transport, *payload, span<char>{answer.data(), answer.size()}, deadline);
  if (!response) return response.error();
  std::vector<char> scratch(response->size() + 1);
  auto parsed = parse_provision_response(*response, span<char>{scratch.data(), scratch.size()});
  if (!parsed) return parsed.error();
  return to_owned(*parsed);
}

std::string to_json(const credentials& c) {
  std::vector<char> buf(64 + 6 * (c.token.size() + c.client_id.size() + c.username.size() + c.password.size() +
                                  c.certificate.size()));
  json::writer w{span<char>{buf.data(), buf.size()}};
  w.begin_object().key("credentialsType").value(type_name(c.type));
  switch (c.type) {
    case provision_credentials_type::mqtt_basic:
      w.key("clientId").value(c.client_id).key("username").value(c.username).key("password").value(c.password);
      break;
    case provision_credentials_type::x509:
      w.key("certificate").value(c.certificate);
      break;
    default:
      w.key("token").value(c.token);
      break;
  }
  w.end_object();
  auto text = w.finish();
  return text ? std::string(*text) : std::string("{}");
}

result<void> save_credentials(const std::string& path, const credentials& c) {
  const std::string text = to_json(c) + "\n";
  std::string dir = ".";
  if (auto slash = path.rfind('/'); slash != std::string::npos) dir = slash == 0 ? "/" : path.substr(0, slash);
  std::string tmp = path + ".tmpXXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return errc::invalid_argument;
  bool ok = ::fchmod(fd, 0600) == 0;
  for (std::size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  ok = ok && ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    ::unlink(tmp.c_str());
    return errc::invalid_argument;
  }
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); dfd >= 0) {
    (void)::fsync(dfd);  // make the rename durable
    ::close(dfd);
  }
  return {};
}

result<credentials> load_credentials(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errc::invalid_argument;
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  auto doc = json::value::parse(text);
  if (!doc || !doc->is_object()) return errc::malformed;
  std::vector<char> scratch(text.size() + 1);
  auto read = [&](std::string_view key, std::string& out) -> bool {
    json::value v = (*doc)[key];
    if (!v.present() || v.is_null()) return true;
    auto s = v.as_string(span<char>{scratch.data(), scratch.size()});
    if (!s) return false;
    out = std::string(*s);
    return true;
  };
  std::string type;
  credentials c;
  if (!read("credentialsType", type) || !read("token", c.token) || !read("clientId", c.client_id) ||
      !read("username", c.username) || !read("password", c.password) || !read("certificate", c.certificate))
    return errc::malformed;
  if (type == "ACCESS_TOKEN" && !c.token.empty()) c.type = provision_credentials_type::access_token;
  else if (type == "MQTT_BASIC" && !(c.client_id.empty() && c.username.empty())) c.type = provision_credentials_type::mqtt_basic;
  else if (type == "X509_CERTIFICATE" && !c.certificate.empty()) c.type = provision_credentials_type::x509;
  else return errc::malformed;
  return c;
}

void apply_credentials(client_options& options, const credentials& c) {
  switch (c.type) {
    case provision_credentials_type::access_token:
      options.access_token = c.token;
      options.username.clear();
      options.password.clear();
      break;
    case provision_credentials_type::mqtt_basic:
      options.access_token.clear();
      options.client_id = c.client_id;
      options.username = c.username;
      options.password = c.password;
      break;
    default:
      break;
  }
}

}  // namespace tbmqtt
