// The per-call callbacks of the device client API (tbmqtt/device_api.hpp), shared by the Linux
// and ESP-IDF clients: a delivery callback by message ticket (one id space: direct and stored
// messages alike), attribute and client-RPC answers by request id, shared-attribute updates by
// subscription index. Each is called once, then forgotten. Called with the client's lock held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tbmqtt/device_api.hpp"
#include "tbmqtt/session.hpp"

namespace tbmqtt::detail {

class call_callbacks {
 public:
  /// @brief Runs `publish()` (a session call returning a ticket) and keeps `done` for the
  /// message's outcome. An outcome that arrives within the publish (a QoS 0 write, a message
  /// dropped by the store's drop_oldest policy) is handed to `done`, or, for another message,
  /// to `unclaimed(ticket, e)` after the publish.
  /// `done` is moved from only when the publish succeeded (a caller may retry with it).
  template <typename Publish, typename Unclaimed>
  result<delivery_ticket> send(Publish&& publish, delivery_callback&& done, Unclaimed&& unclaimed) {
    in_send_ = true;
    early_.clear();
    const result<delivery_ticket> sent = publish();
    in_send_ = false;
    std::vector<std::pair<delivery_ticket, errc>> early;
    early.swap(early_);  // the callbacks below may send again
    bool settled = false;
    for (const auto& [ticket, e] : early) {
      if (sent && ticket == *sent && done) {
        done(e);
        settled = true;
      } else {
        unclaimed(ticket, e);
      }
    }
    early.clear();
    if (early_.capacity() < early.capacity()) early_.swap(early);  // keep the buffer: no heap per send
    if (sent && done && !settled) deliveries_[*sent] = std::move(done);
    return sent;
  }
  /// @brief A message's outcome (session_events::on_delivered). @return false when no callback
  /// waits for it (nor a send() in progress): the caller may report it elsewhere.
  bool delivered(delivery_ticket ticket, errc e) {
    auto it = deliveries_.find(ticket);
    if (it == deliveries_.end()) {
      if (!in_send_) return false;
      early_.emplace_back(ticket, e);
      return true;
    }
    auto done = std::move(it->second);
    deliveries_.erase(it);
    done(e);
    return true;
  }

  void expect_attributes(std::uint32_t id, attributes_callback done) { attributes_[id] = std::move(done); }
  bool attributes(std::uint32_t id, errc e, json::value client, json::value shared) {
    auto it = attributes_.find(id);
    if (it == attributes_.end()) return false;
    auto done = std::move(it->second);
    attributes_.erase(it);
    done(e, client, shared);
    return true;
  }

  void expect_rpc_response(std::uint32_t id, rpc_response_callback done) { rpc_responses_[id] = std::move(done); }
  bool rpc_response(std::uint32_t id, errc e, json::value response) {
    auto it = rpc_responses_.find(id);
    if (it == rpc_responses_.end()) return false;
    auto done = std::move(it->second);
    rpc_responses_.erase(it);
    done(e, response);
    return true;
  }

  void on_shared(std::size_t subscription, attribute_update_callback update) {
    if (updates_.size() <= subscription) updates_.resize(subscription + 1);
    updates_[subscription] = std::move(update);
  }
  bool shared(std::size_t subscription, json::value update) const {
    if (subscription >= updates_.size() || !updates_[subscription]) return false;
    updates_[subscription](update);
    return true;
  }

  /// @brief Ends every waiting request and delivery callback with `e` (errc::cancelled when the
  /// client goes away).
  void cancel_all(errc e) {
    auto attributes = std::move(attributes_);
    auto rpcs = std::move(rpc_responses_);
    auto deliveries = std::move(deliveries_);
    attributes_.clear();
    rpc_responses_.clear();
    deliveries_.clear();
    for (auto& [id, done] : attributes) done(e, {}, {});
    for (auto& [id, done] : rpcs) done(e, {});
    for (auto& [ticket, done] : deliveries) done(e);
  }

 private:
  bool in_send_ = false;
  std::vector<std::pair<delivery_ticket, errc>> early_;  // outcomes reported within a publish
  std::unordered_map<delivery_ticket, delivery_callback> deliveries_;
  std::unordered_map<std::uint32_t, attributes_callback> attributes_;
  std::unordered_map<std::uint32_t, rpc_response_callback> rpc_responses_;
  std::vector<attribute_update_callback> updates_;
};

}  // namespace tbmqtt::detail
