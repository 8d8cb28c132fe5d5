// tbmqtt rpc serve [--count N] [--exec CMD]   answers server-side RPCs
// tbmqtt rpc call METHOD [PARAMS_JSON]        client-side RPC; prints the response
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "commands.hpp"
#include "common.hpp"

namespace tbmqtt::cli {
namespace {

struct rpc_args {
  long long count = 0;  // 0: forever
  std::string exec;
  std::string method;
  std::string params;
  bool has_params = false;
};

// ---- running --exec CMD -------------------------------------------------------------------------

struct exec_result {
  enum class outcome { ok, failed, timed_out, not_started } status = outcome::not_started;
  int exit_status = 0;   ///< exit code, or 128 + signal
  std::string output;
};

void close_pipe(int (&fds)[2]) {
  for (int& fd : fds)
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
}

/// @brief Runs `/bin/sh -c command` with `input` on its stdin and collects its stdout; kills it
/// after `timeout`. Its stderr goes to ours.
exec_result run_command(const std::string& command, const std::string& input, std::chrono::milliseconds timeout) {
  exec_result result;
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    close_pipe(in);
    close_pipe(out);
    return result;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    close_pipe(in);
    close_pipe(out);
    return result;
  }
  if (pid == 0) {  // child: only async-signal-safe calls from here on
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);  // the MQTT socket is none of its business
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(in[0]);
  in[0] = -1;
  ::close(out[1]);
  out[1] = -1;
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t written = 0;
  if (input.empty()) close_pipe(in);
  bool timed_out = false;
  while (out[0] >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2];
    nfds_t n = 0;
    fds[n++] = {out[0], POLLIN, 0};
    if (in[1] >= 0) fds[n++] = {in[1], POLLOUT, 0};
    const int ready = ::poll(fds, n, static_cast<int>(left.count()));
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 2 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t w = ::write(in[1], input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
        ::close(in[1]);  // EOF for the command (or it stopped reading: EPIPE)
        in[1] = -1;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      const ssize_t r = ::read(out[0], buf, sizeof buf);
      if (r > 0) {
        result.output.append(buf, static_cast<std::size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        ::close(out[0]);
        out[0] = -1;
      }
    }
  }
  close_pipe(in);
  close_pipe(out);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    result.status = exec_result::outcome::timed_out;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    result.status = exec_result::outcome::ok;
  } else {
    result.status = exec_result::outcome::failed;
    result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return result;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

// ---- rpc serve ----------------------------------------------------------------------------------

/// @brief The reply for one request: the params (echo) or CMD's JSON output. Reports exec
/// problems on stderr and answers them with `{"error":".."}`.
std::string make_reply(const global_options& o, const rpc_args& a, const server_rpc& request, const std::string& line) {
  if (a.exec.empty()) return request.params_json.empty() ? std::string("{}") : request.params_json;
  const std::string what = "rpc serve: request " + request.id + ": ";
  exec_result run = run_command(a.exec, line + "\n", o.timeout());
  switch (run.status) {
    case exec_result::outcome::ok: {
      std::string output = trim(run.output);
      if (!output.empty() && json::validate(output)) return output;
      report_error(what + "exec output is not valid JSON", errc::malformed);
      return "{\"error\":\"exec output is not valid JSON\"}";
    }
    case exec_result::outcome::failed:
      report_error(what + "exec command failed with status " + std::to_string(run.exit_status), errc::server_error);
      return "{\"error\":\"exec command failed with status " + std::to_string(run.exit_status) + "\"}";
    case exec_result::outcome::timed_out:
      report_error(what + "exec command did not finish", errc::timeout);
      return "{\"error\":\"exec command timed out\"}";
    case exec_result::outcome::not_started:
      break;
  }
  report_error(what + "cannot start exec command", errc::transport_error);
  return "{\"error\":\"exec command could not be started\"}";
}

void run_serve(const global_options& o, const rpc_args& a) {
  struct queue_state {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<server_rpc> requests;
  };
  auto queue = std::make_shared<queue_state>();
  client device{to_client_options(o)};
  // Requests are answered on this thread, so a slow --exec never blocks the network thread.
  auto r = device.on_any_rpc([queue](const server_rpc& request) {
    std::lock_guard<std::mutex> lock(queue->mutex);
    queue->requests.push_back(request);
    queue->cv.notify_one();
  });
  if (!r) fail("rpc serve", r.error());
  connect_or_fail(device, o);

  long long served = 0;
  while (a.count == 0 || served < a.count) {
    server_rpc request;
    {
      std::unique_lock<std::mutex> lock(queue->mutex);
      queue->cv.wait(lock, [&] { return !queue->requests.empty(); });
      request = std::move(queue->requests.front());
      queue->requests.pop_front();
    }
    const std::string params = request.params_json.empty() ? std::string("null") : compact_json(request.params_json);
    const std::string line =
        "{\"id\":" + quote_json(request.id) + ",\"method\":" + quote_json(request.method) + ",\"params\":" + params + "}";
    print_line(line);
    const std::string reply = make_reply(o, a, request, line);
    if (auto sent = device.reply_rpc(request.id, reply); !sent)
      report_error("rpc serve: reply to request " + request.id, sent.error());
    ++served;
  }
  flush_or_fail(device, o, "rpc serve");
}

// ---- rpc call -----------------------------------------------------------------------------------

struct rpc_answer {
  errc error;
  std::string response;
};

void run_call(const global_options& o, const rpc_args& a) {
  if (a.has_params) require_json(a.params, "rpc call: params");
  client device{to_client_options(o)};
  connect_or_fail(device, o);
  auto box = std::make_shared<mailbox<rpc_answer>>();
  auto r = device.call_rpc(a.method, a.has_params ? std::string_view(a.params) : std::string_view(),
                           [box](errc e, json::value response) {
                             box->put({e, response.present() ? std::string(response.raw()) : std::string()});
                           });
  if (!r) fail("rpc call " + a.method, r.error());
  auto answer = box->wait_for(o.timeout() + callback_grace);
  if (!answer) fail("rpc call " + a.method + ": no answer", errc::timeout);
  if (answer->error == errc{} || answer->error == errc::server_error) {
    if (!answer->response.empty()) print_line(compact_json(answer->response));
  }
  if (answer->error != errc{}) fail("rpc call " + a.method, answer->error);
}

}  // namespace

void add_rpc_commands(CLI::App& app, global_options& options) {
  auto args = std::make_shared<rpc_args>();
  auto* group = app.add_subcommand("rpc", "Remote procedure calls");
  group->require_subcommand(1);

  auto* serve = group->add_subcommand("serve", "Answer server-side RPCs; prints each request as one JSON line");
  serve->add_option("--count", args->count, "Exit after answering N requests")->check(CLI::PositiveNumber);
  serve->add_option("--exec", args->exec,
                    "Reply with the JSON printed by CMD (run with /bin/sh -c, request JSON on stdin); default: echo params");
  serve->callback([&options, args] { run_serve(options, *args); });

  auto* call = group->add_subcommand("call", "Call a server method (client-side RPC) and print the response");
  call->add_option("method", args->method, "Method name")->required();
  auto* params = call->add_option("params", args->params, "Params as JSON (default {})");
  call->callback([&options, args, params] {
    args->has_params = params->count() > 0;
    run_call(options, *args);
  });
}

}  // namespace tbmqtt::cli
