// sf-replay: backtest one or more strategy plugins over an event file with the simulated venue
// and the pre-trade risk gate. Config schema, results and tape formats: docs/replay.md.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "sf/config.hpp"
#include "sf/crash.hpp"
#include "sf/engine.hpp"
#include "sf/event_file.hpp"
#include "sf/json.hpp"
#include "sf/tape.hpp"

namespace {

constexpr const char* kUsage =
    "usage: sf-replay --config FILE [--data FILE] [--out FILE] [--tape FILE] [--no-latency] [--preload] [--quiet]\n"
    "\n"
    "Replays an .sfe event file through one or more strategy plugins, the pre-trade risk gate and the\n"
    "simulated venue, and writes a results JSON document.\n"
    "\n"
    "  --config FILE   replay config (JSON; schema in docs/replay.md). Required.\n"
    "  --data FILE     event file; overrides the config's \"data\".\n"
    "  --out FILE      results JSON; overrides output.results (default: results.json).\n"
    "                  Written to FILE.tmp and renamed, so a failed run never leaves a partial file.\n"
    "  --tape FILE     also write the callback tape (JSON lines: every callback input and every\n"
    "                  order decision); overrides output.tape.\n"
    "  --no-latency    do not time callbacks / tick-to-order (pure throughput).\n"
    "  --preload       read the event file into memory before the run instead of replaying from the\n"
    "                  read-only mapping (no page faults in the loop; costs the file's size in RAM).\n"
    "  --quiet         no summary on stderr.\n"
    "  --help          this text.\n"
    "\n"
    "Exit status: 0 ok, 2 usage, 3 config/plugin error, 4 data error, 5 strategy fault (exception or\n"
    "fault status), 6 strategy crash (signal inside a callback), 7 cannot write output.\n";

int fail(int code, const std::string& msg) {
  std::fprintf(stderr, "sf-replay: error: %s\n", msg.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, data, out, tape_path;
  bool measure = true, quiet = false, preload = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&](std::string& dst) {
      if (i + 1 >= argc) return false;
      dst = argv[++i];
      return true;
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return sf::kExitOk;
    } else if (a == "--config") {
      if (!next(config_path)) return fail(sf::kExitUsage, "--config needs a file");
    } else if (a == "--data") {
      if (!next(data)) return fail(sf::kExitUsage, "--data needs a file");
    } else if (a == "--out") {
      if (!next(out)) return fail(sf::kExitUsage, "--out needs a file");
    } else if (a == "--tape") {
      if (!next(tape_path)) return fail(sf::kExitUsage, "--tape needs a file");
    } else if (a == "--no-latency") {
      measure = false;
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "--preload") {
      preload = true;
    } else {
      std::fputs(kUsage, stderr);
      return fail(sf::kExitUsage, "unknown argument '" + a + "'");
    }
  }
  if (config_path.empty()) {
    std::fputs(kUsage, stderr);
    return fail(sf::kExitUsage, "--config is required");
  }

  sf::ReplayConfig cfg;
  std::vector<std::string> errors;
  if (!sf::load_replay_config(config_path, cfg, errors)) {
    std::fprintf(stderr, "sf-replay: error: config '%s' has %zu problem(s):\n", config_path.c_str(), errors.size());
    for (const auto& e : errors) std::fprintf(stderr, "  - %s\n", e.c_str());
    return sf::kExitConfig;
  }
  if (!data.empty()) cfg.data = data;
  if (!out.empty()) cfg.output.results = out;
  if (!tape_path.empty()) cfg.output.tape = tape_path;
  if (cfg.output.results.empty()) cfg.output.results = "results.json";
  if (cfg.data.empty()) return fail(sf::kExitConfig, "no event file: set \"data\" in the config or pass --data");

  sf::EventFile file;
  std::string err;
  if (!file.open(cfg.data, err, preload ? sf::Residency::Memory : sf::Residency::Mapped)) return fail(sf::kExitData, err);

  std::vector<sf::StrategySetup> setups;
  for (std::size_t k = 0; k < cfg.strategies.size(); ++k) {
    const auto& sc = cfg.strategies[k];
    sf::StrategySetup st;
    st.id = sc.id;
    st.plugin = sc.plugin;
    st.params = sc.params;
    for (const auto& sym : sc.instruments) {
      const long idx = file.find_instrument(sym);
      if (idx < 0) {
        std::string known;
        for (std::uint32_t i = 0; i < file.instrument_count() && i < 20; ++i)
          known += (i ? ", " : "") + std::string(file.instruments()[i].symbol_view());
        errors.push_back("strategies[" + std::to_string(k) + "].instruments: \"" + sym + "\" is not in " + cfg.data + " (has: " + known + ")");
      } else {
        st.instruments.push_back(static_cast<std::uint32_t>(idx));
      }
    }
    if (!st.instruments.empty())
      (void)sf::build_risk_limits(cfg.risk, sc.risk, file, st.instruments, st.limits, errors, "strategies[" + std::to_string(k) + "]");
    setups.push_back(std::move(st));
  }
  if (!errors.empty()) {
    std::fprintf(stderr, "sf-replay: error: config '%s' has %zu problem(s):\n", config_path.c_str(), errors.size());
    for (const auto& e : errors) std::fprintf(stderr, "  - %s\n", e.c_str());
    return sf::kExitConfig;
  }

