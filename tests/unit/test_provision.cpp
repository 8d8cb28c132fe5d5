// Tests of src/core/provision.cpp: the /provision/request builder and /provision/response parser.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <string_view>

#include "tbmqtt/provision.hpp"

using tbmqtt::errc;
using tbmqtt::provision_credentials_type;
using tbmqtt::provision_request;

namespace {

provision_request base() {
  provision_request r;
  r.device_name = "dev-1";
  r.key = "K";
  r.secret = "S";
  return r;
}

bool build_equals(const provision_request& r, std::string_view expected) {
  char buf[512];
  auto p = tbmqtt::build_provision_request(buf, r);
  return p.ok() && *p == expected;
}

errc build_error(const provision_request& r) {
  char buf[512];
  return tbmqtt::build_provision_request(buf, r).error();
}

// Static: a credentials object is a few KB, too much for a small test stack (Cortex-M).
tbmqtt::credentials parsed;

errc parse_error(std::string_view payload) { return tbmqtt::parse_provision_response(payload, parsed).error(); }

}  // namespace

TEST(provision, topics_and_username) {
  EXPECT_TRUE(tbmqtt::provision_username == "provision");
  EXPECT_TRUE(tbmqtt::provision_request_topic == "/provision/request");
  EXPECT_TRUE(tbmqtt::provision_response_topic == "/provision/response");
}

TEST(provision, request_server_generated_token) {
  EXPECT_TRUE(build_equals(base(), R"({"deviceName":"dev-1","provisionDeviceKey":"K","provisionDeviceSecret":"S"})"));
}

TEST(provision, request_without_name_lets_the_server_pick) {
  provision_request r = base();
  r.device_name = {};
  EXPECT_TRUE(build_equals(r, R"({"provisionDeviceKey":"K","provisionDeviceSecret":"S"})"));
}

TEST(provision, request_access_token) {
  provision_request r = base();
  r.credentials_type = provision_credentials_type::access_token;
  r.token = "T";
  EXPECT_TRUE(build_equals(
      r,
      R"({"deviceName":"dev-1","provisionDeviceKey":"K","provisionDeviceSecret":"S","credentialsType":"ACCESS_TOKEN","token":"T"})"));
}

TEST(provision, request_mqtt_basic_uses_lower_case_username) {
  provision_request r = base();
  r.credentials_type = provision_credentials_type::mqtt_basic;
  r.client_id = "c";
  r.username = "u";
  r.password = "p";
  EXPECT_TRUE(build_equals(r, R"({"deviceName":"dev-1","provisionDeviceKey":"K","provisionDeviceSecret":"S",)"
                              R"("credentialsType":"MQTT_BASIC","clientId":"c","username":"u","password":"p"})"));
}

TEST(provision, request_mqtt_basic_leaves_out_empty_fields) {
  provision_request r = base();
  r.credentials_type = provision_credentials_type::mqtt_basic;
  r.username = "u";
  EXPECT_TRUE(build_equals(r, R"({"deviceName":"dev-1","provisionDeviceKey":"K","provisionDeviceSecret":"S",)"
                              R"("credentialsType":"MQTT_BASIC","username":"u"})"));
}

TEST(provision, request_x509_sends_the_certificate_as_hash) {
  provision_request r = base();
  r.credentials_type = provision_credentials_type::x509;
  r.certificate_pem = "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n";
  EXPECT_TRUE(build_equals(r, R"({"deviceName":"dev-1","provisionDeviceKey":"K","provisionDeviceSecret":"S",)"
                              R"("credentialsType":"X509_CERTIFICATE",)"
                              R"("hash":"-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n"})"));
}

TEST(provision, request_gateway_flag_and_escaping) {
  provision_request r = base();
  r.device_name = "a\"b";
  r.gateway = true;
  EXPECT_TRUE(
      build_equals(r, R"({"deviceName":"a\"b","provisionDeviceKey":"K","provisionDeviceSecret":"S","gateway":true})"));
}

TEST(provision, request_refuses_missing_key_secret_or_credentials) {
  provision_request r = base();
  r.key = {};
  EXPECT_EQ(build_error(r), errc::invalid_argument);
  r = base();
  r.secret = {};
  EXPECT_EQ(build_error(r), errc::invalid_argument);
  r = base();
  r.credentials_type = provision_credentials_type::access_token;
  EXPECT_EQ(build_error(r), errc::invalid_argument);
  r.credentials_type = provision_credentials_type::mqtt_basic;
  r.password = "p";
  EXPECT_EQ(build_error(r), errc::invalid_argument);
  r.credentials_type = provision_credentials_type::x509;
  EXPECT_EQ(build_error(r), errc::invalid_argument);
}

TEST(provision, request_reports_a_small_buffer) {
  char buf[20];
  EXPECT_EQ(tbmqtt::build_provision_request(buf, base()).error(), errc::not_enough_space);
}

TEST(provision, response_access_token) {
  auto& c = parsed;
  ASSERT_TRUE(tbmqtt::parse_provision_response(
      R"({"credentialsValue":"T1","credentialsType":"ACCESS_TOKEN","status":"SUCCESS"})", c));
  EXPECT_EQ(c.type, provision_credentials_type::access_token);
  EXPECT_TRUE(c.token == "T1");
  EXPECT_TRUE(c.username.empty());
}

