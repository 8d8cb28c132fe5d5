#include "common.hpp"

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

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
    case errc::timeout: return exit_timeout;
    case errc::malformed:
    case errc::wrong_type:
    case errc::server_error:
    case errc::unknown_method:
    case errc::unknown_request:
    case errc::subscription_refused:
    case errc::provision_not_found:
    case errc::provision_failed:
    case errc::unknown_device: return exit_server;
    case errc::stored_credentials_refused: return exit_stored_refused;
    case errc::cancelled: return exit_interrupted;
    default: return exit_other;
  }
}

void fail(std::string what, errc code) { throw failure(std::move(what), code); }
void fail_usage(std::string what) { throw failure(std::move(what), errc::invalid_argument, true); }

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

std::chrono::milliseconds global_options::timeout() const { return timeout_ms; }

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::chrono::milliseconds plain_unit) {
  std::size_t end = 0;
  while (end < text.size() && ((text[end] >= '0' && text[end] <= '9') || text[end] == '.')) ++end;
  const std::string number{text.substr(0, end)};
  const std::string_view unit = text.substr(end);
  if (number.empty() || number == "." || number.find('.') != number.rfind('.')) return std::nullopt;
  double scale = 0;
  if (unit.empty())
    scale = static_cast<double>(plain_unit.count());
  else if (unit == "ms")
    scale = 1;
  else if (unit == "s")
    scale = 1000;
  else if (unit == "m" || unit == "min")
    scale = 60000;
  else if (unit == "h")
    scale = 3600000;
  else
    return std::nullopt;
  const double ms = std::strtod(number.c_str(), nullptr) * scale;
  if (!(ms >= 0) || ms > 4294967295.0) return std::nullopt;  // every consumer keeps 32-bit milliseconds
  return std::chrono::milliseconds(std::llround(ms));
}

CLI::Validator duration_check(std::chrono::milliseconds plain_unit) {
  const std::string unit = plain_unit.count() == 1 ? "ms" : plain_unit.count() == 1000 ? "s" : "";
  return CLI::Validator(
      [plain_unit, unit](std::string& text) -> std::string {
        if (parse_duration(text, plain_unit)) return {};
        return "expected a duration like 500ms, 2s or 1m, at most 49 days (a plain number is in " + unit + "), not " +
               text;
      },
      "DURATION");
}

CLI::Option* add_duration_option(CLI::App& command, const std::string& name, std::chrono::milliseconds& target,
                                 std::chrono::milliseconds plain_unit, const std::string& description, bool positive) {
  auto* opt = command.add_option_function<std::string>(
      name, [&target, plain_unit](const std::string& text) { target = *parse_duration(text, plain_unit); },
      description);
  opt->check(duration_check(plain_unit));
  if (positive)
    opt->check(CLI::Validator(
        [plain_unit](std::string& text) -> std::string {
          auto d = parse_duration(text, plain_unit);
          return d && d->count() > 0 ? std::string() : std::string("must be more than 0 ms");
        },
        ""));
  opt->type_name("DURATION");
  return opt;
}

std::string read_secret_file(const std::string& path, std::string_view option) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  if (!in) fail("cannot read " + std::string(option) + " " + path, errc::invalid_argument);
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

void add_secret_file_option(CLI::App& app, const std::string& name, std::string& target) {
  CLI::Option* secret = app.get_option(name);
  const std::string file_option = name + "-file";
  // Defined after `name`, so its callback runs after that one: the file wins over the
  // environment variable (an explicit option beats the environment).
  app.add_option_function<std::string>(
         file_option, [&target, file_option](const std::string& path) { target = read_secret_file(path, file_option); },
         "File whose first line is the " + name + " value (argv is visible to others in ps)")
      ->type_name("FILE")
      ->group(secret->get_group());
}

