// sf-engine: the live runtime daemon (docs/runtime.md). One feed, strategy instances (one live
// and any number of shadow per strategy), a control socket. Config: engine.json.
#include <cstdio>
#include <string>
#include <vector>

#include "sf/crash.hpp"
#include "sf/daemon.hpp"

namespace {
constexpr const char* kUsage =
    "usage: sf-engine --config FILE [--quiet]\n"
    "\n"
    "Runs the live engine: replays an event file (paced by its receive times x speed, or as fast as\n"
    "possible) or a synthetic feed through strategy instances loaded over the control socket (a Unix\n"
    "stream socket speaking JSON lines: load, promote, rollback, unload, kill, release, status,\n"
    "metrics, events, shutdown). Config and protocol: docs/runtime.md.\n"
    "\n"
    "  --config FILE   engine.json (control_socket, feed, venue, firm, latency_window_events,\n"
    "                  sim_venue, risk). Required.\n"
    "  --quiet         no start/stop lines on stderr.\n"
    "  --help          this text.\n"
    "\n"
    "Exit status: 0 after a `shutdown` command or SIGTERM/SIGINT, 2 usage, 3 config error (or the control socket is in\n"
    "use), 4 data error, 6 strategy crash (signal inside a callback), 70 engine crash.\n";
}  // namespace

int main(int argc, char** argv) {
  std::string config;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return sf::kExitOk;
    } else if (a == "--config" && i + 1 < argc) {
      config = argv[++i];
    } else if (a == "--quiet") {
      quiet = true;
    } else {
      std::fputs(kUsage, stderr);
      std::fprintf(stderr, "sf-engine: error: %s\n", a == "--config" ? "--config needs a file" : ("unknown argument '" + a + "'").c_str());
      return sf::kExitUsage;
    }
  }
  if (config.empty()) {
    std::fputs(kUsage, stderr);
    std::fprintf(stderr, "sf-engine: error: --config is required\n");
    return sf::kExitUsage;
  }
  sf::DaemonConfig cfg;
  std::vector<std::string> errors;
  if (!sf::load_daemon_config(config, cfg, errors)) {
    std::fprintf(stderr, "sf-engine: error: config '%s' has %zu problem(s):\n", config.c_str(), errors.size());
    for (const auto& e : errors) std::fprintf(stderr, "  - %s\n", e.c_str());
    return sf::kExitConfig;
  }
  sf::g_crash.program = "sf-engine";
  sf::install_crash_handlers();
  return sf::run_daemon(cfg, quiet);
}
