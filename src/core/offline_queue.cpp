#include "tbmqtt/offline_queue.hpp"

#include <cstring>

#include "tbmqtt/checksum.hpp"
#include "tbmqtt/json.hpp"

namespace tbmqtt {
namespace {

constexpr std::byte record_magic{'T'};
constexpr std::uint8_t type_telemetry = 1;
constexpr std::uint8_t type_attributes = 2;
constexpr std::uint8_t type_watermark = 0x10;
constexpr std::uint8_t type_start = 0x20;
constexpr std::size_t crc_offset = 16;

void put_u32(std::byte* out, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::byte>(v >> (8 * i));
}
void put_u64(std::byte* out, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::byte>(v >> (8 * i));
}
std::uint32_t get_u32(const std::byte* in) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(in[i]) << (8 * i);
  return v;
}
std::uint64_t get_u64(const std::byte* in) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(in[i]) << (8 * i);
  return v;
}

// CRC-32 of the header's first 16 bytes and the payload that follows the header.
std::uint32_t record_crc(span<const std::byte> record) noexcept {
  crc32_hasher crc;
  crc.update(record.first(crc_offset));
  crc.update(record.subspan(ioffline_queue::header_size));
  std::byte digest[4];
  (void)crc.finish(digest);
  return get_u32(digest);
}

bool known_type(std::uint8_t t) noexcept {
  return t == type_telemetry || t == type_attributes || t == type_watermark || t == type_start;
}
bool is_data(std::uint8_t t) noexcept { return t == type_telemetry || t == type_attributes; }

errc medium_error(errc e) noexcept { return e == errc::not_enough_space ? e : errc::storage_error; }

}  // namespace

// What a scan of the log has seen so far; the same rules in both passes of open().
struct ioffline_queue::scan_state {
  std::uint64_t floor = 0;      // highest segment start seen
  std::uint64_t last_data = 0;  // highest data sequence seen
  std::uint64_t next = 0;       // the next sequence number to give
  std::uint64_t watermark = 0;
  bool any_data = false;
};

ioffline_queue::ioffline_queue(segment_store& store, span<entry> window, span<std::byte> buffer,
                               offline_queue_config config) noexcept
    : store_(store), window_(window), buffer_(buffer), config_(config) {
  TBMQTT_EXPECTS(buffer_.size() > header_size);
  TBMQTT_EXPECTS(window_.size() > 0);
}

result<ioffline_queue::record_info> ioffline_queue::read_record(std::uint32_t segment, std::uint32_t offset) noexcept {
  auto got = store_.read(segment, offset, buffer_.first(header_size));
  if (!got) return got.error() == errc::not_found ? errc::not_found : errc::storage_error;
  if (*got == 0) return errc::not_found;  // the clean end of the segment
  const std::byte* h = buffer_.data();
  record_info r;
  r.type = static_cast<std::uint8_t>(h[1]);
  r.size = get_u32(h + 4);
  r.sequence = get_u64(h + 8);
  if (*got < header_size || h[0] != record_magic || !known_type(r.type) || h[2] != std::byte{0} ||
      h[3] != std::byte{0} || r.size > buffer_.size() - header_size || (!is_data(r.type) && r.size != 0))
    return errc::malformed;  // torn or not a record: nothing after it can be trusted
  if (r.size > 0) {
    auto body = store_.read(segment, offset + static_cast<std::uint32_t>(header_size),
                            buffer_.subspan(header_size).first(r.size));
    if (!body) return errc::storage_error;
    if (*body < r.size) return errc::malformed;  // torn inside the payload
  }
  r.damaged = record_crc(buffer_.first(header_size + r.size)) != get_u32(h + crc_offset);
  return r;
}