void add_global_options(CLI::App& app, global_options& o) {
  add_wire_options(app, o.wire);
  const char* group = "Connection";
  app.add_option("--host", o.host, "ThingsBoard MQTT host")->capture_default_str()->group(group);
  app.add_option("--port", o.port, "MQTT port (default 1883; 8883 with --tls)")
      ->check(CLI::Range(1, 65535))
      ->group(group);
  // Env TBMQTT_TOKEN is the default; only an explicit --token may also be the token a device
  // chooses when it provisions (a forgotten export must not change what is provisioned).
  if (const char* env = std::getenv("TBMQTT_TOKEN"); env != nullptr && *env != '\0') {
    o.token = env;
    o.token_from_env = true;
  }
  app.add_option("--token", o.token, "Device access token (or env TBMQTT_TOKEN, or --token-file; argv shows in ps)")
      ->each([&o](const std::string&) { o.token_from_env = false; })
      ->group(group);
  add_secret_file_option(app, "--token", o.token);
  app.add_option("--client-id", o.client_id, "MQTT client id")->group(group);
  app.add_option("--username", o.username, "MQTT basic user name")->group(group);
  app.add_option("--password", o.password,
                 "MQTT basic password (or env TBMQTT_PASSWORD, or --password-file; argv shows in ps)")
      ->envname("TBMQTT_PASSWORD")
      ->group(group);
  add_secret_file_option(app, "--password", o.password);
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
  add_duration_option(app, "--timeout", o.timeout_ms, std::chrono::seconds(1),
                      "How long to wait for connect, acks and answers: 500ms, 2s, 1m (a plain number: seconds; "
                      "default 10s)")
      ->group(group);
  app.add_flag("--mqtt5-inbound-limit", o.mqtt5_inbound_limit,
               "Connect with MQTT 5 and announce the largest message this client takes (" +
                   std::to_string(client_options{}.max_payload / 1024) +
                   " KiB payload + 2 KiB, the Maximum Packet Size property): a broker that honours it (mosquitto, "
                   "the emulator) discards a larger message instead of sending it, so a huge push costs no memory. "
                   "ThingsBoard accepts MQTT 5 but does not enforce it; MQTT 3.1.1-only servers refuse the connection")
      ->group(group);
  add_duration_option(app, "--keepalive", o.keepalive, std::chrono::seconds(1),
                      "MQTT keep-alive, whole seconds from 5s to 65535s (a plain number: seconds; default 60s); a "
                      "link silent for 1.5 x this is dropped and reconnected")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            const auto d = parse_duration(text, std::chrono::seconds(1));
            if (d && d->count() % 1000 == 0 && *d >= std::chrono::seconds(5) && *d <= std::chrono::seconds(65535))
              return {};
            return "the keep-alive must be whole seconds from 5s to 65535s";
          },
          ""))
      ->group(group);
  const char* store = "Store-and-forward";
  app.add_option("--offline-store", o.offline_store,
                 "Directory that keeps QoS 1 telemetry/attributes until acknowledged (across runs and crashes; one "
                 "process at a time)")
      ->group(store);
  app.add_option("--offline-max", o.offline_max,
                 "Messages the offline store keeps (a smaller value later strands none)")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str()
      ->group(store);
  app.add_option("--offline-full", o.offline_full,
                 "When the offline store is full and no connection came for --timeout: drop-oldest or refuse")
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
  return read_secret_file(o.key_password_file, "--key-password-file");
}

