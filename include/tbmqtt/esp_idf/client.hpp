// tbmqtt — the ESP-IDF client: a ThingsBoard device connection over esp-mqtt (IDF v4.4 / v5.x).
//
//     tbmqtt::esp_client_options options;
//     options.uri = "mqtt://thingsboard.local:1883";
//     options.access_token = "A1_TEST_TOKEN";
//     tbmqtt::esp_client device{options};
//     (void)device.on_rpc("setGpio", [&](const tbmqtt::server_rpc& rpc) {
//       (void)device.reply_rpc(rpc.id, "{\"ok\":true}");   // callbacks may call back
//     });
//     if (auto r = device.connect(10000); !r) ESP_LOGE("app", "%s", tbmqtt::to_string(r.error()));
//     (void)device.send_telemetry("{\"temperature\":21.5}");
//
// The API of tbmqtt::client on Linux (same method names, return types and handler forms,
// tbmqtt/device_api.hpp); its methods are noexcept here. Results go to the handlers given per
// call; a result no handler takes goes nowhere, and errors no request owns go to on_error().
//
// Threading contract (FreeRTOS): every handler runs on one task owned by the client ("tbmqtt", created by start()/connect()). Every public method
// may be called from any task, including from inside a callback; a recursive mutex guards the
// session. Calls that send (send_*, reply_rpc, call_rpc, ...) block while esp-mqtt writes to the
// socket. Never call methods from an esp-mqtt event handler of your own (the esp-mqtt task).
// A callback that blocks delays every other callback and the request time-outs.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/device_api.hpp"  // server_rpc, rpc_handler, connection_callback, connection_event
#include "tbmqtt/errc.hpp"
#include "tbmqtt/gateway_client.hpp"
#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/ota.hpp"
#include "tbmqtt/payload.hpp"
#include "tbmqtt/session.hpp"
#include "tbmqtt/wire_format.hpp"

// Buffers, queue depths, time-outs and task settings: TBMQTT_ESP_* in tbmqtt/config.hpp (Kconfig
// menuconfig "tbmqtt" maps into it).

