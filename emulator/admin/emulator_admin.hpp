// Admin client of the tbmqtt ThingsBoard emulator (host only). One function per `tbmqtt emulator`
// subcommand. Each function connects to the running emulator (a mosquitto broker with the
// tbmqtt_emulator plugin), sends one request on $CONTROL/tbmqtt/v1/request and waits for the
// correlated answer on $CONTROL/tbmqtt/v1/response (protocol: emulator/README.md).
//
// Errors (cannot connect, refused, timeout, the emulator rejected the command) are thrown as
// std::runtime_error whose what() is a one-line message fit for the user.
#pragma once

#include <chrono>
#include <functional>
#include <iosfwd>
#include <stdexcept>
#include <string>

namespace tbmqtt::emulator {

/// @brief Every failure of this library: a one-line message for the user and what kind of
/// failure it is, so that callers map it to an exit code without reading the text.
class admin_error : public std::runtime_error {
public:
    enum class kind {
        unreachable,       ///< no emulator answers at the address, or no admin credentials found
        refused,           ///< the emulator refused the admin credentials
        disconnected,      ///< the emulator closed the admin connection
        timeout,           ///< no answer in time
        invalid_argument,  ///< bad input: unreadable file, invalid JSON, wrong shape
        local,             ///< a local failure (fork, file system, libmosquitto)
        server,            ///< the emulator answered with an error
    };
    admin_error(kind k, const std::string& message) : std::runtime_error(message), kind_(k) {}
    kind which() const noexcept { return kind_; }

private:
    kind kind_;
};

/// @brief Default state directory: `$TBMQTT_EMULATOR_STATE`, else `$XDG_STATE_HOME/tbmqtt-emulator`, else
///        `$HOME/.local/state/tbmqtt-emulator`, else `/tmp/tbmqtt-emulator`.
std::string default_state_dir();

/// @brief Where the running emulator is. Every field has a usable default, so that
///        `tbmqtt emulator rpc ...` works with no flags after `tbmqtt emulator start`.
struct connection {
    std::string state_dir;                     ///< empty: default_state_dir(); holds admin.json (credentials)
    std::string host;                          ///< empty: the host recorded in admin.json (127.0.0.1)
    int port = 0;                              ///< 0: the port recorded in admin.json by start()
    std::chrono::milliseconds timeout{10000};  ///< connect + answer deadline (rpc adds its own)
};

struct start_options {
    int port = 1883;
    std::string state_dir;                ///< empty: default_state_dir()
    std::string plugin_path;              ///< empty: $TBMQTT_EMULATOR_PLUGIN, then ../lib next to the
                                          ///< running executable, then the build-time location
    std::string mosquitto = "mosquitto";  ///< broker executable
    bool tls = false;                     ///< also listen with TLS (CA and server certificate in the state dir)
    int tls_port = 8883;                  ///< one-way TLS listener (server certificate only): token / basic auth
    int x509_port = 0;                    ///< mutual TLS listener for X.509 device certificates; 0: tls_port + 1
    /// Runs once the emulator answers, before start() prints the default device's token; its
    /// non-empty result is printed as one line. Failures (thrown) stop the broker.
    std::function<std::string(const connection&)> on_ready;
};

/// @brief Paths of the emulator's TLS material in a state directory.
struct tls_files {
    std::string ca_cert, ca_key;          ///< DIR/ca.crt, DIR/ca.key: the emulator's CA
    std::string server_cert, server_key;  ///< DIR/server.crt, DIR/server.key: localhost, 127.0.0.1
};

/// @brief Creates (when missing) the emulator CA and a server certificate for localhost/127.0.0.1
///        signed by it, in `state_dir` (empty: default_state_dir()). Runs the `openssl` command.
tls_files ensure_tls_files(const std::string& state_dir);

/// @brief `cert issue NAME --out DIR`: writes DIR/NAME.key and DIR/NAME.crt (CN=NAME), a device
///        certificate signed by the emulator CA of `state_dir` (created when missing). Register it
///        with device_add(.., {cert_file = DIR/NAME.crt}).
/// @return JSON `{"certificate":..,"key":..,"ca":..}` (paths).
std::string issue_device_cert(const std::string& state_dir, const std::string& name, const std::string& out_dir);

/// @brief Creates the state directory, admin.json (random admin password, kept across restarts)
///        and mosquitto.conf (listener 127.0.0.1:PORT, `user root`, `set_tcp_nodelay true`,
///        `max_queued_messages 0`, `max_qos 1`, `max_packet_size 65540`, the plugin).
/// @return Path of the written mosquitto.conf.
std::string prepare_state_dir(const start_options& opts);

/// @brief `tbmqtt emulator start`: prepare_state_dir(), then runs `mosquitto -c CONF` in the
///        foreground. Once the broker answers, prints the listening address and the default
///        device's access token to `out`. SIGINT/SIGTERM are forwarded to the broker.
/// @return The broker's exit status (0 after a clean SIGINT/SIGTERM stop).
int start(const start_options& opts, std::ostream& out);

/// @brief Credentials for device_add(). All empty: a generated access token.
///        `token`: access token. `client_id`/`username`/`password`: MQTT basic (client id only,
///        username + password, or all three). `cert_file`: X.509 (PEM file; the device then
///        connects with that client certificate).
struct device_credentials {
    std::string token;
    std::string client_id, username, password;
    std::string cert_file;
};

/// @brief `device add NAME [...]`. @return JSON `{"name":..,"id":..,"type":..,"gateway":..,
///        "credentials":{"type":"ACCESS_TOKEN","token":..}|{"type":"MQTT_BASIC","clientId":..,
///        "userName":..,"password":..}|{"type":"X509_CERTIFICATE","hash":..,"certificate":..}}`.
std::string device_add(const connection& c, const std::string& name, const device_credentials& creds,
                       bool gateway = false);

/// @brief `device add --count N --prefix P`: devices P0 .. P<N-1> with new access tokens (in
///        batches of 500, one registry save each). @return JSON `[{"name":..,"token":..},..]` in order.
std::string device_add_many(const connection& c, const std::string& prefix, long count, bool gateway = false);

/// @brief `stats [--prefix P]`: the server side of a load test. @return JSON `{"devices":N,"active":A,
///        "telemetryMessages":T,"perDevice":{"name":messages,..}}` over the devices whose name starts with P.
std::string stats(const connection& c, const std::string& prefix);

/// @brief `attributes set DEVICE JSON`: sets shared attributes (a null value deletes the key) and
///        pushes the change to the connected device. @return JSON `{"client":{},"shared":{},"server":{}}`.
std::string attributes_set(const connection& c, const std::string& device, const std::string& json);

/// @brief `telemetry DEVICE`. @return JSON object of the latest value of every key.
std::string telemetry(const connection& c, const std::string& device);

struct rpc_options {
    bool oneway = false;
    std::chrono::milliseconds timeout{10000};
};

/// @brief `rpc DEVICE METHOD [PARAMS] [--oneway] [--timeout-ms N]`: a server-side RPC.
///        Throws on timeout. @return The device's reply (JSON text as the device sent it,
///        re-serialised), or `{"delivered":true}` for a one-way RPC.
std::string rpc(const connection& c, const std::string& device, const std::string& method,
                const std::string& params_json = "{}", const rpc_options& opts = {});

/// @brief `ota assign DEVICE FILE --title T --version V [--checksum-algorithm ALG] [--software]`.
///        ALG: MD5 SHA256 SHA384 SHA512 CRC32 MURMUR3_32 MURMUR3_128. The emulator copies FILE
///        (it runs on the same host) and sets the fw_* / sw_* shared attributes.
/// @return JSON `{"title":..,"version":..,"size":..,"checksum":..,"checksumAlgorithm":..}`.
std::string ota_assign(const connection& c, const std::string& device, const std::string& file,
                       const std::string& title, const std::string& version,
                       const std::string& checksum_algorithm = "SHA256", bool software = false);

/// @brief `device list`. @return JSON array of device summaries (as device_add, plus "active").
std::string device_list(const connection& c);

/// @brief `attributes get DEVICE`. @return JSON `{"client":{},"shared":{},"server":{}}`.
std::string attributes_get(const connection& c, const std::string& device);

/// @brief `claim accept DEVICE [--secret-key K]`: what a user's "claim device" call does
///        (ClaimDevicesServiceImpl.claimDevice). @return JSON `{"result":"SUCCESS"|"FAILURE"|"CLAIMED"}`.
std::string claim_accept(const connection& c, const std::string& device, const std::string& secret_key);

/// @brief `rpc-handler set METHOD REPLY_JSON [--device D]`: the emulator answers the device's
///        client-side RPC METHOD with REPLY_JSON (a template: "${now}", "${params}", "${method}").
///        An empty reply_json removes the handler. @return JSON of all handlers.
std::string rpc_handler_set(const connection& c, const std::string& method, const std::string& reply_json,
                            const std::string& device = "");

struct persistent_rpc_options {
    bool oneway = false;
    std::chrono::milliseconds expiration{60000};  ///< expirationTime = now + this
    int retries = -1;                             ///< -1: ThingsBoard's default (actors.rpc.max_retries, 5)
};

/// @brief `rpc DEVICE METHOD [PARAMS] --persistent`: a persistent RPC, answered at once with
///        `{"rpcId":..}`; its state is read with rpc_status().
std::string rpc_persistent(const connection& c, const std::string& device, const std::string& method,
                           const std::string& params_json, const persistent_rpc_options& opts);

/// @brief `rpc-status RPC_ID`. @return JSON of the persistent RPC: `{"rpcId","device","requestId",
///        "request","oneway","createdTime","expirationTime","retries","maxRetries","status",
///        "response"?,"history":[{"ts","status"}]}`; status QUEUED, SENT, DELIVERED, SUCCESSFUL,
///        TIMEOUT, EXPIRED or FAILED.
std::string rpc_status(const connection& c, const std::string& rpc_id);

/// @brief `rpc-list DEVICE`. @return JSON array of the device's persistent RPCs.
std::string rpc_list(const connection& c, const std::string& device);

/// @brief `ota state DEVICE`. @return JSON array `[{"ts":..,"kind":"fw"|"sw","state":..,
///        "error"?:..}]`, oldest first (QUEUED entries come from ota_assign).
std::string ota_state(const connection& c, const std::string& device);

/// @brief `profile add --key K --secret S [--strategy allow-create|check-preprovisioned]`.
/// @return JSON `{"name":..,"key":..,"strategy":..}`.
std::string profile_add(const connection& c, const std::string& key, const std::string& secret,
                        const std::string& strategy = "allow-create");

/// @brief Any admin command (see emulator/README.md), `args_json` a JSON object.
/// @return The command's result as JSON text.
std::string request(const connection& c, const std::string& command, const std::string& args_json,
                    std::chrono::milliseconds extra_timeout = std::chrono::milliseconds{0});

}  // namespace tbmqtt::emulator
