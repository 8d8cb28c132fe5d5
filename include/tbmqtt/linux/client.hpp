// tbmqtt — the Linux client: a ThingsBoard device connection over libmosquitto.
//
//     tbmqtt::client_options options;
//     options.host = "thingsboard.local";
//     options.access_token = "A1_TEST_TOKEN";
//     tbmqtt::client device{options};
//     if (auto r = device.connect(std::chrono::seconds(10)); !r) return fail(r.error());
//     device.on_rpc("setGpio", [&](const tbmqtt::server_rpc& rpc) { device.reply_rpc(rpc.id, "{\"ok\":true}"); });
//     tbmqtt::telemetry<128> t;
//     t.add("temperature", 21.5);
//     device.send_telemetry(t);
//     device.flush(std::chrono::seconds(5));
//
// Threading contract: all callbacks run on one thread owned by the client (its network
// thread). Every public method may be called from any thread, including from inside a
// callback. A callback that blocks delays every other callback and the keep-alive.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tbmqtt/device_api.hpp"  // server_rpc, rpc_handler, connection_callback, error_callback
#include "tbmqtt/errc.hpp"
#include "tbmqtt/gateway_client.hpp"
#include "tbmqtt/json.hpp"
#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/ota.hpp"
#include "tbmqtt/payload.hpp"
#include "tbmqtt/registry.hpp"
#include "tbmqtt/session.hpp"
#include "tbmqtt/wire_format.hpp"

namespace tbmqtt {

/// @brief TLS settings. With `enabled`, the server certificate is verified against `ca`
/// (or `ca_dir`, or the system bundle when both are empty) and its name against the host, unless
/// `insecure` or `skip_hostname_check` says otherwise. `ca`, `certificate`, `private_key`,
/// `key_password`, `skip_hostname_check` and `insecure` mean the same in esp_tls_options on
/// ESP-IDF; `enabled` (ESP-IDF: the URI scheme mqtts://) and `ca_dir` (ESP-IDF: use_crt_bundle)
/// are Linux only.
/// TLS material, the same rule on both platforms: `ca`, `certificate` and `private_key` each
/// hold PEM text when the value starts with "-----BEGIN", else a file path. A file or text that
/// does not load makes connect() fail (errc::tls_error for the CA, errc::tls_bad_client_key for
/// the certificate or key).
struct tls_options {
  bool enabled = false;      ///< Linux only (ESP-IDF: the URI scheme). A uri "mqtts://..." sets it.
  std::string ca;            ///< Trusted CAs: PEM text or a PEM file.
  std::string ca_dir;        ///< Linux only: a directory of hashed CA certificates (`openssl rehash`).
  std::string certificate;   ///< Client certificate (chain) for mutual TLS / X.509 auth: PEM text or a file.
  std::string private_key;   ///< Its private key, plain or encrypted: PEM text or a file.
  std::string key_password;  ///< Decrypts an encrypted private_key (wrong or missing: errc::tls_bad_client_key).
  /// Verify the server's certificate chain but not that it names the host. Only when asked.
  bool skip_hostname_check = false;
  bool insecure = false;  ///< Skip every server check (chain and host name). Only when asked.
};

/// @brief How to reach and authenticate to ThingsBoard.
struct client_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  ///< 0: 1883, or 8883 with TLS.
  /// The server as esp_client_options::uri names it: "mqtt://host[:port]" or "mqtts://host[:port]"
  /// (TLS on), "[v6 address]" in brackets. When set it replaces host, port and tls.enabled; one
  /// that does not parse makes the constructor throw std::invalid_argument.
  std::string uri;
  // Authentication: an access token, or MQTT basic (client id and/or username + password).
  std::string access_token;  ///< Sent as the MQTT username.
  std::string client_id;     ///< MQTT client id; generated when empty.
  std::string username;      ///< MQTT basic username (ignored when access_token is set).
  std::string password;      ///< MQTT basic password.
  tls_options tls;
  qos default_qos = qos::at_least_once;
  std::chrono::milliseconds request_timeout{10000};  ///< Attribute requests and client RPCs.
  /// MQTT keep-alive (5 s or more; 0: off). A connection on which nothing arrived for 1.5 x this
  /// (not even the answer to a PINGREQ: a stalled, half-open link) is dropped and reconnected;
  /// on_connection() then reports errc::timeout.
  std::chrono::seconds keep_alive{60};
  std::chrono::milliseconds reconnect_min{250};          ///< First reconnect delay.
  std::chrono::milliseconds reconnect_max{30000};        ///< Cap of the exponential back-off.
  std::size_t max_payload = TBMQTT_DEFAULT_MAX_PAYLOAD;  ///< Server's max payload size.
  /// Connect with MQTT 5 and send the Maximum Packet Size property (max_payload plus room for
  /// the topic and header), so that the server never sends a larger message: libmosquitto
  /// would otherwise read all of it into memory before it can be dropped (a 100 MB push costs
  /// over 200 MB of RAM). A message over the limit is then discarded by the server (MQTT 5
  /// §3.1.2.11.4; mosquitto logs "Dropping too large outgoing PUBLISH") and never reaches the
  /// client; one over max_payload but within the room still arrives and is dropped with
  /// errc::payload_too_large through on_error, as without this option. Off by default:
  /// ThingsBoard's MQTT transport accepts MQTT 5 but, as far as its source shows, does not
  /// enforce the client's Maximum Packet Size (nothing gained there); 3.1.1-only servers refuse it.
  bool mqtt5_max_packet_size = false;
  /// Topic family (v1 or the v2 short topics) and payload format (JSON, or protobuf in the device
  /// profile's schemas: tbmqtt/wire_format.hpp). The app's calls and callbacks stay JSON either way.
  /// The schema tables must outlive the client.
  wire_format wire;
  /// Store-and-forward (tbmqtt/offline_queue.hpp): with a directory, every QoS 1 telemetry and
  /// attributes message is first appended to a log there (tbmqtt::file_segment_store; the
  /// directory is locked: one process at a time) and sent from it in order once committed; it
  /// survives restarts and crashes until acknowledged (at-least-once). Telemetry without a time
  /// stamp is stamped with its capture time when stored. Publishing then works before
  /// connect() and while offline; messages a previous run left are sent after the next
  /// connect. Empty: off (libmosquitto queues offline QoS 1 messages in RAM only).
  std::string offline_store;
  /// false: the store skips fsync (it then survives a crash or kill of the process, not a power
  /// loss).
  bool offline_store_sync = true;
  /// Its limits, full policy and group commit (commit_records / commit_interval_ms: the
  /// interval is checked on every turn of the network thread, at least every 50 ms).
  offline_queue_config offline_queue;
  /// Rate-limit pacing (tbmqtt/rate_limit.hpp; needs offline_store: messages wait there, in
  /// order, instead of getting the device disconnected). Rules look like "10:1,300:60".
  struct rate_limit_options {
    bool learn = false;  ///< Ask the server on every connect (getSessionLimits); its answer wins.
    std::string messages, telemetry_messages, telemetry_data_points;  ///< Rules until (or without) an answer.
    bool fail_instead_of_waiting = false;                             ///< Over the limit, send_* fail with errc::again.
  } rate_limits;
};

