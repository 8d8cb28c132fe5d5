// Tests of src/core/credentials_lifecycle.cpp: the stored credentials record, the retry schedule
// and the lifecycle decisions. Portable: runs on the host and on the Cortex-M image.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "tbmqtt/credentials_lifecycle.hpp"

using tbmqtt::credentials;
using tbmqtt::credentials_action;
using tbmqtt::credentials_lifecycle;
using tbmqtt::credentials_step;
using tbmqtt::errc;
using tbmqtt::provision_credentials_type;

namespace {

// One value in RAM; `fail_with` makes the next store/load fail like a broken medium.
struct one_value_storage final : tbmqtt::storage {
  char key[16] = {};
  std::byte value[tbmqtt::credentials_json_capacity];
  std::size_t size = 0;
  bool present = false;
  errc fail_with{};
  int stores = 0;

  tbmqtt::result<std::size_t> load(std::string_view k, tbmqtt::span<std::byte> out) noexcept override {
    if (fail_with != errc{}) return fail_with;
    if (!present || k != key) return errc::not_found;
    if (size > out.size()) return errc::not_enough_space;
    std::memcpy(out.data(), value, size);
    return size;
  }
  tbmqtt::result<void> store(std::string_view k, tbmqtt::span<const std::byte> v) noexcept override {
    if (fail_with != errc{}) return fail_with;
    if (k.size() >= sizeof key || v.size() > sizeof value) return errc::not_enough_space;
    std::memset(key, 0, sizeof key);
    std::memcpy(key, k.data(), k.size());
    std::memcpy(value, v.data(), v.size());
    size = v.size();
    present = true;
    ++stores;
    return {};
  }
  tbmqtt::result<void> erase(std::string_view) noexcept override {
    present = false;
    return {};
  }
  void put_text(std::string_view text) {
    ASSERT_TRUE(store(tbmqtt::credentials_storage_key,
                      tbmqtt::span<const std::byte>{reinterpret_cast<const std::byte*>(text.data()), text.size()}));
  }
};

// Static: records and scratch buffers are a few KB, too much for a small test stack.
char scratch[tbmqtt::credentials_json_capacity];
credentials record_a;
credentials record_b;

// What to put into a record: a type and its fields.
struct fields {
  provision_credentials_type type = provision_credentials_type::access_token;
  std::string_view token, client_id, username, password, certificate;
};

fields basic(std::string_view client_id, std::string_view user, std::string_view password) {
  return {provision_credentials_type::mqtt_basic, {}, client_id, user, password, {}};
}

fields token(std::string_view t) { return {provision_credentials_type::access_token, t, {}, {}, {}, {}}; }

fields x509_of(std::string_view certificate) { return {provision_credentials_type::x509, {}, {}, {}, {}, certificate}; }

// credentials::assign_* for `f`.
tbmqtt::result<void> assign(credentials& c, const fields& f) {
  switch (f.type) {
    case provision_credentials_type::mqtt_basic: return c.assign_mqtt_basic(f.client_id, f.username, f.password);
    case provision_credentials_type::x509: return c.assign_x509(f.certificate);
    default: return c.assign_access_token(f.token);
  }
}

errc read_error(std::string_view text) { return tbmqtt::read_credentials(text, record_b).error(); }

bool is(const credentials_action& a, credentials_step step, std::uint32_t delay_ms = 0, errc e = errc{}) {
  return a.next == step && a.delay_ms == delay_ms && a.error == e;
}

}  // namespace

// ---- record -----------------------------------------------------------------------------------

TEST(credentials, writes_the_provision_cli_format) {
  ASSERT_TRUE(assign(record_a, basic("c1", "u\"1", "p1")));
  auto text = tbmqtt::write_credentials(scratch, record_a);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, R"({"credentialsType":"MQTT_BASIC","clientId":"c1","username":"u\"1","password":"p1"})");
  ASSERT_TRUE(assign(record_a, token("T0K")));
  EXPECT_EQ(*tbmqtt::write_credentials(scratch, record_a), R"({"credentialsType":"ACCESS_TOKEN","token":"T0K"})");
}

