#include "broker.hpp"

#include <arpa/inet.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace tbmqtt::testing {
namespace {

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind");
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool port_open(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

broker::broker(std::string extra_config, std::uint16_t port) : port_(port != 0 ? port : free_port()) {
  char pattern[] = "/tmp/tbmqtt-broker-XXXXXX";
  dir_ = ::mkdtemp(pattern);
  for (auto at = extra_config.find("{dir}"); at != std::string::npos; at = extra_config.find("{dir}"))
    extra_config.replace(at, 5, dir_);
  std::ofstream conf(dir_ + "/mosquitto.conf");
  conf << "listener " << port_ << " 127.0.0.1\n"
       << "allow_anonymous true\n"
       << "set_tcp_nodelay true\n"
       << "max_queued_messages 0\n"
       << "persistence false\n"
       << (::geteuid() == 0 ? "user root\n" : "") << extra_config << "\n";
  conf.close();
  start();
}

void broker::restart() {
  stop();
  start();
}

void broker::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 5000 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (::waitpid(pid_, &status, WNOHANG) == 0) kill();
  pid_ = -1;
}

broker::~broker() {
  stop();
  std::string cmd = "rm -rf '" + dir_ + "'";
  (void)std::system(cmd.c_str());
}

void broker::start() {
  pid_ = ::fork();
  if (pid_ == 0) {
    const std::string conf = dir_ + "/mosquitto.conf";
    const std::string log = dir_ + "/mosquitto.log";
    FILE* out = std::freopen(log.c_str(), "a", stderr);
    (void)out;
    ::execlp("mosquitto", "mosquitto", "-c", conf.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (!wait_until([&] { return port_open(port_); }, std::chrono::seconds(10)))
    throw std::runtime_error("mosquitto did not start");
}

void broker::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

peer::peer(std::uint16_t port, std::string filter, std::string client_id)
    : filter_(std::move(filter)),
      probe_("tbmqtt-test/probe/" + std::to_string(reinterpret_cast<std::uintptr_t>(this))) {
  mosquitto_lib_init();
  mosq_ = mosquitto_new(client_id.empty() ? nullptr : client_id.c_str(), client_id.empty(), this);
  mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_message_callback_set(mosq_, on_message);
  mosquitto_connect_callback_set(mosq_, on_connect);
  mosquitto_reconnect_delay_set(mosq_, 1, 1, false);
  if (mosquitto_connect(mosq_, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) throw std::runtime_error("peer connect");
  mosquitto_loop_start(mosq_);
  // A round trip through the broker proves the subscriptions (made in on_connect) are active.
  const std::string& probe = probe_;
  for (int attempt = 0; attempt < 100; ++attempt) {
    mosquitto_publish(mosq_, nullptr, probe.c_str(), 1, "p", 1, false);
    if (!wait_for(probe, 1, std::chrono::milliseconds(100)).empty()) break;
  }
  std::lock_guard lock(mutex_);
  messages_.clear();
}

peer::~peer() {
  mosquitto_disconnect(mosq_);
  mosquitto_loop_stop(mosq_, false);
  mosquitto_destroy(mosq_);
}

void peer::on_connect(mosquitto* mosq, void* self_ptr, int rc) {
  if (rc != 0) return;
  auto* self = static_cast<peer*>(self_ptr);
  mosquitto_subscribe(mosq, nullptr, self->filter_.c_str(), 1);
  mosquitto_subscribe(mosq, nullptr, self->probe_.c_str(), 1);
}

void peer::publish(const std::string& topic, const std::string& payload, int qos) {
  mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(), qos, false);
}

void peer::set_responder(responder r) {
  std::lock_guard lock(mutex_);
  responder_ = std::move(r);
}

void peer::on_message(mosquitto*, void* self_ptr, const mosquitto_message* m) {
  auto* self = static_cast<peer*>(self_ptr);
  message msg{m->topic, std::string(static_cast<const char*>(m->payload), static_cast<std::size_t>(m->payloadlen)),
              m->qos};
  responder r;
  {
    std::lock_guard lock(self->mutex_);
    self->messages_.push_back(msg);
    r = self->responder_;
  }
  self->changed_.notify_all();
  if (r) r(*self, msg);
}

std::vector<message> peer::received(const std::string& topic_prefix) {
  std::lock_guard lock(mutex_);
  std::vector<message> out;
  for (const auto& m : messages_)
    if (m.topic.compare(0, topic_prefix.size(), topic_prefix) == 0) out.push_back(m);
  return out;
}

std::vector<message> peer::wait_for(const std::string& topic_prefix, std::size_t count,
                                    std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  std::vector<message> out;
  changed_.wait_for(lock, timeout, [&] {
    out.clear();
    for (const auto& m : messages_)
      if (m.topic.compare(0, topic_prefix.size(), topic_prefix) == 0) out.push_back(m);
    return out.size() >= count;
  });
  return out.size() >= count ? out : std::vector<message>{};
}

}  // namespace tbmqtt::testing
