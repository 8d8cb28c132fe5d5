// The Linux client: one network thread runs libmosquitto and the core session; every public
// method takes the same (recursive) mutex, so callbacks may call back into the client.
#include "tbmqtt/linux/client.hpp"
#include "tbmqtt/device_runtime.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include "../../transport/mosquitto/mosquitto_transport.hpp"
#include "../common/client_events.hpp"
#include "../common/client_options.hpp"
#include "../common/gateway_state.hpp"
#include "../common/ota_slots.hpp"
#include "tbmqtt/linux/platform.hpp"
#include "tbmqtt/rate_limit.hpp"

namespace tbmqtt {
namespace {

using clock_type = std::chrono::steady_clock;

std::uint32_t now_ms() {
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now().time_since_epoch()).count());
}

// client_options::uri into host, port and TLS on/off.
client_options with_uri(client_options o) {
  if (o.uri.empty()) return o;
  std::string_view rest = o.uri;
  bool tls = false;
  if (rest.substr(0, 7) == "mqtt://") {
    rest.remove_prefix(7);
  } else if (rest.substr(0, 8) == "mqtts://") {
    rest.remove_prefix(8);
    tls = true;
  } else {
    throw std::invalid_argument("uri '" + o.uri + "': mqtt:// or mqtts:// expected");
  }
  std::string_view host = rest, port;
  if (!rest.empty() && rest.front() == '[') {  // [v6 address][:port]
    const auto close = rest.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("uri '" + o.uri + "': no ']'");
    host = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
    if (!rest.empty() && rest.front() != ':') throw std::invalid_argument("uri '" + o.uri + "': ':' expected");
    if (!rest.empty()) port = rest.substr(1);
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  unsigned long number = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || number > 65535) throw std::invalid_argument("uri '" + o.uri + "': bad port");
    number = number * 10 + static_cast<unsigned long>(c - '0');
  }
  if (host.empty() || host.find('/') != std::string_view::npos || number > 65535 ||
      (port.empty() && rest.find(':') != std::string_view::npos) || (!port.empty() && number == 0))
    throw std::invalid_argument("uri '" + o.uri + "': host[:port] expected");
  o.host = std::string(host);
  o.port = static_cast<std::uint16_t>(number);
  o.tls.enabled = tls;
  return o;
}

detail::mqtt_endpoint endpoint_from(const client_options& o) {
  detail::mqtt_endpoint e;
  e.host = o.host;
  e.port = o.port != 0 ? o.port : (o.tls.enabled ? 8883 : 1883);
  e.client_id = o.client_id;
  e.username = o.access_token.empty() ? o.username : o.access_token;
  e.password = o.access_token.empty() ? o.password : std::string{};
  e.keep_alive_s = static_cast<int>(o.keep_alive.count());
  if (o.mqtt5_max_packet_size) e.max_inbound_packet = detail::inbound_packet_limit(o.max_payload);
  e.tls = o.tls.enabled;
  e.ca_file = o.tls.ca;
  e.ca_dir = o.tls.ca_dir;
  e.cert_file = o.tls.certificate;
  e.key_file = o.tls.private_key;
  e.key_password = o.tls.key_password;
  e.tls_insecure = o.tls.insecure;
  e.tls_skip_hostname_check = o.tls.skip_hostname_check;
  return e;
}

std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

}  // namespace

// The offline store of client_options: a log of segment files in a locked directory.
struct offline_store {
  file_segment_store files;
  std::vector<ioffline_queue::entry> window;
  std::vector<std::byte> buffer;
  tbmqtt::ioffline_queue queue;
  offline_store(const std::string& directory, const client_options& o)
      : files(directory, o.offline_store_sync),
        window(o.offline_queue.max_in_flight > 0 ? o.offline_queue.max_in_flight : 1),
        buffer(o.max_payload + ioffline_queue::header_size),
        queue(files, {window.data(), window.size()}, {buffer.data(), buffer.size()}, with_clock(o.offline_queue)) {
    if (auto locked = files.open(); !locked) {
      if (locked.error() == errc::store_locked)
        throw store_error(
            "offline store " + directory + " is in use by another process" +
                (files.locked_by() > 0 ? " (pid " + std::to_string(files.locked_by()) + ")" : std::string{}),
            errc::store_locked);
      throw store_error("offline store " + directory + ": cannot be created or locked", locked.error());
    }
    if (auto opened = queue.open(); !opened)
      throw store_error("offline store " + directory + ": cannot be read", opened.error());
    // Messages a version before the log left (one file each) join the log first.
    if (auto imported = import_legacy_offline_files(directory, queue); !imported)
      throw store_error("offline store " + directory + ": its older files cannot be imported", imported.error());
  }
  // Telemetry is stamped with the wall clock when it is stored (its capture time).
  static offline_queue_config with_clock(offline_queue_config c) {
    if (c.epoch_ms == nullptr) c.epoch_ms = []() noexcept { return unix_ms(); };
    return c;
  }
};

