#include "state.hpp"

#include "atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace tbmqtt_emulator {

std::int64_t wall_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t mono_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string random_token(std::size_t n) {
    static std::mt19937_64 rng{std::random_device{}()};
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += alphabet[rng() % (sizeof(alphabet) - 1)];
    return s;
}

std::string random_alphanumeric(std::size_t n) {
    static std::mt19937_64 rng{std::random_device{}()};
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += alphabet[rng() % (sizeof(alphabet) - 1)];
    return s;
}

json credentials::to_json() const {
    json j = {{"type", type}};
    if (type == "ACCESS_TOKEN") j["token"] = token;
    if (type == "MQTT_BASIC") {
        j["clientId"] = client_id;
        j["userName"] = username;
        j["password"] = password;
    }
    if (type == "X509_CERTIFICATE") {
        j["hash"] = cert_hash;
        j["certificate"] = cert_b64;
    }
    return j;
}

credentials credentials::from_json(const json& j) {
    credentials c;
    c.type = j.value("type", "ACCESS_TOKEN");
    c.token = j.value("token", "");
    c.client_id = j.value("clientId", "");
    c.username = j.value("userName", "");
    c.password = j.value("password", "");
    c.cert_hash = j.value("hash", "");
    c.cert_b64 = j.value("certificate", "");
    return c;
}

namespace {

json pkg_to_json(const std::optional<ota_package>& p) {
    if (!p) return nullptr;
    return {{"title", p->title},         {"version", p->version}, {"size", p->size}, {"checksum", p->checksum},
            {"algorithm", p->algorithm}, {"file", p->file},       {"tag", p->tag}};
}

std::optional<ota_package> pkg_from_json(const json& j) {
    if (!j.is_object()) return std::nullopt;
    ota_package p;
    p.title = j.value("title", "");
    p.version = j.value("version", "");
    p.size = j.value("size", std::int64_t{0});
    p.checksum = j.value("checksum", "");
    p.algorithm = j.value("algorithm", "");
    p.file = j.value("file", "");
    p.tag = j.value("tag", "");
    return p;
}

json device_to_json(const device& d) {
    json series = json::array();
    for (const auto& s : d.series) series.push_back(s);
    return {{"name", d.name},
            {"type", d.type},
            {"id", d.id},
            {"profile", d.profile},
            {"deviceProfile", d.device_profile},
            {"credentials", d.creds.to_json()},
            {"gateway", d.gateway},
            {"parentGateway", d.parent_gateway},
            {"provisioned", d.provisioned},
            {"clientAttributes", d.client_attrs},
            {"sharedAttributes", d.shared_attrs},
            {"serverAttributes", d.server_attrs},
            {"latest", d.latest},
            {"series", series},
            {"claim", d.claim},
            {"claimed", d.claimed},
            {"otaHistory", d.ota_history},
            {"fw", pkg_to_json(d.fw)},
            {"sw", pkg_to_json(d.sw)}};
}

device device_from_json(const json& j) {
    device d;
    d.name = j.at("name").get<std::string>();
    d.type = j.value("type", "default");
    d.id = j.value("id", "");
    d.profile = j.value("profile", "");
    d.device_profile = j.value("deviceProfile", "");
    d.creds = credentials::from_json(j.value("credentials", json::object()));
    d.gateway = j.value("gateway", false);
    d.parent_gateway = j.value("parentGateway", "");
    d.provisioned = j.value("provisioned", false);
    d.client_attrs = j.value("clientAttributes", json::object());
    d.shared_attrs = j.value("sharedAttributes", json::object());
    d.server_attrs = j.value("serverAttributes", json::object());
    d.latest = j.value("latest", json::object());
    for (const auto& s : j.value("series", json::array())) d.series.push_back(s);
    d.claim = j.value("claim", json(nullptr));
    d.claimed = j.value("claimed", false);
    d.ota_history = j.value("otaHistory", json::array());
    d.fw = pkg_from_json(j.value("fw", json(nullptr)));
    d.sw = pkg_from_json(j.value("sw", json(nullptr)));
    return d;
}

}  // namespace

