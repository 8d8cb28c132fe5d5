// ThingsBoard device-API emulator: the registry (devices, profiles, settings) and its persistence.
// Host-only code; independent of the SDK core by design (see docs/architecture.md).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tbmqtt_emulator {

using json = nlohmann::ordered_json;

/// Wall clock in milliseconds since the epoch (telemetry timestamps).
std::int64_t wall_ms();
/// Monotonic clock in milliseconds (timeouts).
std::int64_t mono_ms();
/// Random lowercase alphanumeric string (tokens, passwords).
std::string random_token(std::size_t n);
/// Random mixed-case alphanumeric string (commons-lang3 RandomStringUtils.randomAlphanumeric).
std::string random_alphanumeric(std::size_t n);

/// One stored credential set. `type` is ACCESS_TOKEN, MQTT_BASIC or X509_CERTIFICATE.
struct credentials {
    std::string type = "ACCESS_TOKEN";
    std::string token;
    std::string client_id, username, password;
    std::string cert_hash;  // lowercase hex SHA3-256 of the leaf certificate DER
    std::string cert_b64;   // one-line Base64 body of the certificate
    json to_json() const;
    static credentials from_json(const json& j);
};

/// A firmware/software package assigned to a device.
struct ota_package {
    std::string title, version, checksum, algorithm, file, tag;
    std::int64_t size = 0;
};

struct device {
    std::string name, type = "default", id, profile;
    std::string device_profile;  // name in registry::device_profiles; empty: the default profile (JSON)
    credentials creds;
    bool gateway = false;
    std::string parent_gateway;  // non-empty for gateway children
    bool provisioned = false;
    json client_attrs = json::object();
    json shared_attrs = json::object();
    json server_attrs = json::object();
    json latest = json::object();  // key -> {"ts":..,"value":..}
    std::deque<json> series;       // {"ts":..,"key":..,"value":..}, bounded
    json claim;                    // null or {"secretKey":..,"durationMs":..,"expiresAt":..}
    bool claimed = false;
    json ota_history = json::array();  // {"ts":..,"kind":"fw"|"sw","state":..,"error"?:..}
    std::optional<ota_package> fw, sw;
};

struct profile {
    std::string name, key, secret, strategy = "allow-create";  // or check-preprovisioned
};

/// The whole emulator state. Everything runs on the broker's thread: no locking.
class registry {
public:
    static constexpr std::size_t series_limit = 1000;

    void set_dir(std::string dir) { dir_ = std::move(dir); }
    const std::string& dir() const { return dir_; }
    /// Loads registry.json from the state directory (missing file = empty registry).
    void load();
    /// Writes registry.json atomically (temp file, fsync, rename). Throws on I/O failure.
    void save();
    void mark_dirty() { dirty_ = true; }
    bool dirty() const { return dirty_; }

    device* find(const std::string& name);
    device* find_by_token(const std::string& token);
    /// MQTT basic match: every stored non-empty field must match; a stored password is required.
    device* find_basic(const char* client_id, const char* username, const char* password);
    device* find_by_cert_hash(const std::string& hash);
    /// Adds a device; throws std::runtime_error when the name or credentials collide.
    device& add(device d);
    bool credentials_collide(const credentials& c, const std::string& except_name) const;
    void remove(const std::string& name);

    std::map<std::string, device> devices;
    std::vector<profile> profiles;
    json rpc_handlers = json::object();     // method -> response template
    json settings = json::object();         // rate limits, latency, drop
    json persistent_rpcs = json::object();  // rpcId -> ThingsBoard's Rpc entity (status, request, response)
    // Device profiles with MQTT transport: name -> {"payloadType":"JSON"|"PROTOBUF", "telemetryProto",
    // "attributesProto", "rpcRequestProto", "rpcResponseProto" (schema texts), "sendAckOnValidationException",
    // "enableCompatibilityWithJsonPayloadFormat", "useJsonPayloadFormatForDefaultDownlinkTopics"}.
    json device_profiles = json::object();

private:
    std::string dir_;
    bool dirty_ = false;
};

/// Converts one JSON value the way ThingsBoard's JsonConverter does (numbers typed from their
/// text, numeric strings become numbers). Returns nullopt for a null (skipped by the caller).
std::optional<json> tb_value(const json& v);

/// Parses like json::parse, but keeps floating-point and out-of-int64 numbers as their text (a
/// marker string that tb_value, as_long and plain_json understand). nullopt: not JSON.
std::optional<json> parse_keeping_numbers(const std::string& text);
/// A number (or kept number text) as a long (Gson getAsLong); nullopt when not a number.
std::optional<std::int64_t> as_long(const json& v);
/// A value from parse_keeping_numbers with the kept numbers turned back into numbers.
json plain_json(const json& v);

}  // namespace tbmqtt_emulator
