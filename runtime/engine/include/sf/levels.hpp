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
/// a LadderLevels window. Only levels away from the touch live here, so it is a plain sorted
/// array (binary search, moves of the levels above); the owner keeps the level count within
/// the capacity, so an insert always has room.
class LevelArray {
 public:
  using Key = std::uint64_t;

  explicit LevelArray(std::uint32_t capacity) : key_(new Key[capacity]), qty_(new Lots[capacity]), cap_(capacity) {}

  [[nodiscard]] std::uint32_t size() const noexcept { return n_; }
  /// Key and quantity of level `depth` from the best; caller checks depth < size().
  [[nodiscard]] Key key_from_top(std::uint32_t depth) const noexcept { return key_[n_ - 1 - depth]; }
  [[nodiscard]] Lots qty_from_top(std::uint32_t depth) const noexcept { return qty_[n_ - 1 - depth]; }
  /// Quantity at exactly `key` (0 when there is no such level).
  [[nodiscard]] Lots qty_at(Key key) const noexcept {
    const std::uint32_t i = lower(key);
    return (i < n_ && key_[i] == key) ? qty_[i] : 0;
  }
  /// Sets the absolute quantity of level `key`; qty <= 0 deletes it. Returns the previous
  /// quantity at that key (0 if the level did not exist). A new level needs size() < capacity.
  Lots set(Key key, Lots qty) noexcept {
    const std::uint32_t i = lower(key);
    const std::size_t above = n_ - i;
    if (i < n_ && key_[i] == key) {
      const Lots old = qty_[i];
      if (qty > 0) {
        qty_[i] = qty;
      } else {
        std::memmove(key_.get() + i, key_.get() + i + 1, (above - 1) * sizeof(Key));
        std::memmove(qty_.get() + i, qty_.get() + i + 1, (above - 1) * sizeof(Lots));
        --n_;
      }
      return old;
    }
    if (qty <= 0) {
      ++deletes_of_missing_;
      return 0;
    }
    if (n_ == cap_) [[unlikely]] return 0;  // unreachable: the owner evicts first
    std::memmove(key_.get() + i + 1, key_.get() + i, above * sizeof(Key));
    std::memmove(qty_.get() + i + 1, qty_.get() + i, above * sizeof(Lots));
    key_[i] = key;
    qty_[i] = qty;
    ++n_;
    return 0;
  }
  void clear() noexcept { n_ = 0; }
  [[nodiscard]] std::uint64_t deletes_of_missing() const noexcept { return deletes_of_missing_; }

 private:
  /// Index of the first level whose key is not below `key`.
  [[nodiscard]] std::uint32_t lower(Key key) const noexcept {
    return static_cast<std::uint32_t>(std::lower_bound(key_.get(), key_.get() + n_, key) - key_.get());
  }
  std::unique_ptr<Key[]> key_;
  std::unique_ptr<Lots[]> qty_;
  std::uint32_t n_ = 0;
  std::uint32_t cap_;
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
  [[nodiscard]] std::uint64_t overflow_count() const noexcept { return overflow_; }
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
    if (key < base_) {  // below the window: the sorted array (a new level into a full side evicts first)
      if (qty > 0 && size() == cap_ && far_.qty_at(key) == 0) return insert_full(key, qty);
      return far_.set(key, qty);
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
