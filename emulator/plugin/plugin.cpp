// tbmqtt_emulator: a mosquitto 2.0 plugin (plugin API version 5) that plays ThingsBoard's MQTT
// device API (docs/thingsboard-protocol.md) plus an admin channel on $CONTROL/tbmqtt/v1/request.
//
// Every server->device message is a targeted mosquitto_broker_publish(); READ access on every topic
// is denied to device sessions, so two devices using the same v1/devices/me/* topics never see each
// other. All callbacks run on the broker's single thread.

extern "C" {
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
}

#include "atomic_file.hpp"
#include "checksum.hpp"
#include "proto.hpp"
#include "state.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace tbmqtt_emulator {
namespace {

constexpr const char* admin_request_topic = "$CONTROL/tbmqtt/v1/request";
constexpr const char* admin_response_topic = "$CONTROL/tbmqtt/v1/response";

enum class session_kind { device, provision, admin };

struct session {
    mosquitto* client = nullptr;
    std::string client_id;
    session_kind kind = session_kind::device;
    std::string device;                         // device name (device sessions)
    int proto = 4;                              // 3 = MQTT 3.1, 4 = 3.1.1, 5 = 5
    std::map<std::string, int> subs;            // granted filter -> qos
    std::map<std::string, long> fw_chunk_size;  // OTA request id -> chunk size
    std::map<std::string, long> sw_chunk_size;
    std::set<std::string> gateway_children;  // connected via v1/gateway/connect
    // MqttTransportHandler.attrSubTopicType / rpcSubTopicType: pushes and server RPCs go to the
    // family of the LAST attribute / RPC subscription only; unsubscribing any of a kind's filters
    // stops that kind (SubscribeToAttributeUpdatesMsg / SubscribeToRPCMsg with unsubscribe).
    std::string attr_sub, rpc_sub;
};

struct pending_rpc {
    long id = 0;
    std::string device;
    json request;  // {"method":..,"params":..}
    bool oneway = false;
    std::int64_t expires = 0;  // mono ms
    std::string admin_client, corr;
    bool sent = false;
    // Persistent RPC (ThingsBoard's Rpc entity, kept in registry.persistent_rpcs[rpc_id]).
    std::string rpc_id;   // non-empty: persistent
    int max_retries = 5;  // min(request retries, actors.rpc.max_retries = 5)
    int retries = 0;
    mosquitto* sent_on = nullptr;  // the session it was last sent to (QoS 1: awaiting the PUBACK)
    std::string failed;            // non-empty: could not be converted for the device (finish_failed_rpcs)
};

struct delayed_publish {
    std::int64_t at;
    std::string client_id, topic, payload;
    int qos;
};

struct emulator {
    mosquitto_plugin_id_t* id = nullptr;
    registry reg;
    std::string admin_user = "tbmqtt-admin", admin_pass;
    std::set<int> tls_ports;  // plugin_opt_tls_ports: local ports of TLS listeners (no raw CONNACKs there)
    long max_payload = 65536;
    long provision_close_ms = 60000;
    std::map<mosquitto*, session> sessions;
    std::map<std::string, long> rpc_counter;
    std::vector<pending_rpc> rpcs;
    std::vector<std::pair<std::int64_t, std::string>> kicks;  // (mono ms, client id)
    std::vector<delayed_publish> delayed;
    std::vector<std::function<void()>> next_tick;
    std::int64_t last_save = 0;
    std::int64_t last_save_cost_ms = 0;  // how long the last save took (the registry's size)
    // device (or "gateway:" + gateway) -> setting key -> (tokens, last refill mono ms) per rule
    std::map<std::string, std::map<std::string, std::vector<std::pair<double, std::int64_t>>>> rates;
    std::unordered_map<std::string, std::uint64_t> received;  // device -> telemetry messages stored (admin "stats")
};

emulator* g = nullptr;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

bool starts_with(const std::string& s, const std::string& p) {
    return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == sep) {
            out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    out.push_back(cur);
    return out;
}

bool is_decimal(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// ---------------------------------------------------------------------------------------------
// Sending

double setting_num(const char* key, double dflt) {
    const auto it = g->reg.settings.find(key);
    if (it == g->reg.settings.end() || !it->is_number()) return dflt;
    return it->get<double>();
}

void raw_publish(const std::string& client_id, const std::string& topic, const std::string& payload, int qos) {
    mosquitto_broker_publish_copy(client_id.c_str(), topic.c_str(), static_cast<int>(payload.size()), payload.data(),
                                  qos, false, nullptr);
}

/// Sends a server->device message, applying the configured drop/latency injection.
void send_to(const session& s, const std::string& topic, const std::string& payload, int qos) {
    if (s.kind == session_kind::device) {
        const double drop = setting_num("dropProbability", 0.0);
        if (drop > 0 && (static_cast<double>(std::rand()) / RAND_MAX) < drop) return;
        const double latency = setting_num("latencyMs", 0.0);
        if (latency > 0) {
            g->delayed.push_back({mono_ms() + static_cast<std::int64_t>(latency), s.client_id, topic, payload, qos});
            return;
        }
    }
    raw_publish(s.client_id, topic, payload, qos);
}

/// QoS of the session's subscription `filter`, or 1 when it has none (protocol doc section 2).
int qos_for(const session& s, const std::string& filter) {
    auto it = s.subs.find(filter);
    return it == s.subs.end() ? 1 : it->second;
}

void kick_later(const session& s, std::int64_t delay_ms) { g->kicks.emplace_back(mono_ms() + delay_ms, s.client_id); }

std::vector<session*> sessions_of(const std::string& device) {
    std::vector<session*> out;
    for (auto& [c, s] : g->sessions)
        if (s.kind == session_kind::device && s.device == device) out.push_back(&s);
    return out;
}

session* gateway_session_for_child(const device& child) {
    if (child.parent_gateway.empty()) return nullptr;
    for (auto* s : sessions_of(child.parent_gateway)) return s;
    return nullptr;
}

void save_now() {
    const std::int64_t started = mono_ms();
    try {
        g->reg.save();
    } catch (const std::exception& e) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "tbmqtt_emulator: %s", e.what());
    }
    g->last_save = mono_ms();
    g->last_save_cost_ms = g->last_save - started;
}

// A dirty registry is saved 200 ms after the last save, or later when saving is slow: a save writes
// the whole registry (every device's series), so with thousands of devices sending, saving every
// 200 ms would leave the broker little time for anything else. At most ~1/10 of the time saves.
bool save_due(std::int64_t now) {
    return g->reg.dirty() && now - g->last_save >= std::max<std::int64_t>(200, 10 * g->last_save_cost_ms);
}

/// Rate limits (settings "messages", "telemetryMessages", "telemetryDataPoints" and the gateway*
/// ones: "cap:seconds" rules, comma-separated), as TbRateLimits builds them: one bucket4j bucket per
/// setting with a bandwidth per rule, capacity `cap`, refilled greedily (cap tokens per `seconds`,
/// continuously), starting full; tryConsume(n) takes n tokens from every bandwidth or none.
/// Returns false when `amount` is not available; the caller then closes the session as ThingsBoard
/// does (DefaultTransportService.checkLimits -> callback.onError -> closeCtx).
bool rate_ok(const std::string& owner, const char* key, long amount) {
    const auto it = g->reg.settings.find(key);
    if (it == g->reg.settings.end() || !it->is_string()) return true;
    std::vector<std::pair<long, long>> rules;
    for (const auto& r : split(it->get<std::string>(), ',')) {
        const auto parts = split(r, ':');
        if (parts.size() != 2 || !is_decimal(parts[0]) || !is_decimal(parts[1])) continue;
        rules.emplace_back(std::stol(parts[0]), std::stol(parts[1]));
    }
    auto& buckets = g->rates[owner][key];
    const std::int64_t now = mono_ms();
    if (buckets.size() != rules.size()) {
        buckets.assign(rules.size(), {0.0, now});
        for (std::size_t i = 0; i < rules.size(); ++i) buckets[i].first = static_cast<double>(rules[i].first);
    }
    for (std::size_t i = 0; i < rules.size(); ++i) {
        const double cap = static_cast<double>(rules[i].first);
        const double per_ms = cap / (static_cast<double>(std::max<long>(rules[i].second, 1)) * 1000.0);
        buckets[i].first = std::min(cap, buckets[i].first + static_cast<double>(now - buckets[i].second) * per_ms);
        buckets[i].second = now;
    }
    for (std::size_t i = 0; i < rules.size(); ++i)
        if (buckets[i].first < static_cast<double>(amount)) return false;
    for (auto& b : buckets) b.first -= static_cast<double>(amount);
    return true;
}

std::size_t count_data_points(const json& j) {
    std::size_t n = 0;
    auto one = [&](const json& e) {
        if (!e.is_object()) return;
        const json& values = e.contains("ts") && e.contains("values") ? e["values"] : e;
        if (values.is_object()) n += values.size();
    };
    if (j.is_array())
        for (const auto& e : j) one(e);
    else
        one(j);
    return n;
}

// ---------------------------------------------------------------------------------------------
// Device data

/// Stores telemetry in ThingsBoard's forms. Returns false for a malformed payload.
bool store_telemetry(device& d, const json& j) {
    std::vector<std::pair<std::int64_t, const json*>> groups;
    const std::int64_t now = wall_ms();
    auto collect = [&](const json& e) -> bool {
        if (!e.is_object()) return false;
        if (e.contains("ts") && e.contains("values")) {
            const auto ts = as_long(e["ts"]);
            if (!ts || !e["values"].is_object()) return false;
            groups.emplace_back(*ts, &e["values"]);
        } else {
            groups.emplace_back(now, &e);
        }
        return true;
    };
    if (j.is_array()) {
        for (const auto& e : j)
            if (!collect(e)) return false;
    } else if (!collect(j)) {
        return false;
    }
    // JsonConverter.parseProtoValues accepts every JSON value and skips nulls.
    for (const auto& [ts, values] : groups) {
        for (const auto& [k, v] : values->items()) {
            const auto typed = tb_value(v);
            if (!typed) continue;
            const json& value = *typed;
            auto it = d.latest.find(k);
            if (it == d.latest.end() || (*it)["ts"].get<std::int64_t>() <= ts)
                d.latest[k] = {{"ts", ts}, {"value", value}};
            d.series.push_back({{"ts", ts}, {"key", k}, {"value", value}});
            while (d.series.size() > registry::series_limit) d.series.pop_front();
            if (k == "fw_state" || k == "sw_state") {
                const std::string kind = k.substr(0, 2);
                json h = {{"ts", ts}, {"kind", kind}, {"state", value}};
                if (values->contains(kind + "_error")) h["error"] = plain_json((*values)[kind + "_error"]);
                d.ota_history.push_back(h);
            }
        }
    }
    g->reg.mark_dirty();
    return true;
}

/// Stores client attributes (a flat object). Returns false for a malformed payload.
/// JsonConverter.convertToAttributesProto -> parseProtoValues: a null value is skipped, the other
/// keys are stored.
bool store_client_attributes(device& d, const json& j) {
    if (!j.is_object()) return false;
    for (const auto& [k, v] : j.items())
        if (auto typed = tb_value(v)) d.client_attrs[k] = *typed;
    g->reg.mark_dirty();
    return true;
}

// ---------------------------------------------------------------------------------------------
// Payload formats: the device profile's payload type (JSON or PROTOBUF) and the v2 topic variants

/// MqttTransportHandler's TopicType: which topic family a subscription or request came on.
enum class topic_type { v1, v2, v2_json, v2_proto };

/// DeviceSessionCtx.updateDeviceSessionConfiguration for the device's profile.
struct payload_profile {
    bool protobuf = false;
    bool send_ack_on_validation = false;  // MqttDeviceProfileTransportConfiguration.sendAckOnValidationException
    bool compat = false;                  // enableCompatibilityWithJsonPayloadFormat (BackwardCompatibilityAdaptor)
    bool json_downlink = false;           // compat && useJsonPayloadFormatForDefaultDownlinkTopics
    // null: no descriptor (ProtoConverter.validateDescriptor -> AdaptorException)
    std::shared_ptr<const pb::schema> telemetry, attributes, rpc_request, rpc_response;
};