// The Linux side of the portable runtime (tbmqtt/device_runtime.hpp): a recursive mutex, a
// condition variable, the steady and system clocks, a network thread; the rest is the runtime's.
// The session's results go where detail::client_events sends them (the per-call callbacks).
struct client::impl final : detail::client_events<client::impl>,
                            detail::transport_listener,
                            transport_port,
                            runtime_os,
                            connection_listener {
  explicit impl(client_options o)
      : options(with_uri(std::move(o))),
        transport(endpoint_from(options), *this),
        core(*this, *this, detail::session_config_from(options)) {
    runtime.set_listener(this);
    // A slot per packet id: libmosquitto queues any number of messages (offline too).
    core.set_delivery_slots({delivery_slots.data(), delivery_slots.size()});
    if (detail::wants_pacing(options)) set_up_pacing();
    if (options.offline_store.empty()) return;
    store = std::make_unique<offline_store>(options.offline_store, options);
    core.set_offline_queue(&store->queue);
  }
  void set_up_pacing() {
    if (options.offline_store.empty()) throw std::runtime_error("rate limits need an offline store");
    const std::pair<rate_limit_kind, const std::string*> rules[] = {
        {rate_limit_kind::messages, &options.rate_limits.messages},
        {rate_limit_kind::telemetry_messages, &options.rate_limits.telemetry_messages},
        {rate_limit_kind::telemetry_data_points, &options.rate_limits.telemetry_data_points}};
    for (const auto& [kind, text] : rules)
      if (!limiter.set(kind, *text, now_ms())) throw std::runtime_error("rate limit '" + *text + "' does not parse");
    core.set_rate_limiter(&limiter);
  }

  // ---- transport_port ----
  result<message_id> publish(std::string_view topic, span<const std::byte> payload, qos q) noexcept override {
    return transport.publish(topic, payload, q);
  }
  result<message_id> subscribe(std::string_view filter, qos q) noexcept override {
    return transport.subscribe(filter, q);
  }

  // ---- runtime_os, connection_listener ----
  void lock() noexcept override { mutex.lock(); }
  void unlock() noexcept override { mutex.unlock(); }
  void wake() noexcept override { changed.notify_all(); }
  std::uint32_t now_ms() noexcept override { return tbmqtt::now_ms(); }
  std::uint64_t unix_ms() noexcept override { return tbmqtt::unix_ms(); }
  void on_connection(const connection_event& e) noexcept override {
    if (connection_handler) connection_handler(e);
  }

  // ---- state (guarded by mutex) ----
  client_options options;
  std::vector<delivery_slot> delivery_slots = std::vector<delivery_slot>(65536);
  detail::mosquitto_transport transport;
  session core;
  device_runtime runtime{core, *this, 10};
  mutable std::recursive_mutex mutex;
  std::condition_variable_any changed;
  std::thread network;
  std::thread::id network_id;
  std::atomic<bool> stopping{false};
  bool socket_open = false;
  std::deque<std::string> kept_views;  // strings the session stores views of
  connection_callback connection_handler;
  std::uint32_t reconnect_attempt = 0;
  std::mt19937 random{std::random_device{}()};
  detail::ota_slots ota;                           // enable_ota
  std::unique_ptr<detail::gateway_state> gateway;  // client::gateway(), created on first use
  std::unique_ptr<offline_store> store;
  rate_limiter limiter;  // used when options.rate_limits asks for pacing

  std::string_view keep(std::string_view s) { return kept_views.emplace_back(s); }

  // ---- network thread ----
  void run() {
    network_id = std::this_thread::get_id();
    clock_type::time_point next_attempt = clock_type::now();
    while (!stopping) {
      if (!socket_open) {
        if (clock_type::now() < next_attempt) {
          std::unique_lock lock(mutex);
          auto until = next_attempt;
          if (store && store->queue.uncommitted() > 0) {  // the group commit's bounded wait, offline too
            const auto commit_at =
                clock_type::now() + std::chrono::milliseconds(options.offline_queue.commit_interval_ms + 1);
            if (commit_at < until) until = commit_at;
          }
          changed.wait_until(lock, until, [&] { return stopping.load(); });
          if (store) store->queue.tick(now_ms());
          continue;
        }
        // Blocking TCP (and TLS) set-up, without the lock: senders are not held up meanwhile
        // (libmosquitto is thread-safe for publish during a connect).
        auto opened = transport.connect();
        std::lock_guard lock(mutex);
        if (opened) {
          socket_open = true;
        } else {
          attempt_failed(opened.error());
          next_attempt = clock_type::now() + backoff();
          continue;
        }
      }
      auto looped = transport.loop(50);
      std::lock_guard lock(mutex);
      runtime.tick();
      if (!looped) {
        // The connection failed before the session was up (TLS handshake, reset).
        if (!runtime.ready())
          attempt_failed(looped.error() == errc::not_connected ? errc::unreachable : looped.error());
        // The socket died without a DISCONNECT callback (e.g. read error): treat it as a loss.
        if (socket_open) lose_connection(errc::disconnected);
      }
      if (!socket_open) next_attempt = clock_type::now() + backoff();
    }
  }

  // connect() reports the first failed attempt; a TLS rejection is also a connection event on
  // every attempt, as a CONNACK refusal is (an unreachable broker is not: nobody refused us).
  void attempt_failed(errc e) {
    if (is_tls_failure(e))
      runtime.on_refused(e);
    else
      runtime.on_attempt_failed(e);
  }

  std::chrono::milliseconds backoff() {
    const auto delay =
        reconnect_delay_ms(reconnect_attempt++, static_cast<std::uint32_t>(options.reconnect_min.count()),
                           static_cast<std::uint32_t>(options.reconnect_max.count()), random());
    return std::chrono::milliseconds(delay);
  }

  void lose_connection(errc reason) {
    socket_open = false;
    core.on_disconnected();
    runtime.on_connection_lost(reason);
  }

  // ---- transport_listener (network thread; mutex is taken here) ----
  void on_connack(errc result) override {
    std::lock_guard lock(mutex);
    if (result != errc{}) return runtime.on_refused(result);
    core.on_connected(now_ms());
  }
  void on_connection_lost(errc reason) override {
    std::lock_guard lock(mutex);
    if (socket_open) lose_connection(reason);
  }
  void on_message(std::string_view topic, span<const std::byte> payload) override {
    std::lock_guard lock(mutex);
    core.on_message(topic, payload, now_ms());
  }
  void on_suback(message_id id, std::uint8_t granted) override {
    std::lock_guard lock(mutex);
    core.on_suback(id, granted);
  }
  void on_puback(message_id id) override {
    std::lock_guard lock(mutex);
    core.on_puback(id);
  }

  // ---- session_events (called with the mutex held; the rest: detail::client_events) ----
  void on_ready() noexcept override {
    reconnect_attempt = 0;
    runtime.on_ready();
  }

  // ---- publishing ----
  // Publishes through the core (with the lock held) and remembers the delivery callback by the
  // message's ticket (one id space: direct and stored messages alike).
  template <typename Publish>
  result<delivery_ticket> send(Publish publish, delivery_callback on_delivered) {
    const result<delivery_ticket> sent =
        calls.send(publish, std::move(on_delivered), [](delivery_ticket, errc) {});  // nobody asked for others
    if (sent && store != nullptr && !socket_open) changed.notify_all();  // offline: the network thread times the commit
    return sent;
  }

  // ---- detail::client_port (the gateway API; lock and now_ms are above, on_error is client_events's) ----
  result<delivery_ticket> send_message(function_ref<result<delivery_ticket>()> publish,
                                       delivery_callback done) override {
    std::lock_guard lock(mutex);
    return send(publish, std::move(done));
  }
  errc publish_request(function_ref<errc()> attempt) override {
    std::lock_guard lock(mutex);
    return attempt();
  }
};