client_options to_client_options(const global_options& o) {
  // A TLS client certificate is a credential of its own (ThingsBoard X.509 authentication).
  if (o.token.empty() && o.client_id.empty() && o.username.empty() && o.cert_file.empty())
    fail_usage("no credentials: give --token (or TBMQTT_TOKEN), --client-id, --username or --cert-file");
  if (!o.tls && (!o.ca_file.empty() || !o.ca_dir.empty() || !o.cert_file.empty() || !o.key_file.empty() || o.insecure))
    fail_usage("--ca-file, --ca-dir, --cert-file, --key-file and --insecure need --tls");
  if (o.cert_file.empty() != o.key_file.empty()) fail_usage("--cert-file and --key-file go together");
  if (!o.key_password_file.empty() && o.key_file.empty()) fail_usage("--key-password-file needs --key-file");
  client_options c;
  c.host = o.host;
  c.port = static_cast<std::uint16_t>(o.port);
  c.access_token = o.token;
  c.client_id = o.client_id;
  c.username = o.username;
  c.password = o.password;
  c.tls.enabled = o.tls;
  c.tls.ca = o.ca_file;
  c.tls.ca_dir = o.ca_dir;
  c.tls.certificate = o.cert_file;
  c.tls.private_key = o.key_file;
  c.tls.key_password = key_password(o);
  c.tls.insecure = o.insecure;
  c.default_qos = o.message_qos();
  c.request_timeout = o.timeout();
  c.keep_alive = std::chrono::duration_cast<std::chrono::seconds>(o.keepalive);
  c.mqtt5_max_packet_size = o.mqtt5_inbound_limit;
  if (!o.offline_store.empty() && o.qos == 0) fail_usage("--offline-store needs --qos 1");
  if (o.pace && o.offline_store.empty()) fail_usage("--pace needs --offline-store");
  c.rate_limits.learn = o.pace;
  c.offline_store = o.offline_store;
  c.offline_store_sync = !o.offline_no_fsync;
  c.offline_queue.max_messages = static_cast<std::size_t>(o.offline_max);
  c.offline_queue.max_bytes = static_cast<std::size_t>(o.offline_max) * c.max_payload;  // the count is the limit
  c.offline_queue.when_full = o.offline_full == "refuse" ? queue_full_policy::refuse : queue_full_policy::drop_oldest;
  c.offline_queue.commit_records = static_cast<std::uint32_t>(o.offline_commit);
  c.offline_queue.commit_interval_ms = static_cast<std::uint32_t>(o.offline_commit_ms);
  c.wire = to_wire_format(o.wire);
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

namespace {
enum class reach { no_name, refused, no_answer, accepted };

// What a plain TCP connection to the server's address finds: the name does not resolve, nothing
// listens (refused), no answer within `wait`, or a listener accepted.
reach probe(const std::string& host, int port, std::chrono::milliseconds wait) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || found == nullptr)
    return reach::no_name;
  reach result = reach::no_answer;
  for (addrinfo* a = found; a != nullptr && result != reach::accepted; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      result = reach::accepted;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(wait.count())) == 1) {
        int error = 0;
        socklen_t len = sizeof error;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (error == 0)
          result = reach::accepted;
        else if (error == ECONNREFUSED && result == reach::no_answer)
          result = reach::refused;
      }
    } else if (errno == ECONNREFUSED) {
      result = reach::refused;
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return result;
}
}  // namespace

std::string unreachable_hint(const global_options& o) {
  const int port = o.port != 0 ? o.port : (o.tls ? 8883 : 1883);
  switch (probe(o.host, port, std::chrono::milliseconds(2000))) {
    case reach::no_name: return " (cannot resolve the host name " + o.host + ": check --host)";
    case reach::refused:
      return " (connection refused: nothing listens on port " + std::to_string(port) +
             "; check --host, --port and that the server runs)";
    case reach::no_answer: return " (no answer: check --host, --port and firewalls)";
    case reach::accepted: break;
  }
  // Something listens but closed the MQTT connection: a TLS listener does that to plain MQTT.
  if (!o.tls) return " (the server closed the connection: does it expect TLS? try --tls)";
  return " (the server closed the connection: check --port)";
}

std::string connection_context(const global_options& o, std::string_view verb, errc e) {
  // Never name the token, password or key password here: only where we tried to go and why.
  std::string what{verb};
  what += " " + o.host + ":" + std::to_string(o.port != 0 ? o.port : (o.tls ? 8883 : 1883));
  switch (e) {
    case errc::unreachable: return what + unreachable_hint(o);
    case errc::refused_credentials:
    case errc::identifier_rejected:
      return what +
             " (the server refused the credentials: check the token (or client id, user name and "
             "password) and that the device exists)";
    case errc::provision_not_found:
      return what + " (no provisioning profile with this key and secret: check --key and --secret)";
    case errc::provision_failed:
      return what +
             " (the server refused to provision: the device name may be taken, or the profile "
             "does not let devices create themselves)";
    case errc::tls_unknown_ca: return what + " (server certificate not trusted: check --ca-file or --ca-dir)";
    case errc::tls_hostname_mismatch: return what + " (server certificate not issued for " + o.host + ")";
    case errc::tls_certificate_expired:
      return what + " (server certificate expired or not valid yet: check it and this clock)";
    case errc::tls_client_certificate_refused:
      return what + " (the server refused the client certificate or needs one: check --cert-file)";
    case errc::tls_bad_client_key:
      return what + " (cannot use --cert-file/--key-file: wrong key password, or key and certificate differ)";
    case errc::tls_error:
      return what + " (TLS handshake failed: the server does not speak TLS on this port? check --port, or drop --tls)";
    default: return what;
  }
}

