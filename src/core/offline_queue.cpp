#include "tbmqtt/offline_queue.hpp"

#include <cstring>

#include "tbmqtt/checksum.hpp"

namespace tbmqtt {
namespace {

constexpr std::byte record_magic{'Q'};
constexpr std::byte record_version{1};
constexpr std::size_t max_prefix = 10;

void put_u32(std::byte* out, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::byte>(v >> (8 * i));
}

std::uint32_t get_u32(const std::byte* in) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(in[i]) << (8 * i);
  return v;
}

std::uint32_t crc_of(span<const std::byte> data) noexcept {
  crc32_hasher crc;
  crc.update(data);
  std::byte digest[4];
  (void)crc.finish(digest);
  return get_u32(digest);
}

// Sequence numbers wrap; every live one lies within 2^31 of the others.
bool older(std::uint32_t a, std::uint32_t b) noexcept { return static_cast<std::int32_t>(a - b) < 0; }

message_id ticket_of(std::uint32_t sequence) noexcept { return static_cast<message_id>(sequence); }

bool valid_topic(std::byte b) noexcept {
  return b == std::byte{static_cast<std::uint8_t>(stored_topic::telemetry)} ||
         b == std::byte{static_cast<std::uint8_t>(stored_topic::attributes)};
}

}  // namespace

offline_queue::offline_queue(storage& store, span<entry> index, span<std::byte> buffer,
                             offline_queue_config config) noexcept
    : store_(store), index_(index), buffer_(buffer), config_(config) {
  TBMQTT_EXPECTS(config_.key_prefix.size() <= max_prefix);
  TBMQTT_EXPECTS(buffer_.size() > header_size);
}

std::size_t offline_queue::capacity() const noexcept {
  const std::size_t limit = config_.max_messages < index_.size() ? config_.max_messages : index_.size();
  return limit < 0xFFFF ? limit : 0xFFFF;  // slots are 16-bit, tickets unique among live messages
}

void offline_queue::key_for(std::uint16_t slot, char (&out)[16]) const noexcept {
  std::size_t n = config_.key_prefix.size();
  std::memcpy(out, config_.key_prefix.data(), n);
  char digits[5];
  std::size_t d = 0;
  do {
    digits[d++] = static_cast<char>('0' + slot % 10);
    slot = static_cast<std::uint16_t>(slot / 10);
  } while (slot != 0);
  while (d > 0) out[n++] = digits[--d];
  out[n] = '\0';
}

result<std::size_t> offline_queue::open() noexcept {
  count_ = 0;
  bytes_ = 0;
  open_ = false;
  bool any = false;
  for (std::size_t slot = 0; slot < capacity(); ++slot) {
    char key[16];
    key_for(static_cast<std::uint16_t>(slot), key);
    auto loaded = store_.load(key, buffer_);
    if (loaded.error() == errc::no_match) continue;
    const bool well_formed = loaded && *loaded >= header_size && buffer_[0] == record_magic &&
                             buffer_[1] == record_version && valid_topic(buffer_[2]) &&
                             crc_of(buffer_.subspan(header_size).first(*loaded - header_size)) ==
                                 get_u32(buffer_.data() + 8);
    if (!loaded && loaded.error() != errc::not_enough_space) return errc::transport_error;
    if (!well_formed) {  // damaged, or larger than this build can hold: not ours to send
      ++corrupt_;
      if (!store_.erase(key)) return errc::transport_error;
      continue;
    }
    entry e;
    e.sequence = get_u32(buffer_.data() + 4);
    e.size = static_cast<std::uint32_t>(*loaded - header_size);
    e.slot = static_cast<std::uint16_t>(slot);
    e.topic = static_cast<stored_topic>(buffer_[2]);
    // Insert in sequence order (insertion sort: open() runs once, on a small index).
    std::size_t at = count_;
    while (at > 0 && older(e.sequence, index_[at - 1].sequence)) {
      index_[at] = index_[at - 1];
      --at;
    }
    index_[at] = e;
    ++count_;
    bytes_ += e.size;
    if (!any || older(next_sequence_, e.sequence + 1)) next_sequence_ = e.sequence + 1;
    any = true;
  }
  open_ = true;
  return count_;
}

