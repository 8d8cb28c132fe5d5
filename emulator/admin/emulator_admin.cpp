#include "emulator_admin.hpp"

#include "emulator/plugin/atomic_file.hpp"

#include <mosquitto.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <ostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#ifndef TBMQTT_EMULATOR_PLUGIN_DEFAULT
#define TBMQTT_EMULATOR_PLUGIN_DEFAULT ""
#endif

namespace tbmqtt::emulator {
namespace {

using json = nlohmann::ordered_json;

constexpr const char* request_topic = "$CONTROL/tbmqtt/v1/request";
constexpr const char* response_topic = "$CONTROL/tbmqtt/v1/response";

std::string random_hex(std::size_t n) {
    std::random_device rd;
    std::mt19937_64 rng(rd());
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += digits[rng() % 16];
    return s;
}

void mkdir_p(const std::string& path) {
    std::string cur;
    for (std::size_t i = 0; i <= path.size(); ++i) {
        if (i == path.size() || path[i] == '/') {
            if (!cur.empty()) ::mkdir(cur.c_str(), 0700);
        }
        if (i < path.size()) cur += path[i];
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw admin_error(admin_error::kind::local, "cannot create state directory " + path);
}

json read_json_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return nullptr;
    std::stringstream ss;
    ss << in.rdbuf();
    json j = json::parse(ss.str(), nullptr, false);
    return j.is_discarded() ? json(nullptr) : j;
}

void write_file_atomic(const std::string& path, const std::string& text, mode_t mode) {
    try {
        tbmqtt_emulator::write_file_atomic(path, text, mode);
    } catch (const std::runtime_error& e) {
        throw admin_error(admin_error::kind::local, e.what());
    }
}

std::string find_plugin(const start_options& o) {
    if (!o.plugin_path.empty()) return o.plugin_path;
    if (const char* env = std::getenv("TBMQTT_EMULATOR_PLUGIN"); env && *env) return env;
    char exe[4096] = {0};
    const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        std::string dir(exe, static_cast<std::size_t>(n));
        dir = dir.substr(0, dir.rfind('/'));
        const std::string candidate = dir + "/../lib/libtbmqtt_emulator.so";
        if (::access(candidate.c_str(), R_OK) == 0) return candidate;
    }
    if (::access(TBMQTT_EMULATOR_PLUGIN_DEFAULT, R_OK) == 0) return TBMQTT_EMULATOR_PLUGIN_DEFAULT;
    throw admin_error(admin_error::kind::local,
                      "cannot find libtbmqtt_emulator.so: pass --plugin PATH or set TBMQTT_EMULATOR_PLUGIN");
}

std::once_flag lib_once;

struct admin_session {
    mosquitto* mosq = nullptr;
    int connack = -1;
    bool disconnected = false;
    std::string corr;
    bool answered = false;
    json answer;

