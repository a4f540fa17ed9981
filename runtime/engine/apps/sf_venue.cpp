// sf-venue: the venue simulator process of the live runtime. Accepts order sessions over TCP
// (wire protocol: docs/venue-protocol.md), matches each session's orders with sf::SimVenue
// against its own replay of the same market data, journals every event as JSON lines.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "sf/crash.hpp"
#include "sf/venue_server.hpp"

namespace {

constexpr const char* kUsage =
    "usage: sf-venue (--data FILE | --synth SEED[:EVENTS[:INSTRUMENTS]]) --port N [--port-file PATH] [--journal PATH]\n"
    "                [--heartbeat-timeout-ms MS] [--venue-config JSON|FILE] [--bar-mode] [--bind ADDR]\n"
    "                [--max-orders N] [--max-sessions N]\n"
    "\n"
    "Venue simulator: accepts order sessions over TCP (binary protocol, docs/venue-protocol.md) and\n"
    "matches each session's orders against its own replay of the market data, advanced to the\n"
    "engine time (ts_ns) carried by every incoming frame. Cancel-on-disconnect: when a session's\n"
    "connection closes, it breaks the protocol, or it sends nothing for the heartbeat timeout,\n"
    "every open order of it is canceled and journaled.\n"
    "\n"
    "  --data FILE               .sfe event file (docs/formats.md)\n"
    "  --synth SEED[:EVENTS[:INSTRUMENTS]]  synthetic data, as sf-bench --synth / sf-engine's synth feed\n"
    "                            (defaults: 1000000 events, 1 instrument)\n"
    "  --port N                  TCP port; 0 = pick a free port (see --port-file). Required.\n"
    "  --port-file PATH          write the port number here once listening (atomic: tmp + rename)\n"
    "  --journal PATH            append one JSON line per event, flushed per line\n"
    "  --heartbeat-timeout-ms MS close a session silent for longer (default 1000)\n"
    "  --venue-config JSON|FILE  sf-replay's \"venue\" object: latency.entry delays each order frame,\n"
    "                            queue_model, fees, seed (default: no latency, risk_averse, no fees)\n"
    "  --bar-mode                match orders on bars (as sf-replay's bar_mode)\n"
    "  --bind ADDR               IPv4 address to listen on (default 127.0.0.1; anything else only\n"
    "                            when given here explicitly)\n"
    "  --max-orders N            open orders per session (default 4096)\n"
    "  --max-sessions N          simultaneous connections (default 64)\n"
    "  --help                    this text\n"
    "\n"
    "SIGTERM/SIGINT: cancels every open order (reason venue_shutdown), logs every session out,\n"
    "closes the journal, exits 0. Exit status: 0 ok, 2 usage, 3 config (bad --venue-config, cannot\n"
    "listen), 4 data error, 7 cannot write the journal or port file.\n";

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int fail(int code, const std::string& msg) {
  std::fprintf(stderr, "sf-venue: error: %s\n", msg.c_str());
  if (code == sf::kExitUsage) std::fprintf(stderr, "run 'sf-venue --help' for usage\n");
  return code;
}

bool parse_u64(const std::string& s, unsigned long long& out) {
  if (s.empty() || s[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtoull(s.c_str(), &end, 10);
  return errno == 0 && end != nullptr && *end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
  sf::VenueServerOptions o;
  bool have_port = false;
  std::string venue_config;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&](std::string& v) {
      if (i + 1 >= argc) return false;
      v = argv[++i];
      return true;
    };
    auto number = [&](const char* what, unsigned long long lo, unsigned long long hi, unsigned long long& out) -> bool {
      std::string v;
      if (!next(v) || !parse_u64(v, out) || out < lo || out > hi) {
        std::fprintf(stderr, "sf-venue: error: %s needs an integer in %llu..%llu, got '%s'\n", what, lo, hi, v.c_str());
        return false;
      }
      return true;
    };
    unsigned long long n = 0;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return sf::kExitOk;
    } else if (a == "--data") {
      if (!next(o.data)) return fail(sf::kExitUsage, "--data needs a file");
    } else if (a == "--synth") {
      std::string v;
      if (!next(v)) return fail(sf::kExitUsage, "--synth needs SEED[:EVENTS[:INSTRUMENTS]]");
      std::stringstream ss(v);
      std::string part;
      unsigned long long vals[3] = {0, o.synth_options.events, o.synth_options.instruments};
      int k = 0;
      while (std::getline(ss, part, ':')) {
        if (k >= 3 || !parse_u64(part, vals[k])) return fail(sf::kExitUsage, "--synth '" + v + "' is not SEED[:EVENTS[:INSTRUMENTS]]");
        ++k;
      }
      if (k == 0 || vals[1] == 0 || vals[2] == 0 || vals[2] > 1024)
        return fail(sf::kExitUsage, "--synth '" + v + "': EVENTS must be > 0 and INSTRUMENTS in 1..1024");
      o.synth = true;
      o.synth_options.seed = vals[0];
      o.synth_options.events = vals[1];
      o.synth_options.instruments = static_cast<std::uint32_t>(vals[2]);
    } else if (a == "--port") {
      if (!number("--port", 0, 65535, n)) return sf::kExitUsage;
      o.port = static_cast<std::uint16_t>(n);
      have_port = true;
    } else if (a == "--port-file") {
      if (!next(o.port_file)) return fail(sf::kExitUsage, "--port-file needs a path");
    } else if (a == "--journal") {
      if (!next(o.journal)) return fail(sf::kExitUsage, "--journal needs a path");
    } else if (a == "--heartbeat-timeout-ms") {
      if (!number("--heartbeat-timeout-ms", 2, 3600000, n)) return sf::kExitUsage;
      o.heartbeat_timeout_ms = static_cast<int>(n);
    } else if (a == "--venue-config") {
      if (!next(venue_config)) return fail(sf::kExitUsage, "--venue-config needs a JSON object or a file");
    } else if (a == "--bar-mode") {
      o.bar_mode = true;
    } else if (a == "--bind") {
      if (!next(o.bind)) return fail(sf::kExitUsage, "--bind needs an IPv4 address");
    } else if (a == "--max-orders") {
      if (!number("--max-orders", 1, 1u << 20, n)) return sf::kExitUsage;
      o.max_orders = static_cast<std::uint32_t>(n);
    } else if (a == "--max-sessions") {
      if (!number("--max-sessions", 1, 4096, n)) return sf::kExitUsage;
      o.max_sessions = static_cast<std::uint32_t>(n);
    } else {
      return fail(sf::kExitUsage, "unknown argument '" + a + "'");
    }
  }
  if (o.synth == !o.data.empty()) return fail(sf::kExitUsage, "give exactly one of --data FILE or --synth SEED");
  if (!have_port) return fail(sf::kExitUsage, "--port is required (0 = pick a free port)");
  if (!venue_config.empty()) {
    std::string text = venue_config;
    if (venue_config.find('{') == std::string::npos) {  // a file
      std::ifstream in(venue_config);
      if (!in) return fail(sf::kExitConfig, "cannot read --venue-config file '" + venue_config + "'");
      std::stringstream b;
      b << in.rdbuf();
      text = b.str();
    }
    std::string err;
    if (!sf::parse_venue_config_text(text, o.venue, err)) return fail(sf::kExitConfig, err);
  }
  if (o.bind != "127.0.0.1")
    std::fprintf(stderr, "sf-venue: warning: listening on %s (not loopback) as asked by --bind\n", o.bind.c_str());

  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  sf::VenueServer server(std::move(o));
  std::string err;
  int code = 0;
  if (!server.start(err, code)) return fail(code, err);
  std::fprintf(stderr, "sf-venue: listening on port %u\n", static_cast<unsigned>(server.port()));
  return server.run(g_stop);
}