template <typename OnData>
result<void> ioffline_queue::scan_segment(std::uint32_t segment, scan_state& state, OnData on_data) noexcept {
  auto start = read_record(segment, 0);
  if (!start) {
    if (start.error() == errc::storage_error) return errc::storage_error;
    if (start.error() == errc::malformed) ++corrupt_;
    return {};  // empty (created, then the power went) or not a log segment
  }
  // A segment must begin with its start record, numbered at or above every earlier one (a
  // recycled segment whose new start record never reached the medium holds old records).
  if (start->damaged || start->type != type_start || start->sequence < state.floor ||
      (state.any_data && start->sequence <= state.last_data)) {
    ++corrupt_;
    return {};
  }
  state.floor = start->sequence;
  if (state.next < start->sequence) state.next = start->sequence;
  std::uint32_t offset = static_cast<std::uint32_t>(header_size);
  for (;;) {
    auto r = read_record(segment, offset);
    if (!r) {
      if (r.error() == errc::storage_error) return errc::storage_error;
      if (r.error() == errc::malformed) ++corrupt_;
      return {};
    }
    // Stale records (left in a recycled segment) have lower numbers: the tail ends there.
    const bool stale =
        r->type == type_start ||
        (is_data(r->type) && (r->sequence < state.floor || (state.any_data && r->sequence <= state.last_data))) ||
        (r->type == type_watermark && r->sequence > state.next);
    if (r->damaged || stale) {
      ++corrupt_;
      return {};
    }
    if (r->type == type_watermark) {
      if (state.watermark < r->sequence) state.watermark = r->sequence;
    } else {
      state.last_data = r->sequence;
      state.any_data = true;
      if (state.next < r->sequence + 1) state.next = r->sequence + 1;
      on_data(*r, offset);
    }
    offset += static_cast<std::uint32_t>(header_size + r->size);
  }
}

result<void> ioffline_queue::append(std::uint8_t type, std::uint64_t sequence, std::size_t payload_size) noexcept {
  std::byte* h = buffer_.data();
  h[0] = record_magic;
  h[1] = std::byte{type};
  h[2] = std::byte{0};
  h[3] = std::byte{0};
  put_u32(h + 4, static_cast<std::uint32_t>(payload_size));
  put_u64(h + 8, sequence);
  const auto record = buffer_.first(header_size + payload_size);
  put_u32(h + crc_offset, record_crc(record));
  if (auto w = store_.write(active_segment_, append_offset_, record); !w) return medium_error(w.error());
  append_offset_ += static_cast<std::uint32_t>(record.size());
  return {};
}

result<void> ioffline_queue::start_segment(std::uint32_t segment) noexcept {
  if (auto c = store_.create(segment); !c) return medium_error(c.error());
  active_segment_ = segment;
  append_offset_ = 0;
  committed_offset_ = 0;
  return append(type_start, next_sequence_, 0);
}