    ~admin_session() {
        if (mosq) {
            mosquitto_disconnect(mosq);
            mosquitto_destroy(mosq);
        }
    }
};

json call(const connection& c, const std::string& command, const json& args, std::chrono::milliseconds extra) {
    std::call_once(lib_once, [] { mosquitto_lib_init(); });
    const std::string dir = c.state_dir.empty() ? default_state_dir() : c.state_dir;
    const json admin = read_json_file(dir + "/admin.json");
    if (!admin.is_object())
        throw admin_error(admin_error::kind::unreachable,
                          "no emulator admin credentials in " + dir +
                              "/admin.json: is `tbmqtt emulator start` running, and with this state directory "
                              "(--state or TBMQTT_EMULATOR_STATE)?");
    const std::string host = !c.host.empty() ? c.host : admin.value("host", "127.0.0.1");
    const int port = c.port ? c.port : admin.value("port", 1883);

    admin_session s;
    s.corr = random_hex(16);
    const std::string client_id = "tbmqtt-admin-" + random_hex(12);
    s.mosq = mosquitto_new(client_id.c_str(), true, &s);
    if (!s.mosq)
        throw admin_error(admin_error::kind::local, "cannot create an MQTT client (libmosquitto: out of memory?)");
    mosquitto_int_option(s.mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(s.mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_username_pw_set(s.mosq, admin.value("username", "tbmqtt-admin").c_str(),
                              admin.value("password", "").c_str());
    mosquitto_connect_callback_set(s.mosq,
                                   [](mosquitto*, void* ud, int rc) { static_cast<admin_session*>(ud)->connack = rc; });
    mosquitto_disconnect_callback_set(
        s.mosq, [](mosquitto*, void* ud, int) { static_cast<admin_session*>(ud)->disconnected = true; });
    mosquitto_message_callback_set(s.mosq, [](mosquitto*, void* ud, const mosquitto_message* m) {
        auto* self = static_cast<admin_session*>(ud);
        if (std::strcmp(m->topic, response_topic) != 0) return;
        json r = json::parse(static_cast<const char*>(m->payload), static_cast<const char*>(m->payload) + m->payloadlen,
                             nullptr, false);
        if (r.is_object() && r.value("id", "") == self->corr) {
            self->answered = true;
            self->answer = r;
        }
    });
    const auto deadline = std::chrono::steady_clock::now() + c.timeout + extra;
    if (mosquitto_connect(s.mosq, host.c_str(), port, 60) != MOSQ_ERR_SUCCESS)
        throw admin_error(admin_error::kind::unreachable,
                          "cannot connect to the emulator at " + host + ":" + std::to_string(port) +
                              ": is `tbmqtt emulator start` running on that port (see " + dir +
                              "/admin.json, or pass --port)?");
    while (s.connack < 0) {
        if (std::chrono::steady_clock::now() > deadline || s.disconnected)
            throw admin_error(admin_error::kind::unreachable,
                              "no answer from the emulator at " + host + ":" + std::to_string(port) +
                                  ": is it an MQTT broker without the emulator plugin, or busy? (raise --timeout)");
        mosquitto_loop(s.mosq, 50, 1);
    }
    if (s.connack != 0)
        throw admin_error(admin_error::kind::refused, "the emulator at " + host + ":" + std::to_string(port) +
                                                          " refused the admin credentials of " + dir +
                                                          "/admin.json (CONNACK " + std::to_string(s.connack) +
                                                          "): was it started with another --state directory?");
    const std::string payload = json{{"id", s.corr}, {"command", command}, {"args", args}}.dump();
    mosquitto_publish(s.mosq, nullptr, request_topic, static_cast<int>(payload.size()), payload.data(), 1, false);
    while (!s.answered) {
        if (std::chrono::steady_clock::now() > deadline)
            throw admin_error(admin_error::kind::timeout, "timed out waiting for the emulator's answer to " + command +
                                                              " (raise --timeout; is the emulator still running?)");
        if (s.disconnected)
            throw admin_error(admin_error::kind::disconnected, "the emulator closed the admin connection during " +
                                                                   command + " (see its log; did it stop?)");
        mosquitto_loop(s.mosq, 50, 1);
    }
    if (!s.answer.value("ok", false)) {
        const json& e = s.answer["error"];
        const auto kind =
            s.answer.value("code", "") == "timeout" ? admin_error::kind::timeout : admin_error::kind::server;
        throw admin_error(kind, e.is_string() ? e.get<std::string>() : e.dump());
    }
    return s.answer["result"];
}

json parse_arg(const std::string& text, const char* what) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded())
        throw admin_error(admin_error::kind::invalid_argument, std::string(what) + " is not valid JSON: " + text +
                                                                   " (quote it for the shell, e.g. '{\"a\":1}')");
    return j;
}

/// Runs `openssl ARGS...` (stdout/stderr to /dev/null); throws when it fails.
void run_openssl(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    std::string prog = "openssl";
    argv.push_back(prog.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) throw admin_error(admin_error::kind::local, "fork failed");
    if (pid == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        if (null >= 0) {
            ::dup2(null, 1);
            ::dup2(null, 2);
        }
        ::execvp("openssl", argv.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::string cmd = "openssl";
        for (const auto& a : args) cmd += " " + a;
        throw admin_error(admin_error::kind::local, "failed: " + cmd);
    }
}

bool exists(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }

/// Key + certificate signed by the CA in `files`; `ext` is an x509v3 extension file's text.
void sign_cert(const tls_files& ca, const std::string& key, const std::string& crt, const std::string& cn,
               const std::string& ext) {
    const std::string csr = crt + ".csr", extfile = crt + ".ext";
    run_openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
                 csr, "-subj", "/CN=" + cn});
    ::chmod(key.c_str(), 0600);
    write_file_atomic(extfile, ext, 0600);
    try {
        run_openssl({"x509", "-req", "-in", csr, "-CA", ca.ca_cert, "-CAkey", ca.ca_key, "-set_serial",
                     "0x" + random_hex(16), "-days", "3650", "-sha256", "-extfile", extfile, "-out", crt});
    } catch (...) {
        std::remove(csr.c_str());
        std::remove(extfile.c_str());
        throw;
    }
    std::remove(csr.c_str());
    std::remove(extfile.c_str());
}

pid_t g_child = -1;
void forward_signal(int sig) {
    if (g_child > 0) ::kill(g_child, sig);
}

}  // namespace

