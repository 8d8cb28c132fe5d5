// tbmqtt — firmware and software OTA over ThingsBoard's MQTT chunk API (thingsboard-protocol.md
// §5), as a session extension: pipelined chunk requests, per-chunk retries, every checksum
// ThingsBoard offers, resume from a checkpoint, and UPDATED reported only once the new version
// runs. Sans-I/O like the rest of the core; the image streams into an ota_sink.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/checksum.hpp"
#include "tbmqtt/config.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/session.hpp"
#include "tbmqtt/storage.hpp"

namespace tbmqtt {

/// Firmware uses the `fw_` attributes and `v2/fw/...` topics; software `sw_` and `v2/sw/...`.
enum class ota_kind : std::uint8_t { firmware, software };

/// The states reported as `fw_state` / `sw_state` telemetry (plus idle, which is not reported).
enum class ota_state : std::uint8_t { idle, downloading, downloaded, verified, updating, updated, failed };

/// @brief "DOWNLOADING", "UPDATED", ... as ThingsBoard spells them ("IDLE" for idle).
std::string_view to_string(ota_state s) noexcept;

/// @brief A package as the server assigned it through the fw_*/sw_* shared attributes.
struct ota_package {
  char title[TBMQTT_OTA_TEXT_CAPACITY] = {};
  char version[TBMQTT_OTA_TEXT_CAPACITY] = {};
  char checksum[129] = {};  ///< Lowercase or uppercase hex, as sent.
  std::uint64_t size = 0;
  checksum_algorithm algorithm = checksum_algorithm::sha256;

  std::string_view title_text() const noexcept;
  std::string_view version_text() const noexcept;
  std::string_view checksum_text() const noexcept;
  /// Same title, version, size, algorithm and checksum.
  bool same_as(const ota_package& other) const noexcept;
};

/// @brief Where the image goes. Porting guide: called on the thread that feeds the session;
/// offsets are absolute; writes may come out of order (a retried chunk) but never overlap a
/// different byte value; a chunk that arrives in fragments is written fragment by fragment,
/// and one cut short is written again from its start; the image is never held whole in RAM by
/// the engine.
class ota_sink {
 public:
  /// @brief Prepares for `package`. `resume_offset` bytes were written by an earlier begin() of
  /// the same package (possibly before a restart): keep them. 0 starts afresh. begin() may follow
  /// an earlier begin() without abort(): a download that failed on a time-out or a server error
  /// keeps its bytes for the next attempt.
  [[nodiscard]] virtual result<void> begin(const ota_package& package, std::uint64_t resume_offset) noexcept = 0;
  [[nodiscard]] virtual result<void> write(std::uint64_t offset, span<const std::byte> data) noexcept = 0;
  /// @brief Reads back written bytes (the engine re-hashes them after a resume).
  /// @return Bytes read (short only at the end of what was written).
  [[nodiscard]] virtual result<std::size_t> read(std::uint64_t offset, span<std::byte> out) noexcept = 0;
  /// @brief Makes every byte written so far durable (a file: fdatasync). The engine calls it
  /// before it saves a checkpoint covering them: after a power loss a resume never counts bytes
  /// that did not reach the medium. Flash written directly is durable already (the default).
  [[nodiscard]] virtual result<void> sync() noexcept { return {}; }
  /// @brief Every byte is written and the checksum matched: make the image durable.
  [[nodiscard]] virtual result<void> finish() noexcept = 0;
  /// @brief Drop a partial or failed image (called when its bytes are bad or no longer wanted).
  virtual void abort() noexcept = 0;
  /// @brief Firmware: make the finished image the next boot image. Software: install it.
  [[nodiscard]] virtual result<void> activate() noexcept = 0;
  /// @brief Firmware: the restarted new version works; keep it (e.g. cancel the bootloader's
  /// pending rollback). Called by ota_engine::confirm() before UPDATED is reported.
  [[nodiscard]] virtual result<void> confirm() noexcept { return {}; }
  /// @brief Firmware: the restarted new version does not work; go back to the previous image
  /// (this may restart the device). Called by ota_engine::reject().
  [[nodiscard]] virtual result<void> rollback() noexcept { return {}; }

 protected:
  ~ota_sink() = default;
};

/// @brief What the app hears from an OTA engine (on the session's thread).
class ota_listener {
 public:
  /// Every state change; on failure `e` and `detail` say why (detail is also sent as fw_error).
  virtual void on_ota_state(ota_kind, ota_state, errc /*e*/, std::string_view /*detail*/) noexcept {}
  /// Bytes received in order so far.
  virtual void on_ota_progress(ota_kind, std::uint64_t /*received*/, std::uint64_t /*total*/) noexcept {}
  /// The image is activated (state UPDATING): restart into it. After the restart, call
  /// ota_engine::confirm() once the new version works; only then is UPDATED reported.
  virtual void on_ota_ready(ota_kind, const ota_package&) noexcept {}

