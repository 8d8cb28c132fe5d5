// tbmqtt — the OpenSSL context the libmosquitto transport connects with (MOSQ_OPT_SSL_CTX).
// We build it ourselves, instead of letting libmosquitto do it, to learn WHY a handshake failed:
// libmosquitto 2.0.11 reports every TLS failure as MOSQ_ERR_TLS, or as a plain socket error when
// the server rejects our certificate after a TLS 1.3 handshake. Not part of the public API.
//
// What libmosquitto still does with a context of ours (lib/net_mosq.c, 2.0.11): SSL_new() per
// connection, SNI with the host name passed to mosquitto_connect (SSL_set_tlsext_host_name), the
// handshake. What it then no longer does, and this class does instead: certificate verification
// (peer + host name, through X509_VERIFY_PARAM), CA loading, the client certificate and key.
#pragma once

#include <string>

#include "tbmqtt/errc.hpp"

struct ssl_ctx_st;
struct ssl_st;
struct x509_store_ctx_st;

namespace tbmqtt::detail {

/// @brief What to trust and who we are. Read only while build() runs.
struct tls_settings {
  std::string host;  ///< Checked against the server certificate (DNS name or IP address).
  // ca_file, cert_file, key_file: PEM text when the value starts with "-----BEGIN", else a file.
  std::string ca_file;               ///< PEM bundle of trusted CAs.
  std::string ca_dir;                ///< Directory of hashed CA certificates (`openssl rehash`).
  std::string cert_file;             ///< Client certificate chain (PEM); empty: none.
  std::string key_file;              ///< Its private key (PEM, may be encrypted).
  std::string key_password;          ///< Decrypts key_file; used only while build() loads the key.
  bool insecure = false;             ///< No server verification at all (only when the user asked).
  bool skip_hostname_check = false;  ///< Verify the chain, not the name (only when the user asked).
};

/// @brief One SSL_CTX plus the cause of the last failed handshake. The callbacks run on the
/// thread that runs the handshake and the reads (the transport's network thread).
class tls_context {
 public:
  tls_context() = default;
  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  /// @brief Creates the context: TLS 1.2 or later; the server certificate verified against
  /// ca_file and/or ca_dir (both empty: the system bundle) and its name against `host`, unless
  /// `insecure` (neither) or `skip_hostname_check` (not the name); the client certificate and key, when given.
  /// @return ok, or errc::tls_bad_client_key (certificate or key unreadable, key encrypted and the
  /// password wrong or missing, key not matching the certificate), errc::tls_error (no memory,
  /// CA file or directory unusable).
  [[nodiscard]] result<void> build(const tls_settings& settings);
  /// The context (null before a successful build()).
  ssl_ctx_st* native() const noexcept { return ctx_; }

  /// @brief Forgets the cause recorded by an earlier connection; call before each attempt.
  void begin_attempt() noexcept;
  /// @brief The server answered at the MQTT level (CONNACK): the handshake was accepted, so a
  /// later end of the connection is not a TLS refusal.
  void mqtt_answered() noexcept { mqtt_answered_ = true; }
  /// @brief Why the current attempt failed at the TLS level: what OpenSSL reported (a failed
  /// verification or the server's fatal alert), else, for a connection that ended before the
  /// server answered at the MQTT level, what that end means (see the .cpp); errc{} otherwise.
  /// One of tls_unknown_ca, tls_hostname_mismatch, tls_certificate_expired,
  /// tls_client_certificate_refused, tls_error.
  errc failure() const noexcept;

  /// @brief Maps an X509_V_ERR_* code from certificate verification to errc.
  static errc errc_from_verify_error(int x509_error) noexcept;
  /// @brief Maps a fatal TLS alert the server sent us (its AlertDescription) to errc.
  /// @param certificate_requested the server had asked for our certificate in this handshake.
  static errc errc_from_alert(int description, bool certificate_requested) noexcept;

 private:
  static int verify_callback(int preverify_ok, x509_store_ctx_st* store);
  static void info_callback(const ssl_st* ssl, int where, int ret);
  void record(errc cause) noexcept;

  ssl_ctx_st* ctx_ = nullptr;
  errc failure_{};
  bool certificate_requested_ = false;
  bool in_handshake_ = false;
  bool mqtt_answered_ = false;
};

}  // namespace tbmqtt::detail