/// @brief The offline store cannot be used: code() is errc::store_locked (another process
/// holds its directory), errc::storage_error or errc::not_enough_space.
class store_error : public std::runtime_error {
 public:
  store_error(const std::string& what, errc code) : std::runtime_error(what), code_(code) {}
  errc code() const noexcept { return code_; }

 private:
  errc code_;
};

class client {
 public:
  using delivery_callback = tbmqtt::delivery_callback;
  using attributes_callback = tbmqtt::attributes_callback;
  using attribute_update_callback = tbmqtt::attribute_update_callback;
  using rpc_handler = tbmqtt::rpc_handler;
  using rpc_response_callback = tbmqtt::rpc_response_callback;
  using error_callback = tbmqtt::error_callback;
  using connection_callback = tbmqtt::connection_callback;

  /// @throws tbmqtt::store_error when options.offline_store cannot be opened or is locked by
  /// another process; std::invalid_argument when options.uri does not parse; std::runtime_error
  /// when a rule in
  /// options.rate_limits does not parse, or rate limits are given without an offline store.
  explicit client(client_options options);
  /// Disconnects and stops the network thread. Pending requests and delivery callbacks end with
  /// errc::cancelled; the connection and error handlers are not called any more.
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// @brief Connects and waits until CONNACK and every SUBACK arrived. Afterwards the client
  /// stays connected by itself: after a loss it reconnects with exponential back-off and jitter
  /// (reconnect_min..reconnect_max) and restores every subscription. A connect() that fails
  /// (errc::timeout included) leaves the client stopped, as on ESP-IDF: nothing retries in the
  /// background; call connect() again (each call starts afresh). Only a connection that was up
  /// is restored by itself.
  /// @return ok, or errc::refused_credentials, errc::identifier_rejected,
  /// errc::server_unavailable, errc::refused, errc::unreachable, errc::subscription_refused,
  /// errc::timeout, or a TLS failure: errc::tls_unknown_ca (server certificate not trusted),
  /// errc::tls_hostname_mismatch, errc::tls_certificate_expired (or not valid yet),
  /// errc::tls_client_certificate_refused (the server refused or required our certificate),
  /// errc::tls_bad_client_key (certificate or key unreadable, wrong key password),
  /// errc::tls_error (any other TLS failure).
  [[nodiscard]] result<void> connect(std::chrono::milliseconds timeout);
  /// @brief Disconnects cleanly (queued messages not yet sent are dropped; call flush() first).
  void disconnect();
  /// True while connected and subscribed.
  bool connected() const;