namespace tbmqtt {

class iregistry;  // tbmqtt/registry.hpp

/// @brief TLS for esp_client (used when the URI scheme is mqtts:// or wss://), named as
/// tls_options on Linux: `ca`, `certificate`, `private_key`, `key_password`,
/// `skip_hostname_check` and `insecure` mean the same on both. The server is verified against
/// `ca`, else the IDF certificate bundle (`use_crt_bundle`, ESP-IDF only: needs
/// CONFIG_MBEDTLS_CERTIFICATE_BUNDLE; Linux has ca_dir and the system bundle instead).
/// TLS material, the same rule on both platforms: `ca`, `certificate` and `private_key` each
/// hold PEM text when the value starts with "-----BEGIN" (NUL-terminated; it must outlive the
/// client: esp-mqtt does not copy it), else a file path (SPIFFS, FAT, or the host file system on
/// the linux target), read once when the client is created. A file that cannot be read makes
/// start() / connect() fail with errc::invalid_argument.
struct esp_tls_options {
  const char* ca = nullptr;           ///< Trusted CA certificate(s): PEM text or a file.
  bool use_crt_bundle = false;        ///< ESP-IDF only: verify with the IDF certificate bundle instead.
  const char* certificate = nullptr;  ///< Mutual TLS / X.509 device auth: certificate, PEM text or a file.
  const char* private_key = nullptr;  ///< ... its private key (may be encrypted), PEM text or a file.
  /// Decrypts an encrypted private_key; copied by start(). Wrong or missing:
  /// errc::tls_bad_client_key.
  const char* key_password = nullptr;  ///< As tls_options::key_password on Linux.
  /// Verify the server's certificate chain but not that it names the host (esp-tls: the CN
  /// check). Only when asked. As tls_options::skip_hostname_check on Linux.
  bool skip_hostname_check = false;
  /// Skip every server check (chain and host name). Only when asked. As tls_options::insecure on
  /// Linux; esp-tls can do it only when the app's sdkconfig has CONFIG_ESP_TLS_INSECURE and
  /// CONFIG_ESP_TLS_SKIP_SERVER_CERT_VERIFY: without them start() / connect() fail with
  /// errc::invalid_argument.
  bool insecure = false;
};

/// @brief How to reach and authenticate to ThingsBoard. uri, client_id, username, password and
/// access_token are copied by start(); PEM text (tls) must outlive the client.
struct esp_client_options {
  const char* uri = "mqtt://127.0.0.1:1883";  ///< mqtt://host:port, mqtts://host:port.
  // Authentication: an access token, or MQTT basic (client id and/or username + password).
  const char* access_token = nullptr;  ///< Sent as the MQTT username.
  const char* client_id = nullptr;     ///< null: esp-mqtt's default (ESP32_<mac>).
  const char* username = nullptr;      ///< MQTT basic user name (ignored with access_token).
  const char* password = nullptr;      ///< MQTT basic password (ignored with access_token).
  esp_tls_options tls;
  qos default_qos = qos::at_least_once;
  std::chrono::milliseconds request_timeout{TBMQTT_ESP_REQUEST_TIMEOUT_MS};  ///< Attribute requests, client RPCs.
  std::chrono::seconds keep_alive{TBMQTT_ESP_KEEPALIVE_S};
  /// Reconnect back-off, as on Linux: the first delay after a loss is reconnect_min, doubling
  /// after each failed attempt up to reconnect_max, each with jitter (a value in [d/2, d]:
  /// tbmqtt::reconnect_delay_ms); a connection that came up starts from reconnect_min again.
  /// The client drives esp-mqtt's reconnects (its auto-reconnect is off). Equal values: a fixed
  /// delay (both TBMQTT_ESP_RECONNECT_TIMEOUT_MS by default). Negative: start() / connect() fail
  /// with errc::invalid_argument.
  std::chrono::milliseconds reconnect_min{TBMQTT_ESP_RECONNECT_TIMEOUT_MS};
  std::chrono::milliseconds reconnect_max{TBMQTT_ESP_RECONNECT_TIMEOUT_MS};  ///< Cap of the back-off.
  std::chrono::milliseconds network_timeout{TBMQTT_ESP_NETWORK_TIMEOUT_MS};
  std::size_t max_payload = TBMQTT_DEFAULT_MAX_PAYLOAD;  ///< Server's max payload size.
  /// esp-mqtt in/out buffer. Inbound messages larger than this arrive in fragments and are
  /// reassembled into a buffer of `reassembly_size` bytes (larger ones: errc::payload_too_large),
  /// unless an extension streams them (OTA chunk responses stream into the ota_sink).
  std::size_t mqtt_buffer_size = TBMQTT_ESP_MQTT_BUFFER_SIZE;
  std::size_t reassembly_size = TBMQTT_ESP_REASSEMBLY_SIZE;
  unsigned event_queue_depth = TBMQTT_ESP_EVENT_QUEUE_DEPTH;  ///< esp-mqtt events waiting for the task.
  std::size_t event_ring_size = TBMQTT_ESP_EVENT_RING_SIZE;   ///< Their payload bytes.
  std::uint32_t task_stack = TBMQTT_ESP_TASK_STACK;           ///< Of the tbmqtt task and the esp-mqtt task.
  unsigned task_priority = TBMQTT_ESP_TASK_PRIORITY;
  std::chrono::milliseconds tick_period{100};  ///< How often time-outs are checked.
  /// Run-time level of the "tbmqtt" and "tbmqtt_ota" log tags (0 none .. 5 verbose), set by
  /// the constructor; -1 leaves them alone.
  int log_level = TBMQTT_ESP_LOG_LEVEL;
  /// Store-and-forward (tbmqtt/offline_queue.hpp): with an NVS namespace (nvs_flash_init() must
  /// have run before the client is created), every QoS 1 telemetry and attributes message is
  /// stored in NVS first and sent from there in order, also after a restart or power loss,
  /// until acknowledged (at-least-once). Their send_* tickets and outcomes are like every other
  /// message's; flush() waits until the store is empty too (as on Linux).
  /// A store that cannot be read makes start() fail with errc::storage_error. null: off.
  /// Telemetry without "ts" is stamped with its capture time when it is stored (offline_queue's
  /// epoch_ms; by default gettimeofday() once the clock is set, i.e. after 2020: before that it
  /// is stored unstamped and the server stamps it on arrival).
  const char* offline_store = nullptr;
  offline_queue_config offline_queue;      ///< Limits and full policy of the store.
  std::size_t offline_max_payload = 1024;  ///< Largest stored message (one RAM record buffer).
  /// Rate-limit pacing (tbmqtt/rate_limit.hpp; needs offline_store: messages wait there, in
  /// order, instead of getting the device disconnected), as client_options::rate_limits on Linux.
  /// Rules look like "10:1,300:60" (null: none). A rule that does not parse, or pacing without an
  /// offline store, makes start() fail with errc::invalid_argument.
  struct rate_limit_options {
    bool learn = false;                        ///< Ask the server on every connect (getSessionLimits); its answer wins.
    const char* messages = nullptr;            ///< Rules until (or without) an answer.
    const char* telemetry_messages = nullptr;  ///< ...
    const char* telemetry_data_points = nullptr;  ///< ...
    bool fail_instead_of_waiting = false;         ///< Over the limit, send_* fail with errc::again.
  } rate_limits;
  /// Topic family (v1 or the v2 short topics) and payload format (JSON, or protobuf in the device
  /// profile's schemas: tbmqtt/wire_format.hpp). The app's calls and callbacks stay JSON either way.
  /// The schema tables must outlive the client.
  wire_format wire;
};

/// @brief A ThingsBoard device session over esp-mqtt. After a loss the client reconnects with
/// back-off (reconnect_min..reconnect_max, as on Linux); every subscription is restored on each
/// connection.
class esp_client {
 public:
  using connection_callback = tbmqtt::connection_callback;
  using rpc_handler = tbmqtt::rpc_handler;

