// sf/levels.hpp — the storage behind one side of an L2 book (sf/book.hpp), on side-normalised
// keys: key = price with the sign bit flipped for bids, bitwise-not of that for asks, so that for
// both sides an (unsigned) greater key is a better price and one implementation serves both.
//
// Design: LadderLevels = a direct-mapped window of kLadder consecutive keys (quantity per key, 0
// = no level, plus a bitmap of the occupied keys) anchored near the best level, and a LevelArray
// (a sorted array, worst -> best) holding the levels below the window. Every level in the window
// is better than every level in the array. Nearly all updates of a real feed land within a few
// hundred ticks of the touch, i.e. in the window: an update there is one indexed load and store,
// a bitmap bit, and a max() for the best level — no search and no moved levels, and no branch
// that depends on whether the update changed, added or removed a level. The one data-dependent
// branch is the removal of the best level, which scans the bitmap down to the next occupied key
// (a word at a time). A sorted array with a branch-free window search, the previous design, cost
// about twice as much per record (docs/benchmarks.md).
// The window moves (re-centres) when a level arrives above it (the window's old lower part goes
// to the array), or when it empties while the array has levels (the array's best levels come back
// into the window); it is placed with the best level at 3/4 of its span, leaving room for the
// touch to move either way. Both are O(levels moved + kLadder/64).
// Invariants: size() = window levels + array levels <= capacity; a non-empty side has its best
// level in the window (so best_ is O(1)); array keys < base_ <= window keys < base_ + kLadder.
// Worst case per update: O(kLadder/64) for a best-level removal or a re-centre, O(capacity) for an
// update below the window (the sorted array's move). Capacity semantics: when a side is full, a
// new level better than the worst evicts the worst, a new level worse than all is dropped; both
// are counted in overflow_count().
// Memory: allocated once at construction (kLadder quantities + capacity array levels); nothing
// allocates afterwards.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>

#include "sf/events.hpp"

