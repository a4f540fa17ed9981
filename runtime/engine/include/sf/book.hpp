// sf/book.hpp — L2 price-level order book, one per instrument.
//
// Design: each side is a fixed-capacity array of (price, qty) levels sorted WORST -> BEST,
// so the best level is the last element. Top of book, mid, spread and imbalance are O(1) reads.
// An update locates its level by counting, without branches, how many of the best kWindow levels
// are better than its price (a sorted side makes that count the distance from the top), then
// updates in place, or inserts/deletes with a fixed-size move of the window. Real updates land
// near the top, so the common case has no data-dependent loop at all: a linear scan's exit
// branch mispredicted about once per update and was the largest single cost of a replay
// (docs/benchmarks.md). Levels deeper than the window are found window by window.
// kWindow sentinel levels below index 0 (price kEmpty, never better than anything) and kWindow
// spare levels above the capacity let every window read and every fixed-size move stay in bounds.
// Memory is allocated once at construction (capacity levels per side, default 1024); nothing
// allocates afterwards.
//
// Worst case per update: O(capacity) compares + a shift of capacity*16 bytes, for a level that
// sits at the far end of a full side. When a side is full, a new level better than the worst one
// evicts the worst level and a new level worse than all is dropped; both are counted in
// `overflow_count()` (raise the capacity if it is ever non-zero on real data).
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

/// One price level.
struct Level {
  Ticks px;
  Lots qty;
};

/// One side of the book. kIsBid: better = higher price; else better = lower price.
template <bool kIsBid>
class BookSide {
 public:
  static constexpr Ticks kEmpty = kIsBid ? kNoBid : kNoAsk;
  /// Levels compared per step of the search (and moved per insert/delete near the top).
  static constexpr std::uint32_t kWindow = 8;

  explicit BookSide(std::uint32_t capacity)
      : buf_(new Level[capacity + 2 * kWindow]), lv_(buf_.get() + kWindow), cap_(capacity) {
    for (std::uint32_t k = 0; k < capacity + 2 * kWindow; ++k) buf_[k] = Level{kEmpty, 0};
  }
  BookSide(const BookSide&) = delete;
  BookSide& operator=(const BookSide&) = delete;
  BookSide(BookSide&&) noexcept = default;  // the heap block (and so lv_) does not move
  BookSide& operator=(BookSide&&) noexcept = default;

  [[nodiscard]] std::uint32_t size() const noexcept { return n_; }
  [[nodiscard]] std::uint32_t capacity() const noexcept { return cap_; }
  [[nodiscard]] bool empty() const noexcept { return n_ == 0; }
  [[nodiscard]] Ticks best_px() const noexcept { return n_ ? lv_[n_ - 1].px : kEmpty; }
  [[nodiscard]] Lots best_qty() const noexcept { return n_ ? lv_[n_ - 1].qty : 0; }
  /// Best level and level count in one read (kEmpty / 0 for an empty side).
  void top(Ticks& px, Lots& qty, std::uint32_t& levels) const noexcept {
    const std::uint32_t n = n_;
    levels = n;
    if (n != 0) {
      px = lv_[n - 1].px;
      qty = lv_[n - 1].qty;
    } else {
      px = kEmpty;
      qty = 0;
    }
  }
  /// Level `depth` (0 = best). Returns false past the last level.
  [[nodiscard]] bool level(std::uint32_t depth, Ticks& px, Lots& qty) const noexcept {
    if (depth >= n_) return false;
    px = lv_[n_ - 1 - depth].px;
    qty = lv_[n_ - 1 - depth].qty;
    return true;
  }
  /// Quantity resting at exactly `px` (0 when there is no such level).
  [[nodiscard]] Lots qty_at(Ticks px) const noexcept {
    const std::int64_t i = find(px);
    return (i >= 0 && lv_[i].px == px) ? lv_[i].qty : 0;
  }
  /// True when `a` is a better price than `b` for this side.
  [[nodiscard]] static constexpr bool better(Ticks a, Ticks b) noexcept { return kIsBid ? a > b : a < b; }

