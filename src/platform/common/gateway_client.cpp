// tbmqtt::gateway_client (tbmqtt/gateway_client.hpp) over detail::gateway_state, for the Linux
// and the ESP-IDF client alike: every method runs under the client's lock, sends through the
// client's port (its delivery callbacks by ticket) and keeps the app's handlers here.
#include "gateway_state.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace tbmqtt {
namespace detail {

void gateway_state::set_engine(igateway& engine, session& core) {
  engine_ = &engine;
  if (auto attached = engine.attach(core); !attached) port_.on_error(attached.error(), "gateway");
}

gateway_state& gateway_state::unavailable() noexcept {
  // Holds nothing: every gateway_client call checks engine_ (null here) before it touches the
  // port or the tables, so the port is never used.
  struct no_port final : client_port {
    void lock() noexcept override {}
    void unlock() noexcept override {}
    std::uint32_t now_ms() noexcept override { return 0; }
    void on_error(errc, std::string_view) noexcept override {}
    result<delivery_ticket> send_message(function_ref<result<delivery_ticket>()>, delivery_callback) override {
      return errc::out_of_memory;
    }
    errc publish_request(function_ref<errc()>) override { return errc::out_of_memory; }
  };
  struct no_engine final : gateway_state {
    no_engine() noexcept : gateway_state(port) {}
    no_port port;
  };
  static no_engine none;
  return none;
}

void gateway_state::cancel_all() {
  auto answers = std::move(answers_);
  answers_.clear();
  for (auto& [id, pending] : answers) pending.done(errc::cancelled, {});
}

void gateway_state::on_attribute_update(std::string_view device, json::value data) noexcept {
  if (update_) update_(device, data);
}

void gateway_state::on_rpc_request(const gateway_rpc_request& request) noexcept {
  gateway_rpc rpc{std::string(request.device), request.id, std::string(request.method),
                  std::string(request.params.raw())};
  auto it = rpc_handlers_.find(request.device);
  if (it != rpc_handlers_.end() && it->second) return it->second(rpc);
  if (any_rpc_) return any_rpc_(rpc);
  (void)engine_->reply_rpc_error(request.device, request.id, "no handler for device: " + rpc.device);
}

void gateway_state::on_attributes_response(std::uint32_t id, errc e, const gateway_attributes_answer& answer) noexcept {
  auto it = answers_.find(id);
  if (it == answers_.end()) return;
  pending_answer pending = std::move(it->second);
  answers_.erase(it);
  if (!pending.done) return;
  if (e != errc{}) return pending.done(e, {});
  if (answer.values.present()) return pending.done(e, answer.values);
  std::string object = "{}";
  if (answer.value.present() && !answer.value.is_null()) {
    // The one-value form names no key: only a one-key request can say which it is.
    if (pending.keys.size() != 1) return pending.done(errc::malformed, {});
    object.resize(pending.keys[0].size() * 6 + answer.value.raw().size() + 8);
    auto text = write_single_attribute({object.data(), object.size()}, pending.keys[0], answer.value);
    if (!text) return pending.done(errc::malformed, {});
    object.resize(text->size());
  }
  pending.done(errc{}, *json::value::parse(object));
}

namespace {

// The keys of a request ("a, b,a"), each once, as igateway::request_attributes sends them.
std::vector<std::string> key_list(std::string_view keys) {
  std::vector<std::string> names;
  for (std::size_t start = 0; start <= keys.size();) {
    std::size_t comma = keys.find(',', start);
    if (comma == std::string_view::npos) comma = keys.size();
    std::string_view item = keys.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty() && std::find(names.begin(), names.end(), item) == names.end()) names.emplace_back(item);
    start = comma + 1;
  }
  return names;
}

}  // namespace
}  // namespace detail

// Every method first: a gateway without an engine (gateway_state::unavailable(): the client ran
// out of memory creating it) fails with errc::out_of_memory and keeps nothing.
result<void> gateway_client::connect_device(std::string_view name, std::string_view type) {
  if (state_.engine_ == nullptr) return errc::out_of_memory;
  if (name.empty()) return errc::invalid_argument;
  result<void> done = errc::again;
  auto attempt = [&]() -> errc {
    done = state_.engine_->connect_device(name, type);
    return done ? errc{} : done.error();
  };
  (void)state_.port_.publish_request(attempt);
  return done;
}