  /// Every result goes to the handlers given per call (or nowhere), as on Linux. Out of memory:
  /// start() and connect() return errc::out_of_memory.
  explicit esp_client(const esp_client_options& options) noexcept;
  /// Stops the client. Pending requests end with errc::disconnected. Not from a callback.
  ~esp_client();
  esp_client(const esp_client&) = delete;
  esp_client& operator=(const esp_client&) = delete;

  /// @brief Starts the tbmqtt task and esp-mqtt (which connects in the background; failed
  /// attempts are retried with back-off).
  /// @return ok, or errc::out_of_memory, errc::invalid_argument (bad URI/options, a TLS
  /// file that cannot be read, a negative reconnect_min/max),
  /// errc::transport_error, errc::storage_error (the offline store cannot be read).
  [[nodiscard]] result<void> start() noexcept;
  /// @brief start(), then waits until CONNACK and every SUBACK arrived. Afterwards the client
  /// reconnects by itself after a loss (back-off reconnect_min..reconnect_max). A connect() that fails (errc::timeout included) stops
  /// the client, as on Linux: nothing retries in the background; call connect() again (each
  /// call starts afresh). start() alone keeps trying from the start.
  /// @return ok, or errc::refused_credentials, errc::identifier_rejected,
  /// errc::server_unavailable, errc::refused, errc::unreachable, errc::subscription_refused,
  /// errc::timeout, errc::invalid_argument (see start()), errc::would_deadlock (called from a
  /// callback), or a TLS failure (detail::errc_from_esp_tls): errc::tls_unknown_ca,
  /// errc::tls_hostname_mismatch, errc::tls_certificate_expired,
  /// errc::tls_client_certificate_refused, errc::tls_bad_client_key, errc::tls_error. The first
  /// three need esp-tls's certificate verification flags, which esp-tls (IDF 5.5, mbedTLS 3.6)
  /// leaves out after a failed first handshake: a server certificate that is not trusted, names
  /// another host or is expired then arrives as mbedTLS's X509_CERT_VERIFY_FAILED alone, and is
  /// errc::tls_error (Linux names the cause).
  [[nodiscard]] result<void> connect(std::chrono::milliseconds timeout) noexcept;
  /// @brief Disconnects and stops esp-mqtt and the tbmqtt task (a later connect() or start()
  /// starts them again). @pre Not called from a callback.
  void disconnect() noexcept;
  /// True while connected and subscribed.
  bool connected() const noexcept;
  /// @brief Connection up/down events (each automatic reconnect too), and each attempt the
  /// server refused (CONNACK, TLS), on the tbmqtt task. connection_event::reason is errc{} when
  /// up; else refused_credentials, unreachable, tls_* (see connect), disconnected, ...
  void on_connection(connection_callback callback);