// ProtoTransportPayloadConfiguration.getDeviceRpcRequestProtoSchema/...ResponseProtoSchema: the
// schemas used when the profile leaves them empty.
constexpr const char* default_rpc_request_proto =
    "syntax =\"proto3\";\npackage rpc;\n\nmessage RpcRequestMsg {\n  optional string method = 1;\n  optional int32 "
    "requestId = 2;\n  optional string params = 3;\n}";
constexpr const char* default_rpc_response_proto =
    "syntax =\"proto3\";\npackage rpc;\n\nmessage RpcResponseMsg {\n  optional string payload = 1;\n}";

std::map<std::string, payload_profile> profile_cache;  // compiled device profiles, by name

const payload_profile& profile_of(const device& d) {
    static const payload_profile json_profile;
    if (d.device_profile.empty() || !g->reg.device_profiles.contains(d.device_profile)) return json_profile;
    auto it = profile_cache.find(d.device_profile);
    if (it != profile_cache.end()) return it->second;
    const json& p = g->reg.device_profiles[d.device_profile];
    payload_profile out;
    out.protobuf = p.value("payloadType", "JSON") == "PROTOBUF";
    out.send_ack_on_validation = p.value("sendAckOnValidationException", false);
    if (out.protobuf) {
        out.compat = p.value("enableCompatibilityWithJsonPayloadFormat", false);
        out.json_downlink = out.compat && p.value("useJsonPayloadFormatForDefaultDownlinkTopics", false);
        // DynamicProtoUtils.getDescriptor: a schema that does not build is a null descriptor.
        auto build = [&](const char* key, const char* dflt) -> std::shared_ptr<const pb::schema> {
            std::string text = p.value(key, "");
            if (text.empty() && dflt) text = dflt;
            if (text.empty()) return nullptr;
            std::string error;
            return pb::compile(text, error);
        };
        out.telemetry = build("telemetryProto", nullptr);
        out.attributes = build("attributesProto", nullptr);
        out.rpc_request = build("rpcRequestProto", default_rpc_request_proto);
        out.rpc_response = build("rpcResponseProto", default_rpc_response_proto);
    }
    return profile_cache.emplace(d.device_profile, std::move(out)).first->second;
}

/// The uplink adaptor of a topic: the bare v1/v2 topics use the profile's (payloadAdaptor), /j
/// JSON, /p protobuf (context.getJsonMqttAdaptor / getProtoMqttAdaptor).
enum class adaptor { json, proto, compat };

adaptor uplink_adaptor(const payload_profile& p, topic_type t) {
    switch (t) {
        case topic_type::v2_json: return adaptor::json;
        case topic_type::v2_proto: return adaptor::proto;
        default: return !p.protobuf ? adaptor::json : p.compat ? adaptor::compat : adaptor::proto;
    }
}

/// DeviceSessionCtx.getAdaptor(topicType): true when the downlink on that family is protobuf.
bool downlink_proto(const payload_profile& p, topic_type t) {
    switch (t) {
        case topic_type::v2: return p.protobuf;
        case topic_type::v2_json: return false;
        case topic_type::v2_proto: return true;
        case topic_type::v1: return p.protobuf && !p.json_downlink;
    }
    return false;
}

/// ProtoMqttAdaptor.convertToPostTelemetry / convertToPostAttributes / convertToDeviceRpcResponse:
/// the payload parsed with the profile's dynamic schema, printed as JSON with default values.
/// nullopt: AdaptorException (no descriptor, or InvalidProtocolBufferException).
std::optional<std::string> dynamic_to_json(const std::shared_ptr<const pb::schema>& s, const std::string& payload) {
    if (!s) return std::nullopt;
    return pb::to_json(*s, payload);
}

/// The payload as the JSON text the JSON path reads, through the topic's adaptor. `proto` turns
/// the protobuf payload into that JSON (nullopt: AdaptorException). The compatibility adaptor tries
/// protobuf first and falls back to JSON (BackwardCompatibilityAdaptor).
std::optional<std::string> uplink_text(adaptor a, const std::string& payload,
                                       const std::function<std::optional<std::string>()>& proto) {
    if (a == adaptor::json) return payload;
    if (auto j = proto()) return j;
    if (a == adaptor::compat) return payload;
    return std::nullopt;
}

/// A value as transport.KeyValueProto JSON (JsonConverter's typing of attribute values).
json kv_proto(const std::string& key, const json& v) {
    json kv = {{"key", key}};
    if (v.is_boolean()) {
        kv["type"] = "BOOLEAN_V";
        kv["boolV"] = v.get<bool>();
    } else if (v.is_number_integer()) {
        kv["type"] = "LONG_V";
        kv["longV"] = std::to_string(v.is_number_unsigned() ? static_cast<std::int64_t>(v.get<std::uint64_t>())
                                                            : v.get<std::int64_t>());
    } else if (v.is_number()) {
        kv["type"] = "DOUBLE_V";
        kv["doubleV"] = v.get<double>();
    } else if (v.is_string()) {
        kv["type"] = "STRING_V";
        kv["stringV"] = v.get<std::string>();
    } else {
        kv["type"] = "JSON_V";
        kv["jsonV"] = dump(v);
    }
    return kv;
}

json ts_kv_list(const json& attrs) {
    json out = json::array();
    const std::int64_t now = wall_ms();
    for (const auto& [k, v] : attrs.items()) out.push_back(json{{"ts", std::to_string(now)}, {"kv", kv_proto(k, v)}});
    return out;
}

/// A fixed transport message from its JSON form. These schemas are ours, so a failure is a bug.
std::string transport_bytes(const char* message, const json& j) {
    std::string error;
    auto bytes = pb::from_json(pb::transport(message), dump(j), error);
    if (!bytes) throw std::logic_error(std::string("encoding ") + message + ": " + error);
    return *bytes;
}

/// Pushes a shared-attribute change to the device's subscribed sessions (or its gateway).
/// `deleted`: `update` is {"deleted":[keys]}. On a protobuf topic the change is a
/// transport.AttributeUpdateNotificationMsg (ProtoMqttAdaptor.convertToPublish).
void push_shared(const device& d, const json& update, bool deleted = false) {
    const payload_profile& p = profile_of(d);
    for (auto* s : sessions_of(d.name)) {
        for (const auto& [f, t] :
             std::vector<std::pair<const char*, topic_type>>{{"v1/devices/me/attributes", topic_type::v1},
                                                             {"v2/a", topic_type::v2},
                                                             {"v2/a/j", topic_type::v2_json},
                                                             {"v2/a/p", topic_type::v2_proto}}) {
            if (s->attr_sub != f) continue;
            auto it = s->subs.find(f);
            if (it == s->subs.end()) continue;
            std::string body = dump(update);
            if (downlink_proto(p, t))
                body = transport_bytes(
                    "AttributeUpdateNotificationMsg",
                    deleted ? json{{"sharedDeleted", update["deleted"]}} : json{{"sharedUpdated", ts_kv_list(update)}});
            send_to(*s, f, body, it->second);
        }
    }
    if (auto* gw = gateway_session_for_child(d)) {
        auto it = gw->subs.find("v1/gateway/attributes");
        if (it != gw->subs.end())
            send_to(*gw, "v1/gateway/attributes", dump(json{{"device", d.name}, {"data", update}}), it->second);
    }
}

/// Applies shared attributes: a null value deletes the key. Pushes the change.
void set_shared(device& d, const json& attrs) {
    json updated = json::object();
    json deleted = json::array();
    for (const auto& [k, v] : attrs.items()) {
        if (v.is_null()) {
            if (d.shared_attrs.contains(k)) {
                d.shared_attrs.erase(k);
                deleted.push_back(k);
            }
        } else {
            d.shared_attrs[k] = v;
            updated[k] = v;
        }
    }
    g->reg.mark_dirty();
    if (!updated.empty()) push_shared(d, updated);
    if (!deleted.empty()) push_shared(d, json{{"deleted", deleted}}, true);
}

json select(const json& attrs, const std::vector<std::string>* keys) {
    json out = json::object();
    if (!keys) return attrs;
    for (const auto& k : *keys)
        if (attrs.contains(k)) out[k] = attrs[k];
    return out;
}

// ---------------------------------------------------------------------------------------------
// Claiming

/// ClaimDevicesServiceImpl.registerClaimingInfo (allowClaimingByDefault: true): a claimed device
/// registers nothing; otherwise persistInCache does cache.putIfAbsent, so a pending request is not
/// replaced. validateDurationMs: a duration <= 0 is security.claim.duration (86400000).
/// JsonConverter.convertToClaimDeviceProto: secretKey defaults to "", durationMs to 0.
void register_claim(device& d, const json& c) {
    if (d.claimed) return;
    if (d.claim.is_object() && d.claim.value("expiresAt", std::int64_t{0}) >= wall_ms()) return;
    std::int64_t dur = 0;
    if (c.is_object() && c.contains("durationMs")) dur = as_long(c["durationMs"]).value_or(0);
    if (dur <= 0) dur = 86400000;
    std::string secret;
    if (c.is_object() && c.contains("secretKey") && !c["secretKey"].is_null())
        secret = c["secretKey"].is_string() ? c["secretKey"].get<std::string>() : c["secretKey"].dump();
    d.claim = {{"secretKey", secret}, {"durationMs", dur}, {"expiresAt", wall_ms() + dur}};
    g->reg.mark_dirty();
}

// ---------------------------------------------------------------------------------------------
// Server-side RPC

/// `code` (errors only) tells the kind of failure without parsing the text: "timeout".
void admin_reply(const std::string& client_id, const std::string& corr, bool ok, const json& body,
                 const char* code = nullptr) {
    json r = {{"id", corr}, {"ok", ok}};
    if (ok)
        r["result"] = body;
    else
        r["error"] = body;
    if (!ok && code != nullptr) r["code"] = code;
    raw_publish(client_id, admin_response_topic, dump(r), 1);
}

/// Updates a persistent RPC's stored status (TbRpcService.save) and, when given, its response.
void rpc_status(const pending_rpc& r, const char* status, const json* response = nullptr) {
    if (r.rpc_id.empty()) return;
    json& rec = g->reg.persistent_rpcs[r.rpc_id];
    rec["status"] = status;
    rec["retries"] = r.retries;
    if (response) rec["response"] = *response;
    rec["history"].push_back(json{{"ts", wall_ms()}, {"status", status}});
    g->reg.mark_dirty();
}

/// MqttTransportHandler.sendToDeviceRpcRequest: at QoS 0 no PUBACK is expected and the RPC is
/// DELIVERED once written; at QoS 1 a persistent RPC is SENT and waits for the PUBACK.
void rpc_sent(pending_rpc& r, const session& s, int qos) {
    r.sent_on = s.client;
    if (r.rpc_id.empty()) return;
    rpc_status(r, qos == 0 ? "DELIVERED" : "SENT");
}