  /// @brief Publishes telemetry: JSON text (validated), or a builder (never allocates).
  /// QoS 1 messages published while disconnected are queued and sent after reconnect.
  /// @param on_delivered Optional; called once the broker acknowledged (QoS 1) or the
  /// message was written (QoS 0), or with why it was lost (tbmqtt::session_events::on_delivered:
  /// errc::queue_full, errc::disconnected for QoS 0, ...), or with errc::cancelled if the client
  /// is destroyed first. Exactly once, whether the message went through the offline store or not.
  /// @return The message's ticket (as session_events::on_delivered would name it), or
  /// errc::invalid_argument, errc::payload_too_large, errc::not_connected (QoS 0
  /// while offline); with an offline store also errc::queue_full (full, policy refuse),
  /// errc::not_enough_space or errc::storage_error (the disk), errc::again (over a rate limit
  /// with rate_limits.fail_instead_of_waiting). A message the drop_oldest policy drops gets
  /// errc::queue_full in its on_delivered.
  [[nodiscard]] result<delivery_ticket> send_telemetry(std::string_view json_text, qos q,
                                                       delivery_callback on_delivered = {});
  [[nodiscard]] result<delivery_ticket> send_telemetry(std::string_view json_text) {
    return send_telemetry(json_text, options_qos());
  }
  [[nodiscard]] result<delivery_ticket> send_telemetry(itelemetry& payload, qos q, delivery_callback on_delivered = {});
  [[nodiscard]] result<delivery_ticket> send_telemetry(itelemetry& payload) {
    return send_telemetry(payload, options_qos());
  }
  /// @brief Publishes client attributes (a flat JSON object). Errors as send_telemetry.
  [[nodiscard]] result<delivery_ticket> send_attributes(std::string_view json_text, qos q,
                                                        delivery_callback on_delivered = {});
  [[nodiscard]] result<delivery_ticket> send_attributes(std::string_view json_text) {
    return send_attributes(json_text, options_qos());
  }
  [[nodiscard]] result<delivery_ticket> send_attributes(iattributes& payload, qos q,
                                                        delivery_callback on_delivered = {});

  /// @brief Waits until no message waits for its outcome: every one published is acknowledged
  /// (or written, QoS 0, or reported lost), and with an offline store until it is empty. (Other
  /// threads publishing meanwhile extend the wait.)
  /// @return ok, errc::timeout, or errc::would_deadlock (called from a callback).
  [[nodiscard]] result<void> flush(std::chrono::milliseconds timeout);

  /// @brief Reads client and shared attributes ("k1,k2" lists; both empty: all).
  /// `done` gets errc{} and the `client`/`shared` sections (absent when empty), or
  /// errc::timeout, errc::disconnected, errc::malformed.
  /// @return The request id, or errc::not_connected, errc::queue_full.
  [[nodiscard]] result<std::uint32_t> request_attributes(std::string_view client_keys, std::string_view shared_keys,
                                                         attributes_callback done);

  /// @brief Calls `update` for each shared-attribute push touching `keys` ("k1,k2"; "" = all).
  /// Survives reconnects. @return The subscription's index, or errc::queue_full.
  [[nodiscard]] result<std::size_t> subscribe_shared_attributes(std::string_view keys,
                                                                attribute_update_callback update);

  /// @brief Handles server-side RPC `method`. Answer with reply_rpc(), now or later, from any
  /// thread. Unregistered methods are answered `{"error":"unknown method: m"}`.
  [[nodiscard]] result<void> on_rpc(std::string_view method, rpc_handler handler);
  /// @brief Handles every server-side RPC that has no handler of its own.
  [[nodiscard]] result<void> on_any_rpc(rpc_handler handler);
  /// @brief Answers server RPC `request_id` with JSON.
  /// @return The message's ticket, or errc::unknown_request, errc::invalid_argument,
  /// errc::not_connected.
  [[nodiscard]] result<delivery_ticket> reply_rpc(std::string_view request_id, std::string_view json_text);

