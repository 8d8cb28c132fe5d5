#include "tbmqtt/linux/provisioned_client.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>

#include <atomic>
#include <chrono>
#include <optional>
#include <vector>

#include "../../transport/mosquitto/mosquitto_transport.hpp"
#include "tbmqtt/detail/provision_engine.hpp"
#include "tbmqtt/linux/platform.hpp"

namespace tbmqtt {
namespace detail {

// A credentials file as a storage whose one value is the file: DIR/NAME is the key NAME of
// file_storage(DIR), which writes it with mode 0600 through a temp file, fsync and rename. The
// key the core asks for (credentials_storage_key) is replaced by NAME.
class credentials_file final : public storage {
 public:
  explicit credentials_file(const std::string& path, bool allow_readable = false)
      : credentials_file(path, path.rfind('/')) {
    path_ = path;
    allow_readable_ = allow_readable;
  }
  // Read here rather than by files_: the mode is checked on the descriptor that is read.
  result<std::size_t> load(std::string_view, span<std::byte> out) noexcept override {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? errc::not_found : errc::storage_error;
    struct stat st {};
    result<std::size_t> outcome = errc::storage_error;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      outcome = errc::storage_error;
    } else if ((st.st_mode & 077) != 0 && !allow_readable_) {
      outcome = errc::insecure_permissions;
    } else if (static_cast<std::size_t>(st.st_size) > out.size()) {
      outcome = errc::not_enough_space;
    } else {
      const auto size = static_cast<std::size_t>(st.st_size);
      const ssize_t n = ::pread(fd, out.data(), size, 0);
      if (n == static_cast<ssize_t>(size)) outcome = size;
    }
    ::close(fd);
    return outcome;
  }
  result<void> store(std::string_view, span<const std::byte> value) noexcept override {
    return files_.store(name_, value);
  }
  result<void> erase(std::string_view) noexcept override { return files_.erase(name_); }

 private:
  credentials_file(const std::string& path, std::size_t slash)
      : files_(slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash))),
        name_(slash == std::string::npos ? path : path.substr(slash + 1)) {}
  file_storage files_;
  std::string name_;
  std::string path_;
  bool allow_readable_ = false;
};

}  // namespace detail