 protected:
  ~ota_listener() = default;
};

/// @brief Settings of one OTA engine.
struct ota_config {
  ota_kind kind = ota_kind::firmware;
  std::string_view current_title;    ///< What runs now; reported as current_fw_title. Must outlive the engine.
  std::string_view current_version;  ///< Reported as current_fw_version. Must outlive the engine.
  /// Capped at the session's max_payload (server limit, 65536). A chunk that arrives in
  /// fragments (esp-mqtt) streams into the sink: no buffer of this size is needed.
  std::uint32_t chunk_size = TBMQTT_OTA_CHUNK_SIZE;
  std::uint8_t window = TBMQTT_OTA_WINDOW;  ///< Chunk requests in flight (1 = stop-and-wait); 16 by benchmark.
  std::uint32_t chunk_timeout_ms = TBMQTT_OTA_CHUNK_TIMEOUT_MS;  ///< First wait for a chunk; doubles with each retry.
  std::uint8_t max_retries = 5;                                  ///< Per chunk, then FAILED.
  std::uint32_t checkpoint_bytes = 64 * 1024;                    ///< Progress saved to storage at least this often.
  /// Storage keys (at most 15 characters): progress and the activated-but-unconfirmed package.
  std::string_view checkpoint_key = "tb_fw_ckpt";
  std::string_view pending_key = "tb_fw_pend";
};

/// @brief One OTA engine (firmware or software) on a session. Add it with session::add_extension.
///
///     tbmqtt::ota_engine fw{session, sink, hashes, &storage, listener, config};
///     (void)session.add_extension(fw);
///
/// On every connect it reports current_fw_title/current_fw_version, requests the fw_* shared
/// attributes and follows their pushes; a package whose title or version differs from the
/// running one is downloaded, verified and activated. States go out as fw_state telemetry.
///
/// A failure is reported as FAILED with its reason (fw_error). What it keeps: chunks unanswered
/// after every retry (errc::timeout) and a server error (v2/fw/error, errc::server_error) keep the
/// bytes in the sink and the checkpoint, so the next attempt at the same package (same title,
/// version, size, algorithm and checksum) downloads only what is missing; after a time-out that
/// attempt comes when the assignment is next read (the next connect or push), else after a restart
/// or once the package is assigned again (removed, then assigned). A checksum or size mismatch, the
/// sink refusing, or another package assigned drops them: the next attempt starts from byte 0.
///
/// Chunks out of order: `window` requests are out at once, so a chunk can arrive before an earlier
/// one (late, or lost and retried). It is written to the sink at its offset right away and noted
/// in a bitmap of the window; the hash needs the bytes in order, so once the gap fills the chunks
/// after it are read back from the sink and hashed, and the checkpoint (saved every
/// checkpoint_bytes) then counts them. A disconnect keeps them too (the sink keeps its bytes, the
/// same download carries on): only the missing chunks are requested again. A new attempt
/// (after FAILED) or a restart does not: the checkpoint is one offset, the hashed prefix, and the
/// chunks past a gap are fetched again. Keeping them would need a bitmap in the checkpoint and a
/// sink contract that keeps bytes past resume_offset, which esp_ota_sink cannot give cheaply: its
/// begin() keeps only the sectors below resume_offset and erases the rest before writing, and
/// after a restart it cannot tell which sectors around the gap are erased but unwritten (writing
/// the gap's chunk there needs an erase that would also wipe parts of its neighbours). The most
/// that costs is window - 1 chunks per restart; the checkpoint never claims a byte the sink has
/// not returned, and the checksum covers the whole image either way.
class ota_engine final : public session_extension {
 public:
  /// @param hashes   Gives a hasher for the package's algorithm (MD5/SHA from a platform).
  /// @param storage  Optional (nullptr): without it there is no resume after a restart and no
  ///                 UPDATED after a reboot.
  /// All references must outlive the engine.
  ota_engine(session& s, ota_sink& sink, hash_provider& hashes, storage* store, ota_listener& listener,
             ota_config config) noexcept;

  /// @brief After a restart into a new version: confirms it with the sink, reports UPDATED (with
  /// the new current_*) and forgets the pending package. Call it once the new version works.
  /// @return ok, or errc::not_found (no update was pending), or the sink's confirm() error
  /// (then nothing is reported and the update stays pending).
  [[nodiscard]] result<void> confirm() noexcept;
  /// @brief The new version does not work: reports FAILED with `reason`, forgets the pending
  /// package and asks the sink to roll back. @return ok, or errc::not_found.
  [[nodiscard]] result<void> reject(std::string_view reason) noexcept;

  ota_state state() const noexcept { return state_; }
  const ota_package& package() const noexcept { return package_; }
  /// Bytes received in order (and hashed) of the current download.
  std::uint64_t received() const noexcept { return hashed_; }
  /// Chunk requests sent for the current download (first tries and retries).
  std::uint32_t requests_sent() const noexcept { return requests_sent_; }