result<std::size_t> ioffline_queue::open() noexcept {
  open_ = false;
  window_count_ = count_ = bytes_ = pending_ = 0;
  pending_timed_ = false;
  handed_ = {};
  // Pass 1: the watermark and the sequence numbers. Pass 2: the messages at or above the watermark.
  scan_state first_pass;
  bool any_segment = false;
  std::uint32_t last_segment = 0;
  std::uint32_t first_segment = 0;
  for (auto seg = store_.find(0); seg; seg = store_.find(*seg + 1)) {
    if (!any_segment) first_segment = *seg;
    any_segment = true;
    last_segment = *seg;
    if (auto scanned = scan_segment(*seg, first_pass, [](const record_info&, std::uint32_t) {}); !scanned)
      return scanned.error();
    if (*seg == 0xFFFFFFFFu) break;
  }
  // (find() ending with anything but not_found is a medium failure)
  if (auto probe = store_.find(any_segment ? last_segment + 1 : 0); !probe && probe.error() != errc::not_found)
    return errc::storage_error;
  watermark_ = first_pass.watermark;
  next_sequence_ = first_pass.next;
  const std::uint32_t corrupt_seen = corrupt_;
  bool head_found = false;
  scan_state second_pass;
  // Segments after the head without a live message (e.g. runs that stored nothing): removed once
  // the new segment holds the sequence floor and the watermark. A few per open() is enough.
  std::uint32_t empty_segments[8];
  std::size_t empty_count = 0;
  for (auto seg = store_.find(first_segment); any_segment && seg; seg = store_.find(*seg + 1)) {
    const std::uint32_t segment = *seg;
    std::size_t live_here = 0;
    auto live = [&](const record_info& r, std::uint32_t offset) {
      if (r.sequence < watermark_) return;
      if (!head_found) {
        cursor_segment_ = segment;
        cursor_offset_ = offset;
        cursor_floor_ = second_pass.floor;
        cursor_any_ = false;
        head_found = true;
      }
      ++live_here;
      ++count_;
      bytes_ += r.size;
    };
    if (auto scanned = scan_segment(segment, second_pass, live); !scanned) return scanned.error();
    if (head_found && live_here == 0 && empty_count < 8) empty_segments[empty_count++] = segment;
    if (*seg == last_segment) break;
  }
  corrupt_ = corrupt_seen;  // the second pass saw the same damage again
  // This run writes a new segment: whatever tail the last one has stays behind its tear.
  first_segment_ = any_segment ? first_segment : 1;
  TBMQTT_TRY(start_segment(any_segment ? last_segment + 1 : 1));
  written_watermark_ = 0;
  if (watermark_ > 0) TBMQTT_TRY(append(type_watermark, watermark_, 0));
  written_watermark_ = watermark_;
  if (auto s = store_.sync(active_segment_); !s) return medium_error(s.error());
  committed_offset_ = append_offset_;
  if (!head_found) {
    cursor_segment_ = active_segment_;
    cursor_offset_ = append_offset_;
    cursor_floor_ = next_sequence_;
    cursor_any_ = false;
  }
  open_ = true;
  remove_segments_before(cursor_segment_);  // nothing left to send in them
  for (std::size_t i = 0; i < empty_count; ++i)
    if (!store_.remove(empty_segments[i])) ++erase_failures_;
  return count_;
}

void ioffline_queue::write_watermark() noexcept {
  if (watermark_ == written_watermark_) return;
  if (append(type_watermark, watermark_, 0))
    written_watermark_ = watermark_;
  else
    ++erase_failures_;
}

result<void> ioffline_queue::commit() noexcept {
  write_watermark();
  if (committed_offset_ != append_offset_) {
    if (auto s = store_.sync(active_segment_); !s) return medium_error(s.error());
    ++commits_;
  }
  committed_offset_ = append_offset_;
  pending_ = 0;
  pending_timed_ = false;
  return {};
}

result<void> ioffline_queue::sync() noexcept {
  if (!open_) return errc::not_open;
  return commit();
}

void ioffline_queue::tick(std::uint32_t now_ms) noexcept {
  last_now_ms_ = now_ms;
  if (!open_) return;
  if (pending_ > 0) {
    if (!pending_timed_) {
      pending_timed_ = true;
      pending_since_ms_ = now_ms;
    }
    if (time_reached(now_ms, pending_since_ms_ + config_.commit_interval_ms)) (void)commit();
  } else {
    write_watermark();  // no sync: a lost watermark only means a message sent twice
  }
}

void ioffline_queue::remove_segments_before(std::uint32_t segment) noexcept {
  if (first_segment_ >= segment) return;
  write_watermark();  // the records those segments held are done: say so before they go
  for (std::uint32_t s = first_segment_; s != segment && s != active_segment_; ++s)
    if (!store_.remove(s)) ++erase_failures_;
  first_segment_ = segment;
}

void ioffline_queue::retire_done() noexcept {
  std::size_t k = 0;
  while (k < window_count_ && window_[k].done) watermark_ = window_[k++].sequence + 1;
  if (k == 0) return;
  for (std::size_t i = k; i < window_count_; ++i) window_[i - k] = window_[i];
  window_count_ -= k;
  write_watermark();  // no sync: after a crash before it reaches the medium, a message goes twice
  remove_segments_before(window_count_ > 0 ? window_[0].segment : cursor_segment_);
}

