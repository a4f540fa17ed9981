// sf/types.hpp — small engine-wide domain types shared by the risk gate, venue and replay.
//
// Design: integer ticks and lots everywhere (see events.hpp); 128-bit intermediates for products
// (price x quantity) so notional and PnL arithmetic cannot overflow. Worst case: O(1), no allocation.
#pragma once

#include <cstdint>

#include "sf/abi.h"
#include "sf/events.hpp"

namespace sf {

__extension__ typedef __int128 i128;  // __extension__: silences -Wpedantic for the GCC/Clang builtin

enum class OrdType : std::uint8_t { Limit = SF_ORD_LIMIT, Market = SF_ORD_MARKET };
enum class Tif : std::uint8_t { Gtc = SF_TIF_GTC, Ioc = SF_TIF_IOC };

[[nodiscard]] constexpr const char* side_name(Side s) noexcept {
  return s == Side::Bid ? "BUY" : (s == Side::Ask ? "SELL" : "NONE");
}
[[nodiscard]] constexpr const char* ord_type_name(OrdType t) noexcept { return t == OrdType::Limit ? "LIMIT" : "MARKET"; }
[[nodiscard]] constexpr const char* tif_name(Tif t) noexcept { return t == Tif::Gtc ? "GTC" : "IOC"; }

/// What a strategy asked for (validated by the risk gate before anything else sees it).
struct OrderIntent {
  std::uint32_t instrument;
  Side side;
  OrdType type;
  Tif tif;
  Ticks px;  // limit price; for market orders the gate fills in a protection price
  Lots qty;
};

/// Reference price for risk checks: the instrument's book, or in bar mode the last bar close
/// (price_only: bid == ask == close, never treated as crossed).
struct Reference {
  Ticks bid = kNoBid;
  Ticks ask = kNoAsk;
  Nanos ts = 0;  // when the reference last changed (event clock)
  bool price_only = false;
  [[nodiscard]] static Reference last_price(Ticks px, Nanos ts) noexcept { return Reference{px, px, ts, true}; }
  [[nodiscard]] bool two_sided() const noexcept { return bid != kNoBid && ask != kNoAsk; }
  [[nodiscard]] Ticks mid_x2() const noexcept { return two_sided() ? bid + ask : kNoPrice; }
};

}  // namespace sf