bool offline_queue::free_slot(std::uint16_t& out) const noexcept {
  auto used = [&](std::size_t slot) {
    for (std::size_t i = 0; i < count_; ++i)
      if (index_[i].slot == slot) return true;
    return false;
  };
  // A FIFO frees its slots in order: the one after the newest message's is nearly always free.
  const std::size_t after_newest = count_ == 0 ? 0 : (index_[count_ - 1].slot + 1u) % capacity();
  for (std::size_t n = 0; n < capacity(); ++n) {
    const std::size_t slot = (after_newest + n) % capacity();
    if (!used(slot)) {
      out = static_cast<std::uint16_t>(slot);
      return true;
    }
  }
  return false;
}

void offline_queue::remove_at(std::size_t i) noexcept {
  bytes_ -= index_[i].size;
  for (std::size_t j = i + 1; j < count_; ++j) index_[j - 1] = index_[j];
  --count_;
}

result<void> offline_queue::make_room(std::size_t size, session_events& events) noexcept {
  auto fits = [&] { return count_ < capacity() && bytes_ + size <= config_.max_bytes; };
  if (fits()) return {};
  if (config_.when_full == queue_full_policy::refuse) return errc::queue_full;
  while (!fits() && count_ > 0) {
    // The oldest message not yet handed to the transport; the oldest in flight only if none.
    std::size_t victim = 0;
    for (std::size_t i = 0; i < count_; ++i)
      if (!index_[i].in_flight) {
        victim = i;
        break;
      }
    char key[16];
    key_for(index_[victim].slot, key);
    TBMQTT_TRY(store_.erase(key));
    const message_id ticket = ticket_of(index_[victim].sequence);
    remove_at(victim);
    ++dropped_;
    events.on_forwarded(ticket, errc::queue_full);
  }
  return fits() ? result<void>{} : result<void>{errc::queue_full};
}

result<message_id> offline_queue::push(stored_topic topic, std::string_view payload, session_events& events) noexcept {
  if (!open_) return errc::not_connected;
  if (payload.size() > buffer_.size() - header_size || payload.size() > config_.max_bytes) return errc::payload_too_large;
  if (capacity() == 0) return errc::queue_full;
  // Build the record first: the storage may fail, and a refused push must change nothing.
  buffer_[0] = record_magic;
  buffer_[1] = record_version;
  buffer_[2] = std::byte{static_cast<std::uint8_t>(topic)};
  buffer_[3] = std::byte{0};
  put_u32(buffer_.data() + 4, next_sequence_);
  put_u32(buffer_.data() + 8, crc_of(as_bytes(payload)));
  if (!payload.empty()) std::memcpy(buffer_.data() + header_size, payload.data(), payload.size());
  TBMQTT_TRY(make_room(payload.size(), events));
  std::uint16_t slot = 0;
  if (!free_slot(slot)) return errc::queue_full;  // unreachable after make_room; kept for safety
  char key[16];
  key_for(slot, key);
  TBMQTT_TRY(store_.store(key, buffer_.first(header_size + payload.size())));
  entry& e = index_[count_++];
  e = entry{};
  e.sequence = next_sequence_++;
  e.size = static_cast<std::uint32_t>(payload.size());
  e.slot = slot;
  e.topic = topic;
  bytes_ += e.size;
  return ticket_of(e.sequence);
}

std::size_t offline_queue::in_flight() const noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < count_; ++i) n += index_[i].in_flight ? 1 : 0;
  return n;
}

void offline_queue::on_connected(std::uint32_t now_ms) noexcept {
  ++connection_;
  for (std::size_t i = 0; i < count_; ++i)
    if (index_[i].in_flight) index_[i].resend_at_ms = now_ms + config_.resend_after_ms;
}

