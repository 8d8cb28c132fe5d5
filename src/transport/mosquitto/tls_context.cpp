#include "tls_context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <memory>
#include <string>

namespace tbmqtt::detail {
namespace {

// OpenSSL's default password callback would prompt on the terminal: always use this one.
int password_callback(char* buf, int size, int /*rwflag*/, void* userdata) {
  const auto* password = static_cast<const std::string*>(userdata);
  if (password == nullptr || password->empty() || password->size() > static_cast<std::size_t>(size)) return 0;
  std::memcpy(buf, password->data(), password->size());
  return static_cast<int>(password->size());
}

// The TLS material rule (tls_options): a value that starts with "-----BEGIN" is PEM text,
// anything else a file path.
bool is_pem_text(const std::string& value) { return value.rfind("-----BEGIN", 0) == 0; }

struct bio_deleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;
bio_ptr memory_bio(const std::string& text) {
  return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Trusted CAs from PEM text: every certificate in it.
bool load_ca_text(SSL_CTX* ctx, const std::string& text) {
  auto bio = memory_bio(text);
  if (!bio) return false;
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    const int ok = X509_STORE_add_cert(store, cert);
    X509_free(cert);
    if (ok != 1) return false;
    ++added;
  }
  ERR_clear_error();  // the end of the text reads as an error
  return added > 0;
}

// The client certificate (then its chain) from PEM text.
bool load_certificate_text(SSL_CTX* ctx, const std::string& text) {
  auto bio = memory_bio(text);
  if (!bio) return false;
  X509* leaf = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr) return false;
  const bool used = SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  if (!used) return false;
  while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      return false;
    }
  ERR_clear_error();
  return true;
}

bool load_key_text(SSL_CTX* ctx, const std::string& text, const std::string& password) {
  auto bio = memory_bio(text);
  if (!bio) return false;
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, password_callback, const_cast<std::string*>(&password));
  if (key == nullptr) return false;
  const bool used = SSL_CTX_use_PrivateKey(ctx, key) == 1;
  EVP_PKEY_free(key);
  return used;
}

tls_context* owner(const SSL* ssl) {
  return ssl == nullptr ? nullptr : static_cast<tls_context*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
}

}  // namespace

tls_context::~tls_context() { SSL_CTX_free(ctx_); }

result<void> tls_context::build(const tls_settings& s) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return errc::tls_error;
  const auto fail = [ctx](errc e) {
    SSL_CTX_free(ctx);
    ERR_clear_error();  // leave no stale entry for the next SSL_get_error() on this thread
    return e;
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_app_data(ctx, this);
  SSL_CTX_set_info_callback(ctx, info_callback);

  if (s.insecure) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    bool loaded = true;
    if (s.ca_file.empty() && s.ca_dir.empty()) loaded = SSL_CTX_set_default_verify_paths(ctx) == 1;
    if (!s.ca_file.empty())
      loaded = loaded && (is_pem_text(s.ca_file) ? load_ca_text(ctx, s.ca_file)
                                                 : SSL_CTX_load_verify_file(ctx, s.ca_file.c_str()) == 1);
    if (!s.ca_dir.empty()) loaded = loaded && SSL_CTX_load_verify_dir(ctx, s.ca_dir.c_str()) == 1;
    if (!loaded) return fail(errc::tls_error);
    // OpenSSL checks the name during verification (X509_V_ERR_HOSTNAME_MISMATCH /
    // IP_ADDRESS_MISMATCH): an IP literal against the IP address entries, a name against the
    // DNS names (or the CN when there are none).
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (!s.skip_hostname_check && X509_VERIFY_PARAM_set1_ip_asc(param, s.host.c_str()) != 1 &&
        X509_VERIFY_PARAM_set1_host(param, s.host.c_str(), s.host.size()) != 1)
      return fail(errc::tls_error);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_callback);
  }

  if (!s.cert_file.empty() || !s.key_file.empty()) {
    SSL_CTX_set_default_passwd_cb(ctx, password_callback);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, const_cast<std::string*>(&s.key_password));
    const bool loaded =
        (is_pem_text(s.cert_file) ? load_certificate_text(ctx, s.cert_file)
                                  : SSL_CTX_use_certificate_chain_file(ctx, s.cert_file.c_str()) == 1) &&
        (is_pem_text(s.key_file) ? load_key_text(ctx, s.key_file, s.key_password)
                                 : SSL_CTX_use_PrivateKey_file(ctx, s.key_file.c_str(), SSL_FILETYPE_PEM) == 1) &&
        SSL_CTX_check_private_key(ctx) == 1;
    SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);  // the context keeps no password
    if (!loaded) return fail(errc::tls_bad_client_key);
  }

  SSL_CTX_free(ctx_);
  ctx_ = ctx;
  return {};
}

