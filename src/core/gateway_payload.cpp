// tbmqtt — the gateway payload builders (tbmqtt/gateway.hpp): igateway_telemetry,
// igateway_attributes and write_single_attribute. Pure functions of their inputs; no session.
#include "tbmqtt/gateway.hpp"

namespace tbmqtt {

// ---- builders -----------------------------------------------------------------------------------

void igateway_telemetry::clear() noexcept {
  writer_.reset();
  writer_.begin_object();
  finished_ = device_open_ = device_empty_ = entry_open_ = entry_has_ts_ = bad_ = false;
  devices_ = 0;
}

igateway_telemetry& igateway_telemetry::device(std::string_view name) noexcept {
  close_device();
  writer_.key(name).begin_array();
  device_open_ = true;
  device_empty_ = true;
  ++devices_;
  return *this;
}

void igateway_telemetry::open_entry() noexcept {
  if (!device_open_) bad_ = true;
  if (entry_open_) return;
  writer_.begin_object();
  entry_open_ = true;
  entry_has_ts_ = false;
  device_empty_ = false;
}

void igateway_telemetry::close_entry() noexcept {
  if (!entry_open_) return;
  if (entry_has_ts_) writer_.end_object();
  writer_.end_object();
  entry_open_ = false;
}

void igateway_telemetry::close_device() noexcept {
  if (!device_open_) return;
  close_entry();
  if (device_empty_) bad_ = true;
  writer_.end_array();
  device_open_ = false;
}

igateway_telemetry& igateway_telemetry::at(std::uint64_t ts_ms) noexcept {
  close_entry();
  open_entry();
  writer_.key("ts").value(ts_ms).key("values").begin_object();
  entry_has_ts_ = true;
  return *this;
}

igateway_telemetry& igateway_telemetry::add_json(std::string_view key, std::string_view json_text) noexcept {
  open_entry();
  writer_.key(key).raw(json_text);
  return *this;
}

result<std::string_view> igateway_telemetry::finish() noexcept {
  if (!finished_) {
    close_device();
    writer_.end_object();  // the root is complete: any later add() makes the writer fail
    finished_ = true;
  }
  auto text = writer_.finish();
  if (!text) return text.error();
  if (bad_ || devices_ == 0) return errc::invalid_argument;
  return text;
}

void igateway_attributes::clear() noexcept {
  writer_.reset();
  writer_.begin_object();
  finished_ = device_open_ = device_empty_ = bad_ = false;
  devices_ = 0;
}

igateway_attributes& igateway_attributes::device(std::string_view name) noexcept {
  if (device_open_) {
    bad_ = bad_ || device_empty_;
    writer_.end_object();
  }
  writer_.key(name).begin_object();
  device_open_ = true;
  device_empty_ = true;
  ++devices_;
  return *this;
}

void igateway_attributes::check_device() noexcept {
  if (!device_open_) bad_ = true;
}

igateway_attributes& igateway_attributes::add_json(std::string_view key, std::string_view json_text) noexcept {
  check_device();
  writer_.key(key).raw(json_text);
  device_empty_ = false;
  return *this;
}

result<std::string_view> igateway_attributes::finish() noexcept {
  if (!finished_) {
    if (device_open_) {
      bad_ = bad_ || device_empty_;
      writer_.end_object();
      device_open_ = false;
    }
    writer_.end_object();
    finished_ = true;
  }
  auto text = writer_.finish();
  if (!text) return text.error();
  if (bad_ || devices_ == 0) return errc::invalid_argument;
  return text;
}

// ---- attribute answers ---------------------------------------------------------------------------

result<std::string_view> write_single_attribute(span<char> out, std::string_view key, json::value value) noexcept {
  if (!value.present()) return errc::invalid_argument;
  json::writer w{out};
  w.begin_object().key(key).raw_trusted(value.raw()).end_object();
  auto text = w.finish();
  if (!text) return text.error() == errc::not_enough_space ? errc::not_enough_space : errc::invalid_argument;
  return *text;
}

}  // namespace tbmqtt