TEST(credentials, round_trips_every_type_through_storage) {
  one_value_storage store;
  for (const fields& c : {token("tok\\en"), basic("", "user", ""), basic("cid", "u", "p\n"), x509_of("TUlJQmNlcnQ=")}) {
    ASSERT_TRUE(assign(record_a, c));
    ASSERT_TRUE(tbmqtt::store_credentials(store, record_a, scratch));
    ASSERT_TRUE(tbmqtt::load_credentials(store, record_b, scratch));
    const auto& v = record_b;
    EXPECT_TRUE(v.type == c.type);
    EXPECT_EQ(v.token.view(), c.token);
    EXPECT_EQ(v.client_id.view(), c.client_id);
    EXPECT_EQ(v.username.view(), c.username);
    EXPECT_EQ(v.password.view(), c.password);
    EXPECT_EQ(v.certificate.view(), c.certificate);
  }
  EXPECT_EQ(store.stores, 4);
  EXPECT_EQ(std::string_view{store.key}, tbmqtt::credentials_storage_key);
}

TEST(credentials, full_fields_fit_the_documented_json_capacity) {
  static char long_text[TBMQTT_CREDENTIAL_CERTIFICATE_CAPACITY];
  std::memset(long_text, 0x01, sizeof long_text);  // a control character: the longest escape
  const std::string_view field{long_text, TBMQTT_CREDENTIAL_FIELD_CAPACITY};
  ASSERT_TRUE(assign(record_a, basic(field, field, field)));
  EXPECT_TRUE(tbmqtt::write_credentials(scratch, record_a));
  std::memset(long_text, 'A', sizeof long_text);
  ASSERT_TRUE(assign(record_a, x509_of(std::string_view{long_text, sizeof long_text})));
  EXPECT_TRUE(tbmqtt::write_credentials(scratch, record_a));
}

TEST(credentials, refuses_oversized_or_incomplete_credentials) {
  static char long_text[TBMQTT_CREDENTIAL_FIELD_CAPACITY + 1];
  std::memset(long_text, 'a', sizeof long_text);
  EXPECT_EQ(assign(record_a, token(std::string_view{long_text, sizeof long_text})).error(), errc::not_enough_space);
  EXPECT_FALSE(record_a.complete());  // cleared
  EXPECT_EQ(assign(record_a, token("")).error(), errc::invalid_argument);
  EXPECT_EQ(assign(record_a, basic("", "", "pw")).error(), errc::invalid_argument);
  EXPECT_EQ(assign(record_a, basic("c", "u", std::string_view{long_text, sizeof long_text})).error(),
            errc::not_enough_space);
  EXPECT_TRUE(record_a.password.empty());
  EXPECT_TRUE(record_a.client_id.empty());
  EXPECT_EQ(assign(record_a, x509_of("")).error(), errc::invalid_argument);
  record_a.type = provision_credentials_type::server_token;  // what is granted is never server_token
  EXPECT_FALSE(record_a.complete());
}

TEST(credentials, malformed_records_are_typed_errors) {
  EXPECT_EQ(read_error(""), errc::malformed);
  EXPECT_EQ(read_error("[1]"), errc::malformed);
  EXPECT_EQ(read_error(R"({"credentialsType":"ACCESS_TOKEN"})"), errc::malformed);
  EXPECT_EQ(read_error(R"({"credentialsType":"ACCESS_TOKEN","token":7})"), errc::malformed);
  EXPECT_EQ(read_error(R"({"credentialsType":"PSK","token":"t"})"), errc::malformed);
  EXPECT_EQ(read_error(R"({"token":"t"})"), errc::malformed);
  EXPECT_EQ(read_error(R"({"credentialsType":"MQTT_BASIC","password":"p"})"), errc::malformed);
  EXPECT_EQ(read_error(R"({"credentialsType":"ACCESS_TOKEN","token":"t")"), errc::malformed);
  EXPECT_EQ(read_error(R"({"credentialsType":"ACCESS_TOKEN","token":"t","clientId":null})"), errc{});
}