std::string default_state_dir() {
    if (const char* e = std::getenv("TBMQTT_EMULATOR_STATE"); e && *e) return e;
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return std::string(x) + "/tbmqtt-emulator";
    if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.local/state/tbmqtt-emulator";
    return "/tmp/tbmqtt-emulator";
}

tls_files ensure_tls_files(const std::string& state_dir) {
    const std::string dir = state_dir.empty() ? default_state_dir() : state_dir;
    mkdir_p(dir);
    tls_files f{dir + "/ca.crt", dir + "/ca.key", dir + "/server.crt", dir + "/server.key"};
    if (!exists(f.ca_cert) || !exists(f.ca_key)) {
        run_openssl({"req",      "-x509",
                     "-newkey",  "ec",
                     "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-nodes",   "-keyout",
                     f.ca_key,   "-out",
                     f.ca_cert,  "-days",
                     "3650",     "-sha256",
                     "-subj",    "/CN=tbmqtt emulator CA " + random_hex(8),
                     "-addext",  "basicConstraints=critical,CA:TRUE",
                     "-addext",  "keyUsage=critical,keyCertSign,cRLSign"});
        ::chmod(f.ca_key.c_str(), 0600);
        std::remove(f.server_cert.c_str());  // a new CA invalidates the old server certificate
    }
    if (!exists(f.server_cert) || !exists(f.server_key))
        sign_cert(f, f.server_key, f.server_cert, "localhost",
                  "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
                  "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    return f;
}

std::string issue_device_cert(const std::string& state_dir, const std::string& name, const std::string& out_dir) {
    if (name.empty() || name.find('/') != std::string::npos)
        throw admin_error(admin_error::kind::invalid_argument, "certificate name must be a non-empty file name");
    const tls_files ca = ensure_tls_files(state_dir);
    mkdir_p(out_dir);
    const std::string key = out_dir + "/" + name + ".key", crt = out_dir + "/" + name + ".crt";
    sign_cert(ca, key, crt, name,
              "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n");
    return json{{"certificate", crt}, {"key", key}, {"ca", ca.ca_cert}}.dump();
}

std::string prepare_state_dir(const start_options& o) {
    const std::string dir = o.state_dir.empty() ? default_state_dir() : o.state_dir;
    mkdir_p(dir);
    json admin = read_json_file(dir + "/admin.json");
    if (!admin.is_object()) admin = json::object();
    if (!admin.contains("password")) admin["password"] = random_hex(32);
    admin["username"] = "tbmqtt-admin";
    admin["host"] = "127.0.0.1";
    admin["port"] = o.port;
    write_file_atomic(dir + "/admin.json", admin.dump(1) + "\n", 0600);
    const std::string conf = dir + "/mosquitto.conf";
    std::ostringstream c;
    c << "# written by tbmqtt emulator start; regenerated on every start\n"
      << "per_listener_settings false\n"
      << "allow_anonymous true\n"
      << "user root\n"
      << "persistence false\n"
      << "set_tcp_nodelay true\n"
      << "max_queued_messages 0\n"
      << "max_packet_size 65540\n"
      << "max_connections -1\n"
      << "log_dest stderr\n"
      << "log_type error\nlog_type warning\n"
      << "listener " << o.port << " 127.0.0.1\n"
      << "max_qos 1\n"
      << "plugin " << find_plugin(o) << "\n"
      << "plugin_opt_state_dir " << dir << "\n";
    if (o.tls) {
        const tls_files f = ensure_tls_files(dir);
        const int x509_port = o.x509_port ? o.x509_port : o.tls_port + 1;
        c << "plugin_opt_tls_ports " << o.tls_port << "," << x509_port << "\n";
        // One-way TLS: mosquitto sends no certificate request when require_certificate is false,
        // so clients cannot present a certificate here (token / basic credentials only).
        for (int pass = 0; pass < 2; ++pass) {
            c << "listener " << (pass == 0 ? o.tls_port : x509_port) << " 127.0.0.1\n"
              << "max_qos 1\n"
              << "cafile " << f.ca_cert << "\n"
              << "certfile " << f.server_cert << "\n"
              << "keyfile " << f.server_key << "\n"
              << "require_certificate " << (pass == 0 ? "false" : "true") << "\n";
        }
    }
    write_file_atomic(conf, c.str(), 0600);
    return conf;
}

/// True when nothing listens on 127.0.0.1:port (we could bind it).
bool port_free(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return true;  // let mosquitto report it
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // as mosquitto does
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    ::close(fd);
    return ok;
}

int start(const start_options& o, std::ostream& out) {
    // A busy port would otherwise let the readiness check below talk to whatever listens there.
    std::vector<int> ports{o.port};
    if (o.tls) {
        ports.push_back(o.tls_port);
        ports.push_back(o.x509_port ? o.x509_port : o.tls_port + 1);
    }
    for (int p : ports)
        if (!port_free(p))
            throw admin_error(
                admin_error::kind::local,
                "127.0.0.1:" + std::to_string(p) +
                    " is already in use (another emulator or MQTT broker?): stop it or choose another port "
                    "with --port" +
                    std::string(o.tls ? " / --tls-port / --x509-port" : ""));
    const std::string conf = prepare_state_dir(o);
    const std::string dir = o.state_dir.empty() ? default_state_dir() : o.state_dir;
    // A load test opens thousands of connections: mosquitto (no max_connections) may use every
    // file the hard limit allows.
    if (rlimit nofile{}; ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &nofile);
    }
    const pid_t pid = ::fork();
    if (pid < 0) throw admin_error(admin_error::kind::local, "fork failed");
    if (pid == 0) {
        ::execlp(o.mosquitto.c_str(), o.mosquitto.c_str(), "-c", conf.c_str(), static_cast<char*>(nullptr));
        std::perror("exec mosquitto");
        ::_exit(127);
    }
    g_child = pid;
    struct sigaction sa {};
    sa.sa_handler = forward_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    connection c;
    c.state_dir = dir;
    c.port = o.port;
    c.timeout = std::chrono::milliseconds(1000);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    bool up = false;
    int status = 0;
    while (!up && std::chrono::steady_clock::now() < deadline) {
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            g_child = -1;
            throw admin_error(admin_error::kind::local,
                              "mosquitto exited during start-up (see its log above: a port in use, or a bad plugin?)");
        }
        try {
            call(c, "ping", json::object(), std::chrono::milliseconds(0));
            up = true;
        } catch (const std::exception&) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));  // broker still starting
        }
    }
    if (!up) {
        ::kill(pid, SIGTERM);
        ::waitpid(pid, &status, 0);
        throw admin_error(admin_error::kind::local,
                          "the emulator did not come up on 127.0.0.1:" + std::to_string(o.port) +
                              " within 10 s (see mosquitto's log above)");
    }
    out << "tbmqtt emulator listening on 127.0.0.1:" << o.port << " (state: " << dir << ")\n";
    if (o.tls) {
        out << "TLS (server certificate only) on 127.0.0.1:" << o.tls_port
            << ", X.509 client certificates on 127.0.0.1:" << (o.x509_port ? o.x509_port : o.tls_port + 1) << "\n"
            << "CA certificate: " << dir << "/ca.crt\n";
    }
    if (o.on_ready) {
        try {
            c.timeout = std::chrono::milliseconds(10000);
            if (const std::string line = o.on_ready(c); !line.empty()) out << line << "\n";
        } catch (...) {
            ::kill(pid, SIGTERM);
            ::waitpid(pid, &status, 0);
            g_child = -1;
            throw;
        }
    }
    try {
        json d = call(c, "device.get", json{{"device", "default"}}, std::chrono::milliseconds(0));
        out << "default device token: " << d["credentials"].value("token", "") << "\n";
    } catch (const std::exception&) {
        out << "no device named \"default\"\n";
    }
    out.flush();
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    g_child = -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 0;  // stopped by a signal we forwarded
}

