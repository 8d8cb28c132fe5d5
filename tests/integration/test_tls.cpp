// TLS through the Linux client against a real mosquitto: one-way (CA file, CA directory), mutual
// (plain and encrypted client key), SNI, and each verification failure as its own errc, through
// connect(), the connection event and provision(). Certificates are made with the openssl command
// at test time.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>

#include "broker.hpp"
#include "fault_proxy.hpp"
#include "tbmqtt/linux/client.hpp"
#include "tbmqtt/linux/provisioned_client.hpp"

using namespace std::chrono_literals;
using tbmqtt::errc;
using tbmqtt::testing::broker;

namespace tbmqtt {
// gtest prints errc by name.
static void PrintTo(errc e, std::ostream* os) { *os << to_string(e); }
}  // namespace tbmqtt

namespace {

constexpr const char* key_password = "key-pass-123";

// Two CAs ("ca" trusted, "other_ca" not) and certificates from them: server (127.0.0.1 and
// localhost), elsewhere (another name), expired and future (right names, outside their validity),
// client and its encrypted key, stranger (from other_ca); cadir holds ca.crt, hashed.
struct certificates {
  std::string dir;
  certificates() {
    char pattern[] = "/tmp/tbmqtt-tls-XXXXXX";
    dir = ::mkdtemp(pattern);
    const std::string script =
        "cd '" + dir +
        "' && set -e\n"
        "newkey='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
        "mk_ca() { openssl req -x509 $newkey -days 2 -subj /CN=$1 -keyout $1.key -out $1.crt; }\n"
        "mk_csr() { openssl req $newkey -subj /CN=$1 -keyout $1.key -out $1.csr; printf 'subjectAltName=%s\\n' \"$2\" "
        "> $1.ext; }\n"
        "mk_cert() { mk_csr $2 \"$3\";\n"
        "  openssl x509 -req -in $2.csr -CA $1.crt -CAkey $1.key -CAcreateserial -days 2 -extfile $2.ext -out $2.crt; "
        "}\n"
        // `openssl ca` because `x509 -req` of OpenSSL 3.0 cannot set a validity period in the past
        "mk_dated() { mk_csr $1 'IP:127.0.0.1,DNS:localhost';\n"
        "  openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in $1.csr -out $1.crt -notext \\\n"
        "    -extfile $1.ext -startdate $2 -enddate $3; }\n"
        "printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=index.txt\\nnew_certs_dir=.\\nserial=serial\\n"
        "default_md=sha256\\npolicy=p\\nunique_subject=no\\n[p]\\ncommonName=supplied\\n' > ca.cnf\n"
        ": > index.txt; echo 1000 > serial\n"
        "mk_ca ca; mk_ca other_ca\n"
        "mk_cert ca server 'IP:127.0.0.1,DNS:localhost'\n"
        "mk_cert ca elsewhere DNS:elsewhere.example\n"
        "mk_dated expired 20200101000000Z 20200102000000Z\n"
        "mk_dated future 20991231000000Z 21000101000000Z\n"
        "mk_cert ca client DNS:device-1\n"
        "openssl pkey -in client.key -aes256 -passout pass:" +
        std::string(key_password) +
        " -out client.enc.key\n"
        "mk_cert other_ca stranger DNS:stranger\n"
        "mkdir cadir && cp ca.crt cadir/ && openssl rehash cadir\n";
    const std::string cmd = "bash -c \"$(cat <<'EOS'\n" + script + "EOS\n)\" >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << "openssl failed";
  }
  certificates(const certificates&) = delete;
  ~certificates() { (void)std::system(("rm -rf '" + dir + "'").c_str()); }
  std::string file(const std::string& name) const { return dir + "/" + name; }

