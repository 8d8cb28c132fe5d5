#include "fleet_loop.hpp"

#include <mosquitto.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <stdexcept>

namespace tbmqtt::fleet {

std::uint64_t now_ms() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

std::uint64_t raise_open_file_limit() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

// ---- link --------------------------------------------------------------------------------------

link::link(event_loop& loop, link_events& events) : loop_(loop), events_(events) {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
  // libmosquitto opens a socket pair per client to wake its own network thread; there is no such
  // thread here, and two more files per device would cap a fleet at a third of the open-file
  // limit. It carries on without the pair when it cannot open it (writes then go out directly),
  // so it gets no file to open it with: the soft limit is 0 during mosquitto_new.
  rlimit saved{};
  const bool limited = ::getrlimit(RLIMIT_NOFILE, &saved) == 0;
  if (limited) {
    rlimit none = saved;
    none.rlim_cur = 0;
    ::setrlimit(RLIMIT_NOFILE, &none);
  }
  mosq_ = mosquitto_new(nullptr, true, this);
  if (limited) ::setrlimit(RLIMIT_NOFILE, &saved);
  if (mosq_ == nullptr) throw std::runtime_error("mosquitto_new failed (out of memory)");
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_connect_callback_set(mosq_, cb_connect);
  mosquitto_disconnect_callback_set(mosq_, cb_disconnect);
  mosquitto_message_callback_set(mosq_, cb_message);
  mosquitto_subscribe_callback_set(mosq_, cb_subscribe);
  mosquitto_publish_callback_set(mosq_, cb_publish);
}

link::~link() {
  close();
  mosquitto_destroy(mosq_);
}

int link::open(const std::string& host, int port, const char* user, const char* password, int keepalive_s) noexcept {
  close();
  closing_ = false;
  close_requested_ = false;
  mosquitto_username_pw_set(mosq_, user, password);
  // Non-blocking: the TCP connect is in progress and CONNECT is queued; the first writable
  // event sends it. (Host names are resolved here, synchronously: give an address for big fleets.)
  const int rc = mosquitto_connect_async(mosq_, host.c_str(), port, keepalive_s);
  if (rc != MOSQ_ERR_SUCCESS) return rc;
  fd_ = mosquitto_socket(mosq_);
  if (fd_ < 0) return MOSQ_ERR_NO_CONN;
  loop_.add(*this);
  interest_ = EPOLLIN | EPOLLOUT;
  loop_.watch(*this, interest_, true);
  return MOSQ_ERR_SUCCESS;
}

void link::close() noexcept {
  if (fd_ < 0) return;
  if (reading_) {  // inside a callback: libmosquitto holds its locks; close after the read
    close_requested_ = true;
    return;
  }
  closing_ = true;
  mosquitto_disconnect(mosq_);  // queues DISCONNECT and writes what it can
  loop_.remove(*this);          // before the socket closes (epoll_ctl needs the fd)
  fd_ = -1;
  // loop_write sends the DISCONNECT; the state is "disconnecting", so the close that follows
  // reports success, which cb_disconnect ignores (closing_).
  mosquitto_loop_write(mosq_, 1);
}

bool link::want_write() const noexcept { return fd_ >= 0 && mosquitto_want_write(mosq_); }

int link::publish(const char* topic, const void* payload, int size, int qos, int* mid) noexcept {
  const int rc = mosquitto_publish(mosq_, mid, topic, size, payload, qos, false);
  sync();
  return rc;
}

int link::subscribe(const char* filter, int qos, int* mid) noexcept {
  const int rc = mosquitto_subscribe(mosq_, mid, filter, qos);
  sync();
  return rc;
}

void link::sync() noexcept {
  if (fd_ < 0 || reading_) return;  // on_ready syncs after the read
  if (mosquitto_want_write(mosq_)) {
    mosquitto_loop_write(mosq_, 1);  // may drop the link (then fd_ is -1)
    if (fd_ < 0) return;
  }
  const std::uint32_t wanted = EPOLLIN | (mosquitto_want_write(mosq_) ? EPOLLOUT : 0u);
  if (wanted != interest_) {
    interest_ = wanted;
    loop_.watch(*this, wanted, false);
  }
}

void link::on_ready(std::uint32_t ev) noexcept {
  if (fd_ < 0 || mosquitto_socket(mosq_) != fd_) return;  // closed earlier in this batch
  if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    reading_ = true;
    mosquitto_loop_read(mosq_, 1);  // a failure closes the socket and calls cb_disconnect
    reading_ = false;
    if (close_requested_) {
      close_requested_ = false;
      close();
    }
    if (fd_ < 0) return;
  }
  if (ev & EPOLLOUT) {
    mosquitto_loop_write(mosq_, 1);
    if (fd_ < 0) return;
  }
  sync();
}

