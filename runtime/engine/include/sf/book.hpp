// sf/book.hpp — L2 price-level order book, one per instrument.
//
// Design: each side is a fixed-capacity array of levels sorted WORST -> BEST, so the best level
// is the last element: top of book, mid, spread and imbalance are O(1) reads. Both sides share
// one implementation (LevelArray) on a side-normalised key, key = px for bids and key = ~px for
// asks (bitwise not: an exact, overflow-free order reversal of int64), so "better" is always
// "greater key" and a DEPTH record picks its side with a select instead of a branch.
// An update finds its position by counting, without a branch per level, how many of the best
// kWindow levels are better than its key (in a sorted side that count is the distance from the
// top). Near the top (the common case) update, insert and delete then share one branch-free
// path: a fixed-size move of the window (up for an insert, down for a delete, in place for an
// update) and one level write (to a scratch level for a delete). A linear scan's exit branch and
// the update/insert/delete branches mispredicted about once per record and were the largest
// single cost of a replay (docs/benchmarks.md). Levels deeper than the window take a plain path.
// kWindow sentinel levels below index 0 (key INT64_MIN, never better than anything) and kWindow
// spare levels above the capacity keep every window read and fixed-size move in bounds.
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

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/// Levels keyed so that a greater key is a better price, sorted worst -> best (see the top).
/// Keys and quantities are separate arrays: the search reads only keys (one cache line per
/// window) and a window move is a few 16-byte register copies per array.
class LevelArray {
 public:
  using Key = std::uint64_t;
  /// Levels compared per search step and moved per insert/delete near the top.
  static constexpr std::int64_t kWindow = 8;
  static constexpr Key kNoKey = 0;  // the sentinel key: never greater than any key

  explicit LevelArray(std::uint32_t capacity)
      : keys_buf_(new Key[capacity + 2 * kWindow]),
        qty_buf_(new Lots[capacity + 2 * kWindow]),
        key_(keys_buf_.get() + kWindow),
        qty_(qty_buf_.get() + kWindow),
        cap_(capacity) {
    for (std::int64_t k = 0; k < capacity + 2 * kWindow; ++k) {
      keys_buf_[k] = kNoKey;
      qty_buf_[k] = 0;
    }
  }
  LevelArray(const LevelArray&) = delete;
  LevelArray& operator=(const LevelArray&) = delete;
  LevelArray(LevelArray&&) noexcept = default;  // the heap blocks (and so key_, qty_) do not move
  LevelArray& operator=(LevelArray&&) noexcept = default;

  [[nodiscard]] std::uint32_t size() const noexcept { return n_; }
  [[nodiscard]] std::uint32_t capacity() const noexcept { return cap_; }
  /// Key and quantity of level `depth` from the best; caller checks depth < size().
  [[nodiscard]] Key key_from_top(std::uint32_t depth) const noexcept { return key_[n_ - 1 - depth]; }
  [[nodiscard]] Lots qty_from_top(std::uint32_t depth) const noexcept { return qty_[n_ - 1 - depth]; }

  /// Index of the last level whose key is not greater than `key` (the level itself when it
  /// exists), -1 when every level is better. Counts the better levels in the top window without a
  /// branch per level (an unsigned compare-and-add-carry each): the better levels are a suffix of
  /// the sorted array, and the sentinels below index 0 are never better, so a count below kWindow
  /// pins the answer inside the window.
  [[nodiscard]] std::int64_t find(Key key) const noexcept {
    const Key* const kp = key_;
    std::int64_t top = n_;
    for (;;) {
      const Key* w = kp + top - kWindow;
      std::int64_t k = 0;
      for (std::int64_t j = 0; j < kWindow; ++j) k += key < w[j] ? 1 : 0;
#if defined(__GNUC__)
      // Opaque to the optimiser: otherwise it turns the last compare into a branch (if the best
      // level is not better, the count cannot be kWindow), one that mispredicts on real data.
      __asm__("" : "+r"(k));
#endif
      if (k < kWindow || top <= kWindow) [[likely]] return top - 1 - k;
      top -= kWindow;
    }
  }

