// tbmqtt — the OTA engine (tbmqtt/ota.hpp: ota_engine, ota_package, to_string(ota_state)): firmware
// and software packages over ThingsBoard's MQTT chunk API, as a session extension.
#include "tbmqtt/ota.hpp"

#include <charconv>
#include <cstring>

#include "tbmqtt/detail/slice.hpp"
#include "tbmqtt/topics.hpp"

namespace tbmqtt {
namespace {

constexpr std::uint32_t checkpoint_magic = 0x54424f43;  // "TBOC"
constexpr std::uint32_t pending_magic = 0x54424f50;     // "TBOP"

// What storage holds: a fixed layout, versioned by its magic.
struct checkpoint_record {
  std::uint32_t magic = 0;
  ota_package package;
  std::uint64_t offset = 0;
};
struct pending_record {
  std::uint32_t magic = 0;
  ota_package package;
};

std::string_view text_of(const char* s, std::size_t capacity) noexcept {
  std::size_t n = 0;
  while (n < capacity && s[n] != '\0') ++n;
  return {s, n};
}

// Copies a JSON string value into a fixed, terminated field; false if absent, not a string or too long.
template <std::size_t N>
bool copy_string(json::value v, char (&out)[N]) noexcept {
  char buffer[N];
  auto text = v.as_string(span<char>(buffer, N - 1));
  if (!text) return false;
  std::memset(out, 0, N);
  std::memcpy(out, text->data(), text->size());
  return true;
}

template <typename Record>
span<std::byte> bytes_of(Record& r) noexcept {
  return {reinterpret_cast<std::byte*>(&r), sizeof r};
}

// Appends a decimal number to `out` at `used`.
std::size_t put_number(span<char> out, std::size_t used, std::uint64_t n) noexcept {
  auto r = std::to_chars(out.data() + used, out.data() + out.size(), n);
  return r.ec == std::errc{} ? static_cast<std::size_t>(r.ptr - out.data()) : out.size() + 1;
}

std::size_t put_text(span<char> out, std::size_t used, std::string_view text) noexcept {
  if (used + text.size() > out.size()) return out.size() + 1;
  std::memcpy(out.data() + used, text.data(), text.size());
  return used + text.size();
}

}  // namespace

std::string_view to_string(ota_state s) noexcept {
  switch (s) {
    case ota_state::idle: return "IDLE";
    case ota_state::downloading: return "DOWNLOADING";
    case ota_state::downloaded: return "DOWNLOADED";
    case ota_state::verified: return "VERIFIED";
    case ota_state::updating: return "UPDATING";
    case ota_state::updated: return "UPDATED";
    case ota_state::failed: return "FAILED";
  }
  return "IDLE";
}

std::string_view ota_package::title_text() const noexcept { return text_of(title, sizeof title); }
std::string_view ota_package::version_text() const noexcept { return text_of(version, sizeof version); }
std::string_view ota_package::checksum_text() const noexcept { return text_of(checksum, sizeof checksum); }
bool ota_package::same_as(const ota_package& o) const noexcept {
  return title_text() == o.title_text() && version_text() == o.version_text() && size == o.size &&
         algorithm == o.algorithm && checksum_text() == o.checksum_text();
}

ota_engine::ota_engine(session& s, ota_sink& sink, hash_provider& hashes, storage* store, ota_listener& listener,
                       ota_config config) noexcept
    : session_(s), sink_(sink), hashes_(hashes), storage_(store), listener_(listener), config_(config) {
  if (config_.window == 0) config_.window = 1;
  if (config_.window > TBMQTT_OTA_MAX_WINDOW) config_.window = TBMQTT_OTA_MAX_WINDOW;
  std::size_t n = put_text(response_filter_, 0, config_.kind == ota_kind::firmware ? "v2/fw" : "v2/sw");
  n = put_text(response_filter_, n, "/response/+/chunk/+");
  (void)n;
  // Errors for firmware and software alike arrive on v2/fw/error.
  std::memcpy(error_filter_, "v2/fw/error", 11);
  (void)session_.add_subscription({response_filter_, std::strlen(response_filter_)});
  (void)session_.add_subscription({error_filter_, std::strlen(error_filter_)});
  (void)session_.add_subscription(session_.config().attributes_topic);
  if (storage_ != nullptr) {
    pending_record pending;
    auto loaded = storage_->load(config_.pending_key, bytes_of(pending));
    pending_update_ = loaded && *loaded == sizeof pending && pending.magic == pending_magic;
    if (pending_update_) package_ = pending.package;
  }
}

std::string_view ota_engine::prefix() const noexcept { return config_.kind == ota_kind::firmware ? "fw" : "sw"; }

std::uint32_t ota_engine::chunk_count() const noexcept {
  return static_cast<std::uint32_t>((package_.size + chunk_size_ - 1) / chunk_size_);
}

std::uint32_t ota_engine::chunk_length(std::uint32_t chunk) const noexcept {
  const std::uint64_t start = static_cast<std::uint64_t>(chunk) * chunk_size_;
  const std::uint64_t rest = package_.size - start;
  return static_cast<std::uint32_t>(rest < chunk_size_ ? rest : chunk_size_);
}

// ---- reporting ---------------------------------------------------------------------------------

void ota_engine::report(ota_state s, errc e, std::string_view detail) noexcept {
  state_ = s;
  char buffer[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  char key[16];
  json::writer w{buffer};
  w.begin_object();
  std::size_t n = put_text(key, put_text(key, 0, prefix()), "_state");
  w.key({key, n}).value(to_string(s));
  if (s == ota_state::failed) {
    n = put_text(key, put_text(key, 0, prefix()), "_error");
    w.key({key, n}).value(detail);
  }
  w.end_object();
  if (auto text = w.finish()) (void)session_.publish_telemetry(*text, qos::at_least_once);
  listener_.on_ota_state(config_.kind, s, e, detail);
}

void ota_engine::report_current(std::string_view title, std::string_view version) noexcept {
  char buffer[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  char key[24];
  json::writer w{buffer};
  w.begin_object();
  std::size_t n = put_text(key, put_text(key, put_text(key, 0, "current_"), prefix()), "_title");
  w.key({key, n}).value(title);
  n = put_text(key, put_text(key, put_text(key, 0, "current_"), prefix()), "_version");
  w.key({key, n}).value(version);
  w.end_object();
  if (auto text = w.finish()) (void)session_.publish_telemetry(*text, qos::at_least_once);
}

// FAILED, reported with its reason either way. The bytes in the sink and the checkpoint are
// dropped only when they are shown bad (or belong to nothing any more); after a failure that says
// nothing about them (a time-out, the server refusing) they are kept, and the next attempt at the
// same package resumes where this one stopped.
void ota_engine::fail(errc e, std::string_view detail, failure kind) noexcept {
  for (auto& slot : slots_) slot.used = false;
  retry_same_ = kind == failure::transient;
  if (kind != failure::bad_data && state_ == ota_state::downloading) {
    if (hashed_ > checkpointed_) save_checkpoint();  // progress since the last checkpoint counts too
  } else {
    if (state_ == ota_state::downloading || state_ == ota_state::downloaded || state_ == ota_state::verified)
      sink_.abort();
    clear_records(false);
  }
  report(ota_state::failed, e, detail);
}

// ---- persistence ---------------------------------------------------------------------------------

void ota_engine::save_checkpoint() noexcept {
  if (storage_ == nullptr) return;
  if (!sink_.sync()) return;  // the bytes may not be on the medium: the old checkpoint stays
  checkpoint_record record;
  record.magic = checkpoint_magic;
  record.package = package_;
  record.offset = hashed_;
  if (storage_->store(config_.checkpoint_key, bytes_of(record))) checkpointed_ = hashed_;
}

void ota_engine::clear_records(bool pending_too) noexcept {
  if (storage_ == nullptr) return;
  (void)storage_->erase(config_.checkpoint_key);
  if (pending_too) (void)storage_->erase(config_.pending_key);
}

result<void> ota_engine::confirm() noexcept {
  if (!pending_update_) return errc::not_found;
  TBMQTT_TRY(sink_.confirm());
  pending_update_ = false;
  clear_records(true);
  report_current(package_.title_text(), package_.version_text());
  report(ota_state::updated, errc{});
  return {};
}

result<void> ota_engine::reject(std::string_view reason) noexcept {
  if (!pending_update_) return errc::not_found;
  pending_update_ = false;
  clear_records(true);
  state_ = ota_state::updating;      // fail() must not abort the sink: the image is activated
  fail(errc::server_error, reason);  // reported first: rollback() may restart the device
  (void)sink_.rollback();
  return {};
}

// ---- session events ----------------------------------------------------------------------------

void ota_engine::on_ready(std::uint32_t now_ms) noexcept {
  connected_ = true;
  report_current(config_.current_title, config_.current_version);
  if (pending_update_ && package_.version_text() != config_.current_version) {
    // We activated a new version, restarted, and the old one runs: the bootloader rolled back.
    pending_update_ = false;  // the bootloader already went back: report only
    clear_records(true);
    state_ = ota_state::updating;
    fail(errc::server_error, "the new version did not start (rolled back)");
  }
  request_assignment(now_ms);
}

void ota_engine::on_disconnected() noexcept {
  connected_ = false;
  attribute_request_ = 0;
  for (auto& slot : slots_) slot.used = false;  // lost with the connection; resumed on ready
  // Chunks written past the hashed prefix stay counted (received_mask_): the sink keeps them and no
  // begin() comes between, so only the missing chunks are requested again; the gap's chunk
  // hashes them once it arrives. A start() (another attempt, a restart) forgets them.
  if (state_ == ota_state::downloading) next_chunk_ = static_cast<std::uint32_t>(hashed_ / chunk_size_);
}

bool ota_engine::on_attributes_response(std::uint32_t request_id, errc e, json::value, json::value shared,
                                        std::uint32_t now_ms) noexcept {
  if (request_id == 0 || request_id != attribute_request_) return false;
  attribute_request_ = 0;
  if (e == errc::timeout) {  // lost: ask again (a disconnect asks again on the next connect)
    request_assignment(now_ms);
    return true;
  }
  if (e != errc{}) return true;
  apply_attributes(shared, now_ms);
  return true;
}

void ota_engine::request_assignment(std::uint32_t now_ms) noexcept {
  char keys[96];
  std::size_t n = 0;
  for (std::string_view field : {"_title,", "_version,", "_size,", "_checksum,", "_checksum_algorithm,", "_url"})
    n = put_text(keys, put_text(keys, n, prefix()), field);
  auto id = session_.request_attributes({}, {keys, n}, now_ms);
  attribute_request_ = id ? *id : 0;
}

void ota_engine::on_shared_attributes(json::value update, std::uint32_t now_ms) noexcept {
  // A push may carry only some fields: ask for the whole set when any of ours changed.
  char key[32];
  bool ours = false;
  for (auto m : update.members()) {
    if (json::key_equals(m.key, "deleted")) {
      for (auto deleted : m.val.elements()) {
        auto name = deleted.as_string(key);
        ours = ours || (name && name->size() > 3 && detail::slice(*name, 0, 2) == prefix() && (*name)[2] == '_');
      }
      continue;
    }
    ours = ours || (m.key.size() > 3 && detail::slice(m.key, 0, 2) == prefix() && m.key[2] == '_');
  }
  if (!ours || !connected_) return;
  // The server serves chunks of whatever is assigned now: until the new assignment is read,
  // request nothing and drop chunks that no longer fit (they may belong to the new package).
  assignment_changing_ = true;
  request_assignment(now_ms);
}

void ota_engine::apply_attributes(json::value attributes, std::uint32_t now_ms) noexcept {
  assignment_changing_ = false;
  char key[40];
  auto field = [&](std::string_view name) {
    const std::size_t n = put_text(key, put_text(key, 0, prefix()), name);
    return attributes[{key, n}];
  };
  json::value title = field("_title");
  if (!title.present()) {
    // Nothing assigned (or the assignment was removed): stop a download in progress.
    if (state_ == ota_state::downloading) {
      sink_.abort();
      clear_records(false);
      state_ = ota_state::idle;
      for (auto& slot : slots_) slot.used = false;
    }
    if (state_ == ota_state::failed) state_ = ota_state::idle;  // assigned again later: tried again
    return;
  }
  if (field("_url").present()) return fail(errc::invalid_argument, "URL packages cannot be downloaded over MQTT");

  ota_package assigned;
  auto size = field("_size").as_int();
  auto algorithm_name = field("_checksum_algorithm").as_string();
  auto algorithm =
      algorithm_name ? parse_checksum_algorithm(*algorithm_name) : result<checksum_algorithm>(errc::malformed);
  if (!copy_string(title, assigned.title) || !copy_string(field("_version"), assigned.version) ||
      !copy_string(field("_checksum"), assigned.checksum) || !size || *size < 0 || !algorithm)
    return fail(errc::malformed, "incomplete or malformed package attributes");
  assigned.size = static_cast<std::uint64_t>(*size);
  assigned.algorithm = *algorithm;

  if (assigned.title_text() == config_.current_title && assigned.version_text() == config_.current_version)
    return;                                                   // already running
  if (pending_update_ && assigned.same_as(package_)) return;  // activated, waiting for confirm()
  if (state_ == ota_state::downloading && assigned.same_as(package_)) {
    request_more(now_ms);  // same package after a reconnect: carry on
    return;
  }
  if (state_ == ota_state::downloading) sink_.abort();  // a new assignment replaces the old one
  // A failed package is not tried again while it stays assigned (a bad one would loop), unless the
  // failure was transient: then every reading of the assignment (a connect, a push) tries again.
  if (((state_ == ota_state::failed && !retry_same_) || state_ == ota_state::updating) && assigned.same_as(package_))
    return;
  package_ = assigned;
  start(now_ms);
}

// ---- downloading ---------------------------------------------------------------------------------

void ota_engine::start(std::uint32_t now_ms) noexcept {
  for (auto& slot : slots_) slot.used = false;
  hasher_ = hashes_.acquire(package_.algorithm);
  if (hasher_ == nullptr) return fail(errc::invalid_argument, "checksum algorithm not supported on this device");
  hasher_->reset();
  const std::size_t cap = session_.config().max_payload;
  chunk_size_ = config_.chunk_size == 0 ? 1 : config_.chunk_size;
  if (chunk_size_ > cap) chunk_size_ = static_cast<std::uint32_t>(cap);
  hashed_ = 0;
  checkpointed_ = 0;
  received_mask_ = 0;
  requests_sent_ = 0;
  ++download_id_;

  // Resume: the same package was checkpointed before a disconnect or restart.
  std::uint64_t resume = 0;
  if (storage_ != nullptr) {
    checkpoint_record record;
    auto loaded = storage_->load(config_.checkpoint_key, bytes_of(record));
    if (loaded && *loaded == sizeof record && record.magic == checkpoint_magic && record.package.same_as(package_) &&
        record.offset <= package_.size)
      resume = record.offset - record.offset % chunk_size_;  // whole chunks only
    else if (loaded)
      (void)storage_->erase(config_.checkpoint_key);  // another package's progress: never resumed now
  }
  // A sink that lost the partial image (or cannot read it back) starts afresh.
  if (resume > 0 && (!sink_.begin(package_, resume) || !rehash_from_sink(resume))) {
    hasher_->reset();
    hashed_ = 0;
    resume = 0;
  }
  checkpointed_ = hashed_;  // what the stored checkpoint holds (whole chunks of it)
  if (resume == 0) {
    if (auto begun = sink_.begin(package_, 0); !begun) return fail(begun.error(), "the sink refused the image");
  }
  state_ = ota_state::downloading;
  report(ota_state::downloading, errc{});
  next_chunk_ = static_cast<std::uint32_t>(hashed_ / chunk_size_);
  if (hashed_ == package_.size) return complete(now_ms);
  request_more(now_ms);
}

result<void> ota_engine::rehash_from_sink(std::uint64_t upto) noexcept {
  std::byte buffer[256];
  while (hashed_ < upto) {
    const std::uint64_t rest = upto - hashed_;
    const std::size_t want = rest < sizeof buffer ? static_cast<std::size_t>(rest) : sizeof buffer;
    auto got = sink_.read(hashed_, {buffer, want});
    if (!got) return got.error();
    if (*got == 0) return errc::malformed;
    hasher_->update({buffer, *got});
    hashed_ += *got;
  }
  return {};
}

bool ota_engine::send_request(std::uint32_t chunk) noexcept {
  char topic[TBMQTT_TOPIC_CAPACITY];
  std::size_t n = put_text(topic, 0, config_.kind == ota_kind::firmware ? "v2/fw/request/" : "v2/sw/request/");
  n = put_number(topic, n, download_id_);
  n = put_text(topic, n, "/chunk/");
  n = put_number(topic, n, chunk);
  char size_text[12];
  const std::size_t size_n = put_number(size_text, 0, chunk_size_);
  if (n > sizeof topic || size_n > sizeof size_text) return false;
  ++requests_sent_;
  return session_.publish_raw({topic, n}, {size_text, size_n}, qos::at_least_once).ok();
}

void ota_engine::request_more(std::uint32_t now_ms) noexcept {
  if (state_ != ota_state::downloading || !connected_ || assignment_changing_) return;
  // Never run more than `window` chunks ahead of the hashed prefix, so received_mask_ covers
  // every chunk that can arrive.
  const std::uint32_t first = static_cast<std::uint32_t>(hashed_ / chunk_size_);
  for (auto& slot : slots_) {
    if (&slot - slots_ >= config_.window) break;
    if (slot.used) continue;
    // Skip chunks in the sink already (written ahead of a gap, then the connection dropped).
    while (next_chunk_ < first + config_.window && (received_mask_ >> (next_chunk_ - first)) & 1u) ++next_chunk_;
    if (next_chunk_ >= chunk_count() || next_chunk_ >= first + config_.window) break;
    slot = in_flight{next_chunk_, now_ms + config_.chunk_timeout_ms, 0, true};
    ++next_chunk_;
    if (!send_request(slot.chunk)) slot.deadline_ms = now_ms;  // retried from on_tick
  }
}

void ota_engine::on_tick(std::uint32_t now_ms) noexcept {
  if (state_ != ota_state::downloading || !connected_ || assignment_changing_) return;
  for (auto& slot : slots_) {
    if (!slot.used || !time_reached(now_ms, slot.deadline_ms)) continue;
    if (slot.retries >= config_.max_retries) {
      char detail[64];
      std::size_t n = put_text(detail, 0, "no answer for chunk ");
      n = put_number(detail, n, slot.chunk);
      return fail(errc::timeout, {detail, n <= sizeof detail ? n : 0}, failure::transient);
    }
    ++slot.retries;
    const std::uint32_t shift = slot.retries < 5 ? slot.retries : 5;
    slot.deadline_ms = now_ms + (config_.chunk_timeout_ms << shift);  // back off
    (void)send_request(slot.chunk);
  }
}

bool ota_engine::on_message(std::string_view topic, span<const std::byte> payload, std::uint32_t now_ms) noexcept {
  if (topic == std::string_view(error_filter_)) {
    if (state_ == ota_state::downloading) {
      char detail[64];
      const std::size_t n = payload.size() < sizeof detail ? payload.size() : sizeof detail;
      std::memcpy(detail, payload.data(), n);
      fail(errc::server_error, {detail, n}, failure::refused);
    }
    return true;
  }
  auto address = parse_chunk_topic(topic);
  if (!address) return false;
  begin_chunk(*address, payload.size());
  write_chunk(0, payload);
  end_chunk(errc{}, now_ms);
  return true;
}

// A fragmented chunk streams in: the same steps as a whole one, the bytes in several calls.
// Stale and unrequested chunks are taken too (and dropped), so that nobody buffers them.
bool ota_engine::on_stream_begin(std::string_view topic, std::size_t total, std::uint32_t) noexcept {
  auto address = parse_chunk_topic(topic);
  if (!address) return false;
  begin_chunk(*address, total);
  return true;
}

void ota_engine::on_stream_fragment(std::size_t offset, span<const std::byte> fragment, std::uint32_t) noexcept {
  write_chunk(offset, fragment);
}

void ota_engine::on_stream_end(errc e, std::uint32_t now_ms) noexcept { end_chunk(e, now_ms); }

// v2/fw/response/{req}/chunk/{n} (v2/sw/... for software).
result<ota_engine::chunk_address> ota_engine::parse_chunk_topic(std::string_view topic) const noexcept {
  const std::string_view head = detail::slice(response_filter_, 0, 15);  // "v2/fw/response/"
  if (detail::slice(topic, 0, head.size()) != head) return errc::no_match;
  const std::string_view rest = detail::slice(topic, head.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || detail::slice(rest, slash, 7) != "/chunk/") return errc::no_match;
  auto request = topics::parse_decimal(detail::slice(rest, 0, slash));
  auto chunk = topics::parse_decimal(detail::slice(rest, slash + 7));
  if (!request || !chunk) return errc::no_match;
  return chunk_address{*request, *chunk};
}

// Accepts a chunk of `size` bytes when it is one of ours and in flight; a wrong size fails
// the download before any byte is written.
void ota_engine::begin_chunk(chunk_address address, std::size_t size) noexcept {
  incoming_ = incoming_chunk{};
  if (state_ != ota_state::downloading || address.download != download_id_) return;  // stale: an older download
  bool in_flight = false;
  for (const auto& slot : slots_) in_flight = in_flight || (slot.used && slot.chunk == address.chunk);
  if (!in_flight) return;  // a duplicate (answer to a retry that raced the first answer)
  if (address.chunk >= chunk_count() || size != chunk_length(address.chunk)) {
    if (assignment_changing_) return;  // a chunk of the newly assigned package: not an error
    // Wrong size: short or empty before the end means the server's file differs from fw_size.
    char detail[64];
    std::size_t n = put_text(detail, 0, "chunk ");
    n = put_number(detail, n, address.chunk);
    n = put_text(detail, n, " has the wrong size");
    return fail(errc::malformed, {detail, n <= sizeof detail ? n : 0});
  }
  const std::uint64_t offset = static_cast<std::uint64_t>(address.chunk) * chunk_size_;
  incoming_ = incoming_chunk{address.chunk, download_id_, 0, true, offset == hashed_};
}

// Bytes [offset, offset + data.size()) of the accepted chunk, in order.
void ota_engine::write_chunk(std::size_t offset, span<const std::byte> data) noexcept {
  if (!incoming_.accepted) return;
  if (state_ != ota_state::downloading || incoming_.download != download_id_ || offset != incoming_.written) {
    incoming_.accepted = false;  // the download ended meanwhile (fail() already cleaned up)
    return;
  }
  const std::uint64_t at = static_cast<std::uint64_t>(incoming_.chunk) * chunk_size_ + offset;
  if (auto written = sink_.write(at, data); !written) {
    incoming_.accepted = false;
    return fail(written.error(), "the sink failed to write");
  }
  if (incoming_.hashing) hasher_->update(data);
  incoming_.written += static_cast<std::uint32_t>(data.size());
}

// The chunk's message ended. Complete: it leaves the window and the prefix is hashed as far as
// it goes. Cut short (a lost fragment, a disconnect): it stays in flight and its time-out asks
// again; the bytes already written are overwritten with the same bytes then.
void ota_engine::end_chunk(errc e, std::uint32_t now_ms) noexcept {
  if (!incoming_.accepted) return;
  const incoming_chunk chunk = incoming_;
  incoming_.accepted = false;
  if (state_ != ota_state::downloading || chunk.download != download_id_) return;
  if (e != errc{} || chunk.written != chunk_length(chunk.chunk)) {
    if (!chunk.hashing || chunk.written == 0) return;
    // The hasher has seen part of the chunk: start it again over the hashed prefix.
    const std::uint64_t prefix = hashed_;
    hasher_->reset();
    hashed_ = 0;
    if (!rehash_from_sink(prefix)) return fail(errc::storage_error, "the sink failed to read back");
    return;
  }
  for (auto& slot : slots_)
    if (slot.used && slot.chunk == chunk.chunk) slot.used = false;
  if (chunk.hashing) {
    hashed_ += chunk.written;
    received_mask_ >>= 1;
    hash_written_chunks();
  } else {
    received_mask_ |= std::uint64_t{1} << (chunk.chunk - hashed_ / chunk_size_);
  }
  if (state_ != ota_state::downloading) return;
  listener_.on_ota_progress(config_.kind, hashed_, package_.size);
  if (hashed_ - checkpointed_ >= config_.checkpoint_bytes) save_checkpoint();
  if (hashed_ == package_.size) return complete(now_ms);
  request_more(now_ms);
}

// Chunks that arrived ahead of a gap are in the sink already: hash them once the gap is filled.
void ota_engine::hash_written_chunks() noexcept {
  while (received_mask_ & 1u) {
    const std::uint64_t upto = hashed_ + chunk_length(static_cast<std::uint32_t>(hashed_ / chunk_size_));
    if (!rehash_from_sink(upto)) return fail(errc::storage_error, "the sink failed to read back");
    received_mask_ >>= 1;
  }
}

void ota_engine::complete(std::uint32_t) noexcept {
  report(ota_state::downloaded, errc{});
  std::byte digest[64];
  const std::size_t n = hasher_->finish(digest);
  if (!checksum_equals(package_.checksum_text(), {digest, n})) {
    char detail[200];
    std::size_t used = put_text(detail, 0, "checksum mismatch: got ");
    used += to_hex({digest, n}, span<char>(detail + used, sizeof detail - used));
    return fail(errc::malformed, {detail, used});
  }
  report(ota_state::verified, errc{});
  if (auto finished = sink_.finish(); !finished) return fail(finished.error(), "the sink could not store the image");
  state_ = ota_state::updating;  // the sink owns the image now; fail() must not abort it
  if (storage_ != nullptr) {
    pending_record record;
    record.magic = pending_magic;
    record.package = package_;
    (void)storage_->store(config_.pending_key, bytes_of(record));
  }
  clear_records(false);
  if (auto activated = sink_.activate(); !activated) return fail(activated.error(), "the image could not be activated");
  pending_update_ = true;  // persisted above when there is storage, so it survives a restart
  report(ota_state::updating, errc{});
  listener_.on_ota_ready(config_.kind, package_);
}

}  // namespace tbmqtt
