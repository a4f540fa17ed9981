// sf-bench: engine throughput and tick-to-order benchmark.
//   (a) pure replay: the no-op strategy subscribed to every instrument (book + callbacks only);
//   (b) the reference market maker with the simulated venue and the risk gate in the loop.
// Prints events/s for each and tick-to-order p50/p99/p99.9; --json writes the same numbers.
// --synth N --seed S writes a synthetic L2 + trades file first (sf/synth.hpp).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sf/config.hpp"
#include "sf/crash.hpp"
#include "sf/engine.hpp"
#include "sf/event_file.hpp"
#include "sf/json.hpp"
#include "sf/synth.hpp"

namespace {

constexpr const char* kUsage =
    "usage: sf-bench [--synth N [--seed S] [--instruments K] [--depth D] [--out FILE] [--no-run]]\n"
    "                [--data FILE] [--repeat R] [--json FILE] [--noop-plugin P] [--mm-plugin P] [--no-latency] [--mmap]\n"
    "\n"
    "  --synth N        write a synthetic event file of about N records (random-walk L2 depth + trades)\n"
    "  --seed S         generator seed (default 1)\n"
    "  --instruments K  instruments in the synthetic file (default 1)\n"
    "  --depth D        target levels per side (default 10)\n"
    "  --out FILE       where --synth writes (default synth.sfe)\n"
    "  --no-run         only write the synthetic file\n"
    "  --data FILE      benchmark this event file (default: the --synth output)\n"
    "  --repeat R       run each workload R times and report the fastest (default 3)\n"
    "  --json FILE      also write the results as JSON ('-' = stdout)\n"
    "  --noop-plugin P  plugin for workload (a) (default builtin:noop)\n"
    "  --mm-plugin P    plugin for workload (b) (default builtin:market_maker)\n"
    "  --mm-params S    params for (b) (default \"qty=1\\noffset_ticks=1\\nmax_inventory=10\\nrequote_ticks=1\")\n"
    "  --no-latency     skip the latency run (throughput only)\n"
    "  --mmap           replay from the read-only file mapping (pre-touched) instead of a copy of the file\n"
    "                   in memory; pages the kernel evicts from its cache are then faulted in during the\n"
    "                   timed loop (the default copy is how the peer benchmark holds its data too)\n";

constexpr const char* kRisk = R"({
  "max_order_qty": 1000, "max_order_notional": 1e12, "max_position": 1e6, "price_band_bps": 1000,
  "max_open_orders": 64, "max_msgs_per_sec": 1000000, "msg_burst": 100000, "max_loss": 1e15,
  "max_reference_age_ms": 60000, "duplicate_window_ms": 0
})";

struct Result {
  std::string name;
  double events_per_s = 0;
  double wall_s = 0;
  std::uint64_t events = 0, orders = 0, fills = 0, denied = 0;
  double pnl = 0;
  std::uint64_t t2o_p50 = 0, t2o_p90 = 0, t2o_p99 = 0, t2o_p999 = 0, t2o_max = 0, t2o_count = 0;
  std::uint64_t book_p50 = 0, book_p99 = 0;
};

