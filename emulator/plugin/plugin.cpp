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

#include "checksum.hpp"
#include "state.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
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
    std::string device;  // device name (device sessions)
    int proto = 4;       // 3 = MQTT 3.1, 4 = 3.1.1, 5 = 5
    std::map<std::string, int> subs;              // granted filter -> qos
    std::map<std::string, long> fw_chunk_size;    // OTA request id -> chunk size
    std::map<std::string, long> sw_chunk_size;
    std::set<std::string> gateway_children;       // connected via v1/gateway/connect
};

struct pending_rpc {
    long id = 0;
    std::string device;
    json request;  // {"method":..,"params":..}
    bool oneway = false;
    std::int64_t expires = 0;  // mono ms
    std::string admin_client, corr;
    bool sent = false;
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
    // device -> setting key -> one fixed window per "cap:seconds" rule
    std::map<std::string, std::map<std::string, std::vector<std::pair<std::int64_t, long>>>> rates;
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

void raw_publish(const std::string& client_id, const std::string& topic, const std::string& payload,
                 int qos) {
    mosquitto_broker_publish_copy(client_id.c_str(), topic.c_str(), static_cast<int>(payload.size()),
                                  payload.data(), qos, false, nullptr);
}

/// Sends a server->device message, applying the configured drop/latency injection.
void send_to(const session& s, const std::string& topic, const std::string& payload, int qos) {
    if (s.kind == session_kind::device) {
        const double drop = setting_num("dropProbability", 0.0);
        if (drop > 0 && (static_cast<double>(std::rand()) / RAND_MAX) < drop) return;
        const double latency = setting_num("latencyMs", 0.0);
        if (latency > 0) {
            g->delayed.push_back({mono_ms() + static_cast<std::int64_t>(latency), s.client_id, topic,
                                  payload, qos});
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

void kick_later(const session& s, std::int64_t delay_ms) {
    g->kicks.emplace_back(mono_ms() + delay_ms, s.client_id);
}

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
    try {
        g->reg.save();
    } catch (const std::exception& e) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "tbmqtt_emulator: %s", e.what());
    }
    g->last_save = mono_ms();
}

/// Rate limits (settings "messages", "telemetryMessages", "telemetryDataPoints": "cap:seconds" rules,
/// comma-separated). Returns false when `amount` more would exceed a rule; the caller then closes
/// the session as ThingsBoard does.
bool rate_ok(const std::string& device, const char* key, long amount) {
    const auto it = g->reg.settings.find(key);
    if (it == g->reg.settings.end() || !it->is_string()) return true;
    std::vector<std::pair<long, long>> rules;
    for (const auto& r : split(it->get<std::string>(), ',')) {
        const auto parts = split(r, ':');
        if (parts.size() != 2 || !is_decimal(parts[0]) || !is_decimal(parts[1])) continue;
        rules.emplace_back(std::stol(parts[0]), std::stol(parts[1]));
    }
    auto& windows = g->rates[device][key];
    windows.resize(rules.size(), {0, 0});
    const std::int64_t now = mono_ms();
    for (std::size_t i = 0; i < rules.size(); ++i) {
        if (now - windows[i].first >= rules[i].second * 1000) windows[i] = {now, 0};
        if (windows[i].second + amount > rules[i].first) return false;
    }
    for (auto& w : windows) w.second += amount;
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
            if (!e["ts"].is_number() || !e["values"].is_object()) return false;
            groups.emplace_back(e["ts"].get<std::int64_t>(), &e["values"]);
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
    // Validate everything before storing anything.
    for (const auto& [ts, values] : groups)
        for (const auto& [k, v] : values->items())
            if (!v.is_null() && !tb_value(v)) return false;
    for (const auto& [ts, values] : groups) {
        for (const auto& [k, v] : values->items()) {
            if (v.is_null()) continue;
            json value = *tb_value(v);
            auto it = d.latest.find(k);
            if (it == d.latest.end() || (*it)["ts"].get<std::int64_t>() <= ts)
                d.latest[k] = {{"ts", ts}, {"value", value}};
            d.series.push_back({{"ts", ts}, {"key", k}, {"value", value}});
            while (d.series.size() > registry::series_limit) d.series.pop_front();
            if (k == "fw_state" || k == "sw_state") {
                const std::string kind = k.substr(0, 2);
                json h = {{"ts", ts}, {"kind", kind}, {"state", value}};
                if (values->contains(kind + "_error")) h["error"] = (*values)[kind + "_error"];
                d.ota_history.push_back(h);
            }
        }
    }
    g->reg.mark_dirty();
    return true;
}

/// Stores client attributes (a flat object). Returns false for a malformed payload.
bool store_client_attributes(device& d, const json& j) {
    if (!j.is_object()) return false;
    for (const auto& [k, v] : j.items())
        if (v.is_null() || !tb_value(v)) return false;
    for (const auto& [k, v] : j.items()) d.client_attrs[k] = *tb_value(v);
    g->reg.mark_dirty();
    return true;
}

/// Pushes a shared-attribute change to the device's subscribed sessions (or its gateway).
void push_shared(const device& d, const json& update) {
    for (auto* s : sessions_of(d.name)) {
        for (const char* f : {"v1/devices/me/attributes", "v2/a", "v2/a/j"}) {
            auto it = s->subs.find(f);
            if (it != s->subs.end()) send_to(*s, f, dump(update), it->second);
        }
    }
    if (auto* gw = gateway_session_for_child(d)) {
        auto it = gw->subs.find("v1/gateway/attributes");
        if (it != gw->subs.end())
            send_to(*gw, "v1/gateway/attributes", dump(json{{"device", d.name}, {"data", update}}),
                    it->second);
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
    if (!deleted.empty()) push_shared(d, json{{"deleted", deleted}});
}

json select(const json& attrs, const std::vector<std::string>* keys) {
    json out = json::object();
    if (!keys) return attrs;
    for (const auto& k : *keys)
        if (attrs.contains(k)) out[k] = attrs[k];
    return out;
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

/// Delivers a pending RPC to the device's session subscribed to RPC requests (or its gateway).
bool deliver_rpc(pending_rpc& r) {
    device* d = g->reg.find(r.device);
    if (!d) return false;
    for (auto* s : sessions_of(r.device)) {
        for (const char* f : {"v1/devices/me/rpc/request/+", "v2/r/req/+", "v2/r/req/j/+"}) {
            auto it = s->subs.find(f);
            if (it == s->subs.end()) continue;
            std::string topic = f;
            topic.replace(topic.size() - 1, 1, std::to_string(r.id));
            send_to(*s, topic, dump(r.request), it->second);
            r.sent = true;
            return true;
        }
    }
    if (auto* gw = gateway_session_for_child(*d)) {
        auto it = gw->subs.find("v1/gateway/rpc");
        if (it != gw->subs.end()) {
            json data = {{"id", r.id}};
            for (const auto& [k, v] : r.request.items()) data[k] = v;
            send_to(*gw, "v1/gateway/rpc", dump(json{{"device", d->name}, {"data", data}}),
                    it->second);
            r.sent = true;
            return true;
        }
    }
    return false;
}

void finish_sent_oneways() {
    for (auto it = g->rpcs.begin(); it != g->rpcs.end();) {
        if (it->oneway && it->sent) {
            admin_reply(it->admin_client, it->corr, true, json{{"delivered", true}});
            it = g->rpcs.erase(it);
        } else {
            ++it;
        }
    }
}

/// Redelivers every pending RPC of a device (after it (re)subscribes to RPC requests).
void redeliver_rpcs(const std::string& device) {
    for (auto& r : g->rpcs)
        if (r.device == device) deliver_rpc(r);
    finish_sent_oneways();
}

/// A device answered server RPC `id`. Unknown or expired ids are dropped.
void rpc_answered(const std::string& device, long id, const std::string& payload) {
    for (auto it = g->rpcs.begin(); it != g->rpcs.end(); ++it) {
        if (it->device != device || it->id != id || it->oneway) continue;
        json reply = json::parse(payload, nullptr, false);
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
void serve_chunk(session& s, device& d, const std::string& kind, const std::string& req,
                 const std::string& chunk_text, const std::string& payload) {
    auto& sizes = kind == "fw" ? s.fw_chunk_size : s.sw_chunk_size;
    long size = 0;
    if (!payload.empty()) {
        try {
            std::size_t pos = 0;
            size = std::stol(payload, &pos);
            if (pos != payload.size()) throw std::invalid_argument("size");
        } catch (...) {
            ota_error(s, "FAILURE");
            return;
        }
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
    } catch (...) {
        ota_error(s, "FAILURE");
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
    {
        std::ofstream out(p.file + ".tmp", std::ios::binary | std::ios::trunc);
        out << data;
        if (!out) throw std::runtime_error("cannot write " + p.file);
    }
    if (std::rename((p.file + ".tmp").c_str(), p.file.c_str()) != 0)
        throw std::runtime_error("cannot rename " + p.file);
    (kind == "fw" ? d->fw : d->sw) = p;
    json attrs = {{kind + "_title", p.title}, {kind + "_version", p.version}};
    if (!p.tag.empty()) attrs[kind + "_tag"] = p.tag;
    attrs[kind + "_size"] = p.size;
    attrs[kind + "_checksum_algorithm"] = p.algorithm;
    attrs[kind + "_checksum"] = p.checksum;
    if (d->shared_attrs.contains(kind + "_url")) attrs[kind + "_url"] = nullptr;
    set_shared(*d, attrs);
    // ThingsBoard records the assignment as server-side telemetry.
    const std::int64_t now = wall_ms();
    d->latest["target_" + kind + "_title"] = {{"ts", now}, {"value", p.title}};
    d->latest["target_" + kind + "_version"] = {{"ts", now}, {"value", p.version}};
    d->latest[kind + "_state"] = {{"ts", now}, {"value", "QUEUED"}};
    d->ota_history.push_back({{"ts", now}, {"kind", kind}, {"state", "QUEUED"}});
    g->reg.mark_dirty();
    return {{"title", p.title},       {"version", p.version},        {"size", p.size},
            {"checksum", p.checksum}, {"checksumAlgorithm", p.algorithm}};
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
    if (!j.is_object() || !j.contains("provisionDeviceKey") || !j.contains("provisionDeviceSecret"))
        return false;
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
    if (name.empty()) name = random_token(8) + "-" + random_token(4);
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

/// Handles a v1/gateway/* publish. Returns false for a malformed payload.
bool handle_gateway(session& s, device& gw, const std::string& topic, const json& j) {
    if (!j.is_object()) return false;
    if (topic == "v1/gateway/connect" || topic == "v1/gateway/disconnect") {
        if (!j.contains("device") || !j["device"].is_string()) return false;
        const std::string name = j["device"].get<std::string>();
        if (topic == "v1/gateway/connect") {
            gateway_child(gw, name, j.value("type", "default"));
            s.gateway_children.insert(name);
            const std::string child = name;
            g->next_tick.push_back([child] { redeliver_rpcs(child); });
        } else {
            for (auto* gs : sessions_of(gw.name)) gs->gateway_children.erase(name);
        }
        g->reg.mark_dirty();
        return true;
    }
    if (topic == "v1/gateway/telemetry") {
        for (const auto& [name, v] : j.items())
            if (!v.is_array()) return false;
        for (const auto& [name, v] : j.items())
            if (!store_telemetry(gateway_child(gw, name, ""), v)) return false;
        return true;
    }
    if (topic == "v1/gateway/attributes") {
        for (const auto& [name, v] : j.items())
            if (!v.is_object()) return false;
        for (const auto& [name, v] : j.items())
            if (!store_client_attributes(gateway_child(gw, name, ""), v)) return false;
        return true;
    }
    if (topic == "v1/gateway/attributes/request") {
        if (!j.contains("device") || !j.contains("id") || !j.contains("client")) return false;
        device& d = gateway_child(gw, j["device"].get<std::string>(), "");
        const json& attrs = j["client"].get<bool>() ? d.client_attrs : d.shared_attrs;
        json reply = {{"id", j["id"]}, {"device", d.name}};
        if (j.contains("key")) {
            const std::string k = j["key"].get<std::string>();
            reply["value"] = attrs.contains(k) ? attrs[k] : json(nullptr);
        } else if (j.contains("keys") && j["keys"].is_array()) {
            json values = json::object();
            for (const auto& k : j["keys"])
                if (k.is_string() && attrs.contains(k.get<std::string>()))
                    values[k.get<std::string>()] = attrs[k.get<std::string>()];
            reply["values"] = values;
        } else {
            return false;
        }
        send_to(s, "v1/gateway/attributes/response", dump(reply),
                qos_for(s, "v1/gateway/attributes/response"));
        return true;
    }
    if (topic == "v1/gateway/rpc") {
        if (!j.contains("device") || !j.contains("id")) return false;
        if (!j["id"].is_number_integer()) return false;
        rpc_answered(j["device"].get<std::string>(), j["id"].get<long>(),
                     j.contains("data") ? dump(j["data"]) : "{}");
        return true;
    }
    if (topic == "v1/gateway/claim") {
        for (const auto& [name, v] : j.items()) {
            device& d = gateway_child(gw, name, "");
            const std::int64_t dur = v.is_object() ? v.value("durationMs", std::int64_t{86400000}) : 86400000;
            d.claim = {{"secretKey", v.is_object() ? v.value("secretKey", "") : ""},
                       {"durationMs", dur},
                       {"expiresAt", wall_ms() + dur}};
        }
        g->reg.mark_dirty();
        return true;
    }
    return false;
}

// ---------------------------------------------------------------------------------------------
// Device publishes

enum class outcome { ok, malformed, unknown_topic, rate_limited };

std::string rest_after(const std::string& topic, const std::string& prefix) {
    return starts_with(topic, prefix) ? topic.substr(prefix.size()) : std::string{};
}

outcome handle_device_publish(session& s, const std::string& topic, const std::string& payload) {
    device* dp = g->reg.find(s.device);
    if (!dp) return outcome::unknown_topic;
    device& d = *dp;
    auto parse = [&](json& out) {
        out = json::parse(payload, nullptr, false);
        return !out.is_discarded();
    };
    json j;
    if (!rate_ok(d.name, "messages", 1)) return outcome::rate_limited;
    if (topic == "v1/devices/me/telemetry" || topic == "v2/t" || topic == "v2/t/j") {
        if (!parse(j)) return outcome::malformed;
        if (!rate_ok(d.name, "telemetryMessages", 1) ||
            !rate_ok(d.name, "telemetryDataPoints", static_cast<long>(count_data_points(j))))
            return outcome::rate_limited;
        return store_telemetry(d, j) ? outcome::ok : outcome::malformed;
    }
    if (topic == "v1/devices/me/attributes" || topic == "v2/a" || topic == "v2/a/j") {
        return parse(j) && store_client_attributes(d, j) ? outcome::ok : outcome::malformed;
    }
    // Attribute request: v1/devices/me/attributes/request/{id}, v2/a/req/{id}, v2/a/req/j/{id}
    for (const auto& [req, res] : std::vector<std::pair<std::string, std::string>>{
             {"v1/devices/me/attributes/request/", "v1/devices/me/attributes/response/"},
             {"v2/a/req/j/", "v2/a/res/j/"},
             {"v2/a/req/", "v2/a/res/"}}) {
        const std::string id = rest_after(topic, req);
        if (!is_decimal(id)) continue;
        if (!parse(j) || !j.is_object()) return outcome::malformed;
        std::optional<std::vector<std::string>> ck, sk;
        for (const auto& [field, out] :
             std::vector<std::pair<const char*, std::optional<std::vector<std::string>>*>>{
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
        json reply = json::object();
        if (!client.empty()) reply["client"] = client;
        if (!shared.empty()) reply["shared"] = shared;
        send_to(s, res + id, dump(reply), qos_for(s, res + "+"));
        return outcome::ok;
    }
    // Reply to a server RPC: v1/devices/me/rpc/response/{id}, v2/r/res/{id}, v2/r/res/j/{id}
    for (const char* p : {"v1/devices/me/rpc/response/", "v2/r/res/j/", "v2/r/res/"}) {
        const std::string id = rest_after(topic, p);
        if (!is_decimal(id)) continue;
        rpc_answered(d.name, std::stol(id), payload);
        return outcome::ok;
    }
    // Device RPC: v1/devices/me/rpc/request/{id}, v2/r/req/{id}, v2/r/req/j/{id}
    for (const auto& [req, res] : std::vector<std::pair<std::string, std::string>>{
             {"v1/devices/me/rpc/request/", "v1/devices/me/rpc/response/"},
             {"v2/r/req/j/", "v2/r/res/j/"},
             {"v2/r/req/", "v2/r/res/"}}) {
        const std::string id = rest_after(topic, req);
        if (!is_decimal(id)) continue;
        if (!parse(j) || !j.is_object() || !j.contains("method") || !j["method"].is_string())
            return outcome::malformed;
        if (auto reply = client_rpc_reply(d, j, req[1] == '1'))
            send_to(s, res + id, dump(*reply), qos_for(s, res + "+"));
        return outcome::ok;
    }
    if (topic == "v1/devices/me/claim") {
        json c = json::object();
        if (!payload.empty()) {
            if (!parse(c) || !c.is_object()) return outcome::malformed;
        }
        const std::int64_t dur =
            c.contains("durationMs") && c["durationMs"].is_number() ? c["durationMs"].get<std::int64_t>() : 86400000;
        d.claim = {{"secretKey", c.contains("secretKey") && c["secretKey"].is_string()
                                     ? c["secretKey"].get<std::string>()
                                     : std::string{}},
                   {"durationMs", dur},
                   {"expiresAt", wall_ms() + dur}};
        g->reg.mark_dirty();
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
    if (starts_with(topic, "v1/gateway/") && d.gateway) {
        return parse(j) && handle_gateway(s, d, topic, j) ? outcome::ok : outcome::malformed;
    }
    return outcome::unknown_topic;
}

bool allowed_device_filter(const session& s, const std::string& f) {
    static const std::set<std::string> filters = {
        "v1/devices/me/attributes",     "v1/devices/me/attributes/response/+",
        "v1/devices/me/rpc/request/+",  "v1/devices/me/rpc/response/+",
        "v2/fw/response/+/chunk/+",     "v2/sw/response/+/chunk/+",
        "v2/fw/error",                  "v2/a",
        "v2/a/j",                       "v2/a/res/+",
        "v2/a/res/j/+",                 "v2/r/req/+",
        "v2/r/req/j/+",                 "v2/r/res/+",
        "v2/r/res/j/+"};
    static const std::set<std::string> gateway_filters = {
        "v1/gateway/attributes", "v1/gateway/rpc", "v1/gateway/attributes/response"};
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

/// True while the device has a session of its own, or is a child connected through a gateway
/// session (v1/gateway/connect, no disconnect since).
bool device_active(const device& d) {
    for (const auto& [c, s] : g->sessions)
        if (s.kind == session_kind::device && (s.device == d.name || s.gateway_children.count(d.name))) return true;
    return false;
}

json device_summary(const device& d) {
    return {{"name", d.name},        {"id", d.id},     {"type", d.type}, {"gateway", d.gateway},
            {"credentials", d.creds.to_json()}, {"parentGateway", d.parent_gateway},
            {"active", device_active(d)}};
}

device& need_device(const json& a) {
    device* d = g->reg.find(a.at("device").get<std::string>());
    if (!d) throw std::runtime_error("device not found: " + a.at("device").get<std::string>());
    return *d;
}

/// Runs one admin command. Returns the result, or nullopt when the reply comes later (rpc).
std::optional<json> run_admin(session& s, const std::string& cmd, const json& a,
                              const std::string& corr) {
    if (cmd == "ping") return json{{"pong", true}};
    if (cmd == "device.add") {
        device& d = g->reg.add(device_from_args(a));
        save_now();
        return device_summary(d);
    }
    if (cmd == "device.get") return device_summary(need_device(a));
    if (cmd == "device.list") {
        json out = json::array();
        for (const auto& [n, d] : g->reg.devices) out.push_back(device_summary(d));
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
        r.id = ++g->rpc_counter[d.name];
        r.device = d.name;
        r.request = {{"method", a.at("method")}, {"params", a.value("params", json::object())}};
        r.oneway = a.value("oneway", false);
        r.expires = mono_ms() + a.value("timeoutMs", 10000L);
        r.admin_client = s.client_id;
        r.corr = corr;
        g->rpcs.push_back(r);
        deliver_rpc(g->rpcs.back());
        finish_sent_oneways();
        return std::nullopt;
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
        // What a user's "claim device" REST call does: the secret must match an unexpired request.
        device& d = need_device(a);
        const bool ok = d.claim.is_object() && !d.claimed &&
                        d.claim.value("expiresAt", std::int64_t{0}) > wall_ms() &&
                        d.claim.value("secretKey", "") == a.value("secretKey", "");
        if (ok) {
            d.claimed = true;
            d.claim = nullptr;
            save_now();
        }
        return json{{"result", ok ? "SUCCESS" : "FAILURE"}};
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
    throw std::runtime_error("unknown command: " + cmd);
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

int refuse(mosquitto* client, const char* username, const char* password, const std::string& cid) {
    // ThingsBoard's rule (MqttTransportHandler.onValidateDeviceResponse): a username or password
    // present -> bad username or password (0x86 / 3.1.1: 5); else a non-blank client id -> client
    // identifier not valid (0x85 / 3.1.1: 2); else not authorized (0x87 / 3.1.1: 5).
    const bool blank_cid = cid.empty() || starts_with(cid, "auto-");
    const int proto = mosquitto_client_protocol_version(client);
    unsigned char rc5 = 0x87, rc3 = 5;
    if (username || password) {
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
    const ssize_t n = proto == 5 ? ::send(fd, v5, sizeof(v5), MSG_NOSIGNAL)
                                 : ::send(fd, v3, sizeof(v3), MSG_NOSIGNAL);
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
    } else if (user && pass && user == g->admin_user && !g->admin_pass.empty() &&
               pass == g->admin_pass) {
        s.kind = session_kind::admin;
    } else {
        device* d = user ? g->reg.find_by_token(user) : nullptr;
        if (!d) d = g->reg.find_basic(cid.c_str(), user, pass);
        if (!d) return refuse(ev->client, user, pass, cid);
        s.kind = session_kind::device;
        s.device = d->name;
    }
    g->sessions[ev->client] = s;
    return MOSQ_ERR_SUCCESS;
}

int on_acl_check(int, void* event_data, void*) {
    auto* ev = static_cast<mosquitto_evt_acl_check*>(event_data);
    auto it = g->sessions.find(ev->client);
    if (it == g->sessions.end()) return MOSQ_ERR_ACL_DENIED;
    session& s = it->second;
    const std::string topic = ev->topic ? ev->topic : "";
    switch (ev->access) {
        case MOSQ_ACL_READ:
            return MOSQ_ERR_ACL_DENIED;  // every server->device message is a targeted publish
        case MOSQ_ACL_WRITE:
            if (s.kind == session_kind::admin) return topic == admin_request_topic ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
            if (starts_with(topic, "$")) return MOSQ_ERR_ACL_DENIED;
            return MOSQ_ERR_SUCCESS;  // MESSAGE decides
        case MOSQ_ACL_SUBSCRIBE: {
            bool ok = false;
            if (s.kind == session_kind::provision) ok = topic == "/provision/response";
            if (s.kind == session_kind::device) ok = allowed_device_filter(s, topic);
            if (!ok) return MOSQ_ERR_ACL_DENIED;
            s.subs[topic] = std::min<int>(ev->qos, 1);
            if (s.kind == session_kind::device &&
                (topic == "v1/devices/me/rpc/request/+" || topic == "v2/r/req/+" ||
                 topic == "v2/r/req/j/+" || topic == "v1/gateway/rpc")) {
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
            return MOSQ_ERR_SUCCESS;
        default:
            return MOSQ_ERR_ACL_DENIED;
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
        case outcome::ok:
            return MOSQ_ERR_SUCCESS;
        // mosquitto 2.0.11 disconnects an MQTT 5 client after a PUBACK with an error reason
        // (MOSQ_ERR_ACL_DENIED), so the message is accepted and routed nowhere instead (READ is
        // denied everywhere): MQTT 5 sees PUBACK 0x10 where ThingsBoard sends 0x90 / 0x99.
        case outcome::unknown_topic:
            return MOSQ_ERR_SUCCESS;
        case outcome::malformed:
            return s.proto == 5 ? MOSQ_ERR_SUCCESS : MOSQ_ERR_PROTOCOL;
        case outcome::rate_limited:
            return MOSQ_ERR_PROTOCOL;  // closes the session
    }
    return MOSQ_ERR_SUCCESS;
}

int on_control(int, void* event_data, void*) {
    auto* ev = static_cast<mosquitto_evt_control*>(event_data);
    auto it = g->sessions.find(ev->client);
    if (it == g->sessions.end() || it->second.kind != session_kind::admin) return MOSQ_ERR_ACL_DENIED;
    handle_admin(it->second,
                 std::string(static_cast<const char*>(ev->payload), ev->payloadlen));
    return MOSQ_ERR_SUCCESS;
}

int on_tick(int, void*, void*) {
    const std::int64_t now = mono_ms();
    auto tasks = std::move(g->next_tick);
    g->next_tick.clear();
    for (auto& t : tasks) t();
    for (auto it = g->rpcs.begin(); it != g->rpcs.end();) {
        if (it->expires <= now) {
            admin_reply(it->admin_client, it->corr, false,
                        it->sent ? "timeout: no reply from the device" : "timeout: device not connected or not subscribed to RPC",
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
    if (g->reg.dirty() && now - g->last_save >= 200) save_now();
    return MOSQ_ERR_SUCCESS;
}

int on_disconnect(int, void* event_data, void*) {
    auto* ev = static_cast<mosquitto_evt_disconnect*>(event_data);
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

int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** userdata,
                          struct mosquitto_opt* options, int option_count) {
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
            mosquitto_log_printf(MOSQ_LOG_WARNING,
                                 "tbmqtt_emulator: no %s/admin.json, the admin channel is disabled",
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
    mosquitto_log_printf(MOSQ_LOG_INFO, "tbmqtt_emulator: state in %s, %zu devices",
                         state_dir.c_str(), g->reg.devices.size());
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
    } catch (...) {
    }
    delete g;
    g = nullptr;
    return MOSQ_ERR_SUCCESS;
}

}  // extern "C"