  const std::string results_tmp = cfg.output.results + ".tmp";
  sf::g_crash.program = "sf-replay";
  sf::g_crash.cleanup[0] = results_tmp.c_str();
  sf::install_crash_handlers();

  sf::EngineOptions opts;
  opts.bar_mode = cfg.bar_mode;
  opts.book_capacity = cfg.book_capacity;
  opts.venue = cfg.venue;
  opts.output = cfg.output;
  opts.measure_latency = measure;
  sf::Engine engine(file, opts);
  for (auto& st : setups) {
    if (!engine.add_strategy(std::move(st), err)) return fail(sf::kExitConfig, err);
  }

  sf::TapeWriter tape;
  if (!cfg.output.tape.empty()) {
    if (!tape.open(cfg.output.tape, err)) return fail(sf::kExitOutput, err);
    std::string hdr;
    sf::json::Writer hw;
    hw.begin_object();
    hw.kv("data", cfg.data).kv("bar_mode", cfg.bar_mode).kv("seed", cfg.venue.seed);
    hw.key("strategies").begin_array();
    for (std::size_t k = 0; k < engine.slot_count(); ++k) {
      const auto& s = engine.slot(k);
      hw.begin_object().kv("id", s.id).kv("name", s.fn->name).kv("plugin", s.plugin_path);
      hw.key("instruments").begin_array();
      for (auto i : s.instruments) hw.begin_object().kv("id", i).kv("symbol", std::string(file.instruments()[i].symbol_view())).end_object();
      hw.end_array().end_object();
    }
    hw.end_array().end_object();
    hdr = hw.str().substr(1, hw.str().size() - 2);  // strip the braces: fields only
    tape.header(hdr);
    engine.set_tape(&tape);
  }

  const sf::RunStatus st = engine.run();
  if (st == sf::RunStatus::DataError) return fail(sf::kExitData, engine.error());
  if (st == sf::RunStatus::StrategyFault)
    return fail(sf::kExitStrategyFault, engine.error() + "; the run is aborted and no results file was written");

  sf::json::Writer w;
  engine.write_results(w, config_path);
  w.str() += '\n';
  std::FILE* f = std::fopen(results_tmp.c_str(), "wb");
  if (f == nullptr) return fail(sf::kExitOutput, "cannot create '" + results_tmp + "': " + std::strerror(errno));
  const bool ok = std::fwrite(w.str().data(), 1, w.str().size(), f) == w.str().size();
  if (std::fclose(f) != 0 || !ok || std::rename(results_tmp.c_str(), cfg.output.results.c_str()) != 0) {
    std::remove(results_tmp.c_str());
    return fail(sf::kExitOutput, "cannot write results '" + cfg.output.results + "': " + std::strerror(errno));
  }
  if (!cfg.output.tape.empty() && !tape.finish(err)) return fail(sf::kExitOutput, err);

  if (!quiet) {
    const double secs = static_cast<double>(engine.wall_ns()) * 1e-9;
    std::fprintf(stderr, "sf-replay: %llu events in %.3f s (%.2f M events/s) -> %s\n",
                 static_cast<unsigned long long>(engine.events_processed()), secs,
                 secs > 0 ? static_cast<double>(engine.events_processed()) / secs / 1e6 : 0.0, cfg.output.results.c_str());
    for (std::size_t k = 0; k < engine.slot_count(); ++k) {
      const auto& s = engine.slot(k);
      std::fprintf(stderr, "  %s (%s): pnl=%.6f fees=%.6f fills=%llu orders=%llu denied=%llu t2o p50=%lluns p99=%lluns\n", s.id.c_str(),
                   s.fn->name, s.gate.pnl(), s.gate.fees(), static_cast<unsigned long long>(s.fills),
                   static_cast<unsigned long long>(s.accepted), static_cast<unsigned long long>(s.denied),
                   static_cast<unsigned long long>(s.t2o_hist.quantile(0.5)), static_cast<unsigned long long>(s.t2o_hist.quantile(0.99)));
    }
  }
  return sf::kExitOk;
}