client::client(client_options options) : impl_(std::make_unique<impl>(std::move(options))) {}

client::~client() {
  {
    // No "connection down" event for our own teardown: its handler may capture objects that
    // are already gone.
    std::lock_guard lock(impl_->mutex);
    impl_->connection_handler = nullptr;
    impl_->error_handler = nullptr;
  }
  disconnect();
  std::lock_guard lock(impl_->mutex);
  if (impl_->store) (void)impl_->store->queue.sync();  // what was pushed is durable, and the watermark
  impl_->core.abandon_deliveries(errc::cancelled);     // through on_delivered: their callbacks
  impl_->calls.cancel_all(errc::cancelled);            // requests, and the stored messages' callbacks
  if (impl_->gateway) impl_->gateway->cancel_all();    // its attribute requests
}

qos client::options_qos() const { return impl_->options.default_qos; }

result<void> client::connect(std::chrono::milliseconds timeout) {
  impl& d = *impl_;
  std::unique_lock lock(d.mutex);
  if (d.network.joinable()) return d.runtime.ready() ? result<void>{} : result<void>{errc::again};
  d.runtime.begin_connect();
  d.stopping = false;
  d.network = std::thread([&d] { d.run(); });
  if (!d.changed.wait_for(lock, timeout, [&] { return d.runtime.outcome_known(); })) {
    lock.unlock();
    disconnect();
    return errc::timeout;
  }
  const errc outcome = d.runtime.outcome();
  if (outcome != errc{}) {
    lock.unlock();
    disconnect();
    return outcome;
  }
  return {};
}