namespace {

using detail::credentials_file;

using clock_type = std::chrono::steady_clock;

// One provisioning round trip on the caller's thread: libmosquitto's callbacks feed the portable
// exchange (CONNACK -> SUBSCRIBE -> SUBACK -> PUBLISH -> response), which the ESP-IDF call shares.
class provisioning_session final : public detail::transport_listener {
 public:
  result<std::string_view> run(detail::mosquitto_transport& t, std::string_view payload, span<char> response,
                               clock_type::time_point deadline, const std::atomic<bool>* stop) {
    exchange_.emplace(t, payload, response);
    if (auto r = t.connect(); !r) return r.error();
    bool cancelled = false;
    while (!exchange_->finished()) {
      if (stop != nullptr && *stop) {
        cancelled = true;
        break;
      }
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
    if (cancelled) return errc::cancelled;
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
  std::optional<detail::provision_engine> exchange_;
  bool connected_ = false;
};

// A missing file is the caller's wrong path (errc::invalid_argument); a file that cannot be read
// or written is errc::storage_error (save/load_credentials document both).
errc file_error(errc e) { return e == errc::not_found ? errc::invalid_argument : e; }

// One round trip; the granted credentials go into `out`.
errc provision_round_trip(const client_options& server, const provision_request& request,
                          std::chrono::milliseconds timeout, const std::atomic<bool>* stop, credentials& out) {
  const auto deadline = clock_type::now() + timeout;
  std::size_t size = 256;
  for (auto s : {request.device_name, request.key, request.secret, request.token, request.client_id, request.username,
                 request.password, request.certificate_pem})
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
  e.ca_file = server.tls.ca;
  e.ca_dir = server.tls.ca_dir;
  e.tls_insecure = server.tls.insecure;
  e.tls_skip_hostname_check = server.tls.skip_hostname_check;

  provisioning_session session;
  detail::mosquitto_transport transport{e, session};
  std::vector<char> answer(TBMQTT_DEFAULT_MAX_PAYLOAD);  // the largest message the server sends
  auto response = session.run(transport, *payload, span<char>{answer.data(), answer.size()}, deadline, stop);
  if (!response) return response.error();
  return parse_provision_response(*response, out).error();
}

}  // namespace

result<void> provision(const client_options& server, const provision_request& request,
                       std::chrono::milliseconds timeout, credentials& out_credentials) {
  auto granted = std::make_unique<credentials>();  // `out_credentials` unchanged on failure
  if (errc e = provision_round_trip(server, request, timeout, nullptr, *granted); e != errc{}) return e;
  out_credentials = *granted;
  return {};
}

std::string to_json(const credentials& c) {
  std::vector<char> buf(credentials_json_capacity);
  auto text = write_credentials(span<char>{buf.data(), buf.size()}, c);
  return text ? std::string(*text) : std::string();
}

result<void> save_credentials(const std::string& path, const credentials& c) {
  if (!c.complete()) return errc::invalid_argument;  // load_credentials would refuse it
  credentials_file file{path};
  std::vector<char> scratch(credentials_json_capacity);
  if (auto r = store_credentials(file, c, span<char>{scratch.data(), scratch.size()}); !r) return file_error(r.error());
  return {};
}

result<credentials> load_credentials(const std::string& path, bool allow_readable) {
  credentials_file file{path, allow_readable};
  credentials loaded;
  std::vector<char> scratch(credentials_json_capacity);
  if (auto r = load_credentials(file, loaded, span<char>{scratch.data(), scratch.size()}); !r)
    return file_error(r.error());
  return loaded;
}

void apply_credentials(client_options& options, const credentials& c) {
  switch (c.type) {
    case provision_credentials_type::access_token:
      options.access_token = std::string(c.token.view());
      options.username.clear();
      options.password.clear();
      break;
    case provision_credentials_type::mqtt_basic:
      options.access_token.clear();
      options.client_id = std::string(c.client_id.view());
      options.username = std::string(c.username.view());
      options.password = std::string(c.password.view());
      break;
    default: break;
  }
}

// ---- provisioned_client ----------------------------------------------------------------------

provisioned_client::provisioned_client(client_options server, provisioning_options options)
    : server_(std::move(server)), options_(std::move(options)) {
  TBMQTT_EXPECTS(options_.store != nullptr || !options_.credentials_file.empty());
  if (options_.store == nullptr)
    own_store_ =
        std::make_unique<credentials_file>(options_.credentials_file, options_.allow_readable_credentials_file);
}

provisioned_client::~provisioned_client() {
  std::unique_lock lock(mutex_);
  cancelled_ = true;
  changed_.notify_all();
  changed_.wait(lock, [&] { return !running_; });
}

void provisioned_client::cancel() {
  std::lock_guard lock(mutex_);
  if (!running_) return;  // a later connect() starts afresh
  cancelled_ = true;
  changed_.notify_all();
}

client& provisioned_client::get() {
  TBMQTT_EXPECTS(client_ != nullptr);
  return *client_;
}

bool provisioned_client::wait(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !changed_.wait_for(lock, delay, [&] { return cancelled_.load(); });
}

result<void> provisioned_client::connect(std::chrono::milliseconds connect_timeout) {
  {
    std::lock_guard lock(mutex_);
    TBMQTT_EXPECTS(!running_);
    running_ = true;
    cancelled_ = false;
  }
  const result<void> outcome = run(connect_timeout);
  std::lock_guard lock(mutex_);
  running_ = false;
  changed_.notify_all();
  return outcome;
}

result<void> provisioned_client::run(std::chrono::milliseconds connect_timeout) {
  using std::chrono::milliseconds;
  // The lifecycle's platform part on this thread: condition-variable waits, libmosquitto round
  // trips, a tbmqtt::client per connection attempt.
  struct linux_platform final : credentials_platform {
    provisioned_client& self;
    milliseconds connect_timeout;
    clock_type::time_point until;
    linux_platform(provisioned_client& s, milliseconds timeout, clock_type::time_point u)
        : self(s), connect_timeout(timeout), until(u) {}

    errc wait_before_provisioning(std::uint32_t delay_ms) noexcept override {
      if (until - clock_type::now() <= milliseconds(delay_ms)) return errc::timeout;  // the wait alone would pass it
      return self.wait(milliseconds(delay_ms)) ? errc{} : errc::cancelled;
    }
    errc provision(credentials& out) noexcept override {
      const auto left = std::chrono::duration_cast<milliseconds>(until - clock_type::now());
      const errc e = provision_round_trip(self.server_, self.options_.request,
                                          std::min(self.options_.attempt_timeout, left), &self.cancelled_, out);
      return self.cancelled_ ? errc::cancelled : e;
    }
    errc connect(const credentials& creds) noexcept override {
      self.current_ = creds;
      client_options options = self.server_;
      apply_credentials(options, self.current_);
      self.client_.reset();
      self.client_ = std::make_unique<client>(std::move(options));
      const auto r = self.client_->connect(connect_timeout);
      if (!r) self.client_.reset();
      return r.error();
    }
    void on_retry(std::uint32_t attempt, errc error, std::uint32_t delay_ms) noexcept override {
      if (self.options_.on_retry) self.options_.on_retry(attempt, error, milliseconds(delay_ms));
    }
    bool cancelled() const noexcept override { return self.cancelled_; }
  };

  const auto started = clock_type::now();
  const auto until = options_.deadline.count() > 0 ? started + options_.deadline : clock_type::time_point::max();
  storage& store = options_.store != nullptr ? *options_.store : *own_store_;
  auto record = std::make_unique<credentials>();
  std::vector<char> scratch(credentials_json_capacity);
  client_.reset();
  provisioned_ = false;
  attempts_ = 0;

  credentials_lifecycle life{{options_.allow_reprovision, options_.max_attempts}};
  linux_platform platform{*this, connect_timeout, until};
  const auto outcome =
      run_credentials_lifecycle(life, store, *record, span<char>{scratch.data(), scratch.size()}, platform);
  attempts_ = life.attempts();
  if (!outcome) return outcome;
  provisioned_ = life.provisioned_new();
  return {};
}

}  // namespace tbmqtt