/// Delivers a pending RPC to the device's session subscribed to RPC requests (or its gateway).
bool deliver_rpc(pending_rpc& r) {
    device* d = g->reg.find(r.device);
    if (!d) return false;
    for (auto* s : sessions_of(r.device)) {
        for (const auto& [f, t] :
             std::vector<std::pair<const char*, topic_type>>{{"v1/devices/me/rpc/request/+", topic_type::v1},
                                                             {"v2/r/req/+", topic_type::v2},
                                                             {"v2/r/req/j/+", topic_type::v2_json},
                                                             {"v2/r/req/p/+", topic_type::v2_proto}}) {
            if (s->rpc_sub != f) continue;
            auto it = s->subs.find(f);
            if (it == s->subs.end()) continue;
            std::string topic = f;
            topic.replace(topic.size() - 1, 1, std::to_string(r.id));
            std::string body = dump(r.request);
            if (downlink_proto(profile_of(*d), t)) {
                // ProtoConverter.convertToRpcRequest: {"method","requestId","params"} merged into the
                // profile's RPC request schema (JsonFormat, unknown fields ignored). A failure (no
                // schema: a JSON profile; params that do not fit) is sendErrorRpcResponse.
                const auto& schema = profile_of(*d).rpc_request;
                json j = {{"method", r.request.value("method", "")}, {"requestId", r.id}};
                if (r.request.contains("params")) j["params"] = r.request["params"];
                std::string error = "no RPC request schema (the device profile's payload type is JSON)";
                auto bytes = schema ? pb::from_json(*schema, dump(j), error) : std::nullopt;
                if (!bytes) {
                    r.failed = "Failed to convert device RPC command to MQTT msg: " + j["method"].get<std::string>() +
                               (r.request.contains("params") ? dump(r.request["params"]) : std::string()) + " (" +
                               error + ")";
                    return false;
                }
                body = std::move(*bytes);
            }
            send_to(*s, topic, body, it->second);
            r.sent = true;
            rpc_sent(r, *s, it->second);
            return true;
        }
    }
    if (auto* gw = gateway_session_for_child(*d)) {
        auto it = gw->subs.find("v1/gateway/rpc");
        if (it != gw->subs.end()) {
            json data = {{"id", r.id}};
            for (const auto& [k, v] : r.request.items()) data[k] = v;
            send_to(*gw, "v1/gateway/rpc", dump(json{{"device", d->name}, {"data", data}}), it->second);
            r.sent = true;
            rpc_sent(r, *gw, it->second);
            return true;
        }
    }
    return false;
}

/// MqttTransportHandler.onToDeviceRpcRequest: a request the adaptor cannot convert is answered with
/// an error (sendErrorRpcResponse, INVALID_ARGUMENTS) and not sent; a persistent one FAILS.
void finish_failed_rpcs() {
    for (auto it = g->rpcs.begin(); it != g->rpcs.end();) {
        if (it->failed.empty()) {
            ++it;
            continue;
        }
        if (it->rpc_id.empty()) {
            admin_reply(it->admin_client, it->corr, false, json(it->failed), "invalid_arguments");
        } else {
            const json response = {{"error", it->failed}};
            rpc_status(*it, "FAILED", &response);
        }
        it = g->rpcs.erase(it);
    }
}

void finish_sent_oneways() {
    for (auto it = g->rpcs.begin(); it != g->rpcs.end();) {
        if (it->oneway && it->sent && it->rpc_id.empty()) {
            admin_reply(it->admin_client, it->corr, true, json{{"delivered", true}});
            it = g->rpcs.erase(it);
        } else {
            ++it;
        }
    }
}

/// A persistent one-way RPC written at QoS 0 is DELIVERED and leaves the pending map
/// (processRpcResponseStatus: DELIVERED + oneway -> removed).
void finish_persistent_oneways() {
    for (auto it = g->rpcs.begin(); it != g->rpcs.end();) {
        const bool done = !it->rpc_id.empty() && it->oneway && it->sent &&
                          g->reg.persistent_rpcs[it->rpc_id].value("status", "") == "DELIVERED";
        it = done ? g->rpcs.erase(it) : it + 1;
    }
}

/// Redelivers every pending RPC of a device (after it (re)subscribes to RPC requests).
void redeliver_rpcs(const std::string& device) {
    for (auto& r : g->rpcs)
        if (r.device == device) deliver_rpc(r);
    finish_failed_rpcs();
    finish_sent_oneways();
    finish_persistent_oneways();
}

/// A device answered server RPC `id`. Unknown or expired ids are dropped.
void rpc_answered(const std::string& device, long id, const std::string& payload) {
    for (auto it = g->rpcs.begin(); it != g->rpcs.end(); ++it) {
        if (it->device != device || it->id != id || it->oneway) continue;
        json reply = json::parse(payload, nullptr, false);
        if (!it->rpc_id.empty()) {
            // DeviceActorMessageProcessor.processRpcResponses: persisted -> SUCCESSFUL with the
            // payload as JSON, or {"error": payload} when it is not JSON.
            const json response = reply.is_discarded() ? json{{"error", payload}} : reply;
            rpc_status(*it, "SUCCESSFUL", &response);
            g->rpcs.erase(it);
            return;
        }
        if (reply.is_discarded()) reply = payload;  // not JSON: hand back the raw text
        admin_reply(it->admin_client, it->corr, true, reply);
        g->rpcs.erase(it);
        return;
    }
}

// ---------------------------------------------------------------------------------------------
// Client-side RPC

json session_limits(const device& d) {
    auto limit = [](const char* key) -> json {
        const auto it = g->reg.settings.find(key);
        if (it == g->reg.settings.end() || !it->is_string()) return nullptr;
        return *it;
    };
    json j = {{"maxPayloadSize", g->max_payload},
              {"maxInflightMessages", 100},
              {"rateLimits",
               {{"messages", limit("messages")},
                {"telemetryMessages", limit("telemetryMessages")},
                {"telemetryDataPoints", limit("telemetryDataPoints")}}}};
    if (d.gateway)
        j["gatewayRateLimits"] = {{"messages", limit("gatewayMessages")},
                                  {"telemetryMessages", limit("gatewayTelemetryMessages")},
                                  {"telemetryDataPoints", limit("gatewayTelemetryDataPoints")}};
    return j;
}

json expand_template(const json& t, const json& request) {
    if (t.is_string()) {
        const auto s = t.get<std::string>();
        if (s == "${now}") return wall_ms();
        if (s == "${params}") return request.contains("params") ? request["params"] : json(nullptr);
        if (s == "${method}") return request["method"];
        return t;
    }
    if (t.is_object()) {
        json out = json::object();
        for (const auto& [k, v] : t.items()) out[k] = expand_template(v, request);
        return out;
    }
    if (t.is_array()) {
        json out = json::array();
        for (const auto& v : t) out.push_back(expand_template(v, request));
        return out;
    }
    return t;
}