  /// @brief Publishes telemetry: JSON text (validated) or a builder. QoS 1 messages published
  /// while offline wait in esp-mqtt's outbox. Its outcome arrives once: the PUBACK (QoS 1) or the
  /// write (QoS 0), or why it was lost (errc::timeout: expired from esp-mqtt's outbox), in
  /// `on_delivered` when given (else nowhere).
  /// @return The message's ticket, or errc::invalid_argument, errc::payload_too_large,
  /// errc::not_connected (QoS 0 while offline), errc::not_open (QoS 1 before start() / connect()
  /// or after disconnect(), without an offline store), errc::again (esp-mqtt outbox full, or
  /// TBMQTT_MAX_IN_FLIGHT messages wait for their outcome).
  [[nodiscard]] result<delivery_ticket> send_telemetry(std::string_view json_text, qos q,
                                                       delivery_callback on_delivered = {}) noexcept;
  [[nodiscard]] result<delivery_ticket> send_telemetry(std::string_view json_text) noexcept;
  [[nodiscard]] result<delivery_ticket> send_telemetry(itelemetry& payload, qos q,
                                                       delivery_callback on_delivered = {}) noexcept;
  [[nodiscard]] result<delivery_ticket> send_telemetry(itelemetry& payload) noexcept;
  /// @brief Publishes client attributes (a flat JSON object). Errors as send_telemetry.
  [[nodiscard]] result<delivery_ticket> send_attributes(std::string_view json_text, qos q,
                                                        delivery_callback on_delivered = {}) noexcept;
  [[nodiscard]] result<delivery_ticket> send_attributes(std::string_view json_text) noexcept;
  [[nodiscard]] result<delivery_ticket> send_attributes(iattributes& payload, qos q,
                                                        delivery_callback on_delivered = {}) noexcept;
  /// @brief Waits until no message waits for its outcome: every one sent so far is delivered (or
  /// expired from esp-mqtt's outbox, or reported lost), and with an offline store until it is
  /// empty, as on Linux. @return ok, errc::timeout, or errc::would_deadlock (called from a callback).
  [[nodiscard]] result<void> flush(std::chrono::milliseconds timeout) noexcept;

  /// @brief Reads client and shared attributes ("k1,k2" lists; both empty: all). `done` gets
  /// errc{} and the `client`/`shared` sections (absent when empty), or errc::timeout,
  /// errc::disconnected, errc::malformed.
  /// @return The request id, or errc::not_connected, errc::queue_full, errc::again.
  [[nodiscard]] result<std::uint32_t> request_attributes(std::string_view client_keys, std::string_view shared_keys,
                                                         attributes_callback done) noexcept;
  /// @brief Calls `update` for each shared-attribute push touching `keys` ("k1,k2"; "" = all;
  /// copied). Survives reconnects. @return The subscription's index, or errc::queue_full.
  [[nodiscard]] result<std::size_t> subscribe_shared_attributes(std::string_view keys,
                                                                attribute_update_callback update) noexcept;
  /// @brief Errors no request owns (refused subscription, malformed push, unknown response id,
  /// unknown topic, esp-mqtt events dropped (errc::queue_full), a message expired from
  /// esp-mqtt's outbox (errc::timeout)).
  void on_error(error_callback callback);
  /// @brief Server-side RPC `method` reaches `handler` (on the tbmqtt task; answer with
  /// reply_rpc(), now or later, from any task). Unregistered methods are answered
  /// `{"error":"unknown method: m"}` unless on_any_rpc has a handler. @return ok, or
  /// errc::queue_full.
  [[nodiscard]] result<void> on_rpc(std::string_view method, rpc_handler handler);
  /// @brief Handles every server-side RPC that has no handler of its own (empty: none).
  [[nodiscard]] result<void> on_any_rpc(rpc_handler handler);
  /// @brief Answers server RPC `request_id`. @return The message id, or errc::unknown_request,
  /// errc::invalid_argument, errc::payload_too_large, errc::not_connected.
  [[nodiscard]] result<delivery_ticket> reply_rpc(std::string_view request_id, std::string_view json_text) noexcept;
  /// @brief Client-side RPC: `{"method":m,"params":params_json}`. `done` gets the server's JSON,
  /// or errc::timeout, errc::disconnected, errc::malformed, errc::server_error (`{"error":..}`).
  /// @return The request id, or errc::not_connected, errc::queue_full, errc::again.
  [[nodiscard]] result<std::uint32_t> call_rpc(std::string_view method, std::string_view params_json,
                                               rpc_response_callback done) noexcept;
  /// @brief Claims the device: `{"secretKey":s,"durationMs":n}`. `duration` 0 leaves durationMs
  /// out (the server's default applies). @return The message's ticket, or errc::invalid_argument
  /// (`duration` negative or above 2^32-1 ms: the wire carries 32 bits), errors as send_telemetry.
  [[nodiscard]] result<delivery_ticket> claim(std::string_view secret_key, std::chrono::milliseconds duration,
                                              delivery_callback on_delivered = {}) noexcept;

