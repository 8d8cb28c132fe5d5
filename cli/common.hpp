// tbmqtt CLI — shared pieces: global options -> client_options, the errc -> exit code mapping,
// the one-line error report, stdout printing and small JSON helpers.
//
// Subcommands throw cli::failure (or call cli::fail) at their edge; main() turns it into one
// stderr line `tbmqtt: <what>: <errc name>` and the exit code from exit_code().
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tbmqtt/linux/client.hpp"
#include "wire.hpp"

namespace CLI {
class App;
class Option;
class Validator;
}  // namespace CLI

namespace tbmqtt::cli {

/// Exit codes of the `tbmqtt` command (part of its stable contract).
enum exit_status : int {
  exit_ok = 0,
  exit_other = 1,           ///< Anything else.
  exit_usage = 2,           ///< Usage error or invalid JSON argument.
  exit_connection = 3,      ///< Connection refused (credentials) or broker unreachable.
  exit_timeout = 4,         ///< No answer in time.
  exit_server = 5,          ///< Error or malformed reply from the server.
  exit_stored_refused = 6,  ///< The server refused the saved --credentials (see --reprovision).
  exit_interrupted = 130,   ///< Cancelled by SIGINT/SIGTERM (provisioning waits).
};

/// @brief The exit code for an error. The only place that maps errc to exit codes.
int exit_code(errc e) noexcept;

/// @brief A failure at a subcommand's edge: `what` is the context (never contains secrets).
class failure : public std::runtime_error {
 public:
  failure(std::string what, errc code, bool usage = false)
      : std::runtime_error(std::move(what)), code_(code), usage_(usage) {}
  errc code() const noexcept { return code_; }
  /// A mistake in the command line (reported as "usage: ...", exit 2, no errc name).
  bool usage() const noexcept { return usage_; }

 private:
  errc code_;
  bool usage_;
};

/// Throws cli::failure.
[[noreturn]] void fail(std::string what, errc code);
/// Throws cli::failure for a mistake in the command line (errc::invalid_argument, exit 2).
[[noreturn]] void fail_usage(std::string what);

/// @brief Adds to every command's --help the global options it uses and one example.
void add_help_footers(CLI::App& app);

/// @brief Prints the one-line error report `tbmqtt: <what>: <errc name>` to stderr.
void report_error(std::string_view what, errc code);
/// @brief Prints `tbmqtt: <what>` to stderr (for failures that have no errc, e.g. usage).
void report_message(std::string_view what);

/// Options shared by every subcommand that talks to ThingsBoard.
struct global_options {
  std::string host = "127.0.0.1";
  int port = 0;  ///< 0: 1883, or 8883 with --tls.
  std::string token;
  bool token_from_env = false;  ///< `token` is env TBMQTT_TOKEN, not an explicit --token.
  std::string client_id;
  std::string username;
  std::string password;
  bool tls = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string ca_dir;
  std::string key_password_file;  ///< First line: the key password (else env TBMQTT_KEY_PASSWORD).
  bool insecure = false;
  int qos = 1;
  std::chrono::milliseconds timeout_ms{10000};  ///< --timeout (plain numbers: seconds).
  bool stored_credentials = false;              ///< The credentials came from --credentials FILE.
  std::string offline_store;  ///< --offline-store DIR: store-and-forward (client_options::offline_store).
  int offline_max = 1000;     ///< --offline-max: messages the store keeps.
  std::string offline_full = "drop-oldest";  ///< --offline-full: drop-oldest or refuse.
  bool pace = false;                         ///< --pace: learn the server's rate limits and keep to them.
  bool offline_no_fsync = false;  ///< --offline-no-fsync: faster store that survives crashes, not power loss.
  std::chrono::milliseconds keepalive{
      std::chrono::seconds(60)};     ///< --keepalive: a link silent for 1.5 x this is dropped.
  int offline_commit = 64;           ///< --offline-commit: messages per fsync (group commit).
  int offline_commit_ms = 10;        ///< --offline-commit-ms: longest wait of a message for its fsync.
  bool mqtt5_inbound_limit = false;  ///< --mqtt5-inbound-limit: client_options::mqtt5_max_packet_size.
  wire_options wire;                 ///< --topics, --payload, --proto ... (wire.hpp)