namespace sf {

/// Levels keyed so that a greater key is a better price, sorted worst -> best: the levels below
/// a LadderLevels window. The search counts, without a branch per level, how many of the best
/// kWindow levels are better than the key; near the top, update/insert/delete share one
/// branch-free path (a fixed-size window move).
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
  /// stores, in 16-byte registers (GCC/Clang vector extension: SSE2 on x86-64, NEON on arm64; no
  /// intrinsics header, so the header also parses for the static checks' libclang); a copy
  /// through a buffer elsewhere.
  template <class T>
  static void move_window(const T* src, T* dst) noexcept {
    static_assert(sizeof(T) == 8 && kWindow == 8);
#if defined(__GNUC__)
    using V = std::uint64_t __attribute__((vector_size(16)));
    V a, b, c, d;
    std::memcpy(&a, src, 16);
    std::memcpy(&b, src + 2, 16);
    std::memcpy(&c, src + 4, 16);
    std::memcpy(&d, src + 6, 16);
    std::memcpy(dst, &a, 16);
    std::memcpy(dst + 2, &b, 16);
    std::memcpy(dst + 4, &c, 16);
    std::memcpy(dst + 6, &d, 16);
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

/// One side's levels: a direct-mapped window near the best level plus a sorted array below it
/// (see the top of this file).
class LadderLevels {
 public:
  using Key = LevelArray::Key;
  /// Keys (ticks) covered by the direct-mapped window.
  static constexpr std::uint64_t kLadder = 2048;
  static constexpr std::uint64_t kWords = kLadder / 64;

  explicit LadderLevels(std::uint32_t capacity) : far_(capacity), q_(new Lots[kLadder]()), cap_(capacity) {}

  [[nodiscard]] std::uint32_t size() const noexcept { return near_n_ + far_.size(); }
  [[nodiscard]] std::uint32_t capacity() const noexcept { return cap_; }
  /// Best key and its quantity; caller checks size() > 0.
  [[nodiscard]] Key best_key() const noexcept { return best_; }
  [[nodiscard]] Lots best_qty() const noexcept { return q_[best_ - base_]; }
  /// Level `depth` (0 = best): O(kLadder/64 + 64) in the window (bitmap words counted down from
  /// the best level's word, then the bit selected in its word), O(1) below it. False past the
  /// last level.
  [[nodiscard]] bool level(std::uint32_t depth, Key& key, Lots& qty) const noexcept {
    if (depth < near_n_) {
      const std::uint64_t top = best_ - base_;
      std::uint64_t w = top >> 6;
      std::uint64_t m = bits_[w] & (~std::uint64_t{0} >> (63 - (top & 63)));
      std::uint32_t left = depth;  // levels still to skip, best first
      for (;;) {
        const auto c = static_cast<std::uint32_t>(std::popcount(m));
        if (left < c) break;
        left -= c;
        m = bits_[--w];  // depth < near_n_: a lower word holds the level
      }
      for (; left > 0; --left) m &= ~(std::uint64_t{1} << (63 - std::countl_zero(m)));  // drop the best `left`
      const std::uint64_t i = w * 64 + 63 - static_cast<std::uint64_t>(std::countl_zero(m));
      key = base_ + i;
      qty = q_[i];
      return true;
    }
    const std::uint32_t fd = depth - near_n_;
    if (fd >= far_.size()) return false;
    key = far_.key_from_top(fd);
    qty = far_.qty_from_top(fd);
    return true;
  }
  /// Quantity at exactly `key` (0 when there is no such level).
  [[nodiscard]] Lots qty_at(Key key) const noexcept {
    const Key idx = key - base_;
    if (idx < kLadder) return q_[idx];
    return key < base_ ? far_.qty_at(key) : 0;
  }

  /// Sets the absolute quantity of level `key`; qty <= 0 deletes it. Returns the previous
  /// quantity at that key (0 if the level did not exist).
  Lots set(Key key, Lots qty) noexcept {
    const Key idx = key - base_;  // unsigned: >= kLadder above and below the window alike
    if (idx >= kLadder) [[unlikely]] return set_outside(key, qty);
    Lots& slot = q_[idx];
    const Lots old = slot;
    const bool had = old != 0;
    const bool add = qty > 0;
    if (add & !had & (size() == cap_)) [[unlikely]] return insert_full(key, qty);
    slot = add ? qty : 0;
    std::uint64_t& word = bits_[idx >> 6];
    const std::uint64_t bit = std::uint64_t{1} << (idx & 63);
    word = add ? (word | bit) : (word & ~bit);
    near_n_ = near_n_ + static_cast<std::uint32_t>(add & !had) - static_cast<std::uint32_t>(had & !add);
    deletes_of_missing_ += static_cast<std::uint64_t>(!had & !add);
    if (add) {
      best_ = key > best_ ? key : best_;  // best_ is 0 (below every key but 0) while empty
    } else if (had & (key == best_)) {
      // the next level is usually in the same bitmap word: found inline; else the search
      const std::uint64_t below = word & (bit - 1);
      if (below != 0) [[likely]] best_ = key - (idx & 63) + 63 - static_cast<Key>(std::countl_zero(below));
      else new_best_below(static_cast<std::int64_t>(idx));
    }
    return old;
  }

  void clear() noexcept {
    for (std::uint64_t w = 0; w < kWords; ++w) {
      std::uint64_t m = bits_[w];
      while (m != 0) {
        q_[w * 64 + static_cast<std::uint64_t>(std::countr_zero(m))] = 0;
        m &= m - 1;
      }
      bits_[w] = 0;
    }
    near_n_ = 0;
    best_ = 0;
    far_.clear();
  }
  [[nodiscard]] std::uint64_t overflow_count() const noexcept { return overflow_ + far_.overflow_count(); }
  [[nodiscard]] std::uint64_t deletes_of_missing() const noexcept { return deletes_of_missing_ + far_.deletes_of_missing(); }

 private:
  /// Highest occupied window index <= i, or -1.
  [[nodiscard]] std::int64_t highest_at_or_below(std::int64_t i) const noexcept {
    if (i < 0) return -1;
    std::int64_t w = i >> 6;
    std::uint64_t m = bits_[static_cast<std::size_t>(w)] & (~std::uint64_t{0} >> (63 - (i & 63)));
    for (;;) {
      if (m != 0) return w * 64 + 63 - std::countl_zero(m);
      if (--w < 0) return -1;
      m = bits_[static_cast<std::size_t>(w)];
    }
  }
  /// Lowest occupied window index, or -1.
  [[nodiscard]] std::int64_t lowest() const noexcept {
    for (std::uint64_t w = 0; w < kWords; ++w)
      if (bits_[w] != 0) return static_cast<std::int64_t>(w * 64 + static_cast<std::uint64_t>(std::countr_zero(bits_[w])));
    return -1;
  }

  // The best level at window index `i` was removed: the next occupied index below becomes the
  // best; an emptied window takes the array's best levels back.
  [[gnu::noinline]] void new_best_below(std::int64_t i) noexcept {
    const std::int64_t j = highest_at_or_below(i - 1);
    if (j >= 0) {
      best_ = base_ + static_cast<Key>(j);
      return;
    }
    best_ = 0;
    if (far_.size() != 0) recentre(far_.key_from_top(0));
  }

  // Window placement with `key` at 3/4 of the span, clamped to the key range.
  [[nodiscard]] static Key base_for(Key key) noexcept {
    constexpr Key kBelow = kLadder * 3 / 4;
    const Key b = key >= kBelow ? key - kBelow : 0;
    constexpr Key kMaxBase = std::numeric_limits<Key>::max() - kLadder + 1;
    return b > kMaxBase ? kMaxBase : b;
  }

  // Moves the window so that `key` sits at 3/4 of it: window levels below the new base go to the
  // array (they are better than every array level: appended at its best end, worst first), array
  // levels at or above the new base come into the window. O(levels moved + kLadder/64).
  [[gnu::noinline]] void recentre(Key key) noexcept {
    const Key nb = base_for(key);
    // window contents, worst first, into a scratch list (at most near_n_ <= capacity entries)
    std::uint32_t m = 0;
    for (std::uint64_t w = 0; w < kWords; ++w) {
      std::uint64_t bits = bits_[w];
      while (bits != 0) {
        const std::uint64_t i = w * 64 + static_cast<std::uint64_t>(std::countr_zero(bits));
        scratch_keys_[m] = base_ + i;
        scratch_qty_[m] = q_[i];
        ++m;
        q_[i] = 0;
        bits &= bits - 1;
      }
      bits_[w] = 0;
    }
    near_n_ = 0;
    best_ = 0;
    base_ = nb;
    // array levels now inside the window come back (they are the array's best levels)
    while (far_.size() != 0) {
      const Key k = far_.key_from_top(0);
      if (k < nb) break;
      place(k, far_.qty_from_top(0));
      (void)far_.set(k, 0);
    }
    // old window levels: below the new base into the array (ascending = appended at its top)
    for (std::uint32_t k = 0; k < m; ++k) {
      if (scratch_keys_[k] < nb) (void)far_.set(scratch_keys_[k], scratch_qty_[k]);
      else place(scratch_keys_[k], scratch_qty_[k]);
    }
  }
  void place(Key key, Lots qty) noexcept {  // a level known to be new and inside the window
    const Key i = key - base_;
    q_[i] = qty;
    bits_[i >> 6] |= std::uint64_t{1} << (i & 63);
    ++near_n_;
    best_ = key > best_ ? key : best_;
  }

  // A key outside the window: below it (the array), above it, or any key of an empty side.
  [[gnu::noinline]] Lots set_outside(Key key, Lots qty) noexcept {
    if (size() == 0) {
      if (qty <= 0) {
        ++deletes_of_missing_;
        return 0;
      }
      recentre(key);
      place(key, qty);
      return 0;
    }
    if (key < base_) {  // below the window: the sorted array
      const Lots old = far_.qty_at(key);
      if (old == 0 && qty > 0 && size() == cap_) return insert_full(key, qty);
      (void)far_.set(key, qty);
      return old;
    }
    // above the window: a new best level (no level can exist there)
    if (qty <= 0) {
      ++deletes_of_missing_;
      return 0;
    }
    if (size() == cap_) return insert_full(key, qty);
    recentre(key);
    place(key, qty);
    return 0;
  }

  // A new level into a full side: evict the worst level if the new one is better, else drop it.
  [[gnu::noinline]] Lots insert_full(Key key, Lots qty) noexcept {
    ++overflow_;
    if (far_.size() != 0) {
      if (key < far_.key_from_top(far_.size() - 1)) return 0;  // worse than everything: dropped
      (void)far_.set(far_.key_from_top(far_.size() - 1), 0);
    } else {
      const std::int64_t lo = lowest();
      if (key < base_ + static_cast<Key>(lo)) return 0;  // worse than everything: dropped
      q_[lo] = 0;
      bits_[static_cast<std::uint64_t>(lo) >> 6] &= ~(std::uint64_t{1} << (lo & 63));
      --near_n_;
      if (near_n_ == 0) best_ = 0;
    }
    return set(key, qty);  // now below capacity
  }

  LevelArray far_;             // levels below the window, worst first
  std::unique_ptr<Lots[]> q_;  // quantity by key - base_ (0 = no level)
  std::array<std::uint64_t, kWords> bits_{};  // occupied window keys
  Key base_ = 0;               // the window is [base_, base_ + kLadder)
  Key best_ = 0;               // best key while size() > 0, else 0
  std::uint32_t near_n_ = 0;   // levels in the window
  std::uint32_t cap_;
  std::uint64_t overflow_ = 0;
  std::uint64_t deletes_of_missing_ = 0;
  // re-centre scratch: the window holds at most kLadder levels
  std::unique_ptr<Key[]> scratch_keys_{new Key[kLadder]};
  std::unique_ptr<Lots[]> scratch_qty_{new Lots[kLadder]};
};

}  // namespace sf