void report_dropped_messages(client& device, std::string what) {
  const std::size_t limit = client_options{}.max_payload;
  device.on_error([what = std::move(what), limit](errc e, std::string_view context) {
    if (e == errc::payload_too_large)
      return report_error(what + ": dropped a message from the server on " + std::string(context) + ": over the " +
                              std::to_string(limit) + "-byte limit",
                          e);
    // A push that does not parse (or, with --payload protobuf, does not decode) is skipped.
    if (e == errc::malformed) return report_error(what + ": " + std::string(context.substr(0, 200)), e);
    // The others are the library's business (e.g. a late reply).
  });
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

namespace {
const char* syntax_reason(json::syntax_error e) {
  using json::syntax_error;
  switch (e) {
    case syntax_error::expected_value: return "expected a value (object, array, string, number, true, false or null)";
    case syntax_error::single_quotes: return "strings take double quotes (\"), not single quotes";
    case syntax_error::expected_member_name: return "expected a member name in double quotes";
    case syntax_error::expected_colon: return "expected ':' after the member name";
    case syntax_error::expected_comma_or_brace: return "expected ',' or '}'";
    case syntax_error::expected_comma_or_bracket: return "expected ',' or ']'";
    case syntax_error::unterminated_string: return "unterminated string (missing '\"')";
    case syntax_error::control_character: return "control character in a string (escape it)";
    case syntax_error::invalid_escape: return "invalid escape in a string";
    case syntax_error::invalid_utf8: return "a string that is not valid UTF-8";
    case syntax_error::expected_digit: return "expected a digit";
    case syntax_error::leading_zero: return "a number may not start with 0";
    case syntax_error::too_deep: return "nested too deeply";
    case syntax_error::trailing_text: return "unexpected text after the JSON value";
    case syntax_error::none: break;
  }
  return "not valid JSON";
}

// "line L, column C at 'x': why" for the fault json::validate found (columns count characters).
std::string describe_fault(std::string_view text, const json::syntax_fault& f) {
  std::size_t line = 1, column = 1;
  for (std::size_t k = 0; k < f.offset && k < text.size(); ++k) {
    if (text[k] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[k]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  const bool at_end = f.offset >= text.size();
  std::string why = syntax_reason(f.reason);
  if (at_end && f.reason == json::syntax_error::expected_value) why = "expected a value, the text ended";
  const std::string at = at_end ? std::string(" at the end") : std::string(" at '") + text[f.offset] + "'";
  return "line " + std::to_string(line) + ", column " + std::to_string(column) + at + ": " + why;
}

const char* kind_name(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "nothing";
  switch (text[first]) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't':
    case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
  }
}
}  // namespace

std::string json_problem(std::string_view text) {
  json::syntax_fault fault;
  if (json::validate(text, &fault)) return {};
  return describe_fault(text, fault);
}

void require_json(std::string_view text, std::string_view what) {
  json::syntax_fault fault;
  if (json::validate(text, &fault)) return;
  fail(std::string(what) + ": not valid JSON (" + describe_fault(text, fault) + ")", errc::invalid_argument);
}

void require_json_object(std::string_view text, std::string_view what) {
  require_json(text, what);
  const char* kind = kind_name(text);
  if (std::string_view(kind) != "an object")
    fail(std::string(what) + ": expected an object {\"key\":value,..}, got " + kind, errc::invalid_argument);
}

std::string compact_json(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      out += c;
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
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

std::vector<std::string> split_keys(const std::vector<std::string>& lists) {
  std::vector<std::string> keys;
  for (const auto& list : lists)
    for (auto& k : split_keys(list)) keys.push_back(std::move(k));
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
