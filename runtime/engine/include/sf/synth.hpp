// sf/synth.hpp — synthetic L2 + trade event files for tests and benchmarks (sf-bench --synth).
//
// Design: per instrument a model book (sf::Book) starts from a snapshot (CLEAR + DEPTH levels
// flagged SNAPSHOT) and then evolves by source "messages", each 1-3 records with END_OF_BATCH on
// the last: ~50% size changes at a random depth (geometric, top-heavy), ~15% trades (TRADE hitting
// the opposite best, then the DEPTH update that consumes it), ~15% new levels inside the spread
// (or best-level cancels when the spread is one tick), ~20% best-level cancels; the back of each
// side is refilled so depth stays near `depth`. The mid therefore random-walks and the book is
// never crossed. Timestamps advance 1-41 us per message; exch_ts = recv_ts - 20..30 us.
// Deterministic for a given (events, seed, instruments, depth).
// Worst case: O(events) time, O(1) memory beyond the output buffer.
#pragma once

#include <cstdint>
#include <string>

namespace sf {

struct SynthOptions {
  std::uint64_t events = 1'000'000;  // about this many records (the last batch may add 2)
  std::uint64_t seed = 1;
  std::uint32_t instruments = 1;
  std::uint32_t depth = 10;           // target levels per side
  std::int64_t start_mid_ticks = 100'000;
  std::int64_t tick_size_e9 = 10'000'000;   // 0.01
  std::int64_t lot_size_e9 = 1'000'000'000; // 1 unit
};

[[nodiscard]] bool write_synthetic(const std::string& path, const SynthOptions& opt, std::string& error);

}  // namespace sf