  // Broker config that turns its listener into TLS with the certificate `server`; it trusts
  // client certificates from `client_ca`.
  std::string listener(bool require_client_certificate, const std::string& server = "server",
                       const std::string& client_ca = "ca") const {
    return "cafile " + file(client_ca + ".crt") + "\ncertfile " + file(server + ".crt") + "\nkeyfile " +
           file(server + ".key") + (require_client_certificate ? "\nrequire_certificate true\n" : "\n");
  }
};

// Key generation takes a while: every test shares one set.
const certificates& shared() {
  static const certificates set;
  return set;
}

tbmqtt::client_options tls_options(std::uint16_t port, const certificates& c) {
  tbmqtt::client_options o;
  o.host = "127.0.0.1";
  o.port = port;
  o.access_token = "TLS_TOKEN";
  o.tls.enabled = true;
  o.tls.ca = c.file("ca.crt");
  return o;
}

tbmqtt::client_options with_client_certificate(tbmqtt::client_options o, const certificates& c,
                                               const std::string& name = "client") {
  o.tls.certificate = c.file(name + ".crt");
  o.tls.private_key = c.file(name + ".key");
  return o;
}

errc connect_error(const tbmqtt::client_options& o) {
  tbmqtt::client device(o);
  return device.connect(10s).error();
}

// A TLS server on 127.0.0.1 (no MQTT): answers handshakes with the `server` certificate,
// records the server name the first client sent (SNI), and closes each connection.
class bare_tls_server {
 public:
  enum mode { any_tls_version, tls_1_2_requiring_a_client_certificate };
  explicit bare_tls_server(const certificates& c, mode m = any_tls_version) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 4) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      ADD_FAILURE() << "cannot listen";
    port_ = ntohs(addr.sin_port);
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(ctx_, c.file("server.crt").c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, c.file("server.key").c_str(), SSL_FILETYPE_PEM) != 1)
      ADD_FAILURE() << "cannot load the server certificate";
    if (m == tls_1_2_requiring_a_client_certificate) {
      SSL_CTX_set_max_proto_version(ctx_, TLS1_2_VERSION);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      if (SSL_CTX_load_verify_file(ctx_, c.file("ca.crt").c_str()) != 1) ADD_FAILURE() << "cannot load the CA";
    }
    SSL_CTX_set_tlsext_servername_callback(ctx_, on_server_name);
    SSL_CTX_set_tlsext_servername_arg(ctx_, this);
    thread_ = std::thread([this] { serve(); });
  }
  ~bare_tls_server() {
    ::shutdown(listener_, SHUT_RDWR);  // wakes accept() if no client came
    thread_.join();
    ::close(listener_);
    SSL_CTX_free(ctx_);
  }
  std::uint16_t port() const { return port_; }
  /// The name of the first handshake ("" when the client sent none), once it arrived.
  std::optional<std::string> server_name(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return name_.has_value(); });
    return name_;
  }

 private:
  static int on_server_name(SSL* ssl, int*, void* self_ptr) {
    auto* self = static_cast<bare_tls_server*>(self_ptr);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    std::lock_guard lock(self->mutex_);
    if (!self->name_) self->name_ = name != nullptr ? name : "";
    self->changed_.notify_all();
    return SSL_TLSEXT_ERR_OK;
  }
  void serve() {
    for (;;) {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) SSL_shutdown(ssl);
      SSL_free(ssl);
      ::close(fd);
    }
  }

  int listener_ = -1;
  std::uint16_t port_ = 0;
  SSL_CTX* ctx_ = nullptr;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<std::string> name_;
};

}  // namespace

// ---- server verification ----------------------------------------------------------------------

TEST(tls, one_way_tls_verifies_the_server_with_the_ca_file) {
  const certificates& c = shared();
  broker b(c.listener(false));
  tbmqtt::client device(tls_options(b.port(), c));
  ASSERT_TRUE(device.connect(10s));
  EXPECT_TRUE(device.send_telemetry(R"({"secure":true})"));
  EXPECT_TRUE(device.flush(5s));
}

TEST(tls, a_hashed_ca_directory_verifies_the_server) {
  const certificates& c = shared();
  broker b(c.listener(false));
  tbmqtt::client_options o = tls_options(b.port(), c);
  o.tls.ca.clear();
  o.tls.ca_dir = c.file("cadir");
  tbmqtt::client device(o);
  EXPECT_TRUE(device.connect(10s));
}

TEST(tls, the_host_name_localhost_is_checked_and_sent_as_sni) {
  const certificates& c = shared();
  broker b(c.listener(false));
  tbmqtt::client_options o = tls_options(b.port(), c);
  o.host = "localhost";
  tbmqtt::client device(o);
  EXPECT_TRUE(device.connect(10s));

  bare_tls_server server(c);
  o.port = server.port();
  tbmqtt::client probe(o);
  (void)probe.connect(3s);  // the server speaks no MQTT: only the handshake matters
  EXPECT_EQ(server.server_name(5s), std::optional<std::string>("localhost"));
}

TEST(tls, unknown_ca_is_tls_unknown_ca_with_a_ca_file_a_ca_directory_or_the_system_bundle) {
  const certificates& c = shared();
  broker b(c.listener(false));
  tbmqtt::client_options o = tls_options(b.port(), c);
  o.tls.ca = c.file("other_ca.crt");
  EXPECT_EQ(connect_error(o), errc::tls_unknown_ca);
  o.tls.ca.clear();
  EXPECT_EQ(connect_error(o), errc::tls_unknown_ca);  // the system bundle does not know our CA
  o.tls.ca_dir = c.dir;                               // a directory without hashed CA certificates
  EXPECT_EQ(connect_error(o), errc::tls_unknown_ca);
}

