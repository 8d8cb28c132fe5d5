#include "tbmqtt/payload.hpp"
#include "tbmqtt/detail/slice.hpp"

namespace tbmqtt {

// The telemetry writer always emits an array of entry objects; finish() returns the single
// entry without the brackets when there is only one, so the common case stays a plain object.
void itelemetry::clear() noexcept {
  writer_.reset();
  writer_.begin_array();
  entries_ = 0;
  finished_ = false;
  entry_open_ = false;
  entry_has_ts_ = false;
}

void itelemetry::open_entry() noexcept {
  if (entry_open_) return;
  writer_.begin_object();
  entry_open_ = true;
  entry_has_ts_ = false;
  ++entries_;
}

void itelemetry::close_entry() noexcept {
  if (!entry_open_) return;
  if (entry_has_ts_) writer_.end_object();
  writer_.end_object();
  entry_open_ = false;
}

itelemetry& itelemetry::at(std::uint64_t ts_ms) noexcept {
  close_entry();
  open_entry();
  writer_.key("ts").value(ts_ms).key("values").begin_object();
  entry_has_ts_ = true;
  return *this;
}

itelemetry& itelemetry::add_json(std::string_view key, std::string_view json_text) noexcept {
  open_entry();
  writer_.key(key).raw(json_text);
  return *this;
}

result<std::string_view> itelemetry::finish() noexcept {
  if (entries_ == 0) return errc::invalid_argument;
  if (!finished_) {
    close_entry();
    writer_.end_array();  // the root is complete: any later add() makes the writer fail
    finished_ = true;
  }
  auto text = writer_.finish();
  if (!text) return text.error();
  if (entries_ == 1) return detail::slice(*text, 1, text->size() - 2);
  return *text;
}

iattributes& iattributes::add_json(std::string_view key, std::string_view json_text) noexcept {
  writer_.key(key).raw(json_text);
  return *this;
}

void iattributes::clear() noexcept {
  writer_.reset();
  writer_.begin_object();
  empty_size_ = writer_.size();
  finished_ = false;
}

result<std::string_view> iattributes::finish() noexcept {
  if (writer_.size() == empty_size_ && writer_.error() == errc{}) return errc::invalid_argument;
  if (!finished_) {
    writer_.end_object();
    finished_ = true;
  }
  return writer_.finish();
}

}  // namespace tbmqtt
