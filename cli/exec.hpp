// tbmqtt CLI — answering a server RPC with an external command (`--exec CMD` of `tbmqtt rpc serve`
// and `tbmqtt gateway rpc serve`).
#pragma once

#include <string>

namespace tbmqtt::cli {

struct global_options;

/// @brief The reply to one RPC: `params_json` echoed (`{}` when empty) without `exec`; otherwise
/// the JSON that `/bin/sh -c exec` prints when given `request_line` (plus a newline) on stdin,
/// killed after --timeout. Problems are reported on stderr as `<what>: ...` and answered with
/// `{"error":".."}`.
std::string exec_reply(const global_options& o, const std::string& exec, const std::string& what,
                       const std::string& params_json, const std::string& request_line);

}  // namespace tbmqtt::cli