TEST(tls, insecure_skips_every_server_check_only_when_asked) {
  const certificates& c = shared();
  broker b(c.listener(false, "expired"));
  tbmqtt::client_options o = tls_options(b.port(), c);
  o.tls.ca = c.file("other_ca.crt");
  o.tls.insecure = true;
  tbmqtt::client relaxed(o);
  EXPECT_TRUE(relaxed.connect(10s));
}

TEST(tls, the_connection_event_carries_the_tls_failure) {
  const certificates& c = shared();
  broker b(c.listener(false));
  tbmqtt::client_options o = tls_options(b.port(), c);
  o.tls.ca = c.file("other_ca.crt");
  std::mutex mutex;  // the state the handler writes outlives the device
  std::optional<tbmqtt::connection_event> first;
  tbmqtt::client device(o);
  device.on_connection([&](const tbmqtt::connection_event& e) {
    std::lock_guard lock(mutex);
    if (!first) first = e;
  });
  EXPECT_EQ(device.connect(10s).error(), errc::tls_unknown_ca);
  std::lock_guard lock(mutex);
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(first->connected);
  EXPECT_EQ(first->reason, errc::tls_unknown_ca);
}

TEST(tls, certificate_for_another_host_name_is_tls_hostname_mismatch) {
  const certificates& c = shared();
  broker b(c.listener(false, "elsewhere"));  // trusted CA, but issued for elsewhere.example
  tbmqtt::client_options o = tls_options(b.port(), c);
  EXPECT_EQ(connect_error(o), errc::tls_hostname_mismatch);  // an IP address
  o.host = "localhost";
  EXPECT_EQ(connect_error(o), errc::tls_hostname_mismatch);  // a DNS name
}

TEST(tls, skip_hostname_check_accepts_another_name_but_still_verifies_the_chain) {
  const certificates& c = shared();
  broker elsewhere(c.listener(false, "elsewhere"));  // trusted CA, issued for elsewhere.example
  tbmqtt::client_options o = tls_options(elsewhere.port(), c);
  o.tls.skip_hostname_check = true;
  tbmqtt::client relaxed(o);
  EXPECT_TRUE(relaxed.connect(10s));
  o.tls.ca = c.file("other_ca.crt");  // the chain is still checked
  EXPECT_EQ(connect_error(o), errc::tls_unknown_ca);
  broker expired(c.listener(false, "expired"));
  o = tls_options(expired.port(), c);
  o.tls.skip_hostname_check = true;
  EXPECT_EQ(connect_error(o), errc::tls_certificate_expired);
}

TEST(tls, expired_or_not_yet_valid_server_certificate_is_tls_certificate_expired) {
  const certificates& c = shared();
  broker expired(c.listener(false, "expired"));
  EXPECT_EQ(connect_error(tls_options(expired.port(), c)), errc::tls_certificate_expired);
  broker future(c.listener(false, "future"));
  EXPECT_EQ(connect_error(tls_options(future.port(), c)), errc::tls_certificate_expired);
}

TEST(tls, provisioning_reports_the_same_tls_failures) {
  const certificates& c = shared();
  broker b(c.listener(false));
  tbmqtt::client_options server = tls_options(b.port(), c);
  server.tls.ca = c.file("other_ca.crt");
  tbmqtt::provision_request request;
  request.key = "K";
  request.secret = "S";
  tbmqtt::credentials granted;
  EXPECT_EQ(tbmqtt::provision(server, request, 10s, granted).error(), errc::tls_unknown_ca);
}

// ---- mutual TLS -------------------------------------------------------------------------------

TEST(tls, mutual_tls_with_the_client_certificate_connects) {
  const certificates& c = shared();
  broker b(c.listener(true));
  tbmqtt::client device(with_client_certificate(tls_options(b.port(), c), c));
  ASSERT_TRUE(device.connect(10s));
  EXPECT_TRUE(device.send_telemetry(R"({"mutual":true})"));
  EXPECT_TRUE(device.flush(5s));
}

TEST(tls, an_encrypted_client_key_needs_its_password) {
  const certificates& c = shared();
  broker b(c.listener(true));
  tbmqtt::client_options o = with_client_certificate(tls_options(b.port(), c), c);
  o.tls.private_key = c.file("client.enc.key");
  o.tls.key_password = key_password;
  tbmqtt::client device(o);
  EXPECT_TRUE(device.connect(10s));

  o.tls.key_password = "not-the-password";
  EXPECT_EQ(connect_error(o), errc::tls_bad_client_key);
  o.tls.key_password.clear();  // never a prompt on the terminal
  EXPECT_EQ(connect_error(o), errc::tls_bad_client_key);
}

