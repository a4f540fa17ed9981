// sf/config.hpp — sf-replay configuration (JSON, schema in docs/replay.md).
//
// Design: strict loading. Unknown keys are errors; every violation is collected and reported at
// once, each naming its field path and the bad value ("risk.max_position must be > 0, was -5").
// Human units (base-unit quantities, quote-currency notional and loss, price band in bps, times
// in ms/ns) are converted ONCE here into the integer per-instrument limits of RiskLimits
// (lots, tick*lot notional, 1/100 bps). Nothing in the data or a strategy's params can disable a
// check; the config only sets limits. Start-up only: allocation is fine here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sf/event_file.hpp"
#include "sf/json.hpp"
#include "sf/latency_model.hpp"
#include "sf/risk.hpp"
#include "sf/venue.hpp"

namespace sf {

struct StrategyConfig {
  std::string id;
  std::string plugin;  // path to a .so, or "builtin:<name>"
  std::string params;  // name=value lines
  std::vector<std::string> instruments;
  json::Value risk;  // optional overrides (object or null)
};

struct OutputConfig {
  std::string results;  // --out
  std::string tape;     // --tape
  std::int64_t pnl_sample_every = 0;  // events between PnL samples; 0 = about 2000 samples per run
  // > 0: PnL sampled at every boundary of this clock period (multiples of it since the epoch, UTC)
  // instead of every n events; 1 = at every change of receive time (each bar in bar mode).
  // Exclusive with pnl_sample_every.
  std::int64_t pnl_sample_period_ns = 0;
  bool orders_list = false;
  std::uint64_t max_fills_listed = 100000;
  std::uint64_t max_orders_listed = 100000;
  std::uint64_t max_denials_listed = 1000;
};

struct VenueConfig {
  LatencyModel feed, entry, response;
  QueueModel queue_model = QueueModel::RiskAverse;
  FeeModel fees;
  std::uint64_t seed = 1;
};

struct ReplayConfig {
  std::string data;
  bool bar_mode = false;
  std::uint32_t book_capacity = 1024;
  std::vector<StrategyConfig> strategies;
  json::Value risk;  // validated; converted per strategy by build_risk_limits()
  VenueConfig venue;
  OutputConfig output;
};

/// Parses and validates a config document. Relative paths (data, plugins) are resolved against
/// `base_dir`. Returns false with every problem in `errors`.
[[nodiscard]] bool parse_replay_config(std::string_view text, const std::string& base_dir, ReplayConfig& out,
                                       std::vector<std::string>& errors);
/// Reads `path` and calls parse_replay_config with the file's directory as base.
[[nodiscard]] bool load_replay_config(const std::string& path, ReplayConfig& out, std::vector<std::string>& errors);

/// Converts the human-unit risk config (with optional strategy overrides) into integer limits for
/// the instruments of `file`. Only the instruments in `allowed` (file ids) are tradable.
[[nodiscard]] bool build_risk_limits(const json::Value& risk, const json::Value& overrides, const EventFile& file,
                                     const std::vector<std::uint32_t>& allowed, RiskLimits& out, std::vector<std::string>& errors,
                                     const std::string& where);

/// Same from plain instrument entries (used by tests and sf-bench).
[[nodiscard]] bool build_risk_limits(const json::Value& risk, const json::Value& overrides, const InstrumentEntry* instruments,
                                     std::uint32_t instrument_count, const std::vector<std::uint32_t>& allowed, RiskLimits& out,
                                     std::vector<std::string>& errors, const std::string& where);

/// Serialises a params JSON object ({"qty": 1, "name": "x"}) into name=value lines.
[[nodiscard]] bool params_from_json(const json::Value& v, std::string& out, std::string& error);

}  // namespace sf