void registry::load() {
    std::ifstream in(dir_ + "/registry.json");
    if (!in) return;
    std::stringstream ss;
    ss << in.rdbuf();
    json j = json::parse(ss.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw std::runtime_error("corrupt registry.json");
    devices.clear();
    for (const auto& dj : j.value("devices", json::array())) {
        device d = device_from_json(dj);
        devices[d.name] = std::move(d);
    }
    profiles.clear();
    for (const auto& pj : j.value("profiles", json::array())) {
        profile p;
        p.name = pj.value("name", "");
        p.key = pj.value("key", "");
        p.secret = pj.value("secret", "");
        p.strategy = pj.value("strategy", "allow-create");
        profiles.push_back(p);
    }
    rpc_handlers = j.value("rpcHandlers", json::object());
    settings = j.value("settings", json::object());
    persistent_rpcs = j.value("persistentRpcs", json::object());
    device_profiles = j.value("deviceProfiles", json::object());
}

void registry::save() {
    json j;
    j["version"] = 1;
    j["devices"] = json::array();
    for (const auto& [name, d] : devices) j["devices"].push_back(device_to_json(d));
    j["profiles"] = json::array();
    for (const auto& p : profiles)
        j["profiles"].push_back({{"name", p.name}, {"key", p.key}, {"secret", p.secret}, {"strategy", p.strategy}});
    j["rpcHandlers"] = rpc_handlers;
    j["settings"] = settings;
    j["persistentRpcs"] = persistent_rpcs;
    j["deviceProfiles"] = device_profiles;
    const std::string text = j.dump(1);
    write_file_atomic(dir_ + "/registry.json", text, 0600);  // holds secrets (tokens, passwords)
    dirty_ = false;
}

device* registry::find(const std::string& name) {
    auto it = devices.find(name);
    return it == devices.end() ? nullptr : &it->second;
}

device* registry::find_by_token(const std::string& token) {
    for (auto& [n, d] : devices)
        if (d.creds.type == "ACCESS_TOKEN" && d.creds.token == token) return &d;
    return nullptr;
}

namespace {
enum class basic_check { valid, hash_mismatch, password_mismatch };

// DefaultTransportApiService.validateMqttCredentials: every stored non-empty field must match; a
// stored password must be sent and equal.
basic_check check_basic(const credentials& c, const std::string& cid, const std::string& user,
                        const std::string& pass) {
    if (!c.client_id.empty() && c.client_id != cid) return basic_check::hash_mismatch;
    if (!c.username.empty() && c.username != user) return basic_check::hash_mismatch;
    if (!c.password.empty()) return pass == c.password ? basic_check::valid : basic_check::password_mismatch;
    return basic_check::valid;
}
}  // namespace

// ThingsBoard keys MQTT basic credentials by an id (DeviceCredentialsServiceImpl.
// formatSimpleMqttCredentials): the user name alone, sha3(client id) alone, or sha3(client id|user
// name); an access token's id is the token. The lookup order is DefaultTransportApiService.
// validateCredentials / validateUserNameCredentials.
device* registry::find_basic(const char* client_id, const char* username, const char* password) {
    const std::string cid = client_id ? client_id : "";
    const std::string user = username ? username : "";
    const std::string pass = password ? password : "";
    auto by_ids = [&](const std::string& want_cid, const std::string& want_user) -> device* {
        for (auto& [n, d] : devices)
            if (d.creds.type == "MQTT_BASIC" && d.creds.client_id == want_cid && d.creds.username == want_user)
                return &d;
        return nullptr;
    };
    if (user.empty()) {
        // No user name: only the client-id-only credential sha3(clientId) is looked up.
        if (cid.empty()) return nullptr;
        device* d = by_ids(cid, "");
        return d && check_basic(d->creds, cid, user, pass) == basic_check::valid ? d : nullptr;
    }
    if (!cid.empty()) {
        // Client id + user name first: a match selects that device even when a token equals the
        // user name; a wrong password is refused with no fall-back.
        if (device* d = by_ids(cid, user)) {
            const basic_check r = check_basic(d->creds, cid, user, pass);
            if (r == basic_check::valid) return d;
            if (r == basic_check::password_mismatch) return nullptr;
        }
    }
    // validateUserNameCredentials: the credential whose id is the user name: an access token, or
    // a user-name-only MQTT basic credential.
    for (auto& [n, d] : devices)
        if (d.creds.type == "ACCESS_TOKEN" && d.creds.token == user) return &d;
    device* d = by_ids("", user);
    return d && check_basic(d->creds, cid, user, pass) == basic_check::valid ? d : nullptr;
}

device* registry::find_by_cert_hash(const std::string& hash) {
    for (auto& [n, d] : devices)
        if (d.creds.type == "X509_CERTIFICATE" && d.creds.cert_hash == hash) return &d;
    return nullptr;
}

bool registry::credentials_collide(const credentials& c, const std::string& except) const {
    for (const auto& [n, d] : devices) {
        if (n == except || d.creds.type != c.type) continue;
        if (c.type == "ACCESS_TOKEN" && d.creds.token == c.token) return true;
        if (c.type == "MQTT_BASIC" && d.creds.client_id == c.client_id && d.creds.username == c.username) return true;
        if (c.type == "X509_CERTIFICATE" && d.creds.cert_hash == c.cert_hash) return true;
    }
    // An access token and a user-name-only basic credential share ThingsBoard's credentials id.
    auto id_of = [](const credentials& x) -> std::string {
        if (x.type == "ACCESS_TOKEN") return x.token;
        if (x.type == "MQTT_BASIC" && x.client_id.empty()) return x.username;
        return {};
    };
    if (const std::string id = id_of(c); !id.empty())
        for (const auto& [n, d] : devices)
            if (n != except && d.creds.type != c.type && id_of(d.creds) == id) return true;
    return false;
}

device& registry::add(device d) {
    if (d.name.empty()) throw std::runtime_error("device name is empty");
    if (devices.count(d.name)) throw std::runtime_error("device already exists: " + d.name);
    if (credentials_collide(d.creds, "")) throw std::runtime_error("credentials already in use");
    if (d.id.empty()) d.id = random_token(8) + "-" + random_token(4) + "-" + random_token(12);
    auto& ref = devices[d.name] = std::move(d);
    dirty_ = true;
    return ref;
}

void registry::remove(const std::string& name) {
    devices.erase(name);
    dirty_ = true;
}

namespace {
// commons-lang3 NumberUtils.isParsable: optional leading '-', digits, at most one '.', not ending
// with '.'.
bool is_parsable(const std::string& s) {
    if (s.empty() || s.back() == '.') return false;
    std::size_t i = 0;
    if (s[0] == '-') {
        if (s.size() == 1) return false;
        i = 1;
    }
    int dots = 0;
    for (; i < s.size(); ++i) {
        if (s[i] == '.') {
            if (++dots > 1) return false;
        } else if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}
}  // namespace

namespace {
constexpr const char raw_marker[] = "\x01tbnum:";

bool is_raw_number(const json& v) { return v.is_string() && v.get_ref<const std::string&>().rfind(raw_marker, 0) == 0; }
std::string raw_text(const json& v) { return v.get<std::string>().substr(sizeof(raw_marker) - 1); }

/// BigDecimal.toPlainString of unscaled digits `u` (no sign) and `scale`.
std::string plain(const std::string& u, long scale) {
    if (scale <= 0) return u + std::string(static_cast<std::size_t>(-scale), '0');
    const auto n = static_cast<long>(u.size());
    if (n > scale)
        return u.substr(0, static_cast<std::size_t>(n - scale)) + "." + u.substr(static_cast<std::size_t>(n - scale));
    return "0." + std::string(static_cast<std::size_t>(scale - n), '0') + u;
}

/// JsonConverter.buildNumericKeyValueProto on a number's text: `new BigDecimal(text)`; an integral
/// value (after stripTrailingZeros) that is not written as a plain decimal ("1.0") is a long, or
/// its plain string when it does not fit; otherwise a double when the scale is at most 16, else
/// the plain string. nullopt when the text is not a number.
std::optional<json> big_decimal(const std::string& text) {
    std::size_t i = 0;
    bool neg = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) neg = text[i++] == '-';
    std::string int_part, frac;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) int_part += text[i++];
    bool dot = false;
    if (i < text.size() && text[i] == '.') {
        dot = true;
        ++i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) frac += text[i++];
    }
    if (int_part.empty() && frac.empty()) return std::nullopt;
    long exp = 0;
    bool has_exp = false;
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        has_exp = true;
        ++i;
        bool eneg = false;
        if (i < text.size() && (text[i] == '-' || text[i] == '+')) eneg = text[i++] == '-';
        std::string e;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) e += text[i++];
        if (e.empty() || e.size() > 6) return std::nullopt;  // absurd exponents stay text
        exp = std::stol(e) * (eneg ? -1 : 1);
    }
    if (i != text.size()) return std::nullopt;
    std::string u = int_part + frac;
    u.erase(0, std::min(u.find_first_not_of('0'), u.size()));
    const long scale = static_cast<long>(frac.size()) - exp;
    const bool zero = u.empty();
    if (zero) u = "0";
    // stripTrailingZeros
    std::string su = u;
    long sscale = zero ? 0 : scale;
    while (!zero && su.size() > 1 && su.back() == '0') {
        su.pop_back();
        --sscale;
    }
    const bool simple_double = dot && !has_exp;
    const std::string sign = neg && !zero ? "-" : "";
    if (sscale <= 0 && !simple_double) {
        const std::string digits = su + std::string(static_cast<std::size_t>(-sscale), '0');
        errno = 0;
        const std::string t = sign + digits;
        char* end = nullptr;
        const long long n = std::strtoll(t.c_str(), &end, 10);
        if (errno == 0 && *end == '\0') return json(n);
        return json(sign + plain(u, scale));  // longValueExact overflows: the plain string
    }
    if (scale <= 16) return json(std::strtod(text.c_str(), nullptr));
    return json(sign + plain(u, scale));
}