bool ioffline_queue::next_record(record_info& out, bool committed_only) noexcept {
  for (;;) {
    const bool active = cursor_segment_ == active_segment_;
    if (active && cursor_offset_ >= (committed_only ? committed_offset_ : append_offset_)) return false;
    auto r = read_record(cursor_segment_, cursor_offset_);
    if (!r && (active || r.error() == errc::storage_error)) {
      if (r.error() == errc::malformed) ++corrupt_;
      return false;
    }
    // A recovered segment ends where open() stopped scanning it: the same rules (see scan_segment).
    bool end = !r;
    if (r && !active) {
      const bool start = r->type == type_start;
      end = r->damaged ||
            (start &&
             (cursor_offset_ != 0 || r->sequence < cursor_floor_ || (cursor_any_ && r->sequence <= cursor_last_))) ||
            (is_data(r->type) && (r->sequence < cursor_floor_ || (cursor_any_ && r->sequence <= cursor_last_))) ||
            (r->type == type_watermark && r->sequence > next_sequence_);
      if (!end && start) cursor_floor_ = r->sequence;
    }
    if (end) {
      auto next = store_.find(cursor_segment_ + 1);  // the end (or torn tail) of an older segment
      if (!next) return false;
      cursor_segment_ = *next;
      cursor_offset_ = 0;
      continue;
    }
    if (is_data(r->type)) {
      cursor_last_ = r->sequence;
      cursor_any_ = true;
    }
    if (!is_data(r->type) || r->sequence < watermark_) {
      advance_cursor(*r);
      continue;
    }
    out = *r;
    return true;
  }
}

void ioffline_queue::advance_cursor(const record_info& r) noexcept {
  cursor_offset_ += static_cast<std::uint32_t>(header_size + r.size);
}

void ioffline_queue::finish(entry& e, errc outcome, drop_hook on_dropped) noexcept {
  e.done = true;
  --count_;
  bytes_ -= e.size;
  if (outcome == errc::queue_full) ++dropped_;
  if (on_dropped) on_dropped(e.sequence, outcome);
}

// drop_oldest: drops the oldest messages that were never handed to the transport (a message in
// flight may still arrive: it is never dropped). A drop behind messages in flight is kept in the
// window as a done entry, so that the watermark passes it only when they are done.
result<void> ioffline_queue::make_room(std::size_t size, drop_hook on_dropped) noexcept {
  auto fits = [&] { return count_ < config_.max_messages && bytes_ + size <= config_.max_bytes; };
  if (fits()) return {};
  if (config_.when_full == queue_full_policy::refuse) return errc::queue_full;
  handed_.valid = false;  // the cursor moves: retrieve() again
  retire_done();
  while (!fits() && has_unsent()) {
    record_info r;  // the oldest message not sent is at the send cursor
    if (window_count_ >= window_.size() || !next_record(r, false)) break;
    entry e;
    e.sequence = r.sequence;
    e.segment = cursor_segment_;
    e.offset = cursor_offset_;
    e.size = r.size;
    advance_cursor(r);
    if (window_count_ == 0) {
      finish(e, errc::queue_full, on_dropped);
      watermark_ = r.sequence + 1;
      remove_segments_before(cursor_segment_);
    } else {
      window_[window_count_] = e;
      finish(window_[window_count_++], errc::queue_full, on_dropped);
      retire_done();
    }
  }
  return fits() ? result<void>{} : result<void>{errc::queue_full};
}

