// tbmqtt — the data-point registry: the app registers named points once (time-series keys with a
// "get" callback; client attributes with "get" and optional "set"; shared attributes with "set")
// and the registry gathers, uploads, subscribes and initializes them. Time-series points can be
// reported by exception (thresholds, deadband, min/max interval). Sans-I/O like the session: it
// publishes through a tbmqtt::session, never reads a clock (time comes in through tick()), never
// allocates, and is not thread-safe (call it where you call the session).
//
// Wiring (any platform): construct, register points, attach to the session and tick it from
// the loop that ticks the session. attach() adds the registry as a session_extension, so the
// session hands it its own events (ready, its attribute answers, shared-attribute pushes) and
// the app's session_events never see the registry's attribute answers:
//
//     tbmqtt::registry<8, 4, 4> points;               // 8 time series, 4 client, 4 shared
//     points.add_time_series("temp", tbmqtt::point_type::real, read_temp, policy);
//     points.add_shared_attribute("target", tbmqtt::point_type::real, set_target);
//     (void)points.attach(session);                    // session.add_extension(points)
//     for (;;) { session.tick(now_ms()); points.tick(now_ms(), unix_time_ms_or_0()); }
//
// tick() stays the app's: the session has no wall clock. On Linux, tbmqtt::client::attach(registry)
// attaches and ticks it for you.
//
// ## Report by exception (time-series points with a sampling period)
// At every sampling period tick() asks the point for its value and uploads it at once when
//   - it is the first good sample (the server gets a baseline);
//   - it crossed `min` or `max` since the last upload (below min / inside / above max changed,
//     in either direction). Crossings ignore min_interval_ms: alarms are never delayed;
//   - it differs from the last uploaded value by more than `delta` (absolute) or by more than
//     `delta_ratio` x |last uploaded value| (relative; when the last value was 0, any change),
//     or, for `on_change` points, differs at all (any type). These changes respect
//     min_interval_ms: inside it they are held back, and the latest value goes out at the first
//     sample after min_interval_ms if it still differs that much from the last upload;
//   - max_interval_ms (the heartbeat) has passed since the last upload.
// A point with none of min, max, delta, delta_ratio, on_change, max_interval_ms is uploaded at
// every sample (fixed-period upload), no more often than min_interval_ms; with only
// max_interval_ms it is uploaded at that interval. Points that fire in one tick go out
// together as one telemetry message, `{"ts":<wall ms>,"values":{..}}` when tick() was given a wall
// clock, otherwise `{..}`. A failed publish keeps the points pending: they fire again at their
// next sample. NaN, infinities, a value of another type than registered, and a failing "get"
// are reported through the error callback and skip that sample.
//
// ## Remote tuning: shared attribute `rbe_{key}` (documented contract)
// While remote tuning is on (the default), the policy of time-series point `{key}` can be set by
// the server with the shared attribute `rbe_{key}`, a JSON object whose members override the
// registered policy (a missing member keeps the registered value, `null` disables the rule):
//   `{"min":number,"max":number,"delta":number,"deltaRatio":number,
//     "minIntervalMs":int,"maxIntervalMs":int,"periodMs":int,"onChange":bool}`
// e.g. `rbe_temperature = {"max":30,"delta":0.5,"maxIntervalMs":600000}`. Deleting the attribute
// restores the registered policy. A value that is not such an object is reported (wrong_type)
// and ignored. The registry requests every `rbe_{key}` on each connect and follows pushes.
//
// ## Attributes
// Client attributes: upload_client_attributes() publishes every registered client attribute
// as one `{"k":v,..}` message. With init_client_attributes_from_server(true), the first time the
// session is ready the registry requests the keys that have a "set" callback and calls it with
// each stored value. Shared attributes: requested on every connect (`sharedKeys`) and followed
// by subscription; each key's "set" runs with the new value, or with an empty point_value
// (type none) when the server deleted the key (a push `{"deleted":[..]}`, or a key that was
// known and is missing from the answer after a reconnect).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/function_ref.hpp"
#include "tbmqtt/json.hpp"
#include "tbmqtt/session.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt {

/// @brief The type a point is registered with.
enum class point_type : std::uint8_t {
  none,     ///< No value (a deleted attribute).
  boolean,  ///< true / false.
  integer,  ///< A 64-bit signed integer.
  real,     ///< A double (finite).
  text,     ///< A UTF-8 string.
  json,     ///< Raw JSON text (object, array, ...), inserted as is after validation.
};

/// @brief A typed value of a point. Text and JSON are views: a "get" callback's view must stay
/// valid until the registry call that asked for it returns; a "set" callback's view is valid
/// until the callback returns.
class point_value {
 public:
  point_value() noexcept = default;                                             ///< type none
  point_value(bool b) noexcept : type_(point_type::boolean), b_(b) {}           // NOLINT: implicit on purpose
  point_value(int v) noexcept : type_(point_type::integer), i_(v) {}            // NOLINT
  point_value(long v) noexcept : type_(point_type::integer), i_(v) {}           // NOLINT
  point_value(long long v) noexcept : type_(point_type::integer), i_(v) {}      // NOLINT
  point_value(unsigned v) noexcept : type_(point_type::integer), i_(v) {}       // NOLINT
  point_value(double v) noexcept : type_(point_type::real), d_(v) {}            // NOLINT
  point_value(float v) noexcept : type_(point_type::real), d_(v) {}             // NOLINT
  point_value(std::string_view s) noexcept : type_(point_type::text), s_(s) {}  // NOLINT
  point_value(const char* s) noexcept : point_value(std::string_view{s}) {}     // NOLINT
  /// @brief Raw JSON text (validated when it is uploaded).
  static point_value json(std::string_view json_text) noexcept {
    point_value v{json_text};
    v.type_ = point_type::json;
    return v;
  }

  point_type type() const noexcept { return type_; }
  bool empty() const noexcept { return type_ == point_type::none; }
  bool as_bool() const noexcept { return b_; }         ///< @pre type() == boolean
  std::int64_t as_int() const noexcept { return i_; }  ///< @pre type() == integer
  double as_double() const noexcept { return type_ == point_type::integer ? static_cast<double>(i_) : d_; }
  std::string_view as_text() const noexcept { return s_; }  ///< text or json

 private:
  point_type type_ = point_type::none;
  bool b_ = false;
  std::int64_t i_ = 0;
  double d_ = 0;
  std::string_view s_;
};

/// "get": returns the current value, or an error (reported, the sample is skipped).
using point_getter = function_ref<result<point_value>()>;
/// "set": receives a new value of the registered type, or an empty value when deleted.
using point_setter = function_ref<void(point_value)>;
/// Error report: what went wrong and the key it concerns (or "telemetry"/"attributes").
using point_error_handler = function_ref<void(errc, std::string_view key)>;
/// Sees each payload the registry published (e.g. for logging or statistics).
using upload_observer = function_ref<void(std::string_view payload)>;

/// @brief When a time-series point is sampled and uploaded (see "Report by exception" above).
/// Doubles left NaN and intervals left 0 are off.
struct report_policy {
  static constexpr double off = std::numeric_limits<double>::quiet_NaN();
  std::uint32_t period_ms = 0;        ///< Sampling period; 0: only upload_time_series() reads the point.
  double min = off;                   ///< Upload at once when the value crosses below/above it.
  double max = off;                   ///< Upload at once when the value crosses above/below it.
  double delta = off;                 ///< Upload when |v - last| > delta.
  double delta_ratio = off;           ///< Upload when |v - last| > delta_ratio * |last| (0.05 = 5 %).
  bool on_change = false;             ///< Upload on any change (also for booleans, text and JSON).
  std::uint32_t min_interval_ms = 0;  ///< Changes (not crossings) no more often than this.
  std::uint32_t max_interval_ms = 0;  ///< Heartbeat: upload at least this often.
};

/// @brief Counters since construction.
struct registry_stats {
  std::uint32_t samples = 0;   ///< Successful "get" calls made by tick().
  std::uint32_t messages = 0;  ///< Telemetry and attribute messages published.
  std::uint32_t bytes = 0;     ///< Their payload bytes.
  std::uint32_t errors = 0;    ///< Errors reported.
};

/// @brief The capacity-erased registry; use tbmqtt::registry<> to get one with storage.
class iregistry : public session_extension {
 public:
  iregistry(const iregistry&) = delete;
  iregistry& operator=(const iregistry&) = delete;