/// Marker strings (numbers kept as text by parse_keeping_numbers) back to numbers, recursively.
json restore_numbers(const json& v) {
    if (is_raw_number(v)) {
        const std::string t = raw_text(v);
        if (t.find_first_of(".eE") == std::string::npos) {
            errno = 0;
            char* end = nullptr;
            const unsigned long long u = std::strtoull(t.c_str(), &end, 10);
            if (errno == 0 && *end == '\0' && t[0] != '-') return json(u);
        }
        return json(std::strtod(t.c_str(), nullptr));
    }
    if (v.is_object()) {
        json out = json::object();
        for (const auto& [k, x] : v.items()) out[k] = restore_numbers(x);
        return out;
    }
    if (v.is_array()) {
        json out = json::array();
        for (const auto& x : v) out.push_back(restore_numbers(x));
        return out;
    }
    return v;
}

/// Builds a DOM like json::parse, but keeps every floating-point or out-of-int64 number as its
/// source text (a marker string), since ThingsBoard types numbers from their text.
class keep_numbers_sax {
public:
    json root;
    bool number_integer(json::number_integer_t v) { return put(json(v)); }
    bool number_unsigned(json::number_unsigned_t v) {
        if (v > static_cast<json::number_unsigned_t>(INT64_MAX)) return put(json(raw_marker + std::to_string(v)));
        return put(json(static_cast<std::int64_t>(v)));
    }
    bool number_float(json::number_float_t, const std::string& s) { return put(json(raw_marker + s)); }
    bool null() { return put(json(nullptr)); }
    bool boolean(bool b) { return put(json(b)); }
    bool string(std::string& s) { return put(json(s)); }
    bool binary(json::binary_t&) { return false; }
    bool start_object(std::size_t) { return open(json::object()); }
    bool key(std::string& k) {
        key_ = k;
        return true;
    }
    bool end_object() { return close(); }
    bool start_array(std::size_t) { return open(json::array()); }
    bool end_array() { return close(); }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

private:
    std::vector<json*> stack_;
    std::vector<std::string> keys_;
    std::string key_;
    json* place(json v) {
        if (stack_.empty()) {
            root = std::move(v);
            return &root;
        }
        json& top = *stack_.back();
        if (top.is_array()) {
            top.push_back(std::move(v));
            return &top.back();
        }
        top[key_] = std::move(v);
        return &top[key_];
    }
    bool put(json v) {
        place(std::move(v));
        return true;
    }
    bool open(json v) {
        keys_.push_back(key_);
        stack_.push_back(place(std::move(v)));
        return true;
    }
    bool close() {
        stack_.pop_back();
        key_ = keys_.back();
        keys_.pop_back();
        return true;
    }
};
}  // namespace