  // session_extension
  void on_ready(std::uint32_t now_ms) noexcept override;
  void on_disconnected() noexcept override;
  void on_tick(std::uint32_t now_ms) noexcept override;
  void on_shared_attributes(json::value update, std::uint32_t now_ms) noexcept override;
  bool on_attributes_response(std::uint32_t request_id, errc e, json::value client, json::value shared,
                              std::uint32_t now_ms) noexcept override;
  bool on_message(std::string_view topic, span<const std::byte> payload, std::uint32_t now_ms) noexcept override;
  /// Takes every fragmented chunk response: its bytes go straight to the sink (and the hasher).
  bool on_stream_begin(std::string_view topic, std::size_t total, std::uint32_t now_ms) noexcept override;
  void on_stream_fragment(std::size_t offset, span<const std::byte> fragment, std::uint32_t now_ms) noexcept override;
  void on_stream_end(errc e, std::uint32_t now_ms) noexcept override;

 private:
  struct in_flight {
    std::uint32_t chunk = 0;
    std::uint32_t deadline_ms = 0;
    std::uint8_t retries = 0;
    bool used = false;
  };

  void apply_attributes(json::value attributes, std::uint32_t now_ms) noexcept;
  void request_assignment(std::uint32_t now_ms) noexcept;
  void start(std::uint32_t now_ms) noexcept;
  void request_more(std::uint32_t now_ms) noexcept;
  bool send_request(std::uint32_t chunk) noexcept;
  // The chunk being received: a whole message, or a stream of fragments.
  struct incoming_chunk {
    std::uint32_t chunk = 0;
    std::uint32_t download = 0;
    std::uint32_t written = 0;  // bytes of the chunk in the sink so far
    bool accepted = false;      // requested, right size: its bytes go to the sink
    bool hashing = false;       // starts at the hashed prefix: hashed as it arrives
  };
  struct chunk_address {
    std::uint32_t download = 0;
    std::uint32_t chunk = 0;
  };

  result<chunk_address> parse_chunk_topic(std::string_view topic) const noexcept;
  void begin_chunk(chunk_address address, std::size_t size) noexcept;
  void write_chunk(std::size_t offset, span<const std::byte> data) noexcept;
  void end_chunk(errc e, std::uint32_t now_ms) noexcept;
  void hash_written_chunks() noexcept;
  result<void> rehash_from_sink(std::uint64_t upto) noexcept;
  void complete(std::uint32_t now_ms) noexcept;
  // Why a download failed, which decides what is kept: bad_data (checksum or size mismatch, the
  // sink refusing, another package) drops the sink's bytes and the checkpoint; refused (the server's
  // v2/fw/error) and transient (chunks unanswered after every retry) keep them for a resume, and
  // after a transient failure the same package is tried again when the assignment is next read.
  enum class failure : std::uint8_t { bad_data, refused, transient };
  void fail(errc e, std::string_view detail, failure kind = failure::bad_data) noexcept;
  void report(ota_state s, errc e, std::string_view detail = {}) noexcept;
  void report_current(std::string_view title, std::string_view version) noexcept;
  void save_checkpoint() noexcept;
  void clear_records(bool pending_too) noexcept;
  std::uint32_t chunk_count() const noexcept;
  std::uint32_t chunk_length(std::uint32_t chunk) const noexcept;
  std::string_view prefix() const noexcept;  // "fw" or "sw"

  session& session_;
  ota_sink& sink_;
  hash_provider& hashes_;
  storage* storage_;
  ota_listener& listener_;
  ota_config config_;
  char response_filter_[32] = {};
  char error_filter_[16] = {};
  ota_state state_ = ota_state::idle;
  ota_package package_;
  hasher* hasher_ = nullptr;
  std::uint32_t attribute_request_ = 0;
  std::uint32_t download_id_ = 0;    // {req} in the chunk topics
  std::uint32_t chunk_size_ = 0;     // effective, capped
  std::uint32_t next_chunk_ = 0;     // next chunk never requested
  std::uint64_t hashed_ = 0;         // contiguous bytes written and hashed
  std::uint64_t checkpointed_ = 0;   // the offset the stored checkpoint holds
  std::uint64_t received_mask_ = 0;  // chunks past the hashed prefix already written (bit 0 = next)
  std::uint32_t requests_sent_ = 0;
  bool pending_update_ = false;  // activated before a restart, waiting for confirm()
  bool connected_ = false;
  bool assignment_changing_ = false;  // a push changed our attributes; the new set is requested
  bool retry_same_ = false;           // the last failure was transient: the same package may be tried again
  in_flight slots_[TBMQTT_OTA_MAX_WINDOW];
  incoming_chunk incoming_;
};

}  // namespace tbmqtt
