// sf/latency_model.hpp — seeded random numbers and the venue latency models.
//
// Design: a self-contained xoshiro256** generator seeded through splitmix64, uniform doubles
// from the top 53 bits, and standard normals by Box-Muller (one normal per two uniforms, the sine
// half discarded), so the exact sample stream is defined here (not by a standard library
// implementation) and can be reproduced by the Python side. A latency model is either `constant`
// or `lognormal` given its median and p99: mu = ln(median), sigma = ln(p99/median) / 2.3263478740408408.
// Samples are rounded to whole ns and clamped at >= 0.
// Worst case: sample() is O(1) (one exp, one log, one sqrt, one cos), no allocation.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "sf/events.hpp"

namespace sf {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept {
    std::uint64_t x = seed;
    for (auto& s : s_) s = splitmix64(x);
  }
  static std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Uniform in [0, 1).
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform integer in [0, n) (n > 0); modulo bias is negligible for small n.
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }
  double normal() noexcept {
    const double u1 = static_cast<double>((next() >> 11) + 1) * 0x1.0p-53;  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

struct LatencyModel {
  enum class Kind : std::uint8_t { Constant, Lognormal };
  Kind kind = Kind::Constant;
  Nanos constant_ns = 0;
  Nanos median_ns = 0;
  Nanos p99_ns = 0;
  double mu = 0.0;
  double sigma = 0.0;

  static constexpr double kZ99 = 2.3263478740408408;

  [[nodiscard]] static LatencyModel constant(Nanos ns) noexcept {
    LatencyModel m;
    m.kind = Kind::Constant;
    m.constant_ns = ns;
    return m;
  }
  /// Lognormal from median and p99 (p99 >= median > 0).
  [[nodiscard]] static LatencyModel lognormal(Nanos median, Nanos p99) noexcept {
    LatencyModel m;
    m.kind = Kind::Lognormal;
    m.median_ns = median;
    m.p99_ns = p99;
    m.mu = std::log(static_cast<double>(median));
    m.sigma = std::log(static_cast<double>(p99) / static_cast<double>(median)) / kZ99;
    return m;
  }
  [[nodiscard]] Nanos sample(Rng& rng) const noexcept {
    if (kind == Kind::Constant) return constant_ns;
    const double v = std::exp(mu + sigma * rng.normal());
    return v < 0 ? 0 : static_cast<Nanos>(std::llround(v));
  }
  [[nodiscard]] std::string describe() const {
    if (kind == Kind::Constant) return "constant(" + std::to_string(constant_ns) + "ns)";
    return "lognormal(median=" + std::to_string(median_ns) + "ns, p99=" + std::to_string(p99_ns) + "ns)";
  }
};

}  // namespace sf
