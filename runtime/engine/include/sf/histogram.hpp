// sf/histogram.hpp — HDR-style log-linear latency histogram (nanoseconds).
//
// Design: values below 128 ns get one exact bucket each; above, every power of two [2^e, 2^e+1)
// is split into 64 linear sub-buckets, so any recorded value is known to within 1/64 (1.6%).
// Buckets are a fixed array (3776 x u64, ~30 KB) allocated with the object; record() is a
// count-leading-zeros, a shift and an increment: O(1), branch-light, no allocation. Percentiles
// are read by a cumulative scan (cold path) and reported as the bucket's upper edge, clamped to the
// exact maximum, so they never under-state a latency.
// Values may be recorded in raw clock units (e.g. TSC ticks, so the hot path does no float
// conversion); set_unit_ns() gives the ns per unit and every read-out (quantile, min, max, mean,
// bucket bounds) is in ns.
// Worst case: record O(1); percentile O(buckets).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>

namespace sf {

class LatencyHistogram {
 public:
  static constexpr std::uint32_t kLinear = 128;  // exact buckets [0, 128)
  static constexpr std::uint32_t kSubBits = 6;   // 64 sub-buckets per power of two
  static constexpr std::uint32_t kSub = 1u << kSubBits;
  static constexpr std::uint32_t kBuckets = kLinear + (64 - 7) * kSub;

  static constexpr std::uint32_t index(std::uint64_t v) noexcept {
    if (v < kLinear) return static_cast<std::uint32_t>(v);
    const auto e = static_cast<std::uint32_t>(63 - std::countl_zero(v));  // >= 7
    const auto m = static_cast<std::uint32_t>(v >> (e - kSubBits));        // [64, 128)
    return kLinear + (e - 7) * kSub + (m - kSub);
  }
  /// Highest value that maps to bucket `idx`.
  static constexpr std::uint64_t upper(std::uint32_t idx) noexcept {
    if (idx < kLinear) return idx;
    const std::uint32_t e = (idx - kLinear) / kSub + 7;
    const std::uint64_t m = (idx - kLinear) % kSub + kSub;
    return ((m + 1) << (e - kSubBits)) - 1;
  }
  static constexpr std::uint64_t lower(std::uint32_t idx) noexcept {
    if (idx < kLinear) return idx;
    const std::uint32_t e = (idx - kLinear) / kSub + 7;
    const std::uint64_t m = (idx - kLinear) % kSub + kSub;
    return m << (e - kSubBits);
  }

  void record(std::int64_t ns) noexcept {
    const std::uint64_t v = ns < 0 ? 0 : static_cast<std::uint64_t>(ns);
    ++counts_[index(v)];
    ++count_;
    sum_ += v;
    max_ = std::max(max_, v);
    min_ = std::min(min_, v);
  }

  void set_unit_ns(double ns_per_unit) noexcept { unit_ns_ = ns_per_unit; }
  [[nodiscard]] double unit_ns() const noexcept { return unit_ns_; }
  [[nodiscard]] std::uint64_t to_ns(std::uint64_t raw) const noexcept {
    return static_cast<std::uint64_t>(static_cast<double>(raw) * unit_ns_ + 0.5);
  }

  /// Value (ns) at quantile q in [0, 1] (0 with no samples).
  [[nodiscard]] std::uint64_t quantile(double q) const noexcept {
    if (count_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_) + 0.5);
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::uint32_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return to_ns(std::min(upper(i), max_));
    }
    return to_ns(max_);
  }
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return to_ns(max_); }
  [[nodiscard]] std::uint64_t min() const noexcept { return count_ ? to_ns(min_) : 0; }
  [[nodiscard]] double mean() const noexcept {
    return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) * unit_ns_ : 0.0;
  }
  [[nodiscard]] std::uint64_t bucket_count(std::uint32_t i) const noexcept { return counts_[i]; }
  void merge(const LatencyHistogram& o) noexcept {
    for (std::uint32_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    max_ = std::max(max_, o.max_);
    min_ = std::min(min_, o.min_);
  }

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
  double unit_ns_ = 1.0;
};

static_assert(LatencyHistogram::index(127) == 127);
static_assert(LatencyHistogram::index(128) == 128);
static_assert(LatencyHistogram::upper(LatencyHistogram::index(1000)) >= 1000);
static_assert(LatencyHistogram::lower(LatencyHistogram::index(1000)) <= 1000);
static_assert(LatencyHistogram::index(std::numeric_limits<std::uint64_t>::max()) == LatencyHistogram::kBuckets - 1);

}  // namespace sf