bool run_once(const sf::EventFile& file, const std::string& name, const std::string& plugin, const std::string& params, bool venue_latency,
              bool measure, Result& out, std::string& err) {
  sf::json::Value risk;
  if (!sf::json::parse(kRisk, risk, err)) return false;
  sf::EngineOptions opts;
  opts.measure_latency = measure;
  opts.venue.feed = sf::LatencyModel::constant(0);
  opts.venue.entry = sf::LatencyModel::constant(venue_latency ? 10'000 : 0);
  opts.venue.response = sf::LatencyModel::constant(venue_latency ? 10'000 : 0);
  opts.venue.fees = sf::FeeModel{-0.5, 2.0};
  opts.output.max_fills_listed = 0;
  opts.output.max_denials_listed = 0;
  sf::Engine eng(file, opts);
  sf::StrategySetup st;
  st.id = name;
  st.plugin = plugin;
  st.params = params;
  for (std::uint32_t i = 0; i < file.instrument_count(); ++i) st.instruments.push_back(i);
  std::vector<std::string> errors;
  if (!sf::build_risk_limits(risk, sf::json::Value{}, file, st.instruments, st.limits, errors, "bench")) {
    err = errors.front();
    return false;
  }
  if (!eng.add_strategy(std::move(st), err)) return false;
  if (eng.run() != sf::RunStatus::Ok) {
    err = eng.error();
    return false;
  }
  const auto& s = eng.slot(0);
  out.name = name;
  out.events = eng.events_processed();
  out.wall_s = static_cast<double>(eng.wall_ns()) * 1e-9;
  out.events_per_s = out.wall_s > 0 ? static_cast<double>(out.events) / out.wall_s : 0;
  out.orders = s.accepted;
  out.fills = s.fills;
  out.denied = s.denied;
  out.pnl = s.gate.pnl();
  out.t2o_count = s.t2o_hist.count();
  out.t2o_p50 = s.t2o_hist.quantile(0.5);
  out.t2o_p90 = s.t2o_hist.quantile(0.9);
  out.t2o_p99 = s.t2o_hist.quantile(0.99);
  out.t2o_p999 = s.t2o_hist.quantile(0.999);
  out.t2o_max = s.t2o_hist.max();
  out.book_p50 = s.cb_hist[sf::kCbBook].quantile(0.5);
  out.book_p99 = s.cb_hist[sf::kCbBook].quantile(0.99);
  return true;
}

void print(const Result& r) {
  std::printf("%-14s %12.0f events/s  (%.1f M/s, %.3f s, %llu events)\n", r.name.c_str(), r.events_per_s, r.events_per_s / 1e6, r.wall_s,
              static_cast<unsigned long long>(r.events));
  if (r.book_p50 == 0 && r.t2o_count == 0) return;
  std::printf("%-14s on_book p50=%lluns p99=%lluns", "", static_cast<unsigned long long>(r.book_p50), static_cast<unsigned long long>(r.book_p99));
  if (r.t2o_count > 0)
    std::printf("  tick-to-order p50=%lluns p90=%lluns p99=%lluns p99.9=%lluns max=%lluns (n=%llu)  orders=%llu fills=%llu denied=%llu",
                static_cast<unsigned long long>(r.t2o_p50), static_cast<unsigned long long>(r.t2o_p90), static_cast<unsigned long long>(r.t2o_p99),
                static_cast<unsigned long long>(r.t2o_p999), static_cast<unsigned long long>(r.t2o_max),
                static_cast<unsigned long long>(r.t2o_count), static_cast<unsigned long long>(r.orders), static_cast<unsigned long long>(r.fills),
                static_cast<unsigned long long>(r.denied));
  std::printf("\n");
}

void json_result(sf::json::Writer& w, const Result& r) {
  w.begin_object();
  w.kv("events", r.events).kv("wall_time_s", r.wall_s).kv("events_per_s", r.events_per_s);
  w.kv("orders", r.orders).kv("fills", r.fills).kv("denied", r.denied).kv("pnl", r.pnl);
  w.key("on_book_ns").begin_object().kv("p50", r.book_p50).kv("p99", r.book_p99).end_object();
  w.key("tick_to_order_ns")
      .begin_object()
      .kv("count", r.t2o_count)
      .kv("p50", r.t2o_p50)
      .kv("p90", r.t2o_p90)
      .kv("p99", r.t2o_p99)
      .kv("p99_9", r.t2o_p999)
      .kv("max", r.t2o_max)
      .end_object();
  w.end_object();
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t synth_n = 0;
  sf::SynthOptions so;
  std::string out = "synth.sfe", data, json_path, noop = "builtin:noop", mm = "builtin:market_maker";
  std::string mm_params = "qty=1\noffset_ticks=1\nmax_inventory=10\nrequote_ticks=1\n";
  int repeat = 3;
  bool run = true, measure = true, mapped = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto need = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "sf-bench: error: %s needs a value\n", a.c_str());
        std::exit(sf::kExitUsage);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--synth") synth_n = std::strtoull(need(), nullptr, 10);
    else if (a == "--seed") so.seed = std::strtoull(need(), nullptr, 10);
    else if (a == "--instruments") so.instruments = static_cast<std::uint32_t>(std::strtoul(need(), nullptr, 10));
    else if (a == "--depth") so.depth = static_cast<std::uint32_t>(std::strtoul(need(), nullptr, 10));
    else if (a == "--out") out = need();
    else if (a == "--no-run") run = false;
    else if (a == "--data") data = need();
    else if (a == "--repeat") repeat = std::max(1, std::atoi(need()));
    else if (a == "--json") json_path = need();
    else if (a == "--noop-plugin") noop = need();
    else if (a == "--mm-plugin") mm = need();
    else if (a == "--mm-params") mm_params = need();
    else if (a == "--no-latency") measure = false;
    else if (a == "--mmap") mapped = true;
    else {
      std::fputs(kUsage, stderr);
      std::fprintf(stderr, "sf-bench: error: unknown argument '%s'\n", a.c_str());
      return sf::kExitUsage;
    }
  }
  std::string err;
  if (synth_n > 0) {
    so.events = synth_n;
    if (!sf::write_synthetic(out, so, err)) {
      std::fprintf(stderr, "sf-bench: error: %s\n", err.c_str());
      return sf::kExitOutput;
    }
    std::fprintf(stderr, "sf-bench: wrote %s (about %llu events, seed %llu)\n", out.c_str(), static_cast<unsigned long long>(synth_n),
                 static_cast<unsigned long long>(so.seed));
    if (data.empty()) data = out;
  }
  if (!run) return 0;
  if (data.empty()) {
    std::fputs(kUsage, stderr);
    std::fprintf(stderr, "sf-bench: error: give --data FILE or --synth N\n");
    return sf::kExitUsage;
  }
  sf::EventFile file;
  if (!file.open(data, err, mapped ? sf::Residency::Mapped : sf::Residency::Memory)) {
    std::fprintf(stderr, "sf-bench: error: %s\n", err.c_str());
    return sf::kExitData;
  }
  sf::install_crash_handlers();
  sf::g_crash.program = "sf-bench";
  // touch the mapping once so the first timed run does not pay page faults (a no-op on a copy)
  if (mapped) {
    volatile std::uint64_t sink = 0;
    for (std::uint64_t i = 0; i < file.event_count(); i += 64) sink = sink + static_cast<std::uint64_t>(file.events()[i].recv_ts);
  }
  // Throughput runs carry no timing instrumentation (like the peers they are compared with); one
  // more run of each workload with every callback and every order timed gives the latencies.
  Result best_a, best_b, lat_a, lat_b;
  for (int r = 0; r < repeat; ++r) {
    Result a, b;
    if (!run_once(file, "replay_noop", noop, "", false, false, a, err) || !run_once(file, "market_maker", mm, mm_params, true, false, b, err)) {
      std::fprintf(stderr, "sf-bench: error: %s\n", err.c_str());
      return sf::kExitStrategyFault;
    }
    if (a.events_per_s > best_a.events_per_s) best_a = a;
    if (b.events_per_s > best_b.events_per_s) best_b = b;
  }
  if (measure && (!run_once(file, "replay_noop", noop, "", false, true, lat_a, err) ||
                  !run_once(file, "market_maker", mm, mm_params, true, true, lat_b, err))) {
    std::fprintf(stderr, "sf-bench: error: %s\n", err.c_str());
    return sf::kExitStrategyFault;
  }
  std::printf("sf-bench: %s, %llu events, %u instrument(s), data %s\n", data.c_str(), static_cast<unsigned long long>(file.event_count()),
              file.instrument_count(), mapped ? "memory-mapped" : "in memory");
  std::printf("throughput (no timing instrumentation, best of %d):\n", repeat);
  print(best_a);
  print(best_b);
  if (measure) {
    std::printf("latency (every callback and every order timed with the TSC):\n");
    print(lat_a);
    print(lat_b);
  }
  if (!json_path.empty()) {
    sf::json::Writer w;
    w.begin_object();
    w.kv("format", "sf-bench").kv("version", 1).kv("data", data).kv("events", file.event_count()).kv("repeat", repeat);
    w.kv("data_residency", mapped ? "mapped" : "memory");
    w.key("throughput").begin_object();
    w.key("replay_noop");
    json_result(w, best_a);
    w.key("market_maker");
    json_result(w, best_b);
    w.end_object();
    if (measure) {
      w.key("latency").begin_object();
      w.key("replay_noop");
      json_result(w, lat_a);
      w.key("market_maker");
      json_result(w, lat_b);
      w.end_object();
    }
    w.end_object();
    w.str() += '\n';
    if (json_path == "-") {
      std::fputs(w.str().c_str(), stdout);
    } else {
      std::FILE* f = std::fopen(json_path.c_str(), "wb");
      if (f == nullptr || std::fwrite(w.str().data(), 1, w.str().size(), f) != w.str().size()) {
        std::fprintf(stderr, "sf-bench: error: cannot write %s\n", json_path.c_str());
        if (f) std::fclose(f);
        return sf::kExitOutput;
      }
      std::fclose(f);
    }
  }
  return 0;
}