/// Answers a device RPC; nullopt when no handler is configured (the device then times out, as
/// with ThingsBoard's default rule chain).
std::optional<json> client_rpc_reply(const device& d, const json& req, bool v1) {
    const std::string method = req["method"].get<std::string>();
    if (method == "getSessionLimits" && v1) return session_limits(d);
    const auto& handlers = g->reg.rpc_handlers;
    const std::string per_device = d.name + "/" + method;
    if (handlers.contains(per_device)) return expand_template(handlers[per_device], req);
    if (handlers.contains(method)) return expand_template(handlers[method], req);
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// OTA

void ota_error(session& s, const std::string& text) {
    send_to(s, "v2/fw/error", text, qos_for(s, "v2/fw/error"));
    kick_later(s, 150);
}

/// v2/{fw|sw}/request/{req}/chunk/{n}
void serve_chunk(session& s, device& d, const std::string& kind, const std::string& req, const std::string& chunk_text,
                 const std::string& payload) {
    auto& sizes = kind == "fw" ? s.fw_chunk_size : s.sw_chunk_size;
    long size = 0;
    if (!payload.empty()) {
        // MqttTransportHandler.getOtaPackageCallback: Integer.parseInt(payload). A
        // NumberFormatException reaches exceptionCaught, which closes the channel: no error message.
        const bool int_text = payload.size() <= 11 && payload.find_first_not_of("-+0123456789") == std::string::npos;
        long long v = 0;
        bool ok = int_text;
        if (ok) {
            try {
                std::size_t pos = 0;
                v = std::stoll(payload, &pos);
                ok = pos == payload.size() && v >= INT32_MIN && v <= INT32_MAX;
            } catch (...) {
                ok = false;
            }
        }
        if (!ok) {
            kick_later(s, 0);
            return;
        }
        size = static_cast<long>(v);
    }
    if (size > 0)
        sizes[req] = size;
    else
        size = sizes.count(req) ? sizes[req] : 0;
    if (size > g->max_payload) {
        ota_error(s, "PAYLOAD_TOO_LARGE");
        return;
    }
    const auto& pkg = kind == "fw" ? d.fw : d.sw;
    if (!pkg) {
        ota_error(s, "NOT_FOUND");
        return;
    }
    std::ifstream in(pkg->file, std::ios::binary);
    if (!in) {
        ota_error(s, "FAILURE");
        return;
    }
    long n = 0;
    try {
        n = std::stol(chunk_text);
        if (n > INT32_MAX) throw std::out_of_range("chunk");
    } catch (...) {
        kick_later(s, 0);  // Integer.parseInt of the chunk number: exceptionCaught closes
        return;
    }
    // Read only the requested range: a whole-file read per chunk made large images crawl.
    in.seekg(0, std::ios::end);
    const long long file_size = static_cast<long long>(in.tellg());
    long long start = 0;
    long long length = file_size;  // size 0 (or none yet): the whole file
    if (size >= 1) {
        start = static_cast<long long>(size) * n;
        length = start >= 0 && start < file_size ? std::min<long long>(size, file_size - start) : 0;
    }
    std::string out(static_cast<std::size_t>(length), '\0');
    in.seekg(start);
    in.read(out.data(), length);
    const std::string filter = "v2/" + kind + "/response/+/chunk/+";
    send_to(s, "v2/" + kind + "/response/" + req + "/chunk/" + chunk_text, out, qos_for(s, filter));
}

json ota_assign(const json& a) {
    device* d = g->reg.find(a.at("device").get<std::string>());
    if (!d) throw std::runtime_error("device not found");
    const std::string kind = a.value("software", false) ? "sw" : "fw";
    const std::string src = a.at("file").get<std::string>();
    std::ifstream in(src, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + src);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ota_package p;
    p.title = a.at("title").get<std::string>();
    p.version = a.at("version").get<std::string>();
    p.algorithm = a.value("checksumAlgorithm", "SHA256");
    p.tag = a.value("tag", "");
    p.checksum = ota_checksum(p.algorithm, data);
    p.size = static_cast<std::int64_t>(data.size());
    const std::string dir = g->reg.dir() + "/ota";
    ::mkdir(dir.c_str(), 0700);
    p.file = dir + "/" + d->id + "-" + kind + ".bin";
    write_file_atomic(p.file, data, 0600);
    (kind == "fw" ? d->fw : d->sw) = p;
    json attrs = {{kind + "_title", p.title}, {kind + "_version", p.version}};
    if (!p.tag.empty()) attrs[kind + "_tag"] = p.tag;
    attrs[kind + "_size"] = p.size;
    attrs[kind + "_checksum_algorithm"] = p.algorithm;
    attrs[kind + "_checksum"] = p.checksum;
    if (d->shared_attrs.contains(kind + "_url")) attrs[kind + "_url"] = nullptr;
    // DefaultOtaPackageStateService.send: target_{fw}_title/version[/tag]/ts and fw_state QUEUED
    // telemetry; then update(): fw_state INITIATED, and only after it is saved updateAttributes()
    // pushes the fw_* shared attributes.
    const std::int64_t now = wall_ms();
    auto record = [&](const std::string& key, const json& value, std::int64_t ts) {
        d->latest[key] = {{"ts", ts}, {"value", value}};
        d->series.push_back({{"ts", ts}, {"key", key}, {"value", value}});
        while (d->series.size() > registry::series_limit) d->series.pop_front();
    };
    record("target_" + kind + "_title", p.title, now);
    record("target_" + kind + "_version", p.version, now);
    if (!p.tag.empty()) record("target_" + kind + "_tag", p.tag, now);
    record("target_" + kind + "_ts", now, now);
    record(kind + "_state", "QUEUED", now);
    d->ota_history.push_back({{"ts", now}, {"kind", kind}, {"state", "QUEUED"}});
    const std::int64_t initiated = wall_ms();
    record(kind + "_state", "INITIATED", initiated);
    d->ota_history.push_back({{"ts", initiated}, {"kind", kind}, {"state", "INITIATED"}});
    set_shared(*d, attrs);
    g->reg.mark_dirty();
    return {{"title", p.title},
            {"version", p.version},
            {"size", p.size},
            {"checksum", p.checksum},
            {"checksumAlgorithm", p.algorithm}};
}

// ---------------------------------------------------------------------------------------------
// Provisioning

std::string b64_body(const std::string& cert) {
    std::string out;
    std::istringstream in(cert);
    std::string line;
    while (std::getline(in, line)) {
        if (line.find("-----") != std::string::npos) continue;
        for (char c : line)
            if (!std::isspace(static_cast<unsigned char>(c))) out += c;
    }
    return out;
}

json provision_response(const device& d) {
    const auto& c = d.creds;
    json r;
    if (c.type == "MQTT_BASIC") {
        json v = json::object();
        v["clientId"] = c.client_id.empty() ? json(nullptr) : json(c.client_id);
        v["userName"] = c.username.empty() ? json(nullptr) : json(c.username);
        v["password"] = c.password.empty() ? json(nullptr) : json(c.password);
        r["credentialsValue"] = v;
    } else if (c.type == "X509_CERTIFICATE") {
        r["credentialsValue"] = c.cert_b64;
    } else {
        r["credentialsValue"] = c.token;
    }
    r["credentialsType"] = c.type;
    r["status"] = "SUCCESS";
    return r;
}

/// Reads the credentials a provisioning request carries; nullopt when it carries none.
std::optional<credentials> requested_credentials(const json& j) {
    const std::string type = j.value("credentialsType", "");
    credentials c;
    c.type = type;
    if (type == "ACCESS_TOKEN") {
        c.token = j.value("token", "");
        if (c.token.empty()) return std::nullopt;
        return c;
    }
    if (type == "MQTT_BASIC") {
        c.client_id = j.value("clientId", "");
        c.username = j.value("username", "");
        c.password = j.value("password", "");
        return c;
    }
    if (type == "X509_CERTIFICATE") {
        c.cert_b64 = b64_body(j.value("hash", ""));
        c.cert_hash = sha3_256_hex(c.cert_b64);
        return c;
    }
    return std::nullopt;
}

/// Handles /provision/request. Returns false when the request lacks key or secret (no response).
bool provision(session& s, const json& j) {
    if (!j.is_object() || !j.contains("provisionDeviceKey") || !j.contains("provisionDeviceSecret")) return false;
    const json not_found = {{"errorMsg", "Provision data was not found!"}, {"status", "NOT_FOUND"}};
    const json failure = {{"errorMsg", "Failed to provision device!"}, {"status", "FAILURE"}};
    json reply;
    const profile* p = nullptr;
    const std::string key = j["provisionDeviceKey"].is_string() ? j["provisionDeviceKey"].get<std::string>() : "";
    const std::string secret =
        j["provisionDeviceSecret"].is_string() ? j["provisionDeviceSecret"].get<std::string>() : "";
    for (const auto& pr : g->reg.profiles)
        if (pr.key == key && pr.secret == secret) p = &pr;
    std::string name = j.value("deviceName", "");
    // DeviceProvisionServiceImpl.processCreateDevice: no name -> StringUtils.randomAlphanumeric(20).
    if (name.empty()) name = random_alphanumeric(20);
    auto creds = requested_credentials(j);
    if (!p) {
        reply = not_found;
    } else if (p->strategy == "check-preprovisioned") {
        device* d = g->reg.find(name);
        if (!d || d->provisioned || (!d->profile.empty() && d->profile != p->name)) {
            reply = failure;
        } else if (creds && g->reg.credentials_collide(*creds, d->name)) {
            reply = failure;
        } else {
            if (creds) d->creds = *creds;
            if (j.value("gateway", false)) d->gateway = true;
            d->provisioned = true;
            d->profile = p->name;
            g->reg.mark_dirty();
            reply = provision_response(*d);
        }
    } else {
        device d;
        d.name = name;
        d.profile = p->name;
        d.provisioned = true;
        d.gateway = j.value("gateway", false);
        if (creds) {
            d.creds = *creds;
        } else {
            d.creds.type = "ACCESS_TOKEN";
            d.creds.token = random_token(20);
        }
        if (g->reg.find(name) || g->reg.credentials_collide(d.creds, "")) {
            reply = failure;
        } else {
            reply = provision_response(g->reg.add(std::move(d)));
        }
    }
    send_to(s, "/provision/response", dump(reply), qos_for(s, "/provision/response"));
    save_now();
    kick_later(s, g->provision_close_ms);
    return true;
}

// ---------------------------------------------------------------------------------------------
// Gateway API

// ok: PUBACK. malformed: ThingsBoard's AdaptorException path (MQTT 3.1.1: close without PUBACK).
// unknown_topic: PUBACK, session kept. rate_limited: close. runtime_error: a RuntimeException in
// MqttTransportHandler.handleGatewayPublishMsg: PUBACK, then the session is closed.
enum class outcome { ok, malformed, unknown_topic, rate_limited, runtime_error };

device& gateway_child(const device& gw, const std::string& name, const std::string& type) {
    if (device* d = g->reg.find(name)) {
        if (d->parent_gateway.empty()) d->parent_gateway = gw.name;
        return *d;
    }
    device d;
    d.name = name;
    d.type = type.empty() ? "default" : type;
    d.parent_gateway = gw.name;
    d.creds.type = "ACCESS_TOKEN";
    d.creds.token = random_token(20);
    return g->reg.add(std::move(d));
}

/// Gson's getAsString on a member: a string, or a primitive's text; nullopt for a missing member,
/// null, object or array (Gson throws: a RuntimeException in ThingsBoard).
std::optional<std::string> gson_string(const json& j, const char* key) {
    if (!j.contains(key)) return std::nullopt;
    const json& v = j[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number() || v.is_boolean()) return plain_json(v).dump();
    return std::nullopt;
}

/// Device name of a gateway message (AbstractGatewaySessionHandler.checkDeviceName: empty throws).
std::optional<std::string> gateway_device_name(const json& j) {
    auto n = gson_string(j, "device");
    if (!n || n->empty()) return std::nullopt;
    return n;
}

/// JsonConverter.convertToGatewayTelemetry on one device's array: every element an object; a
/// `metadata` member is removed (it must be an object with connector, receivedTs, publishedTs).
bool gateway_telemetry_entries(json& entries) {
    for (auto& e : entries) {
        if (!e.is_object()) return false;
        if (e.contains("metadata")) {
            const json m = e["metadata"];
            e.erase("metadata");
            if (!m.is_object()) return false;
            for (const char* k : {"connector", "receivedTs", "publishedTs"})
                if (!m.contains(k) || m[k].is_null()) return false;
        }
    }
    return true;
}

/// Handles a v1/gateway/* publish of a gateway device, as AbstractGatewaySessionHandler does.
outcome handle_gateway(session& s, device& gw, const std::string& topic, const std::string& payload) {
    auto parsed = parse_keeping_numbers(payload);
    if (!parsed) return outcome::malformed;  // JsonMqttAdaptor.validateJsonPayload: AdaptorException
    json& j = *parsed;
    static const std::set<std::string> known = {
        "v1/gateway/connect",    "v1/gateway/disconnect",         "v1/gateway/telemetry",
        "v1/gateway/attributes", "v1/gateway/attributes/request", "v1/gateway/rpc",
        "v1/gateway/claim"};
    // handleGatewayPublishMsg default: PUBACK (TOPIC_NAME_INVALID), session kept.
    if (!known.count(topic)) return outcome::unknown_topic;
    if (!j.is_object()) return outcome::runtime_error;  // validateJsonObject: JsonSyntaxException
    if (topic == "v1/gateway/connect" || topic == "v1/gateway/disconnect") {
        const auto name = gateway_device_name(j);
        if (!name) return outcome::runtime_error;  // NPE / "Device name is empty!"
        if (topic == "v1/gateway/connect") {
            const auto type = j.contains("type") && !j["type"].is_null() ? gson_string(j, "type")
                                                                         : std::optional<std::string>("default");
            if (!type) return outcome::runtime_error;
            gateway_child(gw, *name, *type);
            s.gateway_children.insert(*name);
            const std::string child = *name;
            g->next_tick.push_back([child] { redeliver_rpcs(child); });
        } else {
            for (auto* gs : sessions_of(gw.name)) gs->gateway_children.erase(*name);
        }
        g->reg.mark_dirty();
        return outcome::ok;
    }
    if (topic == "v1/gateway/telemetry" || topic == "v1/gateway/attributes") {
        const bool telemetry = topic == "v1/gateway/telemetry";
        // onDeviceTelemetryJson / onDeviceAttributesJson: entries whose value is not an array
        // (an object for attributes) are skipped; none left is an IllegalArgumentException.
        std::vector<std::pair<std::string, json*>> entries;
        for (auto& [name, v] : j.items())
            if (telemetry ? v.is_array() : v.is_object()) entries.emplace_back(name, &v);
        if (entries.empty()) return outcome::runtime_error;
        for (auto& [name, v] : entries) {
            // processPostTelemetryMsg / processPostAttributesMsg: a conversion failure is ackOrClose.
            if (telemetry && !gateway_telemetry_entries(*v)) return outcome::malformed;
            // DefaultTransportRateLimitService.checkLimits: a sub-device message (gatewayId set) is
            // counted against the gateway's GATEWAY_LIMITS (the gateway* settings).
            const std::string owner = "gateway:" + gw.name;
            if (!rate_ok(owner, "gatewayMessages", 1) ||
                (telemetry &&
                 (!rate_ok(owner, "gatewayTelemetryMessages", 1) ||
                  !rate_ok(owner, "gatewayTelemetryDataPoints", static_cast<long>(count_data_points(*v))))))
                return outcome::rate_limited;
            device& child = gateway_child(gw, name, "");
            if (!(telemetry ? store_telemetry(child, *v) : store_client_attributes(child, *v)))
                return outcome::malformed;
            if (telemetry) ++g->received[child.name];
        }
        return outcome::ok;
    }
    if (topic == "v1/gateway/attributes/request") {
        // onDeviceAttributesRequestJson: id, device, client and key/keys are required (NPE otherwise).
        const auto name = gateway_device_name(j);
        if (!name || !j.contains("id") || !as_long(j["id"]) || !j.contains("client") || !j["client"].is_boolean())
            return outcome::runtime_error;
        std::set<std::string> keys;
        if (j.contains("key")) {
            const auto k = gson_string(j, "key");
            if (!k) return outcome::runtime_error;
            keys.insert(*k);
        } else if (j.contains("keys") && j["keys"].is_array()) {
            for (const auto& k : j["keys"]) {
                if (!k.is_string()) return outcome::runtime_error;
                keys.insert(k.get<std::string>());
            }
        } else {
            return outcome::runtime_error;
        }
        device& d = gateway_child(gw, *name, "");
        const json& attrs = j["client"].get<bool>() ? d.client_attrs : d.shared_attrs;
        json found = json::object();
        for (const auto& k : keys)
            if (attrs.contains(k)) found[k] = attrs[k];
        json reply = {{"id", *as_long(j["id"])}, {"device", d.name}};
        // JsonConverter.getJsonObjectForGateway / addValues: one value found for a one-key request
        // (DeviceActorMessageProcessor: isMultipleAttributesRequest = more than one key) is
        // "value"; otherwise "values"; nothing found adds neither.
        if (found.size() == 1 && keys.size() <= 1)
            reply["value"] = found.begin().value();
        else if (!found.empty())
            reply["values"] = found;
        send_to(s, "v1/gateway/attributes/response", dump(reply), qos_for(s, "v1/gateway/attributes/response"));
        return outcome::ok;
    }
    if (topic == "v1/gateway/rpc") {
        // onDeviceRpcResponseJson: device, id (getAsInt) and data are required.
        const auto name = gateway_device_name(j);
        if (!name || !j.contains("id") || !as_long(j["id"]) || !j.contains("data")) return outcome::runtime_error;
        rpc_answered(*name, *as_long(j["id"]), dump(plain_json(j["data"])));
        return outcome::ok;
    }
    // v1/gateway/claim: {"device":{"secretKey":..,"durationMs":..}, ...}
    bool any = false;
    for (const auto& [name, v] : j.items()) {
        if (!v.is_object()) continue;
        any = true;
        register_claim(gateway_child(gw, name, ""), plain_json(v));
    }
    if (!any) return outcome::runtime_error;  // "Devices claim message is empty"
    g->reg.mark_dirty();
    return outcome::ok;
}

// ---------------------------------------------------------------------------------------------
// Device publishes

std::string rest_after(const std::string& topic, const std::string& prefix) {
    return starts_with(topic, prefix) ? topic.substr(prefix.size()) : std::string{};
}

outcome handle_device_publish(session& s, const std::string& topic, const std::string& payload) {
    device* dp = g->reg.find(s.device);
    if (!dp) return outcome::unknown_topic;
    device& d = *dp;
    json j;
    // v1/gateway/* of a gateway is handed to AbstractGatewaySessionHandler, which counts each
    // sub-device message against the gateway limits (handle_gateway) rather than the session's own.
    const bool gateway_topic = d.gateway && starts_with(topic, "v1/gateway/");
    if (!gateway_topic && !rate_ok(d.name, "messages", 1)) return outcome::rate_limited;
    const payload_profile& prof = profile_of(d);
    // MqttTransportHandler.processDevicePublish: the v1 topics and the bare v2 topics go through
    // the profile's adaptor, /j through the JSON one, /p through the protobuf one.
    const std::vector<std::pair<std::string, topic_type>> families = {
        {"v1", topic_type::v1}, {"v2", topic_type::v2}, {"v2/j", topic_type::v2_json}, {"v2/p", topic_type::v2_proto}};
    auto one_of = [&](const std::vector<const char*>& names, topic_type& t) {
        for (std::size_t i = 0; i < names.size(); ++i)
            if (topic == names[i]) {
                t = families[i].second;
                return true;
            }
        return false;
    };
    topic_type tt = topic_type::v1;
    if (one_of({"v1/devices/me/telemetry", "v2/t", "v2/t/j", "v2/t/p"}, tt)) {
        auto text =
            uplink_text(uplink_adaptor(prof, tt), payload, [&] { return dynamic_to_json(prof.telemetry, payload); });
        if (!text) return outcome::malformed;
        auto r = parse_keeping_numbers(*text);
        if (!r) return outcome::malformed;
        j = std::move(*r);
        if (!rate_ok(d.name, "telemetryMessages", 1) ||
            !rate_ok(d.name, "telemetryDataPoints", static_cast<long>(count_data_points(j))))
            return outcome::rate_limited;
        if (!store_telemetry(d, j)) return outcome::malformed;
        ++g->received[d.name];
        return outcome::ok;
    }
    if (one_of({"v1/devices/me/attributes", "v2/a", "v2/a/j", "v2/a/p"}, tt)) {
        auto text =
            uplink_text(uplink_adaptor(prof, tt), payload, [&] { return dynamic_to_json(prof.attributes, payload); });
        if (!text) return outcome::malformed;
        auto r = parse_keeping_numbers(*text);
        return r && store_client_attributes(d, *r) ? outcome::ok : outcome::malformed;
    }
    // Attribute request: v1/devices/me/attributes/request/{id}, v2/a/req/{id}, v2/a/req/j/{id}, v2/a/req/p/{id}
    for (const auto& [req, res, t] : std::vector<std::tuple<std::string, std::string, topic_type>>{
             {"v1/devices/me/attributes/request/", "v1/devices/me/attributes/response/", topic_type::v1},
             {"v2/a/req/j/", "v2/a/res/j/", topic_type::v2_json},
             {"v2/a/req/p/", "v2/a/res/p/", topic_type::v2_proto},
             {"v2/a/req/", "v2/a/res/", topic_type::v2}}) {
        const std::string id = rest_after(topic, req);
        if (!is_decimal(id)) continue;
        // ProtoConverter.convertToGetAttributeRequestMessage: transportapi.AttributesRequest; an
        // empty key list is no list.
        auto text = uplink_text(uplink_adaptor(prof, t), payload, [&]() -> std::optional<std::string> {
            auto pj = pb::to_json(pb::transport("AttributesRequest"), payload);
            if (!pj) return std::nullopt;
            json in = json::parse(*pj), out = json::object();
            for (const char* k : {"clientKeys", "sharedKeys"})
                if (in.contains(k) && !in[k].get<std::string>().empty()) out[k] = in[k];
            return dump(out);
        });
        if (!text) return outcome::malformed;
        j = json::parse(*text, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return outcome::malformed;
        std::optional<std::vector<std::string>> ck, sk;
        for (const auto& [field, out] : std::vector<std::pair<const char*, std::optional<std::vector<std::string>>*>>{
                 {"clientKeys", &ck}, {"sharedKeys", &sk}}) {
            if (!j.contains(field)) continue;
            if (!j[field].is_string()) return outcome::malformed;
            *out = split(j[field].get<std::string>(), ',');
        }
        json client, shared;
        if (!ck && !sk) {
            client = d.client_attrs;
            shared = d.shared_attrs;
        } else {
            client = ck ? select(d.client_attrs, &*ck) : json::object();
            shared = sk ? select(d.shared_attrs, &*sk) : json::object();
        }
        std::string body;
        if (downlink_proto(prof, t)) {
            // ProtoMqttAdaptor.convertToPublish(GetAttributeResponseMsg): the transport message itself.
            body = transport_bytes("GetAttributeResponseMsg", json{{"requestId", std::stol(id)},
                                                                   {"clientAttributeList", ts_kv_list(client)},
                                                                   {"sharedAttributeList", ts_kv_list(shared)}});
        } else {
            json reply = json::object();
            if (!client.empty()) reply["client"] = client;
            if (!shared.empty()) reply["shared"] = shared;
            body = dump(reply);
        }
        send_to(s, res + id, body, qos_for(s, res + "+"));
        return outcome::ok;
    }
    // Reply to a server RPC: v1/devices/me/rpc/response/{id}, v2/r/res/{id}, v2/r/res/j/{id}, v2/r/res/p/{id}
    for (const auto& [p, t] :
         std::vector<std::pair<std::string, topic_type>>{{"v1/devices/me/rpc/response/", topic_type::v1},
                                                         {"v2/r/res/j/", topic_type::v2_json},
                                                         {"v2/r/res/p/", topic_type::v2_proto},
                                                         {"v2/r/res/", topic_type::v2}}) {
        const std::string id = rest_after(topic, p);
        if (!is_decimal(id)) continue;
        // ProtoMqttAdaptor.convertToDeviceRpcResponse: the profile's RPC response schema, as JSON.
        auto text =
            uplink_text(uplink_adaptor(prof, t), payload, [&] { return dynamic_to_json(prof.rpc_response, payload); });
        if (!text) return outcome::malformed;
        rpc_answered(d.name, std::stol(id), *text);
        return outcome::ok;
    }
    // Device RPC: v1/devices/me/rpc/request/{id}, v2/r/req/{id}, v2/r/req/j/{id}, v2/r/req/p/{id}
    for (const auto& [req, res, t] : std::vector<std::tuple<std::string, std::string, topic_type>>{
             {"v1/devices/me/rpc/request/", "v1/devices/me/rpc/response/", topic_type::v1},
             {"v2/r/req/j/", "v2/r/res/j/", topic_type::v2_json},
             {"v2/r/req/p/", "v2/r/res/p/", topic_type::v2_proto},
             {"v2/r/req/", "v2/r/res/", topic_type::v2}}) {
        const std::string id = rest_after(topic, req);
        if (!is_decimal(id)) continue;
        // ProtoConverter.convertToServerRpcRequest: transportapi.RpcRequest {method, params (text)}.
        auto text = uplink_text(uplink_adaptor(prof, t), payload, [&]() -> std::optional<std::string> {
            auto pj = pb::to_json(pb::transport("RpcRequest"), payload);
            if (!pj) return std::nullopt;
            json in = json::parse(*pj);
            json params = json::parse(in["params"].get<std::string>(), nullptr, false);
            return dump(json{{"method", in["method"]}, {"params", params.is_discarded() ? in["params"] : params}});
        });
        if (!text) return outcome::malformed;
        j = json::parse(*text, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("method") || !j["method"].is_string())
            return outcome::malformed;
        if (auto reply = client_rpc_reply(d, j, req[1] == '1')) {
            std::string body = dump(*reply);
            // ProtoMqttAdaptor.convertToPublish(ToServerRpcResponseMsg): the transport message itself.
            if (downlink_proto(prof, t))
                body = transport_bytes("ToServerRpcResponseMsg", json{{"requestId", std::stol(id)}, {"payload", body}});
            send_to(s, res + id, body, qos_for(s, res + "+"));
        }
        return outcome::ok;
    }
    if (topic == "v1/devices/me/claim") {
        json c = json::object();
        // ProtoMqttAdaptor.convertToClaimDevice: with a PROTOBUF profile, transportapi.ClaimDevice.
        auto text = uplink_text(uplink_adaptor(prof, topic_type::v1), payload,
                                [&] { return pb::to_json(pb::transport("ClaimDevice"), payload); });
        if (!text) return outcome::malformed;
        if (!text->empty()) {
            c = json::parse(*text, nullptr, false);
            if (c.is_discarded() || !c.is_object()) return outcome::malformed;
        }
        register_claim(d, c);
        return outcome::ok;
    }
    for (const char* kind : {"fw", "sw"}) {
        const std::string rest = rest_after(topic, std::string("v2/") + kind + "/request/");
        if (rest.empty()) continue;
        auto parts = split(rest, '/');
        if (parts.size() != 3 || parts[0].empty() || parts[1] != "chunk" || !is_decimal(parts[2]))
            return outcome::unknown_topic;
        serve_chunk(s, d, kind, parts[0], parts[2], payload);
        return outcome::ok;
    }
    if (starts_with(topic, "v1/gateway/")) {
        // MqttTransportHandler.processPublish: a non-gateway session's v1/gateway/* publish is only
        // logged (no PUBACK, session kept). mosquitto acknowledges every QoS 1 publish it keeps the
        // connection for, so the emulator sends a PUBACK here (README: known deviations).
        if (!d.gateway) return outcome::unknown_topic;
        return handle_gateway(s, d, topic, payload);
    }
    return outcome::unknown_topic;
}

bool allowed_device_filter(const session& s, const std::string& f) {
    static const std::set<std::string> filters = {"v1/devices/me/attributes",
                                                  "v1/devices/me/attributes/response/+",
                                                  "v1/devices/me/rpc/request/+",
                                                  "v1/devices/me/rpc/response/+",
                                                  "v2/fw/response/+/chunk/+",
                                                  "v2/sw/response/+/chunk/+",
                                                  "v2/fw/error",
                                                  "v2/a",
                                                  "v2/a/j",
                                                  "v2/a/p",
                                                  "v2/a/res/+",
                                                  "v2/a/res/j/+",
                                                  "v2/a/res/p/+",
                                                  "v2/r/req/+",
                                                  "v2/r/req/j/+",
                                                  "v2/r/req/p/+",
                                                  "v2/r/res/+",
                                                  "v2/r/res/j/+",
                                                  "v2/r/res/p/+"};
    static const std::set<std::string> gateway_filters = {"v1/gateway/attributes", "v1/gateway/rpc",
                                                          "v1/gateway/attributes/response"};
    if (filters.count(f)) return true;
    if (gateway_filters.count(f)) {
        const device* d = g->reg.find(s.device);
        return d && d->gateway;
    }
    return false;
}

// ---------------------------------------------------------------------------------------------
// Admin commands

device device_from_args(const json& a) {
    device d;
    d.name = a.at("name").get<std::string>();
    d.type = a.value("type", "default");
    d.gateway = a.value("gateway", false);
    if (a.contains("certPem")) {
        d.creds.type = "X509_CERTIFICATE";
        d.creds.cert_b64 = b64_body(a["certPem"].get<std::string>());
        d.creds.cert_hash = sha3_256_hex(d.creds.cert_b64);
    } else if (a.contains("clientId") || a.contains("username") || a.contains("password")) {
        d.creds.type = "MQTT_BASIC";
        d.creds.client_id = a.value("clientId", "");
        d.creds.username = a.value("username", "");
        d.creds.password = a.value("password", "");
        if (d.creds.client_id.empty() && d.creds.username.empty())
            throw std::runtime_error("MQTT basic credentials need a client id or a username");
        if (!d.creds.username.empty() && d.creds.password.empty() && d.creds.client_id.empty())
            throw std::runtime_error("MQTT basic credentials with a username need a password");
    } else {
        d.creds.type = "ACCESS_TOKEN";
        d.creds.token = a.value("token", "");
        if (d.creds.token.empty()) d.creds.token = random_token(20);
    }
    return d;
}

/// The devices that have a session of their own, or are children connected through a gateway
/// session (v1/gateway/connect, no disconnect since). One pass over the sessions, so that listing
/// thousands of devices does not walk every session once per device.
std::set<std::string> active_devices() {
    std::set<std::string> active;
    for (const auto& [c, s] : g->sessions) {
        if (s.kind != session_kind::device) continue;
        active.insert(s.device);
        active.insert(s.gateway_children.begin(), s.gateway_children.end());
    }
    return active;
}

json device_summary(const device& d, const std::set<std::string>& active = active_devices()) {
    return {{"name", d.name},
            {"id", d.id},
            {"type", d.type},
            {"gateway", d.gateway},
            {"credentials", d.creds.to_json()},
            {"parentGateway", d.parent_gateway},
            {"deviceProfile", d.device_profile},
            {"active", active.count(d.name) > 0}};
}

device& need_device(const json& a) {
    device* d = g->reg.find(a.at("device").get<std::string>());
    if (!d)
        throw std::runtime_error("device not found: " + a.at("device").get<std::string>() +
                                 " (names: `tbmqtt emulator device list`)");
    return *d;
}

/// Runs one admin command. Returns the result, or nullopt when the reply comes later (rpc).
std::optional<json> run_admin(session& s, const std::string& cmd, const json& a, const std::string& corr) {
    if (cmd == "ping") return json{{"pong", true}};
    if (cmd == "device.add") {
        device nd = device_from_args(a);
        nd.device_profile = a.value("deviceProfile", "");
        if (!nd.device_profile.empty() && !g->reg.device_profiles.contains(nd.device_profile))
            throw std::runtime_error("no device profile " + nd.device_profile +
                                     " (tbmqtt emulator device-profile add)");
        device& d = g->reg.add(std::move(nd));
        save_now();
        return device_summary(d);
    }
    if (cmd == "device.add_many") {  // bulk creation: <prefix><start> .. <prefix><start+count-1>, new tokens
        const std::string prefix = a.at("prefix").get<std::string>();
        const long count = a.at("count").get<long>(), start = a.value("start", 0L);
        if (count < 1 || count > 1000 || start < 0) throw std::runtime_error("count must be 1..1000 per call");
        json out = json::array();
        try {
            for (long i = 0; i < count; ++i) {
                json da = {{"name", prefix + std::to_string(start + i)}};
                if (a.value("gateway", false)) da["gateway"] = true;
                device& d = g->reg.add(device_from_args(da));
                out.push_back({{"name", d.name}, {"token", d.creds.token}});
            }
        } catch (...) {
            save_now();  // keep those added before the failure
            throw;
        }
        save_now();
        return out;
    }
    if (cmd == "stats") {  // the server side of a load test: telemetry messages stored per device
        const std::string prefix = a.value("prefix", "");
        const std::set<std::string> active = active_devices();
        json per = json::object();
        std::uint64_t total = 0, devices = 0, act = 0;
        for (const auto& [n, d] : g->reg.devices) {
            if (!starts_with(n, prefix)) continue;
            ++devices;
            if (active.count(n)) ++act;
            const auto it = g->received.find(n);
            const std::uint64_t m = it == g->received.end() ? 0 : it->second;
            total += m;
            per[n] = m;
        }
        return json{{"devices", devices}, {"active", act}, {"telemetryMessages", total}, {"perDevice", per}};
    }
    if (cmd == "device.get") return device_summary(need_device(a));
    if (cmd == "device.list") {
        json out = json::array();
        const std::set<std::string> active = active_devices();
        for (const auto& [n, d] : g->reg.devices) out.push_back(device_summary(d, active));
        return out;
    }
    if (cmd == "device.delete") {
        device& d = need_device(a);
        const std::string name = d.name;
        for (auto* ds : sessions_of(name)) kick_later(*ds, 0);
        g->reg.remove(name);
        save_now();
        return json{{"deleted", name}};
    }
    if (cmd == "attributes.set") {
        device& d = need_device(a);
        const json& attrs = a.at("attributes");
        if (!attrs.is_object()) throw std::runtime_error("attributes must be a JSON object");
        const std::string scope = a.value("scope", "shared");
        if (scope == "shared") {
            set_shared(d, attrs);
        } else if (scope == "server") {
            for (const auto& [k, v] : attrs.items()) {
                if (v.is_null())
                    d.server_attrs.erase(k);
                else
                    d.server_attrs[k] = v;
            }
        } else if (scope == "client") {
            for (const auto& [k, v] : attrs.items()) {
                if (v.is_null())
                    d.client_attrs.erase(k);
                else
                    d.client_attrs[k] = v;
            }
        } else {
            throw std::runtime_error("unknown scope: " + scope);
        }
        save_now();
        return json{{"client", d.client_attrs}, {"shared", d.shared_attrs}, {"server", d.server_attrs}};
    }
    if (cmd == "attributes.get") {
        device& d = need_device(a);
        return json{{"client", d.client_attrs}, {"shared", d.shared_attrs}, {"server", d.server_attrs}};
    }
    if (cmd == "telemetry.get") {
        device& d = need_device(a);
        json out = json::object();
        for (const auto& [k, v] : d.latest.items()) out[k] = v["value"];
        if (a.value("withTs", false)) return d.latest;
        return out;
    }
    if (cmd == "telemetry.series") {
        device& d = need_device(a);
        json out = json::array();
        for (const auto& e : d.series)
            if (!a.contains("key") || e["key"] == a["key"]) out.push_back(e);
        return out;
    }
    if (cmd == "rpc.send") {
        device& d = need_device(a);
        pending_rpc r;
        // DeviceActorMessageProcessor: rpcSeq starts at 0 for each device actor (requestId rpcSeq++).
        r.id = g->rpc_counter[d.name]++;
        r.device = d.name;
        r.request = {{"method", a.at("method")}, {"params", a.value("params", json::object())}};
        r.oneway = a.value("oneway", false);
        r.expires = mono_ms() + a.value("timeoutMs", 10000L);
        r.admin_client = s.client_id;
        r.corr = corr;
        if (a.value("persistent", false)) {
            // DeviceActorMessageProcessor.processRpcRequest: an expiration time already reached is
            // stored EXPIRED and not sent; otherwise QUEUED, and the caller gets {"rpcId"} at once.
            const std::int64_t now = wall_ms();
            const std::int64_t expiration = a.contains("expirationTime") ? a["expirationTime"].get<std::int64_t>()
                                                                         : now + a.value("timeoutMs", 10000L);
            r.expires = mono_ms() + (expiration - now);
            r.rpc_id = random_token(8) + "-" + random_token(4) + "-" + random_token(4) + "-" + random_token(4) + "-" +
                       random_token(12);
            // actors.rpc.max_retries (thingsboard.yml, 5): min(request retries, system max).
            r.max_retries = std::min(a.contains("retries") ? a["retries"].get<int>() : 5, 5);
            g->reg.persistent_rpcs[r.rpc_id] = {{"rpcId", r.rpc_id},
                                                {"device", d.name},
                                                {"requestId", r.id},
                                                {"request", r.request},
                                                {"oneway", r.oneway},
                                                {"createdTime", now},
                                                {"expirationTime", expiration},
                                                {"retries", 0},
                                                {"maxRetries", r.max_retries},
                                                {"status", nullptr},
                                                {"history", json::array()}};
            // Bounded like the time series: the oldest finished records go first (insertion order).
            for (auto it = g->reg.persistent_rpcs.begin();
                 g->reg.persistent_rpcs.size() > registry::series_limit && it != g->reg.persistent_rpcs.end();) {
                const std::string id = it.key();
                const bool pending =
                    std::any_of(g->rpcs.begin(), g->rpcs.end(), [&](const pending_rpc& p) { return p.rpc_id == id; });
                if (pending)
                    ++it;
                else
                    it = g->reg.persistent_rpcs.erase(it);
            }
            if (expiration <= now) {
                rpc_status(r, "EXPIRED");
            } else {
                rpc_status(r, "QUEUED");
                g->rpcs.push_back(r);
                deliver_rpc(g->rpcs.back());
                finish_failed_rpcs();
                finish_persistent_oneways();
            }
            save_now();
            return json{{"rpcId", r.rpc_id}};
        }
        g->rpcs.push_back(r);
        deliver_rpc(g->rpcs.back());
        finish_failed_rpcs();
        finish_sent_oneways();
        return std::nullopt;
    }
    if (cmd == "rpc.get") {
        const std::string id = a.at("rpcId").get<std::string>();
        if (!g->reg.persistent_rpcs.contains(id))
            throw std::runtime_error("no persistent RPC " + id + " (check the id printed by rpc --persistent)");
        return g->reg.persistent_rpcs[id];
    }
    if (cmd == "rpc.list") {
        device& d = need_device(a);
        json out = json::array();
        for (const auto& [id, rec] : g->reg.persistent_rpcs.items())
            if (rec.value("device", "") == d.name) out.push_back(rec);
        return out;
    }
    if (cmd == "rpc_handler.set") {
        std::string method = a.at("method").get<std::string>();
        if (a.contains("device")) method = a["device"].get<std::string>() + "/" + method;
        if (a.contains("response") && !a["response"].is_null())
            g->reg.rpc_handlers[method] = a["response"];
        else
            g->reg.rpc_handlers.erase(method);
        save_now();
        return g->reg.rpc_handlers;
    }
    if (cmd == "claim.get") {
        device& d = need_device(a);
        return json{{"claim", d.claim}, {"claimed", d.claimed}};
    }
    if (cmd == "claim.accept") {
        // ClaimDevicesServiceImpl.claimDevice (a user's "claim device" call). With a claim request:
        // expired or another secret -> FAILURE (the request is dropped); else SUCCESS, or CLAIMED
        // when the device already has an owner (the request is removed either way). Without one:
        // FAILURE, or CLAIMED when the device already has an owner.
        device& d = need_device(a);
        const std::string secret = a.value("secretKey", "");
        std::string result;
        if (d.claim.is_object()) {
            if (wall_ms() > d.claim.value("expiresAt", std::int64_t{0}) || d.claim.value("secretKey", "") != secret) {
                result = "FAILURE";
            } else {
                result = d.claimed ? "CLAIMED" : "SUCCESS";
                d.claimed = true;
            }
            d.claim = nullptr;
        } else {
            result = d.claimed ? "CLAIMED" : "FAILURE";
        }
        save_now();
        return json{{"result", result}};
    }
    if (cmd == "ota.assign") {
        json r = ota_assign(a);
        save_now();
        return r;
    }
    if (cmd == "ota.state") {
        device& d = need_device(a);
        json out = json::array();
        for (const auto& h : d.ota_history)
            if (!a.contains("kind") || h["kind"] == a["kind"]) out.push_back(h);
        return out;
    }
    if (cmd == "profile.add") {
        profile p;
        p.key = a.at("key").get<std::string>();
        p.secret = a.at("secret").get<std::string>();
        p.strategy = a.value("strategy", "allow-create");
        p.name = a.value("name", p.key);
        if (p.strategy != "allow-create" && p.strategy != "check-preprovisioned")
            throw std::runtime_error("strategy must be allow-create or check-preprovisioned");
        for (const auto& e : g->reg.profiles)
            if (e.key == p.key) throw std::runtime_error("provision key already in use");
        g->reg.profiles.push_back(p);
        save_now();
        return json{{"name", p.name}, {"key", p.key}, {"strategy", p.strategy}};
    }
    if (cmd == "device_profile.add") {
        // A device profile with MQTT transport (DeviceProfileDataValidator checks the schemas when the
        // profile is saved, so a schema that does not compile is refused here).
        const std::string name = a.at("name").get<std::string>();
        if (name.empty()) throw std::runtime_error("a device profile needs a name");
        json p = {
            {"payloadType", a.value("payloadType", "JSON")},
            {"sendAckOnValidationException", a.value("sendAckOnValidationException", false)},
            {"enableCompatibilityWithJsonPayloadFormat", a.value("enableCompatibilityWithJsonPayloadFormat", false)},
            {"useJsonPayloadFormatForDefaultDownlinkTopics",
             a.value("useJsonPayloadFormatForDefaultDownlinkTopics", false)}};
        if (p["payloadType"] != "JSON" && p["payloadType"] != "PROTOBUF")
            throw std::runtime_error("payloadType must be JSON or PROTOBUF");
        for (const char* k : {"telemetryProto", "attributesProto", "rpcRequestProto", "rpcResponseProto"}) {
            const std::string text = a.value(k, "");
            if (text.empty()) continue;
            if (p["payloadType"] != "PROTOBUF")
                throw std::runtime_error(std::string(k) + " needs payloadType PROTOBUF");
            std::string error;
            auto compiled = pb::compile(text, error);
            if (!compiled) throw std::runtime_error(std::string("invalid ") + k + ": " + error);
            p[k] = text;
            p[std::string(k) + "Message"] = pb::message_name(*compiled);
        }
        g->reg.device_profiles[name] = p;
        profile_cache.erase(name);
        save_now();
        json out = p;
        out["name"] = name;
        return out;
    }
    if (cmd == "device_profile.list") return g->reg.device_profiles;
    if (cmd == "device.set_profile") {
        device& d = need_device(a);
        const std::string prof = a.value("profile", "");
        if (!prof.empty() && !g->reg.device_profiles.contains(prof))
            throw std::runtime_error("no device profile " + prof + " (tbmqtt emulator device-profile add)");
        d.device_profile = prof;
        save_now();
        return device_summary(d);
    }
    if (cmd == "settings.set") {
        g->rates.clear();
        for (const auto& [k, v] : a.items()) {
            if (v.is_null())
                g->reg.settings.erase(k);
            else
                g->reg.settings[k] = v;
        }
        save_now();
        return g->reg.settings;
    }
    if (cmd == "settings.get") return g->reg.settings;
    if (cmd == "save") {
        save_now();
        return json{{"saved", true}};
    }
    throw std::runtime_error("unknown command: " + cmd + " (an emulator older than this tbmqtt? restart it)");
}

void handle_admin(session& s, const std::string& payload) {
    json req = json::parse(payload, nullptr, false);
    std::string corr;
    if (req.is_object() && req.contains("id") && req["id"].is_string()) corr = req["id"];
    try {
        if (!req.is_object() || !req.contains("command") || !req["command"].is_string())
            throw std::runtime_error("request must be {\"id\":..,\"command\":..,\"args\":{..}}");
        const json args = req.value("args", json::object());
        auto r = run_admin(s, req["command"].get<std::string>(), args, corr);
        if (r) admin_reply(s.client_id, corr, true, *r);
    } catch (const json::exception& e) {
        // A missing or mistyped argument (a.at(...), get<T>()): say which command and why.
        admin_reply(s.client_id, corr, false,
                    "bad arguments for " +
                        (req.is_object() ? req.value("command", std::string("?")) : std::string("?")) +
                        " (see the admin protocol in emulator/README.md): " + e.what());
    } catch (const std::exception& e) {
        admin_reply(s.client_id, corr, false, e.what());
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication

/// Finds the client's socket inside mosquitto's opaque context and checks it really is the client's
/// socket. mosquitto 2.0.11 cannot send CONNACK codes other than 5/0x87 from a plugin, while
/// ThingsBoard answers 2/0x85 and 0x86 too; we write that CONNACK ourselves, then fail the auth
/// with a code that makes mosquitto close the connection without a CONNACK of its own.
int client_socket(mosquitto* client) {
    const char* addr = mosquitto_client_address(client);
    if (!addr) return -1;
    const int* words = reinterpret_cast<const int*>(client);
    for (int i = 0; i < 2; ++i) {  // sock follows an int `ident` when mosquitto uses epoll
        const int fd = words[i];
        if (fd < 3) continue;
        struct stat st {};
        if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        sockaddr_storage peer{};
        socklen_t len = sizeof(peer);
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
        char buf[INET6_ADDRSTRLEN] = {0};
        if (peer.ss_family == AF_INET)
            inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, buf, sizeof(buf));
        else if (peer.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr, buf, sizeof(buf));
        if (std::strcmp(buf, addr) == 0) return fd;
    }
    return -1;
}

int refuse(mosquitto* client, const char* username, const char* password, const std::string& cid,
           bool identifier_rejected = false) {
    // ThingsBoard's rule (MqttTransportHandler.onValidateDeviceResponse): a username or password
    // present -> bad username or password (0x86 / 3.1.1: 5); else a non-blank client id -> client
    // identifier not valid (0x85 / 3.1.1: 2); else not authorized (0x87 / 3.1.1: 5).
    const bool blank_cid = cid.empty() || starts_with(cid, "auto-");
    const int proto = mosquitto_client_protocol_version(client);
    unsigned char rc5 = 0x87, rc3 = 5;
    if (identifier_rejected) {
        rc5 = 0x85;
        rc3 = 2;
    } else if (username || password) {
        rc5 = 0x86;
        rc3 = 5;
    } else if (!blank_cid) {
        rc5 = 0x85;
        rc3 = 2;
    }
    const int fd = client_socket(client);
    if (fd < 0) return MOSQ_ERR_AUTH;
    // On a TLS listener a raw CONNACK would corrupt the TLS stream: mosquitto's own 5 / 0x87.
    if (!g->tls_ports.empty()) {
        sockaddr_storage local{};
        socklen_t len = sizeof(local);
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return MOSQ_ERR_AUTH;
        int port = -1;
        if (local.ss_family == AF_INET) port = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
        if (local.ss_family == AF_INET6) port = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
        if (g->tls_ports.count(port)) return MOSQ_ERR_AUTH;
    }
    const unsigned char v3[] = {0x20, 0x02, 0x00, rc3};
    const unsigned char v5[] = {0x20, 0x03, 0x00, rc5, 0x00};
    const ssize_t n = proto == 5 ? ::send(fd, v5, sizeof(v5), MSG_NOSIGNAL) : ::send(fd, v3, sizeof(v3), MSG_NOSIGNAL);
    if (n <= 0) return MOSQ_ERR_AUTH;
    return MOSQ_ERR_UNKNOWN;  // mosquitto closes the connection without another CONNACK
}

/// X.509 credential hash of the client's TLS certificate (protocol doc §1: lowercase hex SHA3-256
/// of the leaf certificate's DER as one-line Base64), or empty when it presented none.
std::string client_cert_hash(mosquitto* client) {
    X509* cert = static_cast<X509*>(mosquitto_client_certificate(client));
    if (!cert) return {};
    unsigned char* der = nullptr;
    const int n = i2d_X509(cert, &der);
    X509_free(cert);
    if (n <= 0) return {};
    std::string b64(4 * ((static_cast<std::size_t>(n) + 2) / 3) + 1, '\0');
    const int m = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), der, n);
    OPENSSL_free(der);
    b64.resize(m > 0 ? static_cast<std::size_t>(m) : 0);
    return sha3_256_hex(b64);
}

int on_basic_auth(int, void* event_data, void*) {
    auto* ev = static_cast<mosquitto_evt_basic_auth*>(event_data);
    const char* cid_c = mosquitto_client_id(ev->client);
    const std::string cid = cid_c ? cid_c : "";
    const char* user = ev->username;
    const char* pass = ev->password;
    session s;
    s.client = ev->client;
    s.client_id = cid;
    s.proto = mosquitto_client_protocol_version(ev->client);
    if (const std::string hash = client_cert_hash(ev->client); !hash.empty()) {
        // A client certificate identifies the device whatever the username (ThingsBoard's
        // X509 transport). Its chain was already checked by mosquitto against the emulator CA.
        device* d = g->reg.find_by_cert_hash(hash);
        if (!d) return refuse(ev->client, user, pass, cid);
        s.kind = session_kind::device;
        s.device = d->name;
    } else if ((user && std::strcmp(user, "provision") == 0) || cid == "provision") {
        s.kind = session_kind::provision;
    } else if (user && pass && user == g->admin_user && !g->admin_pass.empty() && pass == g->admin_pass) {
        s.kind = session_kind::admin;
    } else {
        // Tokens and MQTT basic credentials in ThingsBoard's order (registry::find_basic).
        device* d = g->reg.find_basic(cid.c_str(), user, pass);
        if (!d) return refuse(ev->client, user, pass, cid);
        s.kind = session_kind::device;
        s.device = d->name;
    }
    // ThingsBoard does not key sessions by client id: two devices may use the same one. mosquitto
    // does (a second CONNECT with a client id in use takes the first session over), so a client id
    // held by another device's (or an admin/provisioning) session is refused with "identifier
    // rejected" rather than letting one device knock another off (README: known deviations).
    for (const auto& [c, other] : g->sessions) {
        if (c == ev->client || other.client_id != cid) continue;
        const bool same_device =
            other.kind == session_kind::device && s.kind == session_kind::device && other.device == s.device;
        const bool both_provision = other.kind == session_kind::provision && s.kind == session_kind::provision;
        if (!same_device && !both_provision) return refuse(ev->client, user, pass, cid, true);
    }
    // DeviceActorMessageProcessor.sessions is a LinkedHashMapRemoveEldest of
    // actors.session.max_concurrent_sessions_per_device (thingsboard.yml default 1): a new session
    // closes the device's older one (MAX_CONCURRENT_SESSIONS_LIMIT_REACHED). With the same client
    // id mosquitto's takeover already does it; otherwise the older session is kicked.
    if (s.kind == session_kind::device) {
        for (const auto& [c, other] : g->sessions) {
            if (c == ev->client || other.kind != session_kind::device || other.device != s.device) continue;
            if (other.client_id == cid) continue;
            mosquitto* old = c;
            const std::string old_id = other.client_id;
            g->next_tick.push_back([old, old_id] {
                auto it = g->sessions.find(old);
                if (it != g->sessions.end() && it->second.client_id == old_id)
                    mosquitto_kick_client_by_clientid(old_id.c_str(), false);
            });
        }
    }
    g->sessions[ev->client] = s;
    return MOSQ_ERR_SUCCESS;
}

bool is_attr_family(const std::string& f) {
    return f == "v1/devices/me/attributes" || f == "v2/a" || f == "v2/a/j" || f == "v2/a/p";
}
bool is_rpc_family(const std::string& f) {
    return f == "v1/devices/me/rpc/request/+" || f == "v2/r/req/+" || f == "v2/r/req/j/+" || f == "v2/r/req/p/+";
}

int on_acl_check(int, void* event_data, void*) {
    auto* ev = static_cast<mosquitto_evt_acl_check*>(event_data);
    auto it = g->sessions.find(ev->client);
    if (it == g->sessions.end()) return MOSQ_ERR_ACL_DENIED;
    session& s = it->second;
    const std::string topic = ev->topic ? ev->topic : "";
    switch (ev->access) {
        case MOSQ_ACL_READ: return MOSQ_ERR_ACL_DENIED;  // every server->device message is a targeted publish
        case MOSQ_ACL_WRITE:
            if (s.kind == session_kind::admin)
                return topic == admin_request_topic ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
            if (starts_with(topic, "$")) return MOSQ_ERR_ACL_DENIED;
            return MOSQ_ERR_SUCCESS;  // MESSAGE decides
        case MOSQ_ACL_SUBSCRIBE: {
            bool ok = false;
            if (s.kind == session_kind::provision) ok = topic == "/provision/response";
            if (s.kind == session_kind::device) ok = allowed_device_filter(s, topic);
            if (!ok) return MOSQ_ERR_ACL_DENIED;
            s.subs[topic] = std::min<int>(ev->qos, 1);
            if (is_attr_family(topic)) s.attr_sub = topic;
            if (is_rpc_family(topic)) s.rpc_sub = topic;
            if (s.kind == session_kind::device &&
                (topic == "v1/devices/me/rpc/request/+" || topic == "v2/r/req/+" || topic == "v2/r/req/j/+" ||
                 topic == "v2/r/req/p/+" || topic == "v1/gateway/rpc")) {
                const std::string dev = s.device;
                mosquitto* c = s.client;
                const bool gateway = topic == "v1/gateway/rpc";
                g->next_tick.push_back([dev, c, gateway] {
                    if (g->sessions.count(c) == 0) return;
                    if (!gateway) {
                        redeliver_rpcs(dev);
                        return;
                    }
                    for (const auto& [name, d] : g->reg.devices)
                        if (d.parent_gateway == dev) redeliver_rpcs(name);
                });
            }
            return MOSQ_ERR_SUCCESS;
        }
        case MOSQ_ACL_UNSUBSCRIBE:
            s.subs.erase(topic);
            if (is_attr_family(topic)) s.attr_sub.clear();
            if (is_rpc_family(topic)) s.rpc_sub.clear();
            return MOSQ_ERR_SUCCESS;
        default: return MOSQ_ERR_ACL_DENIED;
    }
}

int on_message(int, void* event_data, void*) {
    auto* ev = static_cast<mosquitto_evt_message*>(event_data);
    ev->retain = false;  // ThingsBoard ignores retain
    auto it = g->sessions.find(ev->client);
    if (it == g->sessions.end()) return MOSQ_ERR_ACL_DENIED;
    session& s = it->second;
    const std::string topic = ev->topic;
    const std::string payload(static_cast<const char*>(ev->payload), ev->payloadlen);
    if (static_cast<long>(ev->payloadlen) > g->max_payload) return MOSQ_ERR_PROTOCOL;  // close
    if (s.kind == session_kind::provision) {
        if (topic != "/provision/request") return MOSQ_ERR_ACL_DENIED;
        json j = json::parse(payload, nullptr, false);
        if (!provision(s, j)) {
            kick_later(s, 50);
            return MOSQ_ERR_ACL_DENIED;
        }
        return MOSQ_ERR_SUCCESS;
    }
    if (s.kind != session_kind::device) return MOSQ_ERR_ACL_DENIED;
    switch (handle_device_publish(s, topic, payload)) {
        case outcome::ok: return MOSQ_ERR_SUCCESS;
        // mosquitto 2.0.11 disconnects an MQTT 5 client after a PUBACK with an error reason
        // (MOSQ_ERR_ACL_DENIED), so the message is accepted and routed nowhere instead (READ is
        // denied everywhere): MQTT 5 sees PUBACK 0x10 where ThingsBoard sends 0x90 / 0x99.
        case outcome::unknown_topic: return MOSQ_ERR_SUCCESS;
        // sendResponseForAdaptorErrorOrCloseContext: PUBACK (PAYLOAD_FORMAT_INVALID) when the device
        // profile has sendAckOnValidationException or the client speaks MQTT 5, otherwise the
        // session is closed.
        case outcome::malformed: {
            const device* d = g->reg.find(s.device);
            const bool ack = s.proto == 5 || (d && profile_of(*d).send_ack_on_validation);
            return ack ? MOSQ_ERR_SUCCESS : MOSQ_ERR_PROTOCOL;
        }
        case outcome::rate_limited: return MOSQ_ERR_PROTOCOL;  // closes the session
        case outcome::runtime_error:
            // handleGatewayPublishMsg catch (RuntimeException): PUBACK, then closeCtx. mosquitto
            // sends the PUBACK when this returns; the close follows once it is on the wire.
            kick_later(s, 100);
            return MOSQ_ERR_SUCCESS;
    }
    return MOSQ_ERR_SUCCESS;
}

int on_control(int, void* event_data, void*) {
    auto* ev = static_cast<mosquitto_evt_control*>(event_data);
    auto it = g->sessions.find(ev->client);
    if (it == g->sessions.end() || it->second.kind != session_kind::admin) return MOSQ_ERR_ACL_DENIED;
    handle_admin(it->second, std::string(static_cast<const char*>(ev->payload), ev->payloadlen));
    return MOSQ_ERR_SUCCESS;
}

int on_tick(int, void*, void*) {
    const std::int64_t now = mono_ms();
    auto tasks = std::move(g->next_tick);
    g->next_tick.clear();
    for (auto& t : tasks) t();
    for (auto it = g->rpcs.begin(); it != g->rpcs.end();) {
        if (it->expires <= now && !it->rpc_id.empty()) {
            // processServerSideRpcTimeout: a persisted RPC still pending at its expiration is EXPIRED.
            rpc_status(*it, "EXPIRED");
            it = g->rpcs.erase(it);
        } else if (it->expires <= now) {
            admin_reply(it->admin_client, it->corr, false,
                        it->sent ? "timeout: no reply from the device (does it answer on "
                                   "v1/devices/me/rpc/response/{id}? raise --timeout-ms)"
                                 : "timeout: device not connected or not subscribed to RPC (check it is connected and "
                                   "subscribed to v1/devices/me/rpc/request/+)",
                        "timeout");
            it = g->rpcs.erase(it);
        } else {
            ++it;
        }
    }
    for (auto it = g->delayed.begin(); it != g->delayed.end();) {
        if (it->at <= now) {
            raw_publish(it->client_id, it->topic, it->payload, it->qos);
            it = g->delayed.erase(it);
        } else {
            ++it;
        }
    }
    for (auto it = g->kicks.begin(); it != g->kicks.end();) {
        if (it->first <= now) {
            mosquitto_kick_client_by_clientid(it->second.c_str(), false);
            it = g->kicks.erase(it);
        } else {
            ++it;
        }
    }
    if (save_due(now)) save_now();
    return MOSQ_ERR_SUCCESS;
}

int on_disconnect(int, void* event_data, void*) {
    auto* ev = static_cast<mosquitto_evt_disconnect*>(event_data);
    // A persistent RPC SENT on this session and not answered: its PUBACK can no longer come, which
    // ThingsBoard sees as the transport's delivery TIMEOUT (MqttTransportHandler.
    // sendToDeviceRpcRequest). processRpcResponseStatus: retries left -> TIMEOUT, retries + 1, kept
    // pending and sent again on the next RPC subscription; none left -> FAILED with ThingsBoard's
    // error text (actors.rpc.close_session_on_rpc_delivery_timeout is false by default).
    // The plugin API reports no PUBACK, so a session that stays open keeps the RPC SENT.
    for (auto it = g->rpcs.begin(); it != g->rpcs.end();) {
        if (it->rpc_id.empty() || it->sent_on != ev->client ||
            g->reg.persistent_rpcs[it->rpc_id].value("status", "") != "SENT") {
            ++it;
            continue;
        }
        it->sent_on = nullptr;
        it->sent = false;
        if (it->max_retries <= it->retries) {
            const json err = {
                {"error", "There was a Timeout and all retry attempts have been exhausted. Retry attempts set: " +
                              std::to_string(it->max_retries)}};
            rpc_status(*it, "FAILED", &err);
            it = g->rpcs.erase(it);
        } else {
            ++it->retries;
            rpc_status(*it, "TIMEOUT");
            ++it;
        }
    }
    g->sessions.erase(ev->client);
    return MOSQ_ERR_SUCCESS;
}

}  // namespace
}  // namespace tbmqtt_emulator