  /// @brief Client-side RPC: `{"method":m,"params":params_json}`. `done` gets the server's JSON,
  /// or errc::timeout, errc::disconnected, errc::malformed, errc::server_error (`{"error":..}`).
  /// @return The request id, or errc::not_connected, errc::queue_full.
  [[nodiscard]] result<std::uint32_t> call_rpc(std::string_view method, std::string_view params_json,
                                               rpc_response_callback done);

  /// @brief Claims the device: `{"secretKey":s,"durationMs":n}`. Acknowledged means "queued".
  /// `duration` 0 leaves durationMs out (the server's default applies).
  /// @return The message's ticket, or errc::invalid_argument (`duration` negative or above
  /// 2^32-1 ms, about 49.7 days: the wire carries 32 bits), errc::not_connected (QoS 0 offline).
  [[nodiscard]] result<delivery_ticket> claim(std::string_view secret_key, std::chrono::milliseconds duration,
                                              delivery_callback on_delivered = {});

  /// @brief Drives a data-point registry (tbmqtt/registry.hpp) with this client's session:
  /// `points.attach(session)` (the session then hands it its events itself) and (unless `tick`
  /// is false) calls `points.tick(monotonic ms, Unix ms)` on the network thread about every
  /// 50 ms. All of it under the client's lock. One registry at a time; attaching another one
  /// detaches the previous one; attaching the same one again only updates `tick`.
  /// @pre `points` outlives the client, or detach() is called first.
  /// @return ok, or errc::queue_full (no room for the extension or the attributes subscription),
  /// errc::invalid_argument (`points` is attached to another session).
  [[nodiscard]] result<void> attach(iregistry& points, bool tick = true);
  /// @brief Detaches the registry (iregistry::detach) and stops ticking it.
  void detach();
  /// @brief Runs `f()` under the client's lock, serialised with the network thread, and returns
  /// its result (for calls on an attached registry from another thread, e.g.
  /// `upload_time_series`). The same on esp_client. `f` may call the client.
  template <class F>
  decltype(auto) with_lock(F&& f) {
    struct guard {
      const client& c;
      explicit guard(const client& owner) : c(owner) { c.lock(); }
      ~guard() { c.unlock(); }
    } held{*this};
    return f();
  }

  /// @brief Enables firmware or software OTA (one engine per ota_kind): on every connect the
  /// client reports current_*_title/version, follows the *_ package attributes, downloads a new
  /// package into `sink` (MD5/SHA-2 through mbedTLS, CRC32/Murmur3 in the core), checkpoints
  /// progress in `store` (optional) and reports *_state. Runs on the network thread.
  /// @pre `sink` and `store` outlive the client.
  /// @return ok, or errc::invalid_argument (this kind is enabled already), errc::queue_full.
  [[nodiscard]] result<void> enable_ota(const ota_config& config, ota_sink& sink, storage* store,
                                        ota_handlers handlers = {});
  /// @brief After restarting into a new version that works: reports UPDATED.
  /// @return ok, or errc::not_found (nothing pending), errc::invalid_argument (kind not enabled).
  [[nodiscard]] result<void> confirm_ota(ota_kind kind);
  /// @brief The new version does not work: reports FAILED with `reason`. Errors as confirm_ota.
  [[nodiscard]] result<void> reject_ota(ota_kind kind, std::string_view reason);

  /// @brief Errors no request owns (refused subscription, malformed push, unknown response id,
  /// unknown topic, unknown RPC method).
  void on_error(error_callback callback);
  /// @brief Connection up/down events (including each automatic reconnect), and each attempt
  /// the server refused: by CONNACK (refused_credentials, ...) or in TLS (tls_* as connect()).
  void on_connection(connection_callback callback);

  /// @brief The gateway API (tbmqtt/gateway_client.hpp, as esp_client::gateway()) for a device flagged as a ThingsBoard
  /// gateway: sub-device connect/disconnect, telemetry, attributes, RPC and claim. Created on
  /// first use (then the `v1/gateway/*` filters are subscribed: call it before connect() so that
  /// connect() fails with errc::subscription_refused when the device is no gateway); lives as
  /// long as the client.
  gateway_client& gateway();
  /// @brief Messages in the offline store (client_options::offline_store) not yet acknowledged;
  /// 0 without one. `dropped` gets how many the drop_oldest policy removed since construction.
  std::size_t offline_queued(std::uint32_t* dropped = nullptr) const;
  /// @brief Commits the offline store now (group commit): everything sent so far survives a
  /// power loss once this returns ok. The destructor does it too.
  /// @return ok, errc::not_open (no offline store), or the medium's error.
  result<void> sync_offline_store();

 private:
  qos options_qos() const;
  void lock() const;
  void unlock() const;
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tbmqtt