result<std::uint64_t> ioffline_queue::push(stored_topic topic, std::string_view payload, drop_hook on_dropped,
                                           std::uint64_t capture_epoch_ms) noexcept {
  if (!open_) return errc::not_open;
  if (capture_epoch_ms == as_is)
    capture_epoch_ms = 0;
  else if (capture_epoch_ms == 0 && config_.epoch_ms != nullptr && topic == stored_topic::telemetry)
    capture_epoch_ms = config_.epoch_ms();
  const std::size_t room = buffer_.size() - header_size;
  // The payload as stored (stamped with its capture time when it has none) after the header.
  auto build = [&]() -> result<std::size_t> {
    if (topic == stored_topic::telemetry && capture_epoch_ms != 0) {
      auto stamped =
          stamp_telemetry(payload, capture_epoch_ms, {reinterpret_cast<char*>(buffer_.data() + header_size), room});
      if (stamped) return *stamped;
      if (stamped.error() == errc::not_enough_space) return errc::payload_too_large;
    }
    if (payload.size() > room) return errc::payload_too_large;
    if (!payload.empty()) std::memcpy(buffer_.data() + header_size, payload.data(), payload.size());
    return payload.size();
  };
  auto size = build();
  if (!size) return size.error();
  if (*size > config_.max_bytes) return errc::payload_too_large;
  if (count_ >= config_.max_messages || bytes_ + *size > config_.max_bytes) {
    TBMQTT_TRY(make_room(*size, on_dropped));  // reads records into buffer_: build again
    size = build();
    if (!size) return size.error();
  }
  if (append_offset_ + header_size + *size > config_.segment_bytes && append_offset_ > header_size * 2) {
    TBMQTT_TRY(commit());  // an older segment is always wholly committed
    TBMQTT_TRY(start_segment(active_segment_ + 1));
    written_watermark_ = 0;
    write_watermark();
  }
  TBMQTT_TRY(append(topic == stored_topic::telemetry ? type_telemetry : type_attributes, next_sequence_, *size));
  const std::uint64_t sequence = next_sequence_++;
  ++count_;
  bytes_ += *size;
  if (pending_++ == 0) {
    pending_timed_ = true;
    pending_since_ms_ = last_now_ms_;
  }
  if (pending_ >= config_.commit_records) TBMQTT_TRY(commit());
  return sequence;
}

std::size_t ioffline_queue::in_flight() const noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < window_count_; ++i) n += window_[i].done ? 0 : 1;
  return n;
}

bool ioffline_queue::has_unsent() const noexcept { return count_ > in_flight(); }

void ioffline_queue::on_connected(std::uint32_t now_ms) noexcept {
  ++connection_;
  last_now_ms_ = now_ms;
  for (std::size_t i = 0; i < window_count_; ++i)
    if (!window_[i].done) window_[i].resend_at_ms = now_ms + config_.resend_after_ms;
}

bool ioffline_queue::retrieve(std::uint32_t now_ms, stored_message& out, drop_hook on_dropped) noexcept {
  handed_.valid = false;
  if (!open_) return false;
  last_now_ms_ = now_ms;
  const std::size_t window_limit = config_.max_in_flight < window_.size() ? config_.max_in_flight : window_.size();
  std::size_t flying = 0;
  // In flight on an earlier connection: left to the transport for a while, then sent again.
  for (std::size_t i = 0; i < window_count_; ++i) {
    entry& e = window_[i];
    if (e.done) continue;
    if (e.connection != connection_) {
      if (!time_reached(now_ms, e.resend_at_ms)) return false;  // nothing newer may overtake it
      auto r = read_record(e.segment, e.offset);
      if (!r || r->damaged || r->sequence != e.sequence) {
        if (!r && r.error() == errc::storage_error) return false;
        ++corrupt_;
        finish(e, errc::malformed, on_dropped);
        continue;
      }
      out = {e.sequence, e.topic, as_text(buffer_.subspan(header_size).first(r->size)), true};
      handed_.valid = true;
      handed_.resend = true;
      handed_.index = i;
      handed_.sequence = e.sequence;
      return true;
    }
    ++flying;
  }
  retire_done();
  while (flying < window_limit && window_count_ < window_.size()) {
    const std::uint64_t floor_before = cursor_floor_, last_before = cursor_last_;
    const bool any_before = cursor_any_;
    record_info r;
    if (!next_record(r, true)) return false;
    if (r.damaged) {  // it cannot be sent as stored: drop it rather than block every later one
      entry& e = window_[window_count_++];
      e = entry{};
      e.sequence = r.sequence;
      e.segment = cursor_segment_;
      e.offset = cursor_offset_;
      e.size = r.size;
      advance_cursor(r);
      ++corrupt_;
      finish(e, errc::malformed, on_dropped);
      retire_done();
      continue;
    }
    // Handed out, not taken yet: the cursor stays on it until mark_in_flight().
    handed_.valid = true;
    handed_.resend = false;
    handed_.sequence = r.sequence;
    handed_.record = r;
    handed_.floor = cursor_floor_;
    handed_.last = cursor_last_;
    handed_.any = cursor_any_;
    cursor_floor_ = floor_before;
    cursor_last_ = last_before;
    cursor_any_ = any_before;
    out = {r.sequence, r.type == type_attributes ? stored_topic::attributes : stored_topic::telemetry,
           as_text(buffer_.subspan(header_size).first(r.size)), false};
    return true;
  }
  return false;
}

