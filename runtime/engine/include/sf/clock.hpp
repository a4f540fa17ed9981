// sf/clock.hpp — the engine's measurement clock (never visible to strategies).
//
// Design: on x86-64, the invariant TSC read with rdtsc (~6-20 cycles, no syscall, not
// serialising) converted to ns by a factor calibrated once against std::chrono::steady_clock at
// start-up; elsewhere steady_clock. Used only for latency histograms (callback cost,
// tick-to-order); strategies get the event clock through sf_ctx.now_ns.
// Worst case: now() is one rdtsc; to_ns() is one multiply.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define SF_HAVE_TSC 1
#else
#define SF_HAVE_TSC 0
#endif

namespace sf {

class TscClock {
 public:
  /// Calibrates against steady_clock for about `calib_ms` milliseconds.
  explicit TscClock(int calib_ms = 20) noexcept {
#if SF_HAVE_TSC
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint64_t c0 = __rdtsc();
    std::this_thread::sleep_for(std::chrono::milliseconds(calib_ms));
    const auto t1 = std::chrono::steady_clock::now();
    const std::uint64_t c1 = __rdtsc();
    const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    ns_per_tick_ = (c1 > c0 && ns > 0) ? ns / static_cast<double>(c1 - c0) : 1.0;
#else
    (void)calib_ms;
#endif
  }
  [[nodiscard]] static std::uint64_t now() noexcept {
#if SF_HAVE_TSC
    return __rdtsc();
#else
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::steady_clock::now().time_since_epoch()).count());
#endif
  }
  [[nodiscard]] std::int64_t to_ns(std::uint64_t ticks) const noexcept {
    return static_cast<std::int64_t>(static_cast<double>(ticks) * ns_per_tick_);
  }
  [[nodiscard]] double ns_per_tick() const noexcept { return ns_per_tick_; }

 private:
  double ns_per_tick_ = 1.0;
};

}  // namespace sf