result<void> gateway_client::disconnect_device(std::string_view name) {
  if (state_.engine_ == nullptr) return errc::out_of_memory;
  if (name.empty()) return errc::invalid_argument;
  result<void> done = errc::again;
  auto attempt = [&]() -> errc {
    done = state_.engine_->disconnect_device(name);
    return done ? errc{} : done.error();
  };
  (void)state_.port_.publish_request(attempt);
  return done;
}

bool gateway_client::is_connected(std::string_view name) const {
  if (state_.engine_ == nullptr) return false;
  return state_.locked([&] { return state_.engine_->is_connected(name); });
}

result<delivery_ticket> gateway_client::send_telemetry(std::string_view device, std::string_view json_text,
                                                       delivery_callback on_delivered) {
  return state_.send([&](igateway& g) { return g.publish_telemetry(device, json_text); }, std::move(on_delivered));
}

result<delivery_ticket> gateway_client::send_telemetry(igateway_telemetry& payload, delivery_callback on_delivered) {
  return state_.send([&](igateway& g) { return g.publish_telemetry(payload); }, std::move(on_delivered));
}

result<delivery_ticket> gateway_client::send_attributes(std::string_view device, std::string_view json_text,
                                                        delivery_callback on_delivered) {
  return state_.send([&](igateway& g) { return g.publish_attributes(device, json_text); }, std::move(on_delivered));
}

result<delivery_ticket> gateway_client::send_attributes(igateway_attributes& payload, delivery_callback on_delivered) {
  return state_.send([&](igateway& g) { return g.publish_attributes(payload); }, std::move(on_delivered));
}

result<std::uint32_t> gateway_client::request_attributes(std::string_view device, attribute_scope scope,
                                                         std::string_view keys, attributes_callback done) {
  if (state_.engine_ == nullptr) return errc::out_of_memory;
  result<std::uint32_t> id = errc::again;
  auto attempt = [&]() -> errc {
    id = state_.engine_->request_attributes(device, scope, keys, state_.port_.now_ms());
    if (!id) return id.error();
    // Under the lock still: the answer cannot arrive before it is expected.
    state_.answers_[*id] = {detail::key_list(keys), std::move(done)};
    return errc{};
  };
  (void)state_.port_.publish_request(attempt);
  return id;
}

void gateway_client::on_attribute_update(update_handler update) {
  if (state_.engine_ == nullptr) return;
  state_.locked([&] { state_.update_ = std::move(update); });
}

result<void> gateway_client::on_rpc(std::string_view device, rpc_handler handler) {
  if (state_.engine_ == nullptr) return errc::out_of_memory;
  if (device.empty()) return errc::invalid_argument;
  state_.locked([&] { state_.rpc_handlers_[std::string(device)] = std::move(handler); });
  return {};
}

void gateway_client::on_any_rpc(rpc_handler handler) {
  if (state_.engine_ == nullptr) return;
  state_.locked([&] { state_.any_rpc_ = std::move(handler); });
}

result<delivery_ticket> gateway_client::reply_rpc(std::string_view device, std::uint32_t id,
                                                  std::string_view json_text) {
  return state_.send([&](igateway& g) { return g.reply_rpc(device, id, json_text); }, {});
}

result<delivery_ticket> gateway_client::claim(std::string_view device, std::string_view secret_key,
                                              std::chrono::milliseconds duration, delivery_callback on_delivered) {
  if (state_.engine_ == nullptr) return errc::out_of_memory;
  // The wire format carries 32 bits of milliseconds (about 49.7 days): never wrap silently.
  if (device.empty() || duration.count() < 0 || duration.count() > std::numeric_limits<std::uint32_t>::max())
    return errc::invalid_argument;
  const auto ms = static_cast<std::uint32_t>(duration.count());
  return state_.send([&](igateway& g) { return g.claim(device, secret_key, ms); }, std::move(on_delivered));
}

}  // namespace tbmqtt