std::optional<json> parse_keeping_numbers(const std::string& text) {
    keep_numbers_sax sax;
    if (!json::sax_parse(text, &sax)) return std::nullopt;
    return std::move(sax.root);
}

std::optional<std::int64_t> as_long(const json& v) {
    if (v.is_number()) return v.get<std::int64_t>();
    if (is_raw_number(v)) return static_cast<std::int64_t>(std::strtod(raw_text(v).c_str(), nullptr));
    if (v.is_string()) {
        // Gson JsonPrimitive.getAsLong on a string: Long.parseLong (e.g. a protobuf int64 printed
        // by JsonFormat as "1700000000000").
        const std::string s = v.get<std::string>();
        std::size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
        if (i == s.size() || s.size() - i > 19) return std::nullopt;
        for (std::size_t k = i; k < s.size(); ++k)
            if (s[k] < '0' || s[k] > '9') return std::nullopt;
        errno = 0;
        const long long n = std::strtoll(s.c_str(), nullptr, 10);
        if (errno == ERANGE) return std::nullopt;
        return static_cast<std::int64_t>(n);
    }
    return std::nullopt;
}

json plain_json(const json& v) { return restore_numbers(v); }

std::optional<json> tb_value(const json& v) {
    if (v.is_null()) return std::nullopt;
    if (is_raw_number(v)) {
        const std::string t = raw_text(v);
        if (auto r = big_decimal(t)) return r;
        return json(t);
    }
    if (v.is_string()) {
        const std::string s = v.get<std::string>();
        if (!is_parsable(s)) return v;
        // JsonConverter: a parsable string goes through the same BigDecimal typing; a failure
        // keeps the string.
        if (auto r = big_decimal(s)) return r;
        return v;
    }
    if (v.is_object() || v.is_array()) return restore_numbers(v);
    return v;
}

}  // namespace tbmqtt_emulator