TEST(credentials, oversized_stored_records_are_typed_errors) {
  static char text[TBMQTT_CREDENTIAL_FIELD_CAPACITY + 64];
  const std::string_view head = R"({"credentialsType":"ACCESS_TOKEN","token":")";
  std::memcpy(text, head.data(), head.size());
  std::size_t n = head.size();
  for (std::size_t i = 0; i <= TBMQTT_CREDENTIAL_FIELD_CAPACITY; ++i) text[n++] = 'x';
  text[n++] = '"';
  text[n++] = '}';
  EXPECT_EQ(read_error(std::string_view{text, n}), errc::not_enough_space);

  one_value_storage store;
  store.put_text(R"({"credentialsType":"ACCESS_TOKEN","token":"abc"})");
  char small[16];
  EXPECT_EQ(tbmqtt::load_credentials(store, record_b, small).error(), errc::not_enough_space);
  EXPECT_TRUE(tbmqtt::load_credentials(store, record_b, scratch));
}

TEST(credentials, storage_failures_pass_through) {
  one_value_storage store;
  EXPECT_EQ(tbmqtt::load_credentials(store, record_b, scratch).error(), errc::not_found);
  store.put_text("not json");
  EXPECT_EQ(tbmqtt::load_credentials(store, record_b, scratch).error(), errc::malformed);
  store.fail_with = errc::storage_error;
  EXPECT_EQ(tbmqtt::load_credentials(store, record_b, scratch).error(), errc::storage_error);
  ASSERT_TRUE(assign(record_a, token("t")));
  EXPECT_EQ(tbmqtt::store_credentials(store, record_a, scratch).error(), errc::storage_error);
  char tiny[8];
  store.fail_with = errc{};
  EXPECT_EQ(tbmqtt::store_credentials(store, record_a, tiny).error(), errc::not_enough_space);
}

// ---- retry schedule ---------------------------------------------------------------------------

TEST(provision_retry, waits_0_1_2_4_seconds_then_caps_at_128) {
  const std::uint32_t expected[] = {0, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 128000, 128000};
  for (std::uint32_t i = 0; i < sizeof expected / sizeof expected[0]; ++i)
    EXPECT_EQ(tbmqtt::provision_retry_delay_ms(i), expected[i]) << "retry " << i;
  EXPECT_EQ(tbmqtt::provision_retry_delay_ms(31), 128000u);
  EXPECT_EQ(tbmqtt::provision_retry_delay_ms(32), 128000u);
  EXPECT_EQ(tbmqtt::provision_retry_delay_ms(UINT32_MAX), 128000u);
}

TEST(provision_retry, only_transient_failures_are_retried) {
  for (errc e : {errc::timeout, errc::unreachable, errc::disconnected, errc::refused_credentials,
                 errc::server_unavailable, errc::provision_not_found, errc::malformed, errc::tls_error})
    EXPECT_TRUE(tbmqtt::provision_retryable(e)) << tbmqtt::to_string(e);
  for (errc e : {errc{}, errc::invalid_argument, errc::not_enough_space, errc::provision_failed, errc::cancelled})
    EXPECT_FALSE(tbmqtt::provision_retryable(e)) << tbmqtt::to_string(e);
}

// ---- decisions --------------------------------------------------------------------------------

TEST(credentials_lifecycle, stored_credentials_are_used_without_provisioning) {
  credentials_lifecycle life{{}};
  EXPECT_TRUE(is(life.start(errc{}), credentials_step::connect));
  EXPECT_TRUE(life.using_stored());
  EXPECT_TRUE(is(life.connected(errc{}), credentials_step::done));
  EXPECT_FALSE(life.provisioned_new());
  EXPECT_EQ(life.attempts(), 0u);
}

TEST(credentials_lifecycle, nothing_stored_provisions_stores_then_connects) {
  credentials_lifecycle life{{}};
  EXPECT_TRUE(is(life.start(errc::not_found), credentials_step::provision, 0));
  EXPECT_TRUE(is(life.provisioned(errc{}), credentials_step::store));
  EXPECT_FALSE(life.provisioned_new());  // not before it is stored
  EXPECT_TRUE(is(life.stored(errc{}), credentials_step::connect));
  EXPECT_TRUE(life.provisioned_new());
  EXPECT_FALSE(life.using_stored());
  EXPECT_TRUE(is(life.connected(errc{}), credentials_step::done));
}

