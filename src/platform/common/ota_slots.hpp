// OTA on a client, shared by the Linux and ESP-IDF clients (client::enable_ota / confirm_ota /
// reject_ota and esp_client's): one tbmqtt::ota_engine per ota_kind on the client's session,
// its hashes through mbedTLS, its events to the app's ota_handlers. Called with the client's
// lock held; the engines run on the client's thread (task) from then on.
// The slots (hash providers, engines) are made by the first enable(), and only enable() names
// their constructor and destructor: an app that never enables OTA links none of them.
#pragma once

#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "../mbedtls/mbedtls_hashes.hpp"
#include "tbmqtt/device_api.hpp"
#include "tbmqtt/ota.hpp"
#include "tbmqtt/session.hpp"

namespace tbmqtt::detail {

class ota_slots {
 public:
  ota_slots() = default;
  ota_slots(const ota_slots&) = delete;
  ota_slots& operator=(const ota_slots&) = delete;
  ~ota_slots() {
    if (slots_ != nullptr) destroy_(slots_);
  }

  /// @brief Adds the engine for `config.kind` to `core`; when `ready` (the session is up) it
  /// starts now, else on the next connect. The config's texts are copied.
  /// @return ok, or errc::invalid_argument (this kind is enabled already), errc::queue_full (no
  /// room for another extension), errc::out_of_memory.
  result<void> enable(session& core, bool ready, std::uint32_t now_ms, const ota_config& config, ota_sink& sink,
                      storage* store, ota_handlers handlers) {
    if (slots_ == nullptr) {
      slots_ = new (std::nothrow) both;
      if (slots_ == nullptr) return errc::out_of_memory;
      destroy_ = [](both* p) noexcept { delete p; };
    }
    slot& s = slots_->at[index(config.kind)];
    if (s.engine != nullptr) return errc::invalid_argument;
    s.title = config.current_title;  // the engine keeps views: make them ours
    s.version = config.current_version;
    s.checkpoint_key = config.checkpoint_key;
    s.pending_key = config.pending_key;
    ota_config owned = config;
    owned.current_title = s.title;
    owned.current_version = s.version;
    owned.checkpoint_key = s.checkpoint_key;
    owned.pending_key = s.pending_key;
    s.listener.handlers = std::move(handlers);
    s.engine = new (std::nothrow) ota_engine(core, sink, s.hashes, store, s.listener, owned);
    if (s.engine == nullptr) return errc::out_of_memory;
    if (auto added = core.add_extension(*s.engine); !added) {
      delete s.engine;
      s.engine = nullptr;
      return added;
    }
    if (ready) s.engine->on_ready(now_ms);  // enabled while connected: start now
    return {};
  }

  /// @brief ota_engine::confirm() of `kind`. @return its result, or errc::invalid_argument (not
  /// enabled).
  result<void> confirm(ota_kind kind) noexcept {
    ota_engine* engine = engine_of(kind);
    if (engine == nullptr) return errc::invalid_argument;
    return engine->confirm();
  }
  /// @brief ota_engine::reject(reason) of `kind`. Errors as confirm().
  result<void> reject(ota_kind kind, std::string_view reason) noexcept {
    ota_engine* engine = engine_of(kind);
    if (engine == nullptr) return errc::invalid_argument;
    return engine->reject(reason);
  }

 private:
  // Adapts the core's ota_listener to the app's std::function handlers.
  struct adapter final : ota_listener {
    ota_handlers handlers;
    void on_ota_state(ota_kind k, ota_state s, errc e, std::string_view detail) noexcept override {
      if (handlers.on_state) handlers.on_state(k, s, e, detail);
    }
    void on_ota_progress(ota_kind k, std::uint64_t received, std::uint64_t total) noexcept override {
      if (handlers.on_progress) handlers.on_progress(k, received, total);
    }
    void on_ota_ready(ota_kind k, const ota_package& p) noexcept override {
      if (handlers.on_ready) handlers.on_ready(k, p);
    }
  };
  // One engine with what it needs (each its own hash provider: one context each).
  struct slot {
    mbedtls_hash_provider hashes;
    adapter listener;
    std::string title, version, checkpoint_key, pending_key;
    ota_engine* engine = nullptr;
  };
  struct both {
    slot at[2];
    ~both() {
      for (slot& s : at) delete s.engine;
    }
  };
  static std::size_t index(ota_kind kind) noexcept { return kind == ota_kind::firmware ? 0 : 1; }
  ota_engine* engine_of(ota_kind kind) const noexcept {
    return slots_ != nullptr ? slots_->at[index(kind)].engine : nullptr;
  }
  both* slots_ = nullptr;                      // made by the first enable()
  void (*destroy_)(both*) noexcept = nullptr;  // deletes slots_: set by enable(), see the file comment
};

}  // namespace tbmqtt::detail
