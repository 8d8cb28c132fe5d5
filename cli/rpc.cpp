// tbmqtt rpc serve [--count N] [--exec CMD]   answers server-side RPCs
// tbmqtt rpc call METHOD [PARAMS_JSON]        client-side RPC; prints the response
#include <CLI/CLI.hpp>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "commands.hpp"
#include "common.hpp"
#include "exec.hpp"

namespace tbmqtt::cli {
namespace {

struct rpc_args {
  long long count = 0;  // 0: forever
  std::string exec;
  std::string method;
  std::string params;
  bool has_params = false;
};

// ---- rpc serve ----------------------------------------------------------------------------------

void run_serve(const global_options& o, const rpc_args& a) {
  struct queue_state {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<server_rpc> requests;
  };
  auto queue = std::make_shared<queue_state>();
  client device{to_client_options(o)};
  // Requests are answered on this thread, so a slow --exec never blocks the network thread.
  auto r = device.on_any_rpc([queue](const server_rpc& request) {
    std::lock_guard<std::mutex> lock(queue->mutex);
    queue->requests.push_back(request);
    queue->cv.notify_one();
  });
  if (!r) fail("rpc serve", r.error());
  report_dropped_messages(device, "rpc serve");
  connect_or_fail(device, o);

  long long served = 0;
  while (a.count == 0 || served < a.count) {
    server_rpc request;
    {
      std::unique_lock<std::mutex> lock(queue->mutex);
      queue->cv.wait(lock, [&] { return !queue->requests.empty(); });
      request = std::move(queue->requests.front());
      queue->requests.pop_front();
    }
    const std::string params = request.params_json.empty() ? std::string("null") : compact_json(request.params_json);
    const std::string line = "{\"id\":" + quote_json(request.id) + ",\"method\":" + quote_json(request.method) +
                             ",\"params\":" + params + "}";
    print_line(line);
    const std::string reply = exec_reply(o, a.exec, "rpc serve: request " + request.id, request.params_json, line);
    if (auto sent = device.reply_rpc(request.id, reply); !sent)
      report_error("rpc serve: reply to request " + request.id, sent.error());
    ++served;
  }
  flush_or_fail(device, o, "rpc serve");
}

// ---- rpc call -----------------------------------------------------------------------------------

struct rpc_answer {
  errc error;
  std::string response;
};

void run_call(const global_options& o, const rpc_args& a) {
  if (a.has_params) require_json(a.params, "rpc call: params");
  client device{to_client_options(o)};
  connect_or_fail(device, o);
  auto box = std::make_shared<mailbox<rpc_answer>>();
  auto r = device.call_rpc(a.method, a.has_params ? std::string_view(a.params) : std::string_view(),
                           [box](errc e, json::value response) {
                             box->put({e, response.present() ? std::string(response.raw()) : std::string()});
                           });
  if (!r) fail("rpc call " + a.method, r.error());
  auto answer = box->wait_for(o.timeout() + callback_grace);
  if (!answer) fail("rpc call " + a.method + ": no answer", errc::timeout);
  if (answer->error == errc{} || answer->error == errc::server_error) {
    if (!answer->response.empty()) print_line(compact_json(answer->response));
  }
  if (answer->error != errc{}) fail("rpc call " + a.method, answer->error);
}

}  // namespace

void add_rpc_commands(CLI::App& app, global_options& options) {
  auto args = std::make_shared<rpc_args>();
  auto* group = app.add_subcommand("rpc", "Remote procedure calls");
  group->require_subcommand(1);

  auto* serve = group->add_subcommand("serve", "Answer server-side RPCs; prints each request as one JSON line");
  serve->add_option("--count", args->count, "Exit after answering N requests")->check(CLI::PositiveNumber);
  serve->add_option(
      "--exec", args->exec,
      "Reply with the JSON printed by CMD (run with /bin/sh -c, request JSON on stdin); default: echo params");
  serve->callback([&options, args] { run_serve(options, *args); });

  auto* call = group->add_subcommand("call", "Call a server method (client-side RPC) and print the response");
  call->add_option("method", args->method, "Method name")->required();
  auto* params = call->add_option("params", args->params, "Params as JSON (default {})");
  call->callback([&options, args, params] {
    args->has_params = params->count() > 0;
    run_call(options, *args);
  });
}

}  // namespace tbmqtt::cli