TEST(credentials_lifecycle, a_damaged_record_or_failed_store_stops) {
  credentials_lifecycle life{{true, 0}};
  EXPECT_TRUE(is(life.start(errc::malformed), credentials_step::fail, 0, errc::malformed));
  EXPECT_TRUE(is(life.start(errc::storage_error), credentials_step::fail, 0, errc::storage_error));
  EXPECT_TRUE(is(life.start(errc::not_found), credentials_step::provision));
  EXPECT_TRUE(is(life.provisioned(errc{}), credentials_step::store));
  EXPECT_TRUE(is(life.stored(errc::not_enough_space), credentials_step::fail, 0, errc::not_enough_space));
}

TEST(credentials_lifecycle, retries_follow_the_schedule_until_the_attempt_bound) {
  credentials_lifecycle life{{false, 4}};
  EXPECT_TRUE(is(life.start(errc::not_found), credentials_step::provision, 0));
  EXPECT_TRUE(is(life.provisioned(errc::provision_not_found), credentials_step::provision, 0));
  EXPECT_TRUE(is(life.provisioned(errc::unreachable), credentials_step::provision, 1000));
  EXPECT_TRUE(is(life.provisioned(errc::timeout), credentials_step::provision, 2000));
  EXPECT_EQ(life.attempts(), 3u);
  EXPECT_TRUE(is(life.provisioned(errc::provision_not_found), credentials_step::fail, 0, errc::provision_not_found));
  EXPECT_EQ(life.attempts(), 4u);
}

TEST(credentials_lifecycle, unbounded_retries_keep_the_cap) {
  credentials_lifecycle life{{}};
  (void)life.start(errc::not_found);
  credentials_action a;
  for (int i = 0; i < 40; ++i) a = life.provisioned(errc::unreachable);
  EXPECT_TRUE(is(a, credentials_step::provision, 128000));
  EXPECT_TRUE(is(life.provisioned(errc{}), credentials_step::store));
}

TEST(credentials_lifecycle, permanent_failures_and_cancel_are_not_retried) {
  for (errc e : {errc::provision_failed, errc::invalid_argument, errc::cancelled}) {
    credentials_lifecycle life{{}};
    (void)life.start(errc::not_found);
    EXPECT_TRUE(is(life.provisioned(e), credentials_step::fail, 0, e));
  }
}

TEST(credentials_lifecycle, refused_stored_credentials_are_a_typed_error_unless_reprovisioning_is_allowed) {
  for (errc refusal : {errc::refused_credentials, errc::identifier_rejected}) {
    credentials_lifecycle strict{{false, 0}};
    (void)strict.start(errc{});
    EXPECT_TRUE(is(strict.connected(refusal), credentials_step::fail, 0, errc::stored_credentials_refused));

    credentials_lifecycle lenient{{true, 3}};
    (void)lenient.start(errc{});
    EXPECT_TRUE(is(lenient.connected(refusal), credentials_step::provision, 0));
    EXPECT_TRUE(is(lenient.provisioned(errc::timeout), credentials_step::provision, 0));
    EXPECT_TRUE(is(lenient.provisioned(errc{}), credentials_step::store));
    EXPECT_TRUE(is(lenient.stored(errc{}), credentials_step::connect));
    // Credentials just provisioned and refused again: no loop.
    EXPECT_TRUE(is(lenient.connected(refusal), credentials_step::fail, 0, refusal));
  }
}

TEST(credentials_lifecycle, other_connect_failures_are_returned_as_they_are) {
  credentials_lifecycle life{{true, 0}};
  (void)life.start(errc{});
  EXPECT_TRUE(is(life.connected(errc::unreachable), credentials_step::fail, 0, errc::unreachable));
  (void)life.start(errc{});
  EXPECT_TRUE(is(life.connected(errc::timeout), credentials_step::fail, 0, errc::timeout));
}