std::string request(const connection& c, const std::string& command, const std::string& args_json,
                    std::chrono::milliseconds extra_timeout) {
    json args = args_json.empty() ? json::object() : parse_arg(args_json, "arguments");
    return call(c, command, args, extra_timeout).dump();
}

std::string device_add(const connection& c, const std::string& name, const device_credentials& cr, bool gateway) {
    json a = {{"name", name}};
    if (gateway) a["gateway"] = true;
    if (!cr.cert_file.empty()) {
        std::ifstream in(cr.cert_file);
        if (!in) throw admin_error(admin_error::kind::invalid_argument, "cannot read " + cr.cert_file);
        std::stringstream ss;
        ss << in.rdbuf();
        a["certPem"] = ss.str();
    } else if (!cr.client_id.empty() || !cr.username.empty() || !cr.password.empty()) {
        if (!cr.client_id.empty()) a["clientId"] = cr.client_id;
        if (!cr.username.empty()) a["username"] = cr.username;
        if (!cr.password.empty()) a["password"] = cr.password;
    } else if (!cr.token.empty()) {
        a["token"] = cr.token;
    }
    return call(c, "device.add", a, std::chrono::milliseconds(0)).dump();
}

std::string device_add_many(const connection& c, const std::string& prefix, long count, bool gateway) {
    if (count < 1) throw admin_error(admin_error::kind::invalid_argument, "--count must be at least 1");
    json all = json::array();
    for (long start = 0; start < count; start += 500) {
        json a = {{"prefix", prefix}, {"start", start}, {"count", std::min(500L, count - start)}};
        if (gateway) a["gateway"] = true;
        for (auto& d : call(c, "device.add_many", a, std::chrono::milliseconds(0))) all.push_back(std::move(d));
    }
    return all.dump();
}