void link::misc() noexcept {
  if (fd_ < 0) return;
  if (mosquitto_loop_misc(mosq_) != MOSQ_ERR_SUCCESS || mosquitto_socket(mosq_) < 0) {
    // keep-alive expired: libmosquitto closed the socket (and called cb_disconnect)
    if (fd_ >= 0) drop(MOSQ_ERR_KEEPALIVE);
    return;
  }
  sync();
}

void link::drop(int rc) noexcept {
  if (fd_ < 0) return;
  loop_.remove(*this);  // the fd is closed already: epoll forgot it
  fd_ = -1;
  if (!closing_) events_.on_lost(rc == 0 ? MOSQ_ERR_CONN_LOST : rc);
}

void link::cb_connect(mosquitto*, void* self, int rc) { static_cast<link*>(self)->events_.on_connack(rc); }

void link::cb_disconnect(mosquitto*, void* self, int rc) { static_cast<link*>(self)->drop(rc); }

void link::cb_message(mosquitto*, void* self, const mosquitto_message* m) {
  static_cast<link*>(self)->events_.on_message(
      m->topic, {static_cast<const std::byte*>(m->payload), static_cast<std::size_t>(m->payloadlen)});
}

void link::cb_subscribe(mosquitto*, void* self, int mid, int count, const int* granted) {
  static_cast<link*>(self)->events_.on_suback(mid, count > 0 ? granted[0] : 0x80);
}

void link::cb_publish(mosquitto*, void* self, int mid) { static_cast<link*>(self)->events_.on_puback(mid); }

// ---- event_loop --------------------------------------------------------------------------------

event_loop::event_loop() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::runtime_error("epoll_create1 failed");
}

event_loop::~event_loop() { ::close(epoll_fd_); }

void event_loop::add(link& l) noexcept {
  l.index_ = open_.size();
  open_.push_back(&l);
}

void event_loop::remove(link& l) noexcept {
  if (l.index_ >= open_.size() || open_[l.index_] != &l) return;
  if (mosquitto_socket(l.mosq_) == l.fd_) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, l.fd_, nullptr);
  link* last = open_.back();
  open_[l.index_] = last;
  last->index_ = l.index_;
  open_.pop_back();
  l.index_ = static_cast<std::size_t>(-1);
}

void event_loop::watch(link& l, std::uint32_t events, bool first) noexcept {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &l;
  ::epoll_ctl(epoll_fd_, first ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, l.fd_, &ev);
}

int event_loop::run_once(int timeout_ms) noexcept {
  epoll_event events[256];
  const int n = ::epoll_wait(epoll_fd_, events, 256, timeout_ms);
  for (int i = 0; i < n; ++i) static_cast<link*>(events[i].data.ptr)->on_ready(events[i].events);
  const std::uint64_t now = now_ms();
  if (now >= next_misc_ms_) {
    next_misc_ms_ = now + 1000;
    for (std::size_t i = open_.size(); i-- > 0;)  // misc() may remove the link (swap-remove)
      if (i < open_.size()) open_[i]->misc();
  }
  return n < 0 ? 0 : n;
}

}  // namespace tbmqtt::fleet
