// Server-side RPC handlers by method, shared by the Linux and ESP-IDF clients (the
// tbmqtt/device_api.hpp handler form): the session answers unregistered methods itself unless a
// fallback handler is set. Called with the client's lock held.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "tbmqtt/device_api.hpp"
#include "tbmqtt/session.hpp"

namespace tbmqtt::detail {

class rpc_dispatch {
 public:
  /// @brief `handler` handles `method` (replacing an earlier one). @return ok, or the session's
  /// errc::queue_full (no room for another method).
  result<void> on(session& core, std::string_view method, rpc_handler handler) {
    if (auto it = handlers_.find(method); it != handlers_.end()) {
      it->second = std::move(handler);
      return {};
    }
    auto added = handlers_.emplace(std::string(method), std::move(handler)).first;
    // The session keeps a view of the method name: the map's key, stable while the entry lives.
    if (auto r = core.add_rpc_method(added->first); !r) {
      handlers_.erase(added);
      return r;
    }
    return {};
  }
  /// @brief `handler` handles every method without a handler of its own (empty: none).
  void on_any(session& core, rpc_handler handler) {
    any_ = std::move(handler);
    core.set_rpc_fallback(static_cast<bool>(any_));
  }
  /// @brief Hands `request` to its handler. @return false when none takes it.
  bool dispatch(const rpc_request& request) const {
    auto it = handlers_.find(request.method);
    const rpc_handler* h = it != handlers_.end() ? &it->second : (any_ ? &any_ : nullptr);
    if (h == nullptr || !*h) return false;
    (*h)(server_rpc{std::string(request.id), std::string(request.method), std::string(request.params.raw())});
    return true;
  }

 private:
  std::map<std::string, rpc_handler, std::less<>> handlers_;
  rpc_handler any_;
};

}  // namespace tbmqtt::detail
