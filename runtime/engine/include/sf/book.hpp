// sf/book.hpp — L2 price-level order book, one per instrument.
//
// Design: two sides with one implementation (LadderLevels, sf/levels.hpp) on a side-normalised
// unsigned key (price with the sign bit flipped for bids, the bitwise not of that for asks), so
// "better" is always "greater key" and a DEPTH record picks its side with a select instead of a
// branch. Each side keeps a direct-mapped window of ticks near its best level (quantity per
// tick + an occupancy bitmap) and a sorted array for the levels below the window: top of book,
// mid, spread and imbalance are O(1) reads, an update near the touch is O(1) without a search,
// level(depth) walks the bitmap (O(depth + window/64)). sf/levels.hpp has the details, the
// invariants and the worst cases.
// Memory is allocated once at construction (the window, and capacity levels for the array;
// default capacity 1024 levels per side); nothing allocates afterwards.
//
// Capacity: when a side holds `capacity` levels, a new level better than the worst one evicts the
// worst level and a new level worse than all is dropped; both are counted in `overflow_count()`
// (raise the capacity if it is ever non-zero on real data).
//
// Crossed or locked input (best bid >= best ask) is kept exactly as the feed says and flagged by
// `state()`; nothing asserts on it. An empty side reports kNoBid / kNoAsk, never 0; a derived
// value that does not exist (mid, spread with an empty side) is kNoPrice.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>

#include "sf/events.hpp"
#include "sf/levels.hpp"

namespace sf {

enum class BookState : std::uint8_t { Empty, OneSided, Normal, Locked, Crossed };

[[nodiscard]] constexpr const char* book_state_name(BookState s) noexcept {
  switch (s) {
    case BookState::Empty: return "EMPTY";
    case BookState::OneSided: return "ONE_SIDED";
    case BookState::Normal: return "NORMAL";
    case BookState::Locked: return "LOCKED";
    case BookState::Crossed: return "CROSSED";
  }
  return "UNKNOWN";
}

/// One side of the book in prices. kIsBid: better = higher price; else better = lower price.
template <bool kIsBid>
class BookSide {
 public:
  static constexpr Ticks kEmpty = kIsBid ? kNoBid : kNoAsk;
  /// key = px ^ kKeyMask as unsigned: px with the sign bit flipped for bids, ~px likewise for
  /// asks; unsigned key order is then bid price order and reversed ask price order.
  static constexpr LadderLevels::Key kKeyMask = (kIsBid ? LadderLevels::Key{0} : ~LadderLevels::Key{0}) ^ (LadderLevels::Key{1} << 63);
  [[nodiscard]] static constexpr LadderLevels::Key key(Ticks px) noexcept { return static_cast<LadderLevels::Key>(px) ^ kKeyMask; }
  [[nodiscard]] static constexpr Ticks price(LadderLevels::Key k) noexcept { return static_cast<Ticks>(k ^ kKeyMask); }

  explicit BookSide(std::uint32_t capacity) : a_(capacity) {}

  [[nodiscard]] std::uint32_t size() const noexcept { return a_.size(); }
  [[nodiscard]] std::uint32_t capacity() const noexcept { return a_.capacity(); }
  [[nodiscard]] bool empty() const noexcept { return a_.size() == 0; }
  [[nodiscard]] Ticks best_px() const noexcept { return empty() ? kEmpty : price(a_.best_key()); }
  [[nodiscard]] Lots best_qty() const noexcept { return empty() ? 0 : a_.best_qty(); }
  /// Best level and level count in one read (kEmpty / 0 for an empty side).
  void top(Ticks& px, Lots& qty, std::uint32_t& levels) const noexcept {
    const std::uint32_t n = a_.size();
    levels = n;
    if (n != 0) {
      px = price(a_.best_key());
      qty = a_.best_qty();
    } else {
      px = kEmpty;
      qty = 0;
    }
  }
  /// Level `depth` (0 = best). Returns false past the last level.
  [[nodiscard]] bool level(std::uint32_t depth, Ticks& px, Lots& qty) const noexcept {
    LadderLevels::Key k;
    if (!a_.level(depth, k, qty)) return false;
    px = price(k);
    return true;
  }
  /// Quantity resting at exactly `px` (0 when there is no such level).
  [[nodiscard]] Lots qty_at(Ticks px) const noexcept { return a_.qty_at(key(px)); }
  /// True when `a` is a better price than `b` for this side.
  [[nodiscard]] static constexpr bool better(Ticks a, Ticks b) noexcept { return kIsBid ? a > b : a < b; }
  /// Sets the absolute quantity of level `px`; qty <= 0 deletes it. Returns the previous
  /// quantity at that price (0 if the level did not exist).
  Lots set(Ticks px, Lots qty) noexcept { return a_.set(key(px), qty); }
  void clear() noexcept { a_.clear(); }
  [[nodiscard]] std::uint64_t overflow_count() const noexcept { return a_.overflow_count(); }
  [[nodiscard]] std::uint64_t deletes_of_missing() const noexcept { return a_.deletes_of_missing(); }
  [[nodiscard]] LadderLevels& levels() noexcept { return a_; }

 private:
  LadderLevels a_;
};

/// 128-byte aligned: the engine indexes its per-instrument books with a shift.
class alignas(128) Book {
 public:
  static constexpr std::uint32_t kDefaultCapacity = 1024;