void client::disconnect() {
  impl& d = *impl_;
  {
    std::lock_guard lock(d.mutex);
    if (!d.network.joinable()) return;
    d.stopping = true;
    if (d.socket_open) d.transport.disconnect();
    d.changed.notify_all();
  }
  d.network.join();
  std::lock_guard lock(d.mutex);
  if (d.socket_open) d.lose_connection(errc{});
  d.network = std::thread();
}

bool client::connected() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->runtime.ready();
}

result<delivery_ticket> client::send_telemetry(std::string_view json_text, qos q, delivery_callback on_delivered) {
  std::lock_guard lock(impl_->mutex);
  return impl_->send([&] { return impl_->core.publish_telemetry(json_text, q); }, std::move(on_delivered));
}

result<delivery_ticket> client::send_telemetry(itelemetry& payload, qos q, delivery_callback on_delivered) {
  std::lock_guard lock(impl_->mutex);
  return impl_->send([&] { return impl_->core.publish_telemetry(payload, q); }, std::move(on_delivered));
}

result<delivery_ticket> client::send_attributes(std::string_view json_text, qos q, delivery_callback on_delivered) {
  std::lock_guard lock(impl_->mutex);
  return impl_->send([&] { return impl_->core.publish_attributes(json_text, q); }, std::move(on_delivered));
}

result<delivery_ticket> client::send_attributes(iattributes& payload, qos q, delivery_callback on_delivered) {
  std::lock_guard lock(impl_->mutex);
  return impl_->send([&] { return impl_->core.publish_attributes(payload, q); }, std::move(on_delivered));
}

result<delivery_ticket> client::claim(std::string_view secret_key, std::chrono::milliseconds duration,
                                      delivery_callback on_delivered) {
  // The wire format carries 32 bits of milliseconds (about 49.7 days): never wrap silently.
  if (duration.count() < 0 || duration.count() > std::numeric_limits<std::uint32_t>::max())
    return errc::invalid_argument;
  std::lock_guard lock(impl_->mutex);
  return impl_->send([&] { return impl_->core.claim(secret_key, static_cast<std::uint32_t>(duration.count())); },
                     std::move(on_delivered));
}

