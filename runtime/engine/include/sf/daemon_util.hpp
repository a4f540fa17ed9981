// sf/daemon_util.hpp — helpers shared by sf-engine's sources (not a public API).
#pragma once

#include <string>
#include <vector>

#include "sf/config.hpp"
#include "sf/json.hpp"

namespace sf {

/// Writes a parsed JSON value back out (numbers: integers exactly, others as doubles).
void write_json_value(json::Writer& w, const json::Value& v);

/// Validates risk (+ optional per-strategy overrides) and venue objects with sf-replay's parser
/// through a one-strategy probe document; `out` gets the parsed venue.
[[nodiscard]] bool probe_replay_config(const json::Value& risk, const json::Value& venue, const json::Value* overrides, ReplayConfig& out,
                                       std::vector<std::string>& errors);

}  // namespace sf