std::string stats(const connection& c, const std::string& prefix) {
    return call(c, "stats", json{{"prefix", prefix}}, std::chrono::milliseconds(0)).dump();
}

std::string attributes_set(const connection& c, const std::string& device, const std::string& j) {
    json attrs = parse_arg(j, "attributes");
    if (!attrs.is_object()) throw admin_error(admin_error::kind::invalid_argument, "attributes must be a JSON object");
    return call(c, "attributes.set", json{{"device", device}, {"scope", "shared"}, {"attributes", attrs}},
                std::chrono::milliseconds(0))
        .dump();
}

std::string telemetry(const connection& c, const std::string& device) {
    return call(c, "telemetry.get", json{{"device", device}}, std::chrono::milliseconds(0)).dump();
}

std::string rpc(const connection& c, const std::string& device, const std::string& method,
                const std::string& params_json, const rpc_options& o) {
    json params = params_json.empty() ? json::object() : parse_arg(params_json, "params");
    json a = {{"device", device},
              {"method", method},
              {"params", params},
              {"oneway", o.oneway},
              {"timeoutMs", o.timeout.count()}};
    return call(c, "rpc.send", a, o.timeout).dump();
}

std::string ota_assign(const connection& c, const std::string& device, const std::string& file,
                       const std::string& title, const std::string& version, const std::string& algorithm,
                       bool software) {
    char resolved[4096];
    if (!::realpath(file.c_str(), resolved))
        throw admin_error(admin_error::kind::invalid_argument, "cannot read " + file);
    json a = {{"device", device},   {"file", std::string(resolved)},  {"title", title},
              {"version", version}, {"checksumAlgorithm", algorithm}, {"software", software}};
    return call(c, "ota.assign", a, std::chrono::milliseconds(0)).dump();
}

std::string device_list(const connection& c) {
    return call(c, "device.list", json::object(), std::chrono::milliseconds(0)).dump();
}

std::string attributes_get(const connection& c, const std::string& device) {
    return call(c, "attributes.get", json{{"device", device}}, std::chrono::milliseconds(0)).dump();
}

std::string claim_accept(const connection& c, const std::string& device, const std::string& secret_key) {
    return call(c, "claim.accept", json{{"device", device}, {"secretKey", secret_key}}, std::chrono::milliseconds(0))
        .dump();
}

std::string rpc_handler_set(const connection& c, const std::string& method, const std::string& reply_json,
                            const std::string& device) {
    json a = {{"method", method}};
    a["response"] = reply_json.empty() ? json(nullptr) : parse_arg(reply_json, "reply");
    if (!device.empty()) a["device"] = device;
    return call(c, "rpc_handler.set", a, std::chrono::milliseconds(0)).dump();
}

std::string rpc_persistent(const connection& c, const std::string& device, const std::string& method,
                           const std::string& params_json, const persistent_rpc_options& o) {
    json params = params_json.empty() ? json::object() : parse_arg(params_json, "params");
    json a = {{"device", device},   {"method", method},   {"params", params},
              {"oneway", o.oneway}, {"persistent", true}, {"timeoutMs", o.expiration.count()}};
    if (o.retries >= 0) a["retries"] = o.retries;
    return call(c, "rpc.send", a, std::chrono::milliseconds(0)).dump();
}

std::string rpc_status(const connection& c, const std::string& rpc_id) {
    return call(c, "rpc.get", json{{"rpcId", rpc_id}}, std::chrono::milliseconds(0)).dump();
}

std::string rpc_list(const connection& c, const std::string& device) {
    return call(c, "rpc.list", json{{"device", device}}, std::chrono::milliseconds(0)).dump();
}

std::string ota_state(const connection& c, const std::string& device) {
    return call(c, "ota.state", json{{"device", device}}, std::chrono::milliseconds(0)).dump();
}

std::string profile_add(const connection& c, const std::string& key, const std::string& secret,
                        const std::string& strategy) {
    return call(c, "profile.add", json{{"key", key}, {"secret", secret}, {"strategy", strategy}},
                std::chrono::milliseconds(0))
        .dump();
}

}  // namespace tbmqtt::emulator