  // ---- setup (before or after attach) -------------------------------------------------------

  /// @brief Registers time-series point `key` of `type`, read by `get`.
  /// @pre key is not empty, has no ',' and outlives the registry (it is stored as a view);
  /// get is not empty; type is not none.
  /// @return ok, or errc::queue_full (no room), errc::invalid_argument (key already registered).
  [[nodiscard]] result<void> add_time_series(std::string_view key, point_type type, point_getter get,
                                             report_policy policy = {}) noexcept;
  /// @brief Registers client attribute `key`; `set` (optional) receives the server's stored
  /// value when init_client_attributes_from_server(true). Preconditions and errors as above.
  [[nodiscard]] result<void> add_client_attribute(std::string_view key, point_type type, point_getter get,
                                                  point_setter set = {}) noexcept;
  /// @brief Registers shared attribute `key`; `set` runs on every change and on deletion.
  /// Preconditions (set not empty) and errors as above.
  [[nodiscard]] result<void> add_shared_attribute(std::string_view key, point_type type, point_setter set) noexcept;

  /// Where errors go (none by default; they are still counted in stats()).
  void on_error(point_error_handler handler) noexcept { error_handler_ = handler; }
  /// Sees every payload published (none by default).
  void on_upload(upload_observer observer) noexcept { observer_ = observer; }
  /// QoS of uploads (default 1).
  void set_qos(qos q) noexcept { qos_ = q; }
  /// Follow `rbe_{key}` shared attributes (default on). Takes effect for later connects.
  void set_remote_tuning(bool on) noexcept { remote_tuning_ = on; }
  /// Initialize client attributes that have a "set" from the server once, at the first ready.
  void init_client_attributes_from_server(bool on) noexcept { init_client_ = on; }

  /// @brief Binds the registry to `s`: adds it as an extension of `s`
  /// (session::add_extension) and keeps the attributes topic subscribed
  /// (session::add_subscription; no shared-attribute subscription index is taken, so the app's
  /// own subscribe_shared_attributes indices are unaffected). Attach once per session: a second
  /// attach to the same session is a no-op returning ok; to move to another session, detach()
  /// first. If `s` is ready, the attribute request goes out at the next tick().
  /// @pre s outlives the registry, or detach() is called before s is gone.
  /// @return ok, or errc::invalid_argument (attached to another session; nothing changes),
  /// errc::queue_full (the session has no room for the extension or the subscription).
  [[nodiscard]] result<void> attach(session& s) noexcept;
  /// @brief Unbinds the registry from its session (session::remove_extension): the session
  /// stops calling it and uploads fail with errc::not_open until the next attach. The
  /// attributes-topic subscription stays. No-op when not attached.
  void detach() noexcept;

  // ---- driving ------------------------------------------------------------------------------

  /// @brief Samples the points whose period has come, uploads those that fire (one message)
  /// and sends the pending attribute request. `wall_ms`: Unix time in ms, or 0 if unknown.
  void tick(std::uint32_t now_ms, std::uint64_t wall_ms) noexcept;
  /// @brief Reads every time-series point and publishes them as one telemetry message (points
  /// whose "get" fails are left out and reported). Resets their report-by-exception baseline.
  /// @return ok, or errc::invalid_argument (no point could be read), errc::not_enough_space
  /// (payload buffer too small), or the session's publish errors (not_connected, again, ...).
  [[nodiscard]] result<void> upload_time_series(std::uint32_t now_ms, std::uint64_t wall_ms) noexcept;
  /// @brief Reads every client attribute and publishes them as one `{"k":v,..}` message.
  /// @return As upload_time_series.
  [[nodiscard]] result<void> upload_client_attributes() noexcept;

  // ---- inspection ---------------------------------------------------------------------------

  /// The policy in force for `key` (registered, or as tuned by `rbe_{key}`); nullptr if unknown.
  const report_policy* policy(std::string_view key) const noexcept;
  const registry_stats& stats() const noexcept { return stats_; }
  std::size_t time_series_count() const noexcept { return series_count_; }