TEST(provision, response_escaped_token_is_decoded_into_the_field) {
  auto& c = parsed;
  ASSERT_TRUE(tbmqtt::parse_provision_response(
      R"({"credentialsValue":"a\/b","credentialsType":"ACCESS_TOKEN","status":"SUCCESS"})", c));
  EXPECT_TRUE(c.token == "a/b");
  EXPECT_STREQ(c.token.c_str(), "a/b");
}

TEST(provision, response_credentials_longer_than_their_capacity_are_not_enough_space_and_clear_the_output) {
  static char answer[TBMQTT_CREDENTIAL_FIELD_CAPACITY + 128];
  const std::string_view head = R"({"status":"SUCCESS","credentialsType":"ACCESS_TOKEN","credentialsValue":")";
  std::size_t n = 0;
  for (char ch : head) answer[n++] = ch;
  for (std::size_t i = 0; i < TBMQTT_CREDENTIAL_FIELD_CAPACITY + 1; ++i) answer[n++] = 't';
  answer[n++] = '"';
  answer[n++] = '}';
  ASSERT_TRUE(parsed.assign_access_token("old"));
  EXPECT_EQ(tbmqtt::parse_provision_response(std::string_view{answer, n}, parsed).error(), errc::not_enough_space);
  EXPECT_TRUE(parsed.token.empty());
  EXPECT_FALSE(parsed.complete());
  // One byte less fits.
  answer[n - 3] = '"';
  answer[n - 2] = '}';
  ASSERT_TRUE(tbmqtt::parse_provision_response(std::string_view{answer, n - 1}, parsed));
  EXPECT_EQ(parsed.token.size(), std::size_t{TBMQTT_CREDENTIAL_FIELD_CAPACITY});
}

TEST(provision, response_mqtt_basic_reads_user_name) {
  auto* c = &parsed;
  ASSERT_TRUE(tbmqtt::parse_provision_response(
      R"({"credentialsValue":{"clientId":"c","userName":"u","password":"p"},"credentialsType":"MQTT_BASIC","status":"SUCCESS"})",
      parsed));
  EXPECT_EQ(c->type, provision_credentials_type::mqtt_basic);
  EXPECT_TRUE(c->client_id == "c");
  EXPECT_TRUE(c->username == "u");
  EXPECT_TRUE(c->password == "p");
}

TEST(provision, response_mqtt_basic_with_null_members) {
  auto* c = &parsed;
  ASSERT_TRUE(tbmqtt::parse_provision_response(
      R"({"credentialsValue":{"clientId":"c","userName":null},"credentialsType":"MQTT_BASIC","status":"SUCCESS"})",
      parsed));
  EXPECT_TRUE(c->client_id == "c");
  EXPECT_TRUE(c->username.empty());
  EXPECT_TRUE(c->password.empty());
}

TEST(provision, response_x509_certificate_body) {
  auto* c = &parsed;
  ASSERT_TRUE(tbmqtt::parse_provision_response(
      R"({"credentialsValue":"TUlJQw==","credentialsType":"X509_CERTIFICATE","status":"SUCCESS"})", parsed));
  EXPECT_EQ(c->type, provision_credentials_type::x509);
  EXPECT_TRUE(c->certificate == "TUlJQw==");
}

TEST(provision, response_statuses) {
  EXPECT_EQ(parse_error(R"({"errorMsg":"Provision data was not found!","status":"NOT_FOUND"})"),
            errc::provision_not_found);
  EXPECT_EQ(parse_error(R"({"errorMsg":"Failed to provision device!","status":"FAILURE"})"), errc::provision_failed);
  EXPECT_EQ(parse_error(R"({"status":"SOMETHING_ELSE"})"), errc::server_error);
}

TEST(provision, response_malformed) {
  EXPECT_EQ(parse_error(""), errc::malformed);
  EXPECT_EQ(parse_error("{"), errc::malformed);
  EXPECT_EQ(parse_error("[]"), errc::malformed);
  EXPECT_EQ(parse_error(R"({"credentialsValue":"T","credentialsType":"ACCESS_TOKEN"})"), errc::malformed);
  EXPECT_EQ(parse_error(R"({"status":1})"), errc::malformed);
  EXPECT_EQ(parse_error(R"({"status":"SUCCESS"})"), errc::malformed);
  EXPECT_EQ(parse_error(R"({"credentialsValue":"T","credentialsType":"LWM2M","status":"SUCCESS"})"), errc::malformed);
  EXPECT_EQ(parse_error(R"({"credentialsValue":5,"credentialsType":"ACCESS_TOKEN","status":"SUCCESS"})"),
            errc::malformed);
  EXPECT_EQ(parse_error(R"({"credentialsValue":"","credentialsType":"ACCESS_TOKEN","status":"SUCCESS"})"),
            errc::malformed);
  EXPECT_EQ(parse_error(R"({"credentialsValue":"T","credentialsType":"MQTT_BASIC","status":"SUCCESS"})"),
            errc::malformed);
  EXPECT_EQ(parse_error(R"({"credentialsValue":{"password":"p"},"credentialsType":"MQTT_BASIC","status":"SUCCESS"})"),
            errc::malformed);
  EXPECT_EQ(parse_error(R"({"credentialsValue":{"clientId":3},"credentialsType":"MQTT_BASIC","status":"SUCCESS"})"),
            errc::malformed);
  EXPECT_EQ(parse_error(R"({"credentialsType":"X509_CERTIFICATE","status":"SUCCESS"})"), errc::malformed);
}
