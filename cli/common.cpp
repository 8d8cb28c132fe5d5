#include "common.hpp"

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace tbmqtt::cli {

int exit_code(errc e) noexcept {
  if (e == errc{}) return exit_ok;
  switch (e) {
    case errc::invalid_argument:
    case errc::payload_too_large:  // the user's own data is too big for the server
      return exit_usage;
    case errc::refused_credentials:
    case errc::identifier_rejected:
    case errc::server_unavailable:
    case errc::refused:
    case errc::unreachable:
    case errc::tls_error:
    case errc::tls_unknown_ca:
    case errc::tls_hostname_mismatch:
    case errc::tls_certificate_expired:
    case errc::tls_client_certificate_refused:
    case errc::tls_bad_client_key:
    case errc::disconnected:  // lost the broker while waiting
      return exit_connection;
    case errc::timeout:
      return exit_timeout;
    case errc::malformed:
    case errc::wrong_type:
    case errc::server_error:
    case errc::unknown_method:
    case errc::unknown_request:
    case errc::subscription_refused:
    case errc::provision_not_found:
    case errc::provision_failed:
    case errc::unknown_device:
      return exit_server;
    case errc::stored_credentials_refused:
      return exit_stored_refused;
    case errc::cancelled:
      return exit_interrupted;
    default:
      return exit_other;
  }
}

void fail(std::string what, errc code) { throw failure(std::move(what), code); }

void report_message(std::string_view what) {
  std::string line = "tbmqtt: ";
  line.append(what);
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';  // exactly one line
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void report_error(std::string_view what, errc code) {
  std::string line{what};
  line += ": ";
  line += to_string(code);
  report_message(line);
}

std::chrono::milliseconds global_options::timeout() const {
  return std::chrono::milliseconds(static_cast<long long>(std::llround(timeout_s * 1000.0)));
}

void add_global_options(CLI::App& app, global_options& o) {
  const char* group = "Connection";
  app.add_option("--host", o.host, "ThingsBoard MQTT host")->capture_default_str()->group(group);
  app.add_option("--port", o.port, "MQTT port (default 1883; 8883 with --tls)")
      ->check(CLI::Range(1, 65535))
      ->group(group);
  app.add_option("--token", o.token, "Device access token (or env TBMQTT_TOKEN)")
      ->envname("TBMQTT_TOKEN")
      ->group(group);
  app.add_option("--client-id", o.client_id, "MQTT client id")->group(group);
  app.add_option("--username", o.username, "MQTT basic user name")->group(group);
  app.add_option("--password", o.password, "MQTT basic password")->group(group);
  app.add_flag("--tls", o.tls, "Use TLS")->group(group);
  app.add_option("--ca-file", o.ca_file, "PEM file of trusted CAs")->check(CLI::ExistingFile)->group(group);
  app.add_option("--cert-file", o.cert_file, "Client certificate (PEM)")->check(CLI::ExistingFile)->group(group);
  app.add_option("--key-file", o.key_file, "Client private key (PEM)")->check(CLI::ExistingFile)->group(group);
  app.add_option("--ca-dir", o.ca_dir, "Directory of hashed trusted CAs (openssl rehash)")
      ->check(CLI::ExistingDirectory)
      ->group(group);
  // Not an option of its own: a password on the command line is visible to every user (ps).
  app.add_option("--key-password-file", o.key_password_file,
                 "File whose first line is the --key-file password (or env TBMQTT_KEY_PASSWORD)")
      ->check(CLI::ExistingFile)
      ->group(group);
  app.add_flag("--insecure", o.insecure, "Skip server certificate checks (TLS)")->group(group);
  app.add_option("--qos", o.qos, "QoS of published messages: 0 or 1")
      ->check(CLI::IsMember({0, 1}))
      ->capture_default_str()
      ->group(group);
  app.add_option("--timeout", o.timeout_s, "Seconds to wait for connect, acks and answers")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(group);
  const char* store = "Store-and-forward";
  app.add_option("--offline-store", o.offline_store,
                 "Directory that keeps QoS 1 telemetry/attributes until acknowledged (across runs and crashes; one process at a time)")
      ->group(store);
  app.add_option("--offline-max", o.offline_max, "Messages the offline store keeps (a smaller value later strands none)")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str()
      ->group(store);
  app.add_option("--offline-full", o.offline_full, "When the offline store is full: drop-oldest or refuse")
      ->check(CLI::IsMember({"drop-oldest", "refuse"}))
      ->capture_default_str()
      ->group(store);
  app.add_flag("--offline-no-fsync", o.offline_no_fsync,
               "Store without fsync: much faster; survives a crash or kill of tbmqtt, not a power loss")
      ->group(store);
  app.add_option("--offline-commit", o.offline_commit,
                 "Group commit: one fsync per this many stored messages (1: every message is durable at once)")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str()
      ->group(store);
  app.add_option("--offline-commit-ms", o.offline_commit_ms,
                 "Group commit: a stored message waits at most this many ms for its fsync")
      ->check(CLI::Range(0, 60000))
      ->capture_default_str()
      ->group(store);
  app.add_flag("--pace", o.pace,
               "Ask the server for its rate limits (getSessionLimits) and keep to them; needs --offline-store")
      ->group(store);
}

std::string key_password(const global_options& o) {
  if (o.key_password_file.empty()) {
    const char* env = std::getenv("TBMQTT_KEY_PASSWORD");
    return env != nullptr ? env : "";
  }
  std::ifstream in(o.key_password_file, std::ios::binary);
  std::string line;
  if (!in || !std::getline(in, line)) fail("cannot read --key-password-file " + o.key_password_file, errc::invalid_argument);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

client_options to_client_options(const global_options& o) {
  // A TLS client certificate is a credential of its own (ThingsBoard X.509 authentication).
  if (o.token.empty() && o.client_id.empty() && o.username.empty() && o.cert_file.empty())
    fail("no credentials: give --token (or TBMQTT_TOKEN), --client-id, --username or --cert-file", errc::invalid_argument);
  if (!o.tls && (!o.ca_file.empty() || !o.ca_dir.empty() || !o.cert_file.empty() || !o.key_file.empty() || o.insecure))
    fail("--ca-file, --ca-dir, --cert-file, --key-file and --insecure need --tls", errc::invalid_argument);
  if (o.cert_file.empty() != o.key_file.empty())
    fail("--cert-file and --key-file go together", errc::invalid_argument);
  if (!o.key_password_file.empty() && o.key_file.empty())
    fail("--key-password-file needs --key-file", errc::invalid_argument);
  client_options c;
  c.host = o.host;
  c.port = static_cast<std::uint16_t>(o.port);
  c.access_token = o.token;
  c.client_id = o.client_id;
  c.username = o.username;
  c.password = o.password;
  c.tls.enabled = o.tls;
  c.tls.ca_file = o.ca_file;
  c.tls.ca_dir = o.ca_dir;
  c.tls.cert_file = o.cert_file;
  c.tls.key_file = o.key_file;
  c.tls.key_password = key_password(o);
  c.tls.insecure = o.insecure;
  c.default_qos = o.message_qos();
  c.request_timeout = o.timeout();
  if (!o.offline_store.empty() && o.qos == 0) fail("--offline-store needs --qos 1", errc::invalid_argument);
  if (o.pace && o.offline_store.empty()) fail("--pace needs --offline-store", errc::invalid_argument);
  c.rate_limits.learn = o.pace;
  c.offline_store = o.offline_store;
  c.offline_store_sync = !o.offline_no_fsync;
  c.offline_queue.max_messages = static_cast<std::size_t>(o.offline_max);
  c.offline_queue.max_bytes = static_cast<std::size_t>(o.offline_max) * c.max_payload;  // the count is the limit
  c.offline_queue.when_full = o.offline_full == "refuse" ? queue_full_policy::refuse : queue_full_policy::drop_oldest;
  c.offline_queue.commit_records = static_cast<std::uint32_t>(o.offline_commit);
  c.offline_queue.commit_interval_ms = static_cast<std::uint32_t>(o.offline_commit_ms);
  return c;
}

namespace {
// " (N message(s) kept in DIR)" with an offline store that holds messages; "" otherwise.
std::string kept_note(const client& device, const global_options& o) {
  const std::size_t kept = device.offline_queued();
  if (o.offline_store.empty() || kept == 0) return {};
  return " (" + std::to_string(kept) + " message(s) kept in " + o.offline_store + ")";
}
}  // namespace

void connect_or_fail(client& device, const global_options& o) {
  // Never name the token or password here: only where we tried to go and why.
  if (auto r = device.connect(o.timeout()); !r) {
    const bool refused = r.error() == errc::refused_credentials || r.error() == errc::identifier_rejected;
    fail(connection_context(o, "connect to", r.error()) + kept_note(device, o),
         o.stored_credentials && refused ? errc::stored_credentials_refused : r.error());
  }
}

std::string connection_context(const global_options& o, std::string_view verb, errc e) {
  // Never name the token, password or key password here: only where we tried to go and why.
  std::string what{verb};
  what += " " + o.host + ":" + std::to_string(o.port != 0 ? o.port : (o.tls ? 8883 : 1883));
  switch (e) {
    case errc::tls_unknown_ca:
      return what + " (server certificate not trusted: check --ca-file or --ca-dir)";
    case errc::tls_hostname_mismatch:
      return what + " (server certificate not issued for " + o.host + ")";
    case errc::tls_certificate_expired:
      return what + " (server certificate expired or not valid yet: check it and this clock)";
    case errc::tls_client_certificate_refused:
      return what + " (the server refused the client certificate or needs one: check --cert-file)";
    case errc::tls_bad_client_key:
      return what + " (cannot use --cert-file/--key-file: wrong key password, or key and certificate differ)";
    case errc::tls_error:
      return what + " (TLS set-up or handshake failed)";
    default:
      return what;
  }
}

void flush_or_fail(client& device, const global_options& o, std::string_view what) {
  if (auto r = device.flush(o.timeout()); !r)
    fail(std::string(what) + ": waiting for acknowledgements" + kept_note(device, o), r.error());
}

void print_line(std::string_view line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void require_json(std::string_view text, std::string_view what) {
  if (!json::validate(text)) fail(std::string(what) + ": not valid JSON", errc::invalid_argument);
}

std::string compact_json(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      out += c;
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      out += c;
    }
  }
  return out;
}

std::string quote_json(std::string_view text) {
  std::vector<char> buf(text.size() * 6 + 8);
  json::writer w{span<char>{buf.data(), buf.size()}};
  w.value(text);
  if (auto r = w.finish()) return std::string(*r);
  // Not UTF-8: escape by hand and replace bytes that cannot appear in JSON text.
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x80) {
      out += "\\ufffd";
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

std::vector<std::string> split_keys(std::string_view list) {
  std::vector<std::string> keys;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = list.substr(start, end - start);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) keys.emplace_back(item);
    start = end + 1;
  }
  return keys;
}

std::string join_keys(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) {
    if (!out.empty()) out += ',';
    out += k;
  }
  return out;
}

}  // namespace tbmqtt::cli
