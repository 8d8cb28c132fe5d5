#include "tbmqtt/registry.hpp"

#include <cmath>
#include <cstring>

#include "tbmqtt/detail/slice.hpp"
#include "tbmqtt/payload.hpp"

namespace tbmqtt {
namespace {

constexpr std::string_view policy_prefix = "rbe_";

// Builders over the registry's own buffer (their constructors are protected).
struct telemetry_in final : itelemetry {
  explicit telemetry_in(span<char> buffer) noexcept : itelemetry(buffer) {}
};
struct attributes_in final : iattributes {
  explicit attributes_in(span<char> buffer) noexcept : iattributes(buffer) {}
};

bool off(double d) noexcept { return std::isnan(d); }
bool numeric(point_type t) noexcept { return t == point_type::integer || t == point_type::real; }

// FNV-1a over the value's text (booleans: one byte), to notice a change without keeping a copy.
std::uint32_t hash_of(const point_value& v) noexcept {
  std::uint32_t h = 2166136261u;
  auto mix = [&h](unsigned char c) { h = (h ^ c) * 16777619u; };
  mix(static_cast<unsigned char>(v.type()));
  if (v.type() == point_type::boolean) {
    mix(v.as_bool() ? 1 : 0);
  } else {
    for (char c : v.as_text()) mix(static_cast<unsigned char>(c));
  }
  return h;
}

// Checks a value returned by a "get" against the registered type. An integer is accepted for a
// real point (widened); anything else of another type is errc::wrong_type.
result<point_value> check(point_type registered, point_value v) noexcept {
  if (v.type() == point_type::integer && registered == point_type::real) v = point_value{v.as_double()};
  if (v.type() != registered) return errc::wrong_type;
  if (registered == point_type::real && !std::isfinite(v.as_double())) return errc::invalid_argument;
  if (registered == point_type::json && !json::validate(v.as_text())) return errc::invalid_argument;
  return v;
}

template <typename Builder>
void add_value(Builder& b, std::string_view key, const point_value& v) noexcept {
  switch (v.type()) {
    case point_type::boolean: b.add(key, v.as_bool()); break;
    case point_type::integer: b.add(key, static_cast<long long>(v.as_int())); break;
    case point_type::real: b.add(key, v.as_double()); break;
    case point_type::text: b.add(key, v.as_text()); break;
    case point_type::json: b.add_json(key, v.as_text()); break;
    case point_type::none: break;
  }
}

// Appends `item` (with `prefix`) to a comma-separated list in `out`; false when it does not fit.
bool append_key(span<char> out, std::size_t& used, std::string_view prefix, std::string_view item) noexcept {
  const std::size_t need = (used == 0 ? 0 : 1) + prefix.size() + item.size();
  if (used + need > out.size()) return false;
  if (used != 0) out[used++] = ',';
  std::memcpy(out.data() + used, prefix.data(), prefix.size());
  used += prefix.size();
  std::memcpy(out.data() + used, item.data(), item.size());
  used += item.size();
  return true;
}

// A policy field: a number (or null = off) into a double.
bool read_double(json::value v, double& out) noexcept {
  if (!v.present()) return true;
  if (v.is_null()) {
    out = report_policy::off;
    return true;
  }
  auto d = v.as_double();
  if (!d || !std::isfinite(*d)) return false;
  out = *d;
  return true;
}

// A policy field: a non-negative integer that fits 32 bits (or null = 0) into milliseconds.
bool read_ms(json::value v, std::uint32_t& out) noexcept {
  if (!v.present()) return true;
  if (v.is_null()) {
    out = 0;
    return true;
  }
  auto i = v.as_int();
  if (!i || *i < 0 || *i > static_cast<std::int64_t>(0xFFFFFFFFu)) return false;
  out = static_cast<std::uint32_t>(*i);
  return true;
}

}  // namespace

// ---- setup ---------------------------------------------------------------------------------------

bool iregistry::key_taken(std::string_view key) const noexcept {
  for (std::size_t i = 0; i < series_count_; ++i)
    if (series_[i].key == key) return true;
  for (std::size_t i = 0; i < client_count_; ++i)
    if (clients_[i].key == key) return true;
  for (std::size_t i = 0; i < shared_count_; ++i)
    if (shared_[i].key == key) return true;
  return false;
}

result<void> iregistry::add_time_series(std::string_view key, point_type type, point_getter get,
                                        report_policy policy) noexcept {
  TBMQTT_EXPECTS(!key.empty() && key.find(',') == std::string_view::npos);
  TBMQTT_EXPECTS(get && type != point_type::none);
  for (std::size_t i = 0; i < series_count_; ++i)
    if (series_[i].key == key) return errc::invalid_argument;
  if (series_count_ == series_.size()) return errc::queue_full;
  series_point& p = series_[series_count_++];
  p = series_point{};
  p.key = key;
  p.type = type;
  p.get = get;
  p.registered = policy;
  p.active = policy;
  return ensure_subscribed();
}

result<void> iregistry::add_client_attribute(std::string_view key, point_type type, point_getter get,
                                             point_setter set) noexcept {
  TBMQTT_EXPECTS(!key.empty() && key.find(',') == std::string_view::npos);
  TBMQTT_EXPECTS(get && type != point_type::none);
  for (std::size_t i = 0; i < client_count_; ++i)
    if (clients_[i].key == key) return errc::invalid_argument;
  if (client_count_ == clients_.size()) return errc::queue_full;
  clients_[client_count_++] = client_point{key, type, get, set};
  return {};
}

result<void> iregistry::add_shared_attribute(std::string_view key, point_type type, point_setter set) noexcept {
  TBMQTT_EXPECTS(!key.empty() && key.find(',') == std::string_view::npos);
  TBMQTT_EXPECTS(set && type != point_type::none);
  for (std::size_t i = 0; i < shared_count_; ++i)
    if (shared_[i].key == key) return errc::invalid_argument;
  if (shared_count_ == shared_.size()) return errc::queue_full;
  shared_[shared_count_++] = shared_point{key, type, set, false};
  return ensure_subscribed();
}

result<void> iregistry::attach(session& s) noexcept {
  if (session_ == &s) return {};  // once per session
  if (session_ != nullptr) return errc::invalid_argument;
  TBMQTT_TRY(s.add_extension(*this));
  session_ = &s;
  subscribed_ = false;
  request_pending_ = false;
  request_due_ = s.state() == session_state::ready;
  if (auto subscribed = ensure_subscribed(); !subscribed) {
    detach();
    return subscribed.error();
  }
  return {};
}

void iregistry::detach() noexcept {
  if (session_ == nullptr) return;
  session_->remove_extension(*this);
  session_ = nullptr;
  request_pending_ = false;
  request_due_ = false;
}

result<void> iregistry::ensure_subscribed() noexcept {
  if (session_ == nullptr || subscribed_) return {};
  if (shared_count_ == 0 && !(remote_tuning_ && series_count_ > 0)) return {};
  // Pushes reach the registry through on_shared_attributes whatever the app subscribed; the
  // topic only has to be subscribed.
  TBMQTT_TRY(session_->add_subscription(session_->config().attributes_topic));
  subscribed_ = true;
  return {};
}

void iregistry::report(errc e, std::string_view key) noexcept {
  ++stats_.errors;
  if (error_handler_) error_handler_(e, key);
}

const report_policy* iregistry::policy(std::string_view key) const noexcept {
  for (std::size_t i = 0; i < series_count_; ++i)
    if (series_[i].key == key) return &series_[i].active;
  return nullptr;
}

// ---- attribute request and answers -----------------------------------------------------------------

void iregistry::send_request(std::uint32_t now_ms) noexcept {
  if (session_ == nullptr || session_->state() != session_state::ready || request_pending_) return;
  char shared_keys[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  char client_keys[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  std::size_t shared_used = 0;
  std::size_t client_used = 0;
  bool fits = true;
  for (std::size_t i = 0; i < shared_count_; ++i)
    fits = fits && append_key(shared_keys, shared_used, "", shared_[i].key);
  if (remote_tuning_)
    for (std::size_t i = 0; i < series_count_; ++i)
      fits = fits && append_key(shared_keys, shared_used, policy_prefix, series_[i].key);
  const bool want_client = init_client_ && !client_initialized_;
  if (want_client)
    for (std::size_t i = 0; i < client_count_; ++i)
      if (clients_[i].set) fits = fits && append_key(client_keys, client_used, "", clients_[i].key);
  request_due_ = false;
  if (!fits) return report(errc::not_enough_space, "attributes");
  if (shared_used == 0 && client_used == 0) return;
  auto id = session_->request_attributes({client_keys, client_used}, {shared_keys, shared_used}, now_ms);
  if (!id) {
    if (id.error() == errc::queue_full || id.error() == errc::again) request_due_ = true;  // next tick
    return report(id.error(), "attributes");
  }
  request_id_ = *id;
  request_pending_ = true;
  request_has_client_ = client_used != 0;
}

bool iregistry::take_answer(std::uint32_t request_id, errc e, json::value client, json::value shared) noexcept {
  if (!request_pending_ || request_id != request_id_) return false;
  request_pending_ = false;
  if (e != errc{}) {
    if (e == errc::timeout) request_due_ = true;  // ask again at the next tick
    report(e, "attributes");
    return true;
  }
  if (request_has_client_) {
    client_initialized_ = true;
    for (std::size_t i = 0; i < client_count_; ++i) {
      client_point& c = clients_[i];
      json::value v = client[c.key];
      if (c.set && v.present()) deliver(c.key, c.type, c.set, v);
    }
  }
  apply_shared(shared, true);
  return true;
}

void iregistry::apply_shared(json::value update, bool full_answer) noexcept {
  for (std::size_t i = 0; i < shared_count_; ++i) {
    shared_point& s = shared_[i];
    json::value v = update[s.key];
    if (v.present() && !v.is_null()) {
      s.known = true;
      deliver(s.key, s.type, s.set, v);
    } else if ((v.is_null() || full_answer) && s.known) {
      s.known = false;
      s.set(point_value{});
    }
  }
  if (remote_tuning_) {
    for (std::size_t i = 0; i < series_count_; ++i) series_[i].firing = false;  // marks "seen"
    for (auto m : update.members()) {
      if (detail::slice(m.key, 0, policy_prefix.size()) != policy_prefix) continue;
      const std::string_view rest = detail::slice(m.key, policy_prefix.size());
      for (std::size_t i = 0; i < series_count_; ++i)
        if (json::key_equals(rest, series_[i].key)) {
          series_[i].firing = true;
          if (m.val.is_null()) {
            series_[i].active = series_[i].registered;
            series_[i].sample_due_set = false;
          } else {
            apply_policy(series_[i], m.val);
          }
        }
    }
    for (std::size_t i = 0; i < series_count_; ++i) {
      series_point& p = series_[i];
      if (full_answer && !p.firing) {  // not stored on the server (any more)
        p.active = p.registered;
        p.sample_due_set = false;
      }
      p.firing = false;
    }
  }
  // Deletions: {"deleted":["k1","rbe_k2"]}
  json::value deleted = update["deleted"];
  for (auto d : deleted.elements()) {
    if (!d.is_string()) continue;
    const std::string_view raw = detail::slice(d.raw(), 1, d.raw().size() - 2);
    for (std::size_t i = 0; i < shared_count_; ++i)
      if (json::key_equals(raw, shared_[i].key)) {
        shared_[i].known = false;
        shared_[i].set(point_value{});
      }
    if (!remote_tuning_ || detail::slice(raw, 0, policy_prefix.size()) != policy_prefix) continue;
    for (std::size_t i = 0; i < series_count_; ++i)
      if (json::key_equals(detail::slice(raw, policy_prefix.size()), series_[i].key)) {
        series_[i].active = series_[i].registered;
        series_[i].sample_due_set = false;
      }
  }
}

void iregistry::deliver(std::string_view key, point_type type, point_setter set, json::value v) noexcept {
  char text[TBMQTT_REGISTRY_TEXT_CAPACITY];
  switch (type) {
    case point_type::boolean:
      if (auto b = v.as_bool()) return set(point_value{*b});
      break;
    case point_type::integer:
      if (auto i = v.as_int()) return set(point_value{static_cast<long long>(*i)});
      break;
    case point_type::real:
      if (auto d = v.as_double()) return set(point_value{*d});
      break;
    case point_type::text:
      if (auto s = v.as_string(text))
        return set(point_value{*s});
      else if (s.error() == errc::not_enough_space)
        return report(errc::not_enough_space, key);
      break;
    case point_type::json: return set(point_value::json(v.raw()));
    case point_type::none: break;
  }
  report(errc::wrong_type, key);
}

void iregistry::apply_policy(series_point& p, json::value spec) noexcept {
  report_policy next = p.registered;
  bool ok = spec.is_object();
  ok = ok && read_double(spec["min"], next.min) && read_double(spec["max"], next.max);
  ok = ok && read_double(spec["delta"], next.delta) && read_double(spec["deltaRatio"], next.delta_ratio);
  ok = ok && read_ms(spec["minIntervalMs"], next.min_interval_ms) &&
       read_ms(spec["maxIntervalMs"], next.max_interval_ms);
  ok = ok && read_ms(spec["periodMs"], next.period_ms);
  if (ok && spec["onChange"].present()) {
    auto b = spec["onChange"].as_bool();
    ok = b.ok() || spec["onChange"].is_null();
    next.on_change = b.value_or(false);
  }
  if (!ok) return report(errc::wrong_type, p.key);
  if (next.period_ms != p.active.period_ms) p.sample_due_set = false;
  p.active = next;
}

// ---- sampling and report by exception ----------------------------------------------------------------

result<point_value> iregistry::sample(series_point& p) noexcept {
  auto got = p.get();
  if (!got) {
    report(got.error(), p.key);
    return got.error();
  }
  auto v = check(p.type, *got);
  if (!v) {
    report(v.error(), p.key);
    return v.error();
  }
  ++stats_.samples;
  return v;
}

bool iregistry::decide(series_point& p, const point_value& v, std::uint32_t now_ms) noexcept {
  const report_policy& r = p.active;
  const bool is_number = numeric(p.type);
  p.sample_number = is_number ? v.as_double() : 0;
  p.sample_hash = is_number ? 0 : hash_of(v);
  p.sample_zone = 0;
  if (is_number && !off(r.min) && p.sample_number < r.min) p.sample_zone = -1;
  if (is_number && !off(r.max) && p.sample_number > r.max) p.sample_zone = 1;

  if (!p.uploaded) return true;              // baseline
  if (p.sample_zone != p.zone) return true;  // threshold crossing: at once

  const bool by_exception =
      !off(r.min) || !off(r.max) || !off(r.delta) || !off(r.delta_ratio) || r.on_change || r.max_interval_ms != 0;
  bool changed = !by_exception;  // fixed-period points report every sample
  if (by_exception && is_number) {
    const double diff = std::fabs(p.sample_number - p.last_number);
    changed =
        (r.on_change && diff != 0) || (!off(r.delta) && diff > r.delta) ||
        (!off(r.delta_ratio) && (p.last_number == 0 ? diff != 0 : diff > r.delta_ratio * std::fabs(p.last_number)));
  } else if (by_exception) {
    changed = (r.on_change || !off(r.delta) || !off(r.delta_ratio)) && p.sample_hash != p.last_hash;
  }
  const bool interval_ok = r.min_interval_ms == 0 || time_reached(now_ms, p.last_upload_ms + r.min_interval_ms);
  if ((changed || p.pending) && interval_ok) return true;
  return r.max_interval_ms != 0 && time_reached(now_ms, p.last_upload_ms + r.max_interval_ms);
}

// Publishes the message holding every point marked `firing`; on success they become the new
// baseline, on failure they stay pending (tick) so that they fire again at their next sample.
result<void> iregistry::publish_fired(itelemetry& message, std::uint32_t now_ms, bool keep_pending) noexcept {
  result<delivery_ticket> sent = errc::not_open;
  if (session_ != nullptr) sent = session_->publish_telemetry(message, qos_);
  for (std::size_t i = 0; i < series_count_; ++i) {
    series_point& p = series_[i];
    if (!p.firing) continue;
    p.firing = false;
    if (!sent) {
      p.pending = p.pending || keep_pending;
      continue;
    }
    p.uploaded = true;
    p.pending = false;
    p.zone = p.sample_zone;
    p.last_number = p.sample_number;
    p.last_hash = p.sample_hash;
    p.last_upload_ms = now_ms;
  }
  if (!sent) return sent.error();
  uploaded(*message.finish());
  return {};
}

void iregistry::uploaded(std::string_view payload) noexcept {
  ++stats_.messages;
  stats_.bytes += static_cast<std::uint32_t>(payload.size());
  if (observer_) observer_(payload);
}

void iregistry::tick(std::uint32_t now_ms, std::uint64_t wall_ms) noexcept {
  if (request_due_) send_request(now_ms);
  telemetry_in message{payload_};
  bool any = false;
  for (std::size_t i = 0; i < series_count_; ++i) {
    series_point& p = series_[i];
    const std::uint32_t period = p.active.period_ms;
    if (period == 0) continue;
    if (!p.sample_due_set) {
      p.sample_due_set = true;
      p.next_sample_ms = now_ms;
    }
    if (!time_reached(now_ms, p.next_sample_ms)) continue;
    p.next_sample_ms += period;  // keep the phase, but never catch up with a burst
    if (time_reached(now_ms, p.next_sample_ms)) p.next_sample_ms = now_ms + period;
    auto v = sample(p);
    if (!v || !decide(p, *v, now_ms)) continue;
    if (!any && wall_ms != 0) message.at(wall_ms);
    add_value(message, p.key, *v);
    p.firing = true;
    any = true;
  }
  if (!any) return;
  if (auto sent = publish_fired(message, now_ms, true); !sent) report(sent.error(), "telemetry");
}

result<void> iregistry::upload_time_series(std::uint32_t now_ms, std::uint64_t wall_ms) noexcept {
  telemetry_in message{payload_};
  bool any = false;
  for (std::size_t i = 0; i < series_count_; ++i) {
    series_point& p = series_[i];
    auto v = sample(p);
    if (!v) continue;
    (void)decide(p, *v, now_ms);  // fills the sample state for the new baseline
    if (!any && wall_ms != 0) message.at(wall_ms);
    add_value(message, p.key, *v);
    p.firing = true;
    any = true;
  }
  if (!any) return errc::invalid_argument;
  return publish_fired(message, now_ms, false);
}

result<void> iregistry::upload_client_attributes() noexcept {
  attributes_in message{payload_};
  bool any = false;
  for (std::size_t i = 0; i < client_count_; ++i) {
    client_point& c = clients_[i];
    auto got = c.get();
    auto v = got ? check(c.type, *got) : result<point_value>(got.error());
    if (!v) {
      report(v.error(), c.key);
      continue;
    }
    add_value(message, c.key, *v);
    any = true;
  }
  if (!any) return errc::invalid_argument;
  if (session_ == nullptr) return errc::not_open;
  auto sent = session_->publish_attributes(message, qos_);
  if (!sent) return sent.error();
  uploaded(*message.finish());
  return {};
}

}  // namespace tbmqtt