TEST(credentials, fields_are_c_strings_for_esp_client_options) {
  ASSERT_TRUE(assign(record_a, basic("cid-long", "u", "")));
  EXPECT_STREQ(record_a.client_id.c_str(), "cid-long");
  EXPECT_STREQ(record_a.password.c_str(), "");
  // Read in place (the decoder writes into buffer(), then commits): still terminated.
  ASSERT_TRUE(tbmqtt::read_credentials(R"({"credentialsType":"MQTT_BASIC","clientId":"c"})", record_a));
  EXPECT_STREQ(record_a.client_id.c_str(), "c");
  static char full[TBMQTT_CREDENTIAL_FIELD_CAPACITY];
  std::memset(full, 'x', sizeof full);
  ASSERT_TRUE(assign(record_a, token(std::string_view{full, sizeof full})));
  EXPECT_EQ(std::strlen(record_a.token.c_str()), sizeof full);
}

// ---- the loop ---------------------------------------------------------------------------------

namespace {

// A platform whose round trips and connections answer from scripts; it records what the loop
// asked for, in order ("w<ms>" wait, "p" provision, "c<token>" connect, "r<attempt>" retry).
struct scripted_platform final : tbmqtt::credentials_platform {
  std::vector<errc> provisions;   // results of the round trips, in order (ok: grants "new")
  std::vector<errc> connections;  // results of the connections, in order
  errc wait_result{};
  int cancel_after_calls = -1;  // cancelled() turns true after this many calls
  std::string log;
  std::size_t p = 0, c = 0;
  int calls = 0;

  errc wait_before_provisioning(std::uint32_t delay_ms) noexcept override {
    ++calls;
    log += "w" + std::to_string(delay_ms) + " ";
    return wait_result;
  }
  errc provision(credentials& out) noexcept override {
    ++calls;
    log += "p ";
    const errc e = p < provisions.size() ? provisions[p++] : errc::timeout;
    if (e != errc{}) return e;
    return assign(out, token("new")).error();
  }
  errc connect(const credentials& creds) noexcept override {
    ++calls;
    log += "c" + std::string(creds.token.view()) + " ";
    return c < connections.size() ? connections[c++] : errc{};
  }
  void on_retry(std::uint32_t attempt, errc, std::uint32_t) noexcept override {
    log += "r" + std::to_string(attempt) + " ";
  }
  bool cancelled() const noexcept override { return cancel_after_calls >= 0 && calls >= cancel_after_calls; }
};

std::string stored_token(one_value_storage& store) {
  if (!tbmqtt::load_credentials(store, record_b, scratch)) return "(none)";
  return std::string(record_b.token.view());
}

}  // namespace

TEST(run_credentials_lifecycle, stored_credentials_connect_without_provisioning) {
  one_value_storage store;
  store.put_text(R"({"credentialsType":"ACCESS_TOKEN","token":"old"})");
  scripted_platform platform;
  credentials_lifecycle life{{}};
  EXPECT_TRUE(tbmqtt::run_credentials_lifecycle(life, store, record_a, scratch, platform));
  EXPECT_EQ(platform.log, "cold ");
  EXPECT_FALSE(life.provisioned_new());
}

TEST(run_credentials_lifecycle, provisions_with_the_retry_schedule_and_stores_before_connecting) {
  one_value_storage store;
  scripted_platform platform;
  platform.provisions = {errc::unreachable, errc::timeout, errc::provision_not_found, errc{}};
  credentials_lifecycle life{{false, 8}};
  EXPECT_TRUE(tbmqtt::run_credentials_lifecycle(life, store, record_a, scratch, platform));
  EXPECT_EQ(platform.log, "w0 p r1 w0 p r2 w1000 p r3 w2000 p cnew ");
  EXPECT_EQ(stored_token(store), "new");
  EXPECT_EQ(store.stores, 1);
  EXPECT_TRUE(life.provisioned_new());
  EXPECT_EQ(life.attempts(), 4u);
}