// The TLS material rule: a value that starts with "-----BEGIN" is PEM text, anything else a file.
std::string text_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(tls, pem_text_is_taken_as_well_as_files_for_the_ca_the_certificate_and_the_key) {
  const certificates& c = shared();
  broker b(c.listener(true));
  tbmqtt::client_options o = with_client_certificate(tls_options(b.port(), c), c);
  o.tls.ca = text_of(c.file("ca.crt"));
  o.tls.certificate = text_of(c.file("client.crt"));
  o.tls.private_key = text_of(c.file("client.enc.key"));
  ASSERT_EQ(o.tls.ca.rfind("-----BEGIN", 0), 0u);
  o.tls.key_password = key_password;
  {
    tbmqtt::client device(o);
    ASSERT_TRUE(device.connect(10s));
    EXPECT_TRUE(device.send_telemetry(R"({"pem_text":true})"));
    EXPECT_TRUE(device.flush(5s));
  }
  o.tls.key_password = "not-the-password";
  EXPECT_EQ(connect_error(o), errc::tls_bad_client_key);
  o.tls.key_password = key_password;
  o.tls.ca = text_of(c.file("other_ca.crt"));  // text, and the wrong CA: refused as with a file
  EXPECT_EQ(connect_error(o), errc::tls_unknown_ca);
  o.tls.ca = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  EXPECT_EQ(connect_error(o), errc::tls_error);
  o.tls.ca = text_of(c.file("ca.crt"));
  o.tls.private_key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  EXPECT_EQ(connect_error(o), errc::tls_bad_client_key);
}

TEST(tls, a_client_key_that_cannot_be_used_is_tls_bad_client_key) {
  const certificates& c = shared();
  broker b(c.listener(true));
  tbmqtt::client_options o = with_client_certificate(tls_options(b.port(), c), c);
  o.tls.private_key = c.file("stranger.key");  // not the certificate's key
  EXPECT_EQ(connect_error(o), errc::tls_bad_client_key);
  o.tls.private_key = c.file("no-such.key");
  EXPECT_EQ(connect_error(o), errc::tls_bad_client_key);
}

TEST(tls, mutual_tls_without_or_with_a_foreign_client_certificate_is_refused) {
  const certificates& c = shared();
  broker b(c.listener(true));
  EXPECT_EQ(connect_error(tls_options(b.port(), c)), errc::tls_client_certificate_refused);
  EXPECT_EQ(connect_error(with_client_certificate(tls_options(b.port(), c), c, "stranger")),
            errc::tls_client_certificate_refused);
}

TEST(tls, a_broker_that_trusts_another_ca_refuses_our_client_certificate) {
  const certificates& c = shared();
  broker b(c.listener(true, "server", "other_ca"));
  EXPECT_EQ(connect_error(with_client_certificate(tls_options(b.port(), c), c)), errc::tls_client_certificate_refused);
}

TEST(tls, tls_1_2_refusals_of_the_client_certificate_are_recognised_too) {
  // mosquitto's tls_version is a minimum and our client offers TLS 1.3: a bare server that
  // stops at TLS 1.2 is how to see a TLS 1.2 refusal (a handshake_failure alert after asking).
  const certificates& c = shared();
  bare_tls_server server(c, bare_tls_server::tls_1_2_requiring_a_client_certificate);
  EXPECT_EQ(connect_error(tls_options(server.port(), c)), errc::tls_client_certificate_refused);
  EXPECT_EQ(connect_error(with_client_certificate(tls_options(server.port(), c), c, "stranger")),
            errc::tls_client_certificate_refused);
}

TEST(tls, a_refusal_whose_alert_is_lost_to_a_reset_is_still_recognised) {
  // The broker's alert waits in the proxy (latency) when the broker closes; the proxy passes the
  // close on as a reset and drops what it held: the client never reads the alert, as when a
  // reset overtakes it on a loaded machine.
  const certificates& c = shared();
  broker b(c.listener(true));
  tbmqtt::testing::fault_proxy proxy(b.port());
  proxy.set_latency(150ms);
  EXPECT_EQ(connect_error(tls_options(proxy.port(), c)), errc::tls_client_certificate_refused);
  EXPECT_EQ(connect_error(with_client_certificate(tls_options(proxy.port(), c), c, "stranger")),
            errc::tls_client_certificate_refused);
  tbmqtt::client device(with_client_certificate(tls_options(proxy.port(), c), c));
  EXPECT_TRUE(device.connect(10s));
}
