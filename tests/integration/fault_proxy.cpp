#include "fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <list>
#include <stdexcept>
#include <string>
#include <vector>

namespace tbmqtt::testing {
namespace {

using clock_type = std::chrono::steady_clock;

struct chunk {
  clock_type::time_point ready;
  std::string data;
  std::size_t sent = 0;
};

// One direction of a connection.
struct direction {
  int from = -1;
  int to = -1;
  bool client_to_server = false;
  std::deque<chunk> queue;
  std::size_t forwarded = 0;
};

struct connection {
  direction up, down;
  bool closed = false;
};

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

void set_nodelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Closes with RST (SO_LINGER 0), as a crashed middlebox or a reset connection looks.
void reset_socket(int fd) {
  const linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

fault_proxy::fault_proxy(std::uint16_t upstream_port) : upstream_(upstream_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = loopback(0);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 16) != 0)
    throw std::runtime_error("fault_proxy: bind/listen");
  socklen_t len = sizeof addr;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  set_nonblocking(listener_);
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("fault_proxy: pipe");
  thread_ = std::thread([this] { run(); });
}

fault_proxy::~fault_proxy() {
  stopping_ = true;
  const char c = 0;
  (void)!::write(wake_[1], &c, 1);
  thread_.join();
  ::close(listener_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void fault_proxy::run() {
  std::list<connection> conns;
  auto close_connection = [&](connection& c, bool on_purpose) {
    if (c.closed) return;
    c.closed = true;
    reset_socket(c.up.from);
    reset_socket(c.up.to);
    if (on_purpose) ++resets_;
  };
  clock_type::time_point next_reset = clock_type::now();
  int last_period = 0;
  std::vector<pollfd> fds;
  std::vector<std::pair<direction*, short>> owners;  // for fds[2..]: which direction, as reader or writer
  char buffer[16384];
  while (!stopping_) {
    const auto now = clock_type::now();
    // Periodic resets.
    const int period = reset_every_ms_;
    if (period != last_period) {
      last_period = period;
      next_reset = now + std::chrono::milliseconds(period);
    }
    if (period > 0 && now >= next_reset) {
      for (auto& c : conns) close_connection(c, true);
      next_reset = now + std::chrono::milliseconds(period);
    }
    conns.remove_if([](const connection& c) { return c.closed; });

    const bool stalled = stalled_;
    fds.clear();
    owners.clear();
    fds.push_back({listener_, POLLIN, 0});
    fds.push_back({wake_[0], POLLIN, 0});
    int timeout_ms = 10;
    if (!stalled) {
      for (auto& c : conns) {
        for (direction* d : {&c.up, &c.down}) {
          if (d->queue.size() < 64) {
            fds.push_back({d->from, POLLIN, 0});
            owners.emplace_back(d, POLLIN);
          }
          if (!d->queue.empty()) {
            if (d->queue.front().ready <= now) {
              fds.push_back({d->to, POLLOUT, 0});
              owners.emplace_back(d, POLLOUT);
            } else {
              const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(d->queue.front().ready - now);
              timeout_ms = std::min<int>(timeout_ms, static_cast<int>(wait.count()) + 1);
            }
          }
        }
      }
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) break;
    if (fds[1].revents != 0) {
      char drain[16];
      while (::read(wake_[0], drain, sizeof drain) > 0) {}
    }
    if (fds[0].revents & POLLIN) {
      for (;;) {
        const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) break;
        const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr = loopback(upstream_);
        if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
          reset_socket(client);  // the broker is down: the client sees a reset, as without a proxy
          ::close(server);
          continue;
        }
        for (int fd : {client, server}) {
          set_nonblocking(fd);
          set_nodelay(fd);
        }
        ++connections_;
        connection& c = conns.emplace_back();
        c.up.from = client;
        c.up.to = server;
        c.up.client_to_server = true;
        c.down.from = server;
        c.down.to = client;
      }
    }
    if (stalled) continue;
    const auto after = clock_type::now();
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      direction& d = *owners[i - 2].first;
      connection* owner = nullptr;
      for (auto& c : conns)
        if (&c.up == &d || &c.down == &d) owner = &c;
      if (owner == nullptr || owner->closed) continue;
      if (owners[i - 2].second == POLLIN) {
        const ssize_t n = ::recv(d.from, buffer, sizeof buffer, 0);
        if (n > 0) {
          d.queue.push_back({after + std::chrono::milliseconds(latency_ms_.load()),
                             std::string(buffer, static_cast<std::size_t>(n))});
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          close_connection(*owner, false);  // one end closed or reset: pass it on
        }
        continue;
      }
      // POLLOUT: forward what is ready (one byte in byte-by-byte mode).
      chunk& front = d.queue.front();
      std::size_t count = front.data.size() - front.sent;
      if (byte_by_byte_) count = 1;
      bool truncate = false;
      const std::size_t limit = truncate_after_;
      if (limit > 0 && d.client_to_server && d.forwarded + count >= limit) {
        count = limit > d.forwarded ? limit - d.forwarded : 0;
        truncate = true;
      }
      if (count > 0) {
        const ssize_t n = ::send(d.to, front.data.data() + front.sent, count, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno != EAGAIN && errno != EINTR) close_connection(*owner, false);
          continue;
        }
        front.sent += static_cast<std::size_t>(n);
        d.forwarded += static_cast<std::size_t>(n);
        if (front.sent == front.data.size()) d.queue.pop_front();
      }
      if (truncate) close_connection(*owner, true);
    }
  }
  for (auto& c : conns) close_connection(c, false);
}

}  // namespace tbmqtt::testing