  /// Sets the absolute quantity of level `px`; qty <= 0 deletes it. Returns the previous
  /// quantity at that price (0 if the level did not exist).
  Lots set(Ticks px, Lots qty) noexcept {
    Level* const lv = lv_;
    const std::int64_t i = find(px);
    const auto n = static_cast<std::int64_t>(n_);
    if (i >= 0 && lv[i].px == px) {
      const Lots old = lv[i].qty;
      if (qty > 0) {
        lv[i].qty = qty;
      } else {
        move_down(lv + i, n - 1 - i);
        --n_;
      }
      return old;
    }
    if (qty <= 0) {
      ++deletes_of_missing_;
      return 0;
    }
    // insert at position i+1 (after all levels worse than px)
    const std::int64_t pos = i + 1;
    if (n_ == cap_) [[unlikely]] {
      ++overflow_;
      if (pos == 0) return 0;  // worse than everything in a full side: dropped
      move_down(lv, pos - 1);  // evict the worst level (index 0)
      lv[pos - 1] = Level{px, qty};
      return 0;
    }
    move_up(lv + pos, n - pos);
    lv[pos] = Level{px, qty};
    ++n_;
    return 0;
  }

  void clear() noexcept { n_ = 0; }
  [[nodiscard]] std::uint64_t overflow_count() const noexcept { return overflow_; }
  [[nodiscard]] std::uint64_t deletes_of_missing() const noexcept { return deletes_of_missing_; }

 private:
  /// Index of the last level that is not better than `px` (the level itself when it exists),
  /// -1 when every level is better. Counts the better levels in the top window without a branch
  /// per level: the better levels are a suffix of the sorted side, and the sentinels below index
  /// 0 are never better, so a count below kWindow pins the answer inside the window.
  [[nodiscard]] std::int64_t find(Ticks px) const noexcept {
    const Level* const lv = lv_;
    std::int64_t top = n_;
    for (;;) {
      const Level* w = lv + top - kWindow;
      std::int64_t k = 0;
      for (std::uint32_t j = 0; j < kWindow; ++j) k += better(w[j].px, px) ? 1 : 0;
#if defined(__GNUC__)
      // Opaque to the optimiser: otherwise it turns the last compare into a branch (if the best
      // level is not better, the count cannot be kWindow), one that mispredicts on real data.
      __asm__("" : "+r"(k));
#endif
      if (k < static_cast<std::int64_t>(kWindow) || top <= static_cast<std::int64_t>(kWindow)) [[likely]]
        return top - 1 - k;
      top -= kWindow;
    }
  }
  // Near the top (count <= kWindow) a fixed-size move of a whole window: no data-dependent loop.
  // The spare levels above the capacity absorb what a fixed-size move carries past the end.
  static void move_down(Level* p, std::int64_t count) noexcept {  // p[0..count) = p[1..count]
    if (count <= static_cast<std::int64_t>(kWindow)) [[likely]] {
      Level tmp[kWindow];
      std::memcpy(tmp, p + 1, sizeof tmp);
      std::memcpy(p, tmp, sizeof tmp);
      return;
    }
    std::memmove(p, p + 1, static_cast<std::size_t>(count) * sizeof(Level));
  }
  static void move_up(Level* p, std::int64_t count) noexcept {  // p[1..count] = p[0..count)
    if (count <= static_cast<std::int64_t>(kWindow)) [[likely]] {
      Level tmp[kWindow];
      std::memcpy(tmp, p, sizeof tmp);
      std::memcpy(p + 1, tmp, sizeof tmp);
      return;
    }
    std::memmove(p + 1, p, static_cast<std::size_t>(count) * sizeof(Level));
  }
  std::unique_ptr<Level[]> buf_;  // kWindow sentinels, capacity levels, kWindow spare levels
  Level* lv_;                     // buf_ + kWindow: level 0 (the worst)
  std::uint32_t n_ = 0;
  std::uint32_t cap_;
  std::uint64_t overflow_ = 0;
  std::uint64_t deletes_of_missing_ = 0;
};

class Book {
 public:
  static constexpr std::uint32_t kDefaultCapacity = 1024;

  explicit Book(std::uint32_t capacity_per_side = kDefaultCapacity) : bids_(capacity_per_side), asks_(capacity_per_side) {}

  /// Applies one QUOTE / DEPTH / CLEAR record (TRADE and BAR do not change the L2 book).
  /// Returns the previous quantity at the touched level for DEPTH, else 0.
  Lots apply(const Event& e) noexcept {
    last_update_ts_ = e.recv_ts;
    switch (e.event_type()) {
      case EventType::Depth:
        return e.side == static_cast<std::uint8_t>(Side::Bid) ? bids_.set(e.v[0], e.v[1]) : asks_.set(e.v[0], e.v[1]);
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
    return e.side == static_cast<std::uint8_t>(Side::Bid) ? bids_.set(e.v[0], e.v[1]) : asks_.set(e.v[0], e.v[1]);
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