void tls_context::begin_attempt() noexcept {
  failure_ = errc{};
  certificate_requested_ = false;
  in_handshake_ = false;
  mqtt_answered_ = false;
}

// A server that refuses our certificate sends a fatal alert and closes. When data of ours is still
// unread on its side (the rest of our TLS 1.2 flight, or our MQTT CONNECT right after a TLS 1.3
// handshake, which the server checks the certificate after), that close is a reset, and a reset
// discards the alert from our receive buffer if it comes before we read it (seen on loaded
// machines): the connection just ends. So a connection that ends after the server asked for our
// certificate and before it answered at the MQTT level is taken as that refusal (an inference:
// brokers answer CONNECT with a CONNACK, even to refuse). Cut short inside a handshake that asked
// for no certificate, it is a TLS failure of unknown cause.
errc tls_context::failure() const noexcept {
  if (failure_ != errc{} || mqtt_answered_) return failure_;
  if (certificate_requested_) return errc::tls_client_certificate_refused;
  return in_handshake_ ? errc::tls_error : errc{};
}

void tls_context::record(errc cause) noexcept {
  if (failure_ == errc{}) failure_ = cause;  // the first failure is the cause; the rest follow from it
}

int tls_context::verify_callback(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok != 1) {
    const auto* ssl = static_cast<const SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    if (tls_context* self = owner(ssl)) self->record(errc_from_verify_error(X509_STORE_CTX_get_error(store)));
  }
  return preverify_ok;
}

void tls_context::info_callback(const SSL* ssl, int where, int ret) {
  tls_context* self = owner(ssl);
  if (self == nullptr) return;
  if ((where & SSL_CB_HANDSHAKE_START) != 0) self->in_handshake_ = true;
  if ((where & SSL_CB_HANDSHAKE_DONE) != 0) self->in_handshake_ = false;
  if ((where & SSL_CB_CONNECT_LOOP) != 0 && SSL_get_state(ssl) == TLS_ST_CR_CERT_REQ)
    self->certificate_requested_ = true;
  // `ret` of an alert: level in the high byte, description in the low byte. Warnings (such as
  // close_notify) end nothing.
  if ((where & SSL_CB_READ_ALERT) != 0 && (ret >> 8) == SSL3_AL_FATAL)
    self->record(errc_from_alert(ret & 0xff, self->certificate_requested_));
}

errc tls_context::errc_from_verify_error(int x509_error) noexcept {
  switch (x509_error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
    case X509_V_ERR_INVALID_CA: return errc::tls_unknown_ca;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID: return errc::tls_certificate_expired;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: return errc::tls_hostname_mismatch;
    default: return errc::tls_error;
  }
}

errc tls_context::errc_from_alert(int description, bool certificate_requested) noexcept {
  switch (description) {
    // Alerts about a certificate, sent by a server, are about ours.
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_CERTIFICATE_REQUIRED: return errc::tls_client_certificate_refused;
    // TLS 1.2 servers answer a missing certificate with handshake_failure; after they asked for
    // one, that is what it means.
    case SSL_AD_HANDSHAKE_FAILURE:
    case SSL_AD_ACCESS_DENIED: return certificate_requested ? errc::tls_client_certificate_refused : errc::tls_error;
    default: return errc::tls_error;
  }
}

}  // namespace tbmqtt::detail