TEST(run_credentials_lifecycle, stops_at_the_attempt_bound_or_a_permanent_failure_storing_nothing) {
  for (auto [bound, results, last, log] :
       {std::make_tuple(2u, std::vector<errc>{errc::unreachable, errc::unreachable}, errc::unreachable,
                        "w0 p r1 w0 p "),
        std::make_tuple(0u, std::vector<errc>{errc::provision_failed}, errc::provision_failed, "w0 p ")}) {
    one_value_storage store;
    scripted_platform platform;
    platform.provisions = results;
    credentials_lifecycle life{{false, bound}};
    EXPECT_EQ(tbmqtt::run_credentials_lifecycle(life, store, record_a, scratch, platform).error(), last);
    EXPECT_EQ(platform.log, log);
    EXPECT_EQ(store.stores, 0);
  }
}

TEST(run_credentials_lifecycle, a_refused_stored_credential_is_kept_unless_reprovisioning_is_allowed) {
  one_value_storage store;
  store.put_text(R"({"credentialsType":"ACCESS_TOKEN","token":"old"})");
  scripted_platform strict;
  strict.connections = {errc::refused_credentials};
  credentials_lifecycle no{{false, 0}};
  EXPECT_EQ(tbmqtt::run_credentials_lifecycle(no, store, record_a, scratch, strict).error(),
            errc::stored_credentials_refused);
  EXPECT_EQ(strict.log, "cold ");
  EXPECT_EQ(stored_token(store), "old");

  scripted_platform lenient;
  lenient.connections = {errc::refused_credentials, errc{}};
  lenient.provisions = {errc{}};
  credentials_lifecycle yes{{true, 0}};
  EXPECT_TRUE(tbmqtt::run_credentials_lifecycle(yes, store, record_a, scratch, lenient));
  EXPECT_EQ(lenient.log, "cold w0 p cnew ");
  EXPECT_EQ(stored_token(store), "new");
}

TEST(run_credentials_lifecycle, cancel_wait_errors_and_damaged_records_stop_it) {
  one_value_storage store;
  scripted_platform cancelled;
  cancelled.provisions = {errc::unreachable, errc::unreachable};
  cancelled.cancel_after_calls = 4;  // during the second round trip
  credentials_lifecycle life{{}};
  EXPECT_EQ(tbmqtt::run_credentials_lifecycle(life, store, record_a, scratch, cancelled).error(), errc::cancelled);
  EXPECT_EQ(cancelled.log, "w0 p r1 w0 p r2 ");

  scripted_platform deadline;
  deadline.wait_result = errc::timeout;
  EXPECT_EQ(tbmqtt::run_credentials_lifecycle(life, store, record_a, scratch, deadline).error(), errc::timeout);
  EXPECT_EQ(deadline.log, "w0 ");

  store.put_text(R"({"credentialsType":"ACCESS_TOKEN"})");
  scripted_platform damaged;
  EXPECT_EQ(tbmqtt::run_credentials_lifecycle(life, store, record_a, scratch, damaged).error(), errc::malformed);
  EXPECT_EQ(damaged.log, "");

  store.fail_with = errc::storage_error;
  EXPECT_EQ(tbmqtt::run_credentials_lifecycle(life, store, record_a, scratch, damaged).error(), errc::storage_error);
}

TEST(run_credentials_lifecycle, a_failed_store_never_connects) {
  scripted_platform platform;
  platform.provisions = {errc{}};
  struct failing_store final : tbmqtt::storage {
    tbmqtt::result<std::size_t> load(std::string_view, tbmqtt::span<std::byte>) noexcept override {
      return errc::not_found;
    }
    tbmqtt::result<void> store(std::string_view, tbmqtt::span<const std::byte>) noexcept override {
      return errc::not_enough_space;
    }
    tbmqtt::result<void> erase(std::string_view) noexcept override { return {}; }
  } full;
  credentials_lifecycle life{{}};
  EXPECT_EQ(tbmqtt::run_credentials_lifecycle(life, full, record_a, scratch, platform).error(), errc::not_enough_space);
  EXPECT_EQ(platform.log, "w0 p ");
}