  /// @brief Drives a data-point registry (tbmqtt/registry.hpp) with this client's session, as
  /// tbmqtt::client::attach does on Linux: `points.attach(session)` (the session then hands it
  /// its events) and, unless `tick` is false, `points.tick(monotonic ms, Unix ms or 0 before
  /// SNTP set the clock)` on the tbmqtt task every tick_period. Under the session mutex; for
  /// other calls on the registry from another task use with_lock(). One registry at a time:
  /// attaching another one detaches the previous one; the same one again only updates `tick`.
  /// @pre `points` outlives the client, or detach() is called first.
  /// @return ok, or errc::queue_full, errc::invalid_argument (attached to another session),
  /// errc::out_of_memory (no client).
  [[nodiscard]] result<void> attach(iregistry& points, bool tick = true) noexcept;
  /// @brief Detaches the registry (iregistry::detach) and stops ticking it.
  void detach() noexcept;

  /// @brief The gateway API (tbmqtt/gateway_client.hpp, as client::gateway() on Linux) for a
  /// device flagged as a ThingsBoard gateway: sub-device connect/disconnect, telemetry,
  /// attributes, RPC and claim. Created on first use (then the `v1/gateway/*` filters are
  /// subscribed: call it before connect() so that connect() fails with
  /// errc::subscription_refused when the device is no gateway); lives as long as the client.
  /// Up to TBMQTT_GATEWAY_MAX_DEVICES sub-devices, messages up to TBMQTT_GATEWAY_PAYLOAD_CAPACITY
  /// bytes (Kconfig; allocated on first use). Out of memory (no exceptions here): a gateway whose
  /// every call fails with errc::out_of_memory (is_connected() false, handlers not kept) is
  /// returned instead, and the next gateway() call tries to allocate again.
  gateway_client& gateway() noexcept;
  /// @brief Messages in the offline store (esp_client_options::offline_store) not yet
  /// acknowledged; 0 without one. `dropped` gets how many the drop_oldest policy removed since
  /// the client was created. As client::offline_queued() on Linux.
  std::size_t offline_queued(std::uint32_t* dropped = nullptr) const noexcept;
  /// @brief Commits the offline store now (group commit: offline_queue.commit_records /
  /// commit_interval_ms): everything sent so far survives a power loss once this returns ok. The
  /// destructor does it too. As client::sync_offline_store() on Linux.
  /// @return ok, errc::not_open (no offline store), errc::out_of_memory (no client), or the
  /// medium's error (errc::storage_error, errc::not_enough_space: NVS full).
  result<void> sync_offline_store() noexcept;

  /// @brief Runs `f()` under the client's (session) mutex, serialised with the tbmqtt task, and
  /// returns its result (for calls on an attached registry from another task, e.g.
  /// `upload_time_series`). The same on Linux. `f` may call the client.
  /// @pre The client was created (not out of memory).
  template <class F>
  decltype(auto) with_lock(F&& f) {
    struct guard {
      const esp_client& c;
      explicit guard(const esp_client& owner) : c(owner) { c.lock(); }
      ~guard() { c.unlock(); }
    } held{*this};
    return f();
  }

  /// @brief Enables firmware or software OTA (one engine per ota_kind), as client::enable_ota on
  /// Linux: on every connect the client reports current_*_title/version, follows the *_ package
  /// attributes, downloads a new package into `sink` (chunks larger than mqtt_buffer_size
  /// stream into it fragment by fragment; MD5/SHA-2 through mbedTLS, CRC32/Murmur3 in the core),
  /// checkpoints progress in `store` (optional, e.g. NVS) and reports *_state. Runs on the
  /// tbmqtt task; `handlers` run there too. The config's texts are copied.
  /// @pre `sink` and `store` outlive the client.
  /// @return ok, or errc::invalid_argument (this kind is enabled already), errc::queue_full,
  /// errc::out_of_memory.
  [[nodiscard]] result<void> enable_ota(const ota_config& config, ota_sink& sink, storage* store,
                                        ota_handlers handlers = {}) noexcept;
  /// @brief After restarting into a new version that works: reports UPDATED.
  /// @return ok, or errc::not_found (nothing pending), errc::invalid_argument (kind not enabled).
  [[nodiscard]] result<void> confirm_ota(ota_kind kind) noexcept;
  /// @brief The new version does not work: reports FAILED with `reason`. Errors as confirm_ota.
  [[nodiscard]] result<void> reject_ota(ota_kind kind, std::string_view reason) noexcept;

 private:
  struct impl;
  void lock() const noexcept;
  void unlock() const noexcept;
  impl* impl_ = nullptr;
};

}  // namespace tbmqtt