  explicit Book(std::uint32_t capacity_per_side = kDefaultCapacity) : bids_(capacity_per_side), asks_(capacity_per_side) {}

  /// Applies one QUOTE / DEPTH / CLEAR record (TRADE and BAR do not change the L2 book).
  /// Returns the previous quantity at the touched level for DEPTH, else 0.
  Lots apply(const Event& e) noexcept {
    last_update_ts_ = e.recv_ts;
    switch (e.event_type()) {
      case EventType::Depth:
        return apply_depth(e);
      case EventType::Quote:
        bids_.clear();
        asks_.clear();
        if (e.v[1] > 0) bids_.set(e.v[0], e.v[1]);
        if (e.v[3] > 0) asks_.set(e.v[2], e.v[3]);
        return 0;
      case EventType::Clear:
        if (e.side != static_cast<std::uint8_t>(Side::Ask)) bids_.clear();
        if (e.side != static_cast<std::uint8_t>(Side::Bid)) asks_.clear();
        return 0;
      default:
        return 0;
    }
  }

  /// Applies one DEPTH record (the replay's fast path; same as apply() for DEPTH).
  Lots apply_depth(const Event& e) noexcept {
    last_update_ts_ = e.recv_ts;
    // side picked by a select (a data-dependent branch here mispredicts half the time)
    const bool bid = e.side == static_cast<std::uint8_t>(Side::Bid);
    LadderLevels& a = bid ? bids_.levels() : asks_.levels();
    const LadderLevels::Key mask = bid ? BookSide<true>::kKeyMask : BookSide<false>::kKeyMask;
    return a.set(static_cast<LadderLevels::Key>(e.v[0]) ^ mask, e.v[1]);
  }

  /// Top of book in one read: best price/qty per side (kNoBid/kNoAsk, 0 when empty) and level counts.
  struct Top {
    Ticks bid_px;
    Lots bid_qty;
    Ticks ask_px;
    Lots ask_qty;
    std::uint32_t bid_levels;
    std::uint32_t ask_levels;
  };
  [[nodiscard]] Top top() const noexcept {
    Top t;
    bids_.top(t.bid_px, t.bid_qty, t.bid_levels);
    asks_.top(t.ask_px, t.ask_qty, t.ask_levels);
    return t;
  }

  void set_level(Side s, Ticks px, Lots qty) noexcept { s == Side::Bid ? (void)bids_.set(px, qty) : (void)asks_.set(px, qty); }
  void clear() noexcept { bids_.clear(); asks_.clear(); }

  [[nodiscard]] Ticks best_bid() const noexcept { return bids_.best_px(); }
  [[nodiscard]] Ticks best_ask() const noexcept { return asks_.best_px(); }
  [[nodiscard]] Lots best_bid_qty() const noexcept { return bids_.best_qty(); }
  [[nodiscard]] Lots best_ask_qty() const noexcept { return asks_.best_qty(); }
  [[nodiscard]] bool has_bid() const noexcept { return !bids_.empty(); }
  [[nodiscard]] bool has_ask() const noexcept { return !asks_.empty(); }
  [[nodiscard]] bool two_sided() const noexcept { return !bids_.empty() && !asks_.empty(); }

  /// bid + ask (twice the mid, so it stays an integer), or kNoPrice with an empty side.
  [[nodiscard]] Ticks mid_x2() const noexcept { return two_sided() ? best_bid() + best_ask() : kNoPrice; }
  /// Mid in ticks as a double, NaN with an empty side (use mid_x2() for exact arithmetic).
  [[nodiscard]] double mid() const noexcept {
    return two_sided() ? 0.5 * static_cast<double>(best_bid() + best_ask()) : std::numeric_limits<double>::quiet_NaN();
  }
  /// ask - bid in ticks (<= 0 when locked/crossed), or kNoPrice with an empty side.
  [[nodiscard]] Ticks spread() const noexcept { return two_sided() ? best_ask() - best_bid() : kNoPrice; }
  /// (bid qty - ask qty) / (bid qty + ask qty) at the top, in [-1, 1]; NaN with an empty side.
  [[nodiscard]] double imbalance() const noexcept {
    if (!two_sided()) return std::numeric_limits<double>::quiet_NaN();
    const auto b = static_cast<double>(best_bid_qty()), a = static_cast<double>(best_ask_qty());
    return (b - a) / (b + a);
  }
  [[nodiscard]] BookState state() const noexcept {
    if (bids_.empty() && asks_.empty()) return BookState::Empty;
    if (bids_.empty() || asks_.empty()) return BookState::OneSided;
    const Ticks b = best_bid(), a = best_ask();
    return b < a ? BookState::Normal : (b == a ? BookState::Locked : BookState::Crossed);
  }
  [[nodiscard]] bool crossed_or_locked() const noexcept { return two_sided() && best_bid() >= best_ask(); }

  [[nodiscard]] const BookSide<true>& bids() const noexcept { return bids_; }
  [[nodiscard]] const BookSide<false>& asks() const noexcept { return asks_; }
  [[nodiscard]] Nanos last_update_ts() const noexcept { return last_update_ts_; }
  [[nodiscard]] std::uint64_t overflow_count() const noexcept { return bids_.overflow_count() + asks_.overflow_count(); }

 private:
  BookSide<true> bids_;
  BookSide<false> asks_;
  Nanos last_update_ts_ = 0;
};

}  // namespace sf
