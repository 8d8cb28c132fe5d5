#include "state.hpp"

#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

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
    return {{"title", p->title},       {"version", p->version}, {"size", p->size},
            {"checksum", p->checksum}, {"algorithm", p->algorithm}, {"file", p->file},
            {"tag", p->tag}};
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
}

void registry::save() {
    json j;
    j["version"] = 1;
    j["devices"] = json::array();
    for (const auto& [name, d] : devices) j["devices"].push_back(device_to_json(d));
    j["profiles"] = json::array();
    for (const auto& p : profiles)
        j["profiles"].push_back(
            {{"name", p.name}, {"key", p.key}, {"secret", p.secret}, {"strategy", p.strategy}});
    j["rpcHandlers"] = rpc_handlers;
    j["settings"] = settings;
    const std::string text = j.dump(1);
    const std::string tmp = dir_ + "/registry.json.tmp";
    const std::string dst = dir_ + "/registry.json";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot write " + tmp);
    std::size_t off = 0;
    while (off < text.size()) {
        ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n <= 0) {
            ::close(fd);
            throw std::runtime_error("short write " + tmp);
        }
        off += static_cast<std::size_t>(n);
    }
    ::fsync(fd);
    ::close(fd);
    if (::rename(tmp.c_str(), dst.c_str()) != 0) throw std::runtime_error("rename failed " + dst);
    int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
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

device* registry::find_basic(const char* client_id, const char* username, const char* password) {
    const std::string cid = client_id ? client_id : "";
    const std::string user = username ? username : "";
    const std::string pass = password ? password : "";
    for (auto& [n, d] : devices) {
        const auto& c = d.creds;
        if (c.type != "MQTT_BASIC") continue;
        if (c.client_id.empty() && c.username.empty()) continue;
        if (!c.client_id.empty() && c.client_id != cid) continue;
        if (!c.username.empty() && c.username != user) continue;
        if (!c.password.empty() && c.password != pass) continue;
        return &d;
    }
    return nullptr;
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
        if (c.type == "MQTT_BASIC" && d.creds.client_id == c.client_id &&
            d.creds.username == c.username)
            return true;
        if (c.type == "X509_CERTIFICATE" && d.creds.cert_hash == c.cert_hash) return true;
    }
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

std::optional<json> tb_value(const json& v) {
    if (v.is_string()) {
        const std::string s = v.get<std::string>();
        if (!is_parsable(s)) return v;
        if (s.find('.') != std::string::npos) {
            try {
                return json(std::stod(s));
            } catch (...) {
                return v;
            }
        }
        try {
            std::size_t pos = 0;
            long long n = std::stoll(s, &pos);
            if (pos == s.size()) return json(n);
        } catch (...) {
        }
        return v;  // out of long range: ThingsBoard keeps the plain string
    }
    if (v.is_boolean() || v.is_number() || v.is_object() || v.is_array()) return v;
    return std::nullopt;
}

}  // namespace tbmqtt_emulator
