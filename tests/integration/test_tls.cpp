// TLS through the Linux client: one-way (CA file), mutual (client certificate), verification
// failures as typed errors. Certificates are made with the openssl command at test time.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "broker.hpp"
#include "tbmqtt/client.hpp"

using namespace std::chrono_literals;
using tbmqtt::errc;
using tbmqtt::testing::broker;

namespace {

// A CA, a server certificate for 127.0.0.1/localhost, a client certificate from the same CA,
// and a second, unrelated CA with its own client certificate.
struct certificates {
  std::string dir;
  certificates() {
    char pattern[] = "/tmp/tbmqtt-tls-XXXXXX";
    dir = ::mkdtemp(pattern);
    const std::string script =
        "cd '" + dir + "' && set -e\n"
        "mk_ca() { openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=$1 -keyout $1.key -out $1.crt; }\n"
        "mk_cert() { openssl req -newkey rsa:2048 -nodes -subj /CN=$2 -keyout $2.key -out $2.csr;\n"
        "  printf 'subjectAltName=%s\\n' \"$3\" > $2.ext;\n"
        "  openssl x509 -req -in $2.csr -CA $1.crt -CAkey $1.key -CAcreateserial -days 2 -extfile $2.ext -out $2.crt; }\n"
        "mk_ca ca; mk_ca other_ca\n"
        "mk_cert ca server 'IP:127.0.0.1,DNS:localhost'\n"
        "mk_cert ca client DNS:device-1\n"
        "mk_cert ca elsewhere DNS:elsewhere.example\n"
        "mk_cert other_ca stranger DNS:stranger\n";
    const std::string cmd = "bash -c \"$(cat <<'EOS'\n" + script + "EOS\n)\" >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << "openssl failed";
  }
  certificates(const certificates&) = delete;
  ~certificates() { (void)std::system(("rm -rf '" + dir + "'").c_str()); }
  std::string file(const std::string& name) const { return dir + "/" + name; }

  // Broker config that turns its listener into TLS with the certificate `server` (from our CA).
  std::string listener(bool require_client_certificate, const std::string& server = "server") const {
    return "cafile " + file("ca.crt") + "\ncertfile " + file(server + ".crt") + "\nkeyfile " + file(server + ".key") +
           (require_client_certificate ? "\nrequire_certificate true\n" : "\n");
  }
};

// Key generation is slow (seconds): every test shares one set.
const certificates& shared() {
  static const certificates set;
  return set;
}

tbmqtt::client_options tls_options(const broker& b, const certificates& c) {
  tbmqtt::client_options o;
  o.host = "127.0.0.1";
  o.port = b.port();
  o.access_token = "TLS_TOKEN";
  o.tls.enabled = true;
  o.tls.ca_file = c.file("ca.crt");
  return o;
}

}  // namespace

TEST(tls, one_way_tls_verifies_the_server_with_the_ca_file) {
  const certificates& c = shared();
  broker b(c.listener(false));
  tbmqtt::client device(tls_options(b, c));
  ASSERT_TRUE(device.connect(10s));
  EXPECT_TRUE(device.send_telemetry(R"({"secure":true})"));
  EXPECT_TRUE(device.flush(5s));
}

TEST(tls, unknown_ca_is_a_tls_error_and_insecure_skips_the_check) {
  const certificates& c = shared();
  broker b(c.listener(false));
  tbmqtt::client_options o = tls_options(b, c);
  o.tls.ca_file = c.file("other_ca.crt");
  tbmqtt::client strict(o);
  EXPECT_EQ(strict.connect(10s).error(), errc::tls_error);
  o.tls.insecure = true;
  tbmqtt::client relaxed(o);
  EXPECT_TRUE(relaxed.connect(10s));
}

TEST(tls, certificate_for_another_host_name_is_a_tls_error) {
  const certificates& c = shared();
  broker b(c.listener(false, "elsewhere"));  // trusted CA, but issued for elsewhere.example
  tbmqtt::client device(tls_options(b, c));
  EXPECT_EQ(device.connect(10s).error(), errc::tls_error);
}

TEST(tls, mutual_tls_with_the_client_certificate_connects) {
  const certificates& c = shared();
  broker b(c.listener(true));
  tbmqtt::client_options o = tls_options(b, c);
  o.tls.cert_file = c.file("client.crt");
  o.tls.key_file = c.file("client.key");
  tbmqtt::client device(o);
  ASSERT_TRUE(device.connect(10s));
  EXPECT_TRUE(device.send_telemetry(R"({"mutual":true})"));
  EXPECT_TRUE(device.flush(5s));
}

TEST(tls, mutual_tls_without_or_with_a_foreign_client_certificate_is_refused) {
  const certificates& c = shared();
  broker b(c.listener(true));
  tbmqtt::client_options o = tls_options(b, c);
  tbmqtt::client anonymous(o);
  const errc none = anonymous.connect(10s).error();
  EXPECT_TRUE(none == errc::tls_error || none == errc::unreachable) << tbmqtt::to_string(none);
  o.tls.cert_file = c.file("stranger.crt");
  o.tls.key_file = c.file("stranger.key");
  tbmqtt::client stranger(o);
  const errc foreign = stranger.connect(10s).error();
  EXPECT_TRUE(foreign == errc::tls_error || foreign == errc::unreachable) << tbmqtt::to_string(foreign);
}