  /// Quantity at exactly `key` (0 when there is no such level).
  [[nodiscard]] Lots qty_at(Key key) const noexcept {
    const std::int64_t i = find(key);
    return (i >= 0 && key_[i] == key) ? qty_[i] : 0;
  }

  /// Sets the absolute quantity of level `key`; qty <= 0 deletes it. Returns the previous
  /// quantity at that key (0 if the level did not exist).
  Lots set(Key key, Lots qty) noexcept {
    Key* const kp = key_;
    Lots* const qp = qty_;
    const std::int64_t n = n_;
    const std::int64_t i = find(key);
    // 0/1 flags as integers: arithmetic below, no branch (key_[-1] is a sentinel: readable)
    std::int64_t found = static_cast<std::int64_t>(i >= 0) & static_cast<std::int64_t>(kp[i] == key);
    const std::int64_t add = qty > 0 ? 1 : 0;
#if defined(__GNUC__)
    __asm__("" : "+r"(found));  // keep the selects below selects
#endif
    const Lots old = qp[i] & -found;
    if ((n - i > kWindow) | ((add & ~found & static_cast<std::int64_t>(n == cap_)) != 0)) [[unlikely]]
      return set_far(i, found != 0, key, qty, old);
    // Levels (i, n) number at most kWindow - 1: one fixed-size move of the window above i
    // covers them: up by one for an insert, down by one (over level i) for a delete, onto itself
    // for an update or a delete of a missing level. The spare levels above the capacity absorb
    // what the move carries past the end.
    const std::int64_t ins = add & (found ^ 1);
    const std::int64_t del = found & (add ^ 1);
    const std::int64_t shift = ins - del;
    move_window(kp + i + 1, kp + i + 1 + shift);
    move_window(qp + i + 1, qp + i + 1 + shift);
    // update: level i; insert: level i+1 (its new place); a delete writes level n (past the end)
    const std::int64_t at = add != 0 ? i + 1 - found : n;
    kp[at] = key;
    qp[at] = qty;
    n_ = static_cast<std::uint32_t>(n + shift);
    deletes_of_missing_ += static_cast<std::uint64_t>((found | add) ^ 1);
    return old;
  }

  void clear() noexcept { n_ = 0; }
  [[nodiscard]] std::uint64_t overflow_count() const noexcept { return overflow_; }
  [[nodiscard]] std::uint64_t deletes_of_missing() const noexcept { return deletes_of_missing_; }

 private:
  /// dst[0..kWindow) = src[0..kWindow) for overlapping 8-element windows: all loads, then all
  /// stores (16-byte SSE2 registers on x86-64, the baseline; a copy through a buffer elsewhere).
  template <class T>
  static void move_window(const T* src, T* dst) noexcept {
    static_assert(sizeof(T) == 8 && kWindow == 8);
#if defined(__SSE2__)
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 4));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 6));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), a);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2), b);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 4), c);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 6), d);
#else
    T tmp[kWindow];
    std::memcpy(tmp, src, sizeof tmp);
    std::memcpy(dst, tmp, sizeof tmp);