using namespace tbmqtt_emulator;

extern "C" {

int mosquitto_plugin_version(int count, const int* versions) {
    for (int i = 0; i < count; ++i)
        if (versions[i] == 5) return 5;
    return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** userdata, struct mosquitto_opt* options,
                          int option_count) {
    g = new emulator();
    g->id = identifier;
    std::string state_dir = "/tmp/tbmqtt-emulator";
    bool default_device = true;
    for (int i = 0; i < option_count; ++i) {
        const std::string k = options[i].key, v = options[i].value ? options[i].value : "";
        if (k == "state_dir") state_dir = v;
        if (k == "max_payload_size") g->max_payload = std::stol(v);
        if (k == "provision_close_ms") g->provision_close_ms = std::stol(v);
        if (k == "default_device") default_device = v != "false";
        if (k == "tls_ports") {
            std::istringstream ports(v);
            std::string p;
            while (std::getline(ports, p, ','))
                if (!p.empty()) g->tls_ports.insert(std::stoi(p));
        }
    }
    try {
        ::mkdir(state_dir.c_str(), 0700);
        g->reg.set_dir(state_dir);
        g->reg.load();
        std::ifstream in(state_dir + "/admin.json");
        if (in) {
            std::stringstream ss;
            ss << in.rdbuf();
            json a = json::parse(ss.str(), nullptr, false);
            if (a.is_object()) {
                g->admin_user = a.value("username", g->admin_user);
                g->admin_pass = a.value("password", "");
            }
        }
        if (g->admin_pass.empty())
            mosquitto_log_printf(MOSQ_LOG_WARNING, "tbmqtt_emulator: no %s/admin.json, the admin channel is disabled",
                                 state_dir.c_str());
        if (default_device && g->reg.devices.empty()) {
            device d;
            d.name = "default";
            d.creds.token = random_token(20);
            g->reg.add(d);
        }
        g->reg.save();
    } catch (const std::exception& e) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "tbmqtt_emulator: %s", e.what());
        return MOSQ_ERR_UNKNOWN;
    }
    *userdata = g;
    mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, on_basic_auth, nullptr, nullptr);
    mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, on_acl_check, nullptr, nullptr);
    mosquitto_callback_register(identifier, MOSQ_EVT_MESSAGE, on_message, nullptr, nullptr);
    mosquitto_callback_register(identifier, MOSQ_EVT_CONTROL, on_control, admin_request_topic, nullptr);
    mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick, nullptr, nullptr);
    mosquitto_callback_register(identifier, MOSQ_EVT_DISCONNECT, on_disconnect, nullptr, nullptr);
    mosquitto_log_printf(MOSQ_LOG_INFO, "tbmqtt_emulator: state in %s, %zu devices", state_dir.c_str(),
                         g->reg.devices.size());
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void*, struct mosquitto_opt*, int) {
    if (!g) return MOSQ_ERR_SUCCESS;
    mosquitto_callback_unregister(g->id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, nullptr);
    mosquitto_callback_unregister(g->id, MOSQ_EVT_ACL_CHECK, on_acl_check, nullptr);
    mosquitto_callback_unregister(g->id, MOSQ_EVT_MESSAGE, on_message, nullptr);
    mosquitto_callback_unregister(g->id, MOSQ_EVT_CONTROL, on_control, admin_request_topic);
    mosquitto_callback_unregister(g->id, MOSQ_EVT_TICK, on_tick, nullptr);
    mosquitto_callback_unregister(g->id, MOSQ_EVT_DISCONNECT, on_disconnect, nullptr);
    try {
        g->reg.save();
    } catch (...) {}
    delete g;
    g = nullptr;
    return MOSQ_ERR_SUCCESS;
}

}  // extern "C"