void ioffline_queue::mark_in_flight(std::uint64_t sequence, message_id packet_id) noexcept {
  if (!handed_.valid || handed_.sequence != sequence) return;
  handed_.valid = false;
  if (handed_.resend) {
    entry& e = window_[handed_.index];
    e.packet_id = packet_id;
    e.connection = connection_;
    return;
  }
  entry& e = window_[window_count_++];
  e = entry{};
  e.sequence = handed_.record.sequence;
  e.segment = cursor_segment_;
  e.offset = cursor_offset_;
  e.size = handed_.record.size;
  e.topic = handed_.record.type == type_attributes ? stored_topic::attributes : stored_topic::telemetry;
  e.connection = connection_;
  e.packet_id = packet_id;
  cursor_floor_ = handed_.floor;
  cursor_last_ = handed_.last;
  cursor_any_ = handed_.any;
  advance_cursor(handed_.record);
}

void ioffline_queue::give_up(std::uint64_t sequence, errc e, drop_hook on_dropped) noexcept {
  if (!handed_.valid || handed_.sequence != sequence) return;
  mark_in_flight(sequence, 0);  // into the window (it keeps its place for the watermark) ...
  for (std::size_t i = 0; i < window_count_; ++i)
    if (!window_[i].done && window_[i].sequence == sequence) finish(window_[i], e, on_dropped);  // ... done
  retire_done();
}

result<std::uint64_t> ioffline_queue::erase(message_id packet_id) noexcept {
  for (std::size_t i = 0; i < window_count_; ++i) {
    entry& e = window_[i];
    if (e.done || e.packet_id != packet_id) continue;
    const std::uint64_t sequence = e.sequence;
    if (handed_.resend) handed_.valid = false;  // the window moves: its index is stale
    finish(e, errc{}, {});
    retire_done();
    return sequence;
  }
  return errc::not_found;
}

// ---- time stamps ----------------------------------------------------------------------------

result<std::size_t> stamp_telemetry(std::string_view json_text, std::uint64_t epoch_ms, span<char> out) noexcept {
  auto doc = json::value::parse(json_text);
  if (!doc) return errc::invalid_argument;
  std::size_t used = 0;
  bool room = true;
  auto put = [&](std::string_view s) {
    if (!room || s.size() > out.size() - used) {
      room = false;
      return;
    }
    std::memcpy(out.data() + used, s.data(), s.size());
    used += s.size();
  };
  char digits[24];
  std::size_t n = 0;
  std::uint64_t v = epoch_ms;
  do {
    digits[sizeof digits - 1 - n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  const std::string_view ts{digits + sizeof digits - n, n};
  auto put_value = [&](const json::value& value) {
    if (value.is_object() && !(value["ts"].present() && value["values"].present())) {
      put("{\"ts\":");
      put(ts);
      put(",\"values\":");
      put(value.raw());
      put("}");
    } else {
      put(value.raw());
    }
  };
  if (doc->is_array()) {
    put("[");
    bool first = true;
    for (json::value element : doc->elements()) {
      if (!first) put(",");
      first = false;
      put_value(element);
    }
    put("]");
  } else {
    put_value(*doc);
  }
  if (!room) return errc::not_enough_space;
  return used;
}

}  // namespace tbmqtt