#endif
  }

  // Deeper than the window, or an insert into a full array: plain moves of any length.
  [[gnu::noinline]] Lots set_far(std::int64_t i, bool found, Key key, Lots qty, Lots old) noexcept {
    const std::int64_t n = n_;
    if (found) {
      if (qty > 0) {
        qty_[i] = qty;
      } else {
        remove_at(i, n - 1 - i);
        --n_;
      }
      return old;
    }
    if (qty <= 0) {
      ++deletes_of_missing_;
      return 0;
    }
    const std::int64_t pos = i + 1;  // after all levels worse than key
    if (n_ == cap_) {
      ++overflow_;
      if (pos == 0) return 0;  // worse than everything in a full side: dropped
      remove_at(0, pos - 1);   // evict the worst level
      key_[pos - 1] = key;
      qty_[pos - 1] = qty;
      return 0;
    }
    std::memmove(key_ + pos + 1, key_ + pos, static_cast<std::size_t>(n - pos) * sizeof(Key));
    std::memmove(qty_ + pos + 1, qty_ + pos, static_cast<std::size_t>(n - pos) * sizeof(Lots));
    key_[pos] = key;
    qty_[pos] = qty;
    ++n_;
    return 0;
  }
  void remove_at(std::int64_t i, std::int64_t count) noexcept {  // levels [i+1, i+1+count) down one
    std::memmove(key_ + i, key_ + i + 1, static_cast<std::size_t>(count) * sizeof(Key));
    std::memmove(qty_ + i, qty_ + i + 1, static_cast<std::size_t>(count) * sizeof(Lots));
  }

  std::unique_ptr<Key[]> keys_buf_;  // kWindow sentinels, capacity levels, kWindow spare levels
  std::unique_ptr<Lots[]> qty_buf_;  // the same layout
  Key* key_;                         // keys_buf_ + kWindow: level 0 (the worst)
  Lots* qty_;                        // qty_buf_ + kWindow
  std::uint32_t n_ = 0;
  std::uint32_t cap_;
  std::uint64_t overflow_ = 0;
  std::uint64_t deletes_of_missing_ = 0;
};

/// One side of the book in prices. kIsBid: better = higher price; else better = lower price.
template <bool kIsBid>
class BookSide {
 public:
  static constexpr Ticks kEmpty = kIsBid ? kNoBid : kNoAsk;
  /// key = px ^ kKeyMask as unsigned: px with the sign bit flipped for bids, ~px likewise for
  /// asks; unsigned key order is then bid price order and reversed ask price order.
  static constexpr LevelArray::Key kKeyMask = (kIsBid ? LevelArray::Key{0} : ~LevelArray::Key{0}) ^ (LevelArray::Key{1} << 63);
  [[nodiscard]] static constexpr LevelArray::Key key(Ticks px) noexcept { return static_cast<LevelArray::Key>(px) ^ kKeyMask; }
  [[nodiscard]] static constexpr Ticks price(LevelArray::Key k) noexcept { return static_cast<Ticks>(k ^ kKeyMask); }

  explicit BookSide(std::uint32_t capacity) : a_(capacity) {}

  [[nodiscard]] std::uint32_t size() const noexcept { return a_.size(); }
  [[nodiscard]] std::uint32_t capacity() const noexcept { return a_.capacity(); }
  [[nodiscard]] bool empty() const noexcept { return a_.size() == 0; }
  [[nodiscard]] Ticks best_px() const noexcept { return empty() ? kEmpty : price(a_.key_from_top(0)); }
  [[nodiscard]] Lots best_qty() const noexcept { return empty() ? 0 : a_.qty_from_top(0); }
  /// Best level and level count in one read (kEmpty / 0 for an empty side).
  void top(Ticks& px, Lots& qty, std::uint32_t& levels) const noexcept {
    const std::uint32_t n = a_.size();
    levels = n;
    if (n != 0) {
      px = price(a_.key_from_top(0));
      qty = a_.qty_from_top(0);
    } else {
      px = kEmpty;
      qty = 0;
    }
  }
  /// Level `depth` (0 = best). Returns false past the last level.
  [[nodiscard]] bool level(std::uint32_t depth, Ticks& px, Lots& qty) const noexcept {
    if (depth >= a_.size()) return false;
    px = price(a_.key_from_top(depth));
    qty = a_.qty_from_top(depth);
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
  [[nodiscard]] LevelArray& levels() noexcept { return a_; }

 private:
  LevelArray a_;
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
    // side picked by a select (a data-dependent branch here mispredicts half the time)
    const bool bid = e.side == static_cast<std::uint8_t>(Side::Bid);
    LevelArray& a = bid ? bids_.levels() : asks_.levels();
    const LevelArray::Key mask = bid ? BookSide<true>::kKeyMask : BookSide<false>::kKeyMask;
    return a.set(static_cast<LevelArray::Key>(e.v[0]) ^ mask, e.v[1]);
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