result<void> client::flush(std::chrono::milliseconds timeout) {
  impl& d = *impl_;
  std::unique_lock lock(d.mutex);
  if (std::this_thread::get_id() == d.network_id) return errc::would_deadlock;  // would wait on itself
  d.runtime.flush_waiting(true);
  const bool done = d.changed.wait_for(lock, timeout, [&] { return d.runtime.idle(); });
  d.runtime.flush_waiting(false);
  return done ? result<void>{} : result<void>{errc::timeout};
}

result<std::uint32_t> client::request_attributes(std::string_view client_keys, std::string_view shared_keys,
                                                 attributes_callback done) {
  std::lock_guard lock(impl_->mutex);
  auto id = impl_->core.request_attributes(client_keys, shared_keys, now_ms());
  if (id && done) impl_->calls.expect_attributes(*id, std::move(done));
  return id;
}

result<std::size_t> client::subscribe_shared_attributes(std::string_view keys, attribute_update_callback update) {
  std::lock_guard lock(impl_->mutex);
  auto index = impl_->core.subscribe_shared_attributes(impl_->keep(keys));
  if (index && update) impl_->calls.on_shared(*index, std::move(update));
  return index;
}

result<void> client::on_rpc(std::string_view method, rpc_handler handler) {
  std::lock_guard lock(impl_->mutex);
  return impl_->rpcs.on(impl_->core, method, std::move(handler));
}

result<void> client::on_any_rpc(rpc_handler handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->rpcs.on_any(impl_->core, std::move(handler));
  return {};
}

result<delivery_ticket> client::reply_rpc(std::string_view request_id, std::string_view json_text) {
  std::lock_guard lock(impl_->mutex);
  return impl_->send([&] { return impl_->core.reply_rpc(request_id, json_text); }, {});
}

result<std::uint32_t> client::call_rpc(std::string_view method, std::string_view params_json,
                                       rpc_response_callback done) {
  std::lock_guard lock(impl_->mutex);
  auto id = impl_->core.call_rpc(method, params_json, now_ms());
  if (id && done) impl_->calls.expect_rpc_response(*id, std::move(done));
  return id;
}

result<void> client::attach(iregistry& points, bool tick) {
  return impl_->runtime.with_lock([&] { return impl_->runtime.attach(points, tick); });
}

void client::detach() {
  impl_->runtime.with_lock([&] { impl_->runtime.detach(); });
}

void client::lock() const { impl_->mutex.lock(); }
void client::unlock() const { impl_->mutex.unlock(); }

result<void> client::enable_ota(const ota_config& config, ota_sink& sink, storage* store, ota_handlers handlers) {
  std::lock_guard lock(impl_->mutex);
  return impl_->ota.enable(impl_->core, impl_->runtime.ready(), now_ms(), config, sink, store, std::move(handlers));
}

result<void> client::confirm_ota(ota_kind kind) {
  std::lock_guard lock(impl_->mutex);
  return impl_->ota.confirm(kind);
}

result<void> client::reject_ota(ota_kind kind, std::string_view reason) {
  std::lock_guard lock(impl_->mutex);
  return impl_->ota.reject(kind, reason);
}

void client::on_error(error_callback callback) {
  std::lock_guard lock(impl_->mutex);
  impl_->error_handler = std::move(callback);
}

result<void> client::sync_offline_store() {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->store) return errc::not_open;
  return impl_->store->queue.sync();
}

std::size_t client::offline_queued(std::uint32_t* dropped) const {
  std::lock_guard lock(impl_->mutex);
  if (dropped != nullptr) *dropped = impl_->store ? impl_->store->queue.dropped() : 0;
  return impl_->store ? impl_->store->queue.size() : 0;
}

void client::on_connection(connection_callback callback) {
  std::lock_guard lock(impl_->mutex);
  impl_->connection_handler = std::move(callback);
}

// ---- gateway (the API and its bookkeeping: src/platform/common/gateway_client.cpp) ------------

gateway_client& client::gateway() {
  impl& d = *impl_;
  std::lock_guard lock(d.mutex);
  // Room for as many sub-devices as a gateway may have, and messages up to the server's default limit.
  if (!d.gateway) d.gateway = detail::gateway_state::make<255, TBMQTT_DEFAULT_MAX_PAYLOAD>(d, d.core);
  return d.gateway->api();
}

}  // namespace tbmqtt
