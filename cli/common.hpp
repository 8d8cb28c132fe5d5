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

#include "tbmqtt/client.hpp"

namespace CLI {
class App;
}

namespace tbmqtt::cli {

/// Exit codes of the `tbmqtt` command (part of its stable contract).
enum exit_status : int {
  exit_ok = 0,
  exit_other = 1,        ///< Anything else.
  exit_usage = 2,        ///< Usage error or invalid JSON argument.
  exit_connection = 3,   ///< Connection refused (credentials) or broker unreachable.
  exit_timeout = 4,      ///< No answer in time.
  exit_server = 5,       ///< Error or malformed reply from the server.
  exit_stored_refused = 6,  ///< The server refused the saved --credentials (see --reprovision).
  exit_interrupted = 130,   ///< Cancelled by SIGINT/SIGTERM (provisioning waits).
};

/// @brief The exit code for an error. The only place that maps errc to exit codes.
int exit_code(errc e) noexcept;

/// @brief A failure at a subcommand's edge: `what` is the context (never contains secrets).
class failure : public std::runtime_error {
 public:
  failure(std::string what, errc code) : std::runtime_error(std::move(what)), code_(code) {}
  errc code() const noexcept { return code_; }

 private:
  errc code_;
};

/// Throws cli::failure.
[[noreturn]] void fail(std::string what, errc code);

/// @brief Prints the one-line error report `tbmqtt: <what>: <errc name>` to stderr.
void report_error(std::string_view what, errc code);
/// @brief Prints `tbmqtt: <what>` to stderr (for failures that have no errc, e.g. usage).
void report_message(std::string_view what);

/// Options shared by every subcommand that talks to ThingsBoard.
struct global_options {
  std::string host = "127.0.0.1";
  int port = 0;  ///< 0: 1883, or 8883 with --tls.
  std::string token;
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
  double timeout_s = 10.0;
  bool stored_credentials = false;  ///< The credentials came from --credentials FILE.
  std::string offline_store;   ///< --offline-store DIR: store-and-forward (client_options::offline_store).
  int offline_max = 1000;      ///< --offline-max: messages the store keeps.
  std::string offline_full = "drop-oldest";  ///< --offline-full: drop-oldest or refuse.
  bool pace = false;           ///< --pace: learn the server's rate limits and keep to them.
  bool offline_no_fsync = false;  ///< --offline-no-fsync: faster store that survives crashes, not power loss.
  int offline_commit = 64;        ///< --offline-commit: messages per fsync (group commit).
  int offline_commit_ms = 10;     ///< --offline-commit-ms: longest wait of a message for its fsync.

  std::chrono::milliseconds timeout() const;
  tbmqtt::qos message_qos() const { return qos == 0 ? qos::at_most_once : qos::at_least_once; }
};

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

/// @brief Waits (with the --timeout) until everything published is acknowledged; throws on error.
void flush_or_fail(client& device, const global_options& options, std::string_view what);

/// @brief Writes one line to stdout and flushes it (data goes to stdout only).
void print_line(std::string_view line);

/// @brief Validates JSON text given on the command line; throws failure(invalid_argument).
void require_json(std::string_view text, std::string_view what);

/// @brief The JSON text without insignificant whitespace (one line). @pre text is valid JSON.
std::string compact_json(std::string_view text);

/// @brief `text` as a JSON string literal (quoted and escaped).
std::string quote_json(std::string_view text);

/// @brief Splits "a,b , c" into {"a","b","c"} (empty items dropped).
std::vector<std::string> split_keys(std::string_view list);

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
