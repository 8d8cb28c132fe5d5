// tbmqtt-emulator-admin: a thin test/debug front end of the admin library, mirroring
// `tbmqtt emulator ...` (the real CLI lives in cli/). Global options come first:
//   tbmqtt-emulator-admin [--state DIR] [--port P] COMMAND ...
#include "emulator_admin.hpp"

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace em = tbmqtt::emulator;

namespace {
int usage() {
    std::cerr
        << "usage: tbmqtt-emulator-admin [--state DIR] [--port P] COMMAND\n"
           "  start\n"
           "  device add NAME [--token T | --client-id C --username U --password P | --cert-file PEM] [--gateway]\n"
           "  attributes set DEVICE JSON\n"
           "  telemetry DEVICE\n"
           "  rpc DEVICE METHOD [PARAMS] [--oneway] [--timeout-ms N]\n"
           "  ota assign DEVICE FILE --title T --version V [--checksum-algorithm ALG] [--software]\n"
           "  ota state DEVICE\n"
           "  profile add --key K --secret S [--strategy allow-create|check-preprovisioned]\n"
           "  request COMMAND [ARGS_JSON]\n";
    return 2;
}
}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    em::connection c;
    em::start_options so;
    std::size_t i = 0;
    for (; i + 1 < args.size() && args[i].rfind("--", 0) == 0; i += 2) {
        if (args[i] == "--state")
            c.state_dir = so.state_dir = args[i + 1];
        else if (args[i] == "--port")
            c.port = so.port = std::stoi(args[i + 1]);
        else
            return usage();
    }
    std::vector<std::string> pos;
    std::vector<std::pair<std::string, std::string>> opts;
    std::vector<std::string> flags;
    for (; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--oneway" || a == "--software" || a == "--gateway")
            flags.push_back(a);
        else if (a.rfind("--", 0) == 0 && i + 1 < args.size())
            opts.emplace_back(a, args[++i]);
        else
            pos.push_back(a);
    }
    auto opt = [&](const char* k, const std::string& d = "") {
        for (auto& [n, v] : opts)
            if (n == k) return v;
        return d;
    };
    auto flag = [&](const char* k) {
        for (auto& f : flags)
            if (f == k) return true;
        return false;
    };
    try {
        if (pos.empty()) return usage();
        const std::string cmd = pos[0];
        if (cmd == "start") return em::start(so, std::cout);
        if (cmd == "device" && pos.size() == 3 && pos[1] == "add") {
            em::device_credentials cr{opt("--token"), opt("--client-id"), opt("--username"), opt("--password"),
                                      opt("--cert-file")};
            std::cout << em::device_add(c, pos[2], cr, flag("--gateway")) << "\n";
        } else if (cmd == "attributes" && pos.size() == 4 && pos[1] == "set") {
            std::cout << em::attributes_set(c, pos[2], pos[3]) << "\n";
        } else if (cmd == "telemetry" && pos.size() == 2) {
            std::cout << em::telemetry(c, pos[1]) << "\n";
        } else if (cmd == "rpc" && (pos.size() == 3 || pos.size() == 4)) {
            em::rpc_options ro;
            ro.oneway = flag("--oneway");
            ro.timeout = std::chrono::milliseconds(std::stol(opt("--timeout-ms", "10000")));
            std::cout << em::rpc(c, pos[1], pos[2], pos.size() == 4 ? pos[3] : "{}", ro) << "\n";
        } else if (cmd == "ota" && pos.size() == 4 && pos[1] == "assign") {
            std::cout << em::ota_assign(c, pos[2], pos[3], opt("--title"), opt("--version"),
                                        opt("--checksum-algorithm", "SHA256"), flag("--software"))
                      << "\n";
        } else if (cmd == "ota" && pos.size() == 3 && pos[1] == "state") {
            std::cout << em::ota_state(c, pos[2]) << "\n";
        } else if (cmd == "profile" && pos.size() == 2 && pos[1] == "add") {
            std::cout << em::profile_add(c, opt("--key"), opt("--secret"), opt("--strategy", "allow-create")) << "\n";
        } else if (cmd == "request" && (pos.size() == 2 || pos.size() == 3)) {
            std::cout << em::request(c, pos[1], pos.size() == 3 ? pos[2] : "{}") << "\n";
        } else {
            return usage();
        }
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