  std::chrono::milliseconds timeout() const;
  tbmqtt::qos message_qos() const { return qos == 0 ? qos::at_most_once : qos::at_least_once; }
};

/// @brief A duration: "500ms", "2s", "1.5s", "1m", "1h"; a plain number is in `plain_unit` (each
/// option keeps the unit it always had). Empty when it is not one, negative, or over 2^32-1 ms.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::chrono::milliseconds plain_unit);

/// @brief Adds a duration option (parse_duration) to `command`, stored in `target`; `positive`:
/// zero is refused too. The one way every command takes a duration.
CLI::Option* add_duration_option(CLI::App& command, const std::string& name, std::chrono::milliseconds& target,
                                 std::chrono::milliseconds plain_unit, const std::string& description,
                                 bool positive = true);

/// @brief A check for options that take several durations (sample's --min-interval ...).
CLI::Validator duration_check(std::chrono::milliseconds plain_unit);

/// @brief The first line of a secret file (without its line end); fails (exit 2) naming the option
/// when it cannot be read.
std::string read_secret_file(const std::string& path, std::string_view option);

/// @brief Adds `--NAME-file FILE` beside the secret option `--NAME` (bound to `target`): the secret
/// is then the first line of FILE; it wins over `--NAME` and its environment variable. Secrets on the command line are
/// visible to every local user (ps, /proc/PID/cmdline): the help text says so.
void add_secret_file_option(CLI::App& app, const std::string& name, std::string& target);

/// @brief Adds the global options to the top-level app, bound to `options`.
void add_global_options(CLI::App& app, global_options& options);

/// @brief Builds the library's client_options from the command line.
client_options to_client_options(const global_options& options);

/// @brief Connects `device` within the --timeout; throws cli::failure on error (which, with
/// --offline-store, says how many messages stay stored for the next run).
void connect_or_fail(client& device, const global_options& options);

/// @brief The client key's password: the first line of --key-password-file, else env
/// TBMQTT_KEY_PASSWORD, else "". Fails (exit 2) when the file cannot be read.
std::string key_password(const global_options& options);

/// @brief The context of a failed connection: "<verb> <host>:<port>", and for a TLS failure
/// what to check, e.g. "connect to 127.0.0.1:8883 (server certificate not trusted: check
/// --ca-file or --ca-dir)". Never contains a secret.
std::string connection_context(const global_options& options, std::string_view verb, errc e);

/// @brief Reports on stderr each message from the server that `device` dropped: over
/// client_options::max_payload (errc::payload_too_large, with its topic and the limit) or not parsed or
/// decoded (errc::malformed, with its topic); the command goes on. `what` names the command
/// ("attributes watch").
void report_dropped_messages(client& device, std::string what);

/// @brief Waits (with the --timeout) until everything published is acknowledged; throws on error.
void flush_or_fail(client& device, const global_options& options, std::string_view what);

/// @brief Writes one line to stdout and flushes it (data goes to stdout only).
void print_line(std::string_view line);

/// @brief Validates JSON text given on the command line; throws failure(invalid_argument) that
/// says where and why ("not valid JSON (line 1, column 7 at '}': expected ':' after the member name)").
void require_json(std::string_view text, std::string_view what);
/// @brief As require_json, and the text must be an object ("expected an object {..}, got an array").
void require_json_object(std::string_view text, std::string_view what);
/// @brief Where and why `text` is not JSON ("line L, column C ...: ..."); "" when it is JSON.
std::string json_problem(std::string_view text);

/// @brief The JSON text without insignificant whitespace (one line). @pre text is valid JSON.
std::string compact_json(std::string_view text);

/// @brief `text` as a JSON string literal (quoted and escaped).
std::string quote_json(std::string_view text);

/// @brief Splits "a,b , c" into {"a","b","c"} (empty items dropped).
std::vector<std::string> split_keys(std::string_view list);
/// @brief The keys of several arguments, each one key or a comma-separated list.
std::vector<std::string> split_keys(const std::vector<std::string>& lists);

/// @brief The keys list normalised for the library: "a,b,c" (spaces and empty items removed).
std::string join_keys(const std::vector<std::string>& keys);

/// @brief A one-shot result handed from a library callback (network thread) to the main thread.
/// The callback holds a shared_ptr, so it stays valid even if the waiter gave up.
template <typename T>
class mailbox {
 public:
  void put(T value) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (value_) return;  // first answer wins
    value_ = std::move(value);
    cv_.notify_all();
  }
  std::optional<T> wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return value_.has_value(); });
    return value_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

/// Extra time the main thread waits beyond --timeout for a callback the library promised.
inline constexpr std::chrono::milliseconds callback_grace{3000};

}  // namespace tbmqtt::cli