 protected:
  struct series_point {
    std::string_view key;
    point_type type = point_type::none;
    point_getter get;
    report_policy registered;
    report_policy active;
    // state of the last upload
    bool uploaded = false;
    bool pending = false;  // a change held back by min_interval_ms (or a failed publish)
    bool firing = false;   // part of the message being built
    std::int8_t zone = 0;  // -1 below min, 0 inside, 1 above max (of the last upload)
    std::int8_t sample_zone = 0;
    bool sample_due_set = false;
    std::uint32_t next_sample_ms = 0;
    std::uint32_t last_upload_ms = 0;
    double last_number = 0;       // numeric types
    std::uint32_t last_hash = 0;  // boolean / text / json
    double sample_number = 0;
    std::uint32_t sample_hash = 0;
  };
  struct client_point {
    std::string_view key;
    point_type type = point_type::none;
    point_getter get;
    point_setter set;
  };
  struct shared_point {
    std::string_view key;
    point_type type = point_type::none;
    point_setter set;
    bool known = false;  // the server had a value: a missing key after reconnect means deleted
  };

  iregistry(span<series_point> series, span<client_point> clients, span<shared_point> shared,
            span<char> payload) noexcept
      : series_(series), clients_(clients), shared_(shared), payload_(payload) {}
  ~iregistry() = default;

 private:
  // session_extension (called by the session the registry is attached to). Defined here, inline:
  // with no out-of-line virtual function the vtable and typeinfo are emitted where they are
  // used, so an app built with RTTI links against a core built with -fno-rtti.
  void on_ready(std::uint32_t /*now_ms*/) noexcept override { request_due_ = true; }  // sent at tick()
  bool on_attributes_response(std::uint32_t request_id, errc e, json::value client, json::value shared,
                              std::uint32_t /*now_ms*/) noexcept override {
    return take_answer(request_id, e, client, shared);
  }
  void on_shared_attributes(json::value update, std::uint32_t /*now_ms*/) noexcept override {
    apply_shared(update, false);
  }
  bool take_answer(std::uint32_t request_id, errc e, json::value client, json::value shared) noexcept;

  bool key_taken(std::string_view key) const noexcept;
  result<void> ensure_subscribed() noexcept;
  void report(errc e, std::string_view key) noexcept;
  void send_request(std::uint32_t now_ms) noexcept;
  result<point_value> sample(series_point& p) noexcept;
  bool decide(series_point& p, const point_value& v, std::uint32_t now_ms) noexcept;
  void apply_policy(series_point& p, json::value spec) noexcept;
  void apply_shared(json::value update, bool full_answer) noexcept;
  void deliver(std::string_view key, point_type type, point_setter set, json::value v) noexcept;
  result<void> publish_fired(itelemetry& message, std::uint32_t now_ms, bool keep_pending) noexcept;
  void uploaded(std::string_view payload) noexcept;

  span<series_point> series_;
  span<client_point> clients_;
  span<shared_point> shared_;
  span<char> payload_;
  std::size_t series_count_ = 0;
  std::size_t client_count_ = 0;
  std::size_t shared_count_ = 0;
  session* session_ = nullptr;
  bool subscribed_ = false;
  bool request_due_ = false;
  bool init_client_ = false;
  bool client_initialized_ = false;
  bool request_has_client_ = false;
  bool remote_tuning_ = true;
  std::uint32_t request_id_ = 0;
  bool request_pending_ = false;
  qos qos_ = qos::at_least_once;
  point_error_handler error_handler_;
  upload_observer observer_;
  registry_stats stats_;
};

/// @brief A registry with room for `TimeSeries` time-series points, `Client` client attributes
/// and `Shared` shared attributes, building messages in a `PayloadBytes` buffer. No heap.
template <std::size_t TimeSeries, std::size_t Client = 0, std::size_t Shared = 0,
          std::size_t PayloadBytes = TBMQTT_REGISTRY_PAYLOAD_CAPACITY>
class registry final : public iregistry {
 public:
  registry() noexcept
      : iregistry({series_storage_, TimeSeries}, {client_storage_, Client}, {shared_storage_, Shared},
                  {payload_storage_, PayloadBytes}) {}

 private:
  // One spare element each so that a capacity of 0 is allowed.
  series_point series_storage_[TimeSeries + 1];
  client_point client_storage_[Client + 1];
  shared_point shared_storage_[Shared + 1];
  char payload_storage_[PayloadBytes];
};

}  // namespace tbmqtt
