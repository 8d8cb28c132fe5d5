#include "tbmqtt/credentials_lifecycle.hpp"

#include "credential_text.hpp"
#include "tbmqtt/json.hpp"

namespace tbmqtt {
namespace {

using type = provision_credentials_type;

constexpr std::string_view access_token_name = "ACCESS_TOKEN";
constexpr std::string_view mqtt_basic_name = "MQTT_BASIC";
constexpr std::string_view x509_name = "X509_CERTIFICATE";

// Reads member `key` of `doc` (a string, or missing/null = empty) into `field`, unescaped.
template <std::size_t N>
errc read_field(const json::value& doc, std::string_view key, detail::fixed_text<N>& field) noexcept {
  return detail::read_text(doc[key], field, true);
}

}  // namespace

result<std::string_view> write_credentials(span<char> out, const credentials& r) noexcept {
  json::writer w{out};
  w.begin_object().key("credentialsType");
  switch (r.type) {
    case type::mqtt_basic:
      w.value(mqtt_basic_name).key("clientId").value(r.client_id.view());
      w.key("username").value(r.username.view()).key("password").value(r.password.view());
      break;
    case type::x509: w.value(x509_name).key("certificate").value(r.certificate.view()); break;
    default: w.value(access_token_name).key("token").value(r.token.view()); break;
  }
  w.end_object();
  return w.finish();
}

result<void> read_credentials(std::string_view json_text, credentials& out) noexcept {
  auto doc = json::value::parse(json_text);
  if (!doc || !doc->is_object()) return errc::malformed;
  auto name = (*doc)["credentialsType"].as_string();
  if (!name) return errc::malformed;
  if (*name == access_token_name)
    out.type = type::access_token;
  else if (*name == mqtt_basic_name)
    out.type = type::mqtt_basic;
  else if (*name == x509_name)
    out.type = type::x509;
  else
    return errc::malformed;
  for (errc e : {read_field(*doc, "token", out.token), read_field(*doc, "clientId", out.client_id),
                 read_field(*doc, "username", out.username), read_field(*doc, "password", out.password),
                 read_field(*doc, "certificate", out.certificate)})
    if (e != errc{}) return e;
  if (!out.complete()) return errc::malformed;
  return {};
}

result<void> store_credentials(storage& store, const credentials& record, span<char> scratch) noexcept {
  auto text = write_credentials(scratch, record);
  if (!text) return text.error();
  return store.store(credentials_storage_key,
                     span<const std::byte>{reinterpret_cast<const std::byte*>(text->data()), text->size()});
}

result<void> load_credentials(storage& store, credentials& out, span<char> scratch) noexcept {
  auto size = store.load(credentials_storage_key,
                         span<std::byte>{reinterpret_cast<std::byte*>(scratch.data()), scratch.size()});
  if (!size) return size.error();
  return read_credentials(std::string_view{scratch.data(), *size}, out);
}

std::uint32_t provision_retry_delay_ms(std::uint32_t retry) noexcept {
  if (retry == 0) return 0;
  // 1 s << 7 is the cap; checking the shift first keeps it from overflowing.
  if (retry - 1 >= 7) return provision_retry_cap_ms;
  return 1000u << (retry - 1);
}

bool provision_retryable(errc e) noexcept {
  switch (e) {
    case errc::invalid_argument:
    case errc::not_enough_space:
    case errc::provision_failed:
    case errc::cancelled: return false;
    default: return e != errc{};
  }
}

credentials_action credentials_lifecycle::provision_after(std::uint32_t delay_ms) noexcept {
  return {credentials_step::provision, delay_ms, errc{}};
}

credentials_action credentials_lifecycle::start(errc load_result) noexcept {
  attempts_ = 0;
  provisioned_new_ = false;
  using_stored_ = load_result == errc{};
  if (using_stored_) return {credentials_step::connect, 0, errc{}};
  if (load_result == errc::not_found) return provision_after(0);
  return {credentials_step::fail, 0, load_result};
}

credentials_action credentials_lifecycle::provisioned(errc result) noexcept {
  ++attempts_;
  if (result == errc{}) return {credentials_step::store, 0, errc{}};
  const bool attempts_left = policy_.max_attempts == 0 || attempts_ < policy_.max_attempts;
  if (attempts_left && provision_retryable(result)) return provision_after(provision_retry_delay_ms(attempts_ - 1));
  return {credentials_step::fail, 0, result};
}

credentials_action credentials_lifecycle::stored(errc result) noexcept {
  if (result != errc{}) return {credentials_step::fail, 0, result};
  using_stored_ = false;
  provisioned_new_ = true;
  return {credentials_step::connect, 0, errc{}};
}

credentials_action credentials_lifecycle::connected(errc result) noexcept {
  if (result == errc{}) return {credentials_step::done, 0, errc{}};
  const bool refused = result == errc::refused_credentials || result == errc::identifier_rejected;
  if (!refused || !using_stored_) return {credentials_step::fail, 0, result};
  if (!policy_.allow_reprovision) return {credentials_step::fail, 0, errc::stored_credentials_refused};
  attempts_ = 0;
  return provision_after(0);
}

result<void> run_credentials_lifecycle(credentials_lifecycle& life, storage& store, credentials& record,
                                       span<char> scratch, credentials_platform& platform) noexcept {
  credentials_action step = life.start(load_credentials(store, record, scratch).error());
  for (;;) {
    if (step.next == credentials_step::done) return {};
    if (step.next == credentials_step::fail) return step.error;
    if (platform.cancelled()) return errc::cancelled;
    switch (step.next) {
      case credentials_step::provision: {
        if (const errc e = platform.wait_before_provisioning(step.delay_ms); e != errc{}) return e;
        const errc e = platform.provision(record);
        step = life.provisioned(e);
        if (step.next == credentials_step::provision) platform.on_retry(life.attempts(), e, step.delay_ms);
        break;
      }
      case credentials_step::store: step = life.stored(store_credentials(store, record, scratch).error()); break;
      case credentials_step::connect: step = life.connected(platform.connect(record)); break;
      default:  // done, fail: handled above
        break;
    }
  }
}

}  // namespace tbmqtt
