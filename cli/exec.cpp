#include "exec.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "common.hpp"

namespace tbmqtt::cli {
namespace {

struct exec_result {
  enum class outcome { ok, failed, timed_out, not_started } status = outcome::not_started;
  int exit_status = 0;  ///< exit code, or 128 + signal
  int exec_errno = 0;   ///< not_started because exec of /bin/sh failed: its errno (0: pipe or fork failed)
  std::string output;
};

void close_pipe(int (&fds)[2]) {
  for (int& fd : fds)
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
}

/// @brief The errno the child wrote into `fd` (the error pipe's read end) because its exec failed,
/// or 0 at end of file: the exec succeeded and closed the write end (O_CLOEXEC).
int read_exec_errno(int fd) {
  int child_errno = 0;
  std::size_t got = 0;
  auto* bytes = reinterpret_cast<char*>(&child_errno);
  while (got < sizeof child_errno) {
    const ssize_t r = ::read(fd, bytes + got, sizeof child_errno - got);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
    } else if (r == 0 || errno != EINTR) {
      break;
    }
  }
  if (got == 0) return 0;
  return got == sizeof child_errno && child_errno != 0 ? child_errno : EIO;  // a torn report is still a failure
}

/// @brief Runs `/bin/sh -c command` with `input` on its stdin and collects its stdout; kills it
/// after `timeout`. Its stderr goes to ours. A shell that could not be executed is not_started
/// (with its errno), not a command that exited 127.
exec_result run_command(const std::string& command, const std::string& input, std::chrono::milliseconds timeout) {
  exec_result result;
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};  // the child writes errno here only if its exec fails; exec closes it (O_CLOEXEC)
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    close_pipe(in);
    close_pipe(out);
    close_pipe(err);
    return result;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    close_pipe(in);
    close_pipe(out);
    close_pipe(err);
    return result;
  }
  if (pid == 0) {  // child: only async-signal-safe calls from here on
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    for (int fd = 3; fd < 1024; ++fd)  // the MQTT socket is none of its business
      if (fd != err[1]) ::close(fd);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    const int exec_errno = errno;
    while (::write(err[1], &exec_errno, sizeof exec_errno) < 0 && errno == EINTR) {}
    ::_exit(127);
  }
  ::close(in[0]);
  in[0] = -1;
  ::close(out[1]);
  out[1] = -1;
  ::close(err[1]);
  err[1] = -1;
  // Blocks only until the child has exec'd or failed to: it runs nothing else before.
  result.exec_errno = read_exec_errno(err[0]);
  close_pipe(err);
  if (result.exec_errno != 0) {
    close_pipe(in);
    close_pipe(out);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return result;  // not_started
  }
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t written = 0;
  if (input.empty()) close_pipe(in);
  bool timed_out = false;
  while (out[0] >= 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
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
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
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

}  // namespace

std::string exec_reply(const global_options& o, const std::string& exec, const std::string& what,
                       const std::string& params_json, const std::string& request_line) {
  if (exec.empty()) return params_json.empty() ? std::string("{}") : params_json;
  const std::string prefix = what + ": ";
  exec_result run = run_command(exec, request_line + "\n", o.timeout());
  switch (run.status) {
    case exec_result::outcome::ok: {
      std::string output = trim(run.output);
      if (!output.empty() && json::validate(output)) return output;
      report_error(prefix + "exec output is not valid JSON", errc::malformed);
      return "{\"error\":\"exec output is not valid JSON\"}";
    }
    case exec_result::outcome::failed:
      // The command's own failure: not an answer from the server, not a failed OS call.
      report_error(prefix + "exec command failed with status " + std::to_string(run.exit_status), errc::command_failed);
      return "{\"error\":\"exec command failed with status " + std::to_string(run.exit_status) + "\"}";
    case exec_result::outcome::timed_out:
      report_error(prefix + "exec command did not finish", errc::timeout);
      return "{\"error\":\"exec command timed out\"}";
    case exec_result::outcome::not_started: break;
  }
  // Nothing ran: a failed pipe, fork or exec of /bin/sh (not the command's own exit status 127).
  report_error(prefix + "cannot start exec command" +
                   (run.exec_errno != 0 ? std::string(" (/bin/sh: ") + std::strerror(run.exec_errno) + ")" : ""),
               errc::system_error);
  return "{\"error\":\"exec command could not be started\"}";
}

}  // namespace tbmqtt::cli