result<std::string_view> offline_queue::read_payload(const entry& e) noexcept {
  char key[16];
  key_for(e.slot, key);
  auto loaded = store_.load(key, buffer_);
  if (!loaded) return loaded.error() == errc::no_match || loaded.error() == errc::not_enough_space
                          ? errc::malformed : errc::transport_error;
  const span<const std::byte> payload = buffer_.subspan(header_size).first(*loaded - header_size);
  if (*loaded < header_size || get_u32(buffer_.data() + 4) != e.sequence ||
      get_u32(buffer_.data() + 8) != crc_of(payload))
    return errc::malformed;
  return as_text(payload);
}

result<message_id> offline_queue::send(transport_port& port, const session_config& topics, const entry& e,
                                       rate_limiter* limiter, std::uint32_t now_ms) noexcept {
  auto payload = read_payload(e);
  if (!payload) return payload.error();
  const bool telemetry = e.topic == stored_topic::telemetry;
  std::uint32_t points = 0;
  if (limiter != nullptr && limiter->active()) {
    points = telemetry ? count_data_points(*payload) : 0;
    if (const std::uint32_t wait = limiter->wait_ms(telemetry, points, now_ms); wait > 0) {
      paced_ = true;
      paced_until_ms_ = now_ms + wait;
      return errc::again;
    }
  }
  auto sent = port.publish(telemetry ? topics.telemetry_topic : topics.attributes_topic, as_bytes(*payload),
                           qos::at_least_once);
  if (sent && limiter != nullptr) limiter->take(telemetry, points, now_ms);
  return sent;
}

bool offline_queue::has_unsent() const noexcept {
  for (std::size_t i = 0; i < count_; ++i)
    if (!index_[i].in_flight) return true;
  return false;
}

void offline_queue::pump(transport_port& port, const session_config& topics, std::uint32_t now_ms,
                         session_events& events, rate_limiter* limiter) noexcept {
  if (paced_ && !time_reached(now_ms, paced_until_ms_)) return;
  paced_ = false;
  std::size_t flying = 0;
  for (std::size_t i = 0; i < count_;) {
    entry& e = index_[i];
    const bool earlier_connection = e.in_flight && e.connection != connection_;
    if (e.in_flight && !earlier_connection) {
      ++flying;
      ++i;
      continue;
    }
    // Keep the order: nothing newer goes out while an older message may still be resent.
    if (earlier_connection && !time_reached(now_ms, e.resend_at_ms)) return;
    if (flying >= config_.max_in_flight) return;
    auto sent = send(port, topics, e, limiter, now_ms);
    if (sent) {
      e.in_flight = true;
      e.packet_id = *sent;
      e.connection = connection_;
      ++flying;
      ++i;
      continue;
    }
    if (sent.error() == errc::again || sent.error() == errc::not_connected) return;
    // The record cannot be sent as stored (damaged, or the transport refuses it): drop it
    // rather than block every later message behind it.
    const message_id ticket = ticket_of(e.sequence);
    if (sent.error() == errc::malformed) ++corrupt_;
    char key[16];
    key_for(e.slot, key);
    if (!store_.erase(key)) ++erase_failures_;
    remove_at(i);
    events.on_forwarded(ticket, sent.error());
  }
}

bool offline_queue::acknowledge(message_id id, session_events& events) noexcept {
  for (std::size_t i = 0; i < count_; ++i) {
    entry& e = index_[i];
    if (!e.in_flight || e.packet_id != id) continue;
    char key[16];
    key_for(e.slot, key);
    if (!store_.erase(key)) ++erase_failures_;  // sent again after a restart: a duplicate, not a loss
    const message_id ticket = ticket_of(e.sequence);
    remove_at(i);
    events.on_forwarded(ticket, errc{});
    return true;
  }
  return false;
}

}  // namespace tbmqtt
