// Mean reversion on a fixed ring buffer of mids: z-score entry, exit at the mean.
#include <array>
#include <cmath>
#include <cstdint>

#include "sf/sdk.hpp"

template <std::size_t N>
class Ring {
 public:
  void push(double x) noexcept {
    sum_ += x - buf_[head_];
    sumsq_ += x * x - buf_[head_] * buf_[head_];
    buf_[head_] = x;
    head_ = (head_ + 1) % N;
    if (count_ < N) ++count_;
  }
  [[nodiscard]] bool full() const noexcept { return count_ == N; }
  [[nodiscard]] double mean() const noexcept { return sum_ / static_cast<double>(N); }
  [[nodiscard]] double stddev() const noexcept {
    const double m = mean();
    const double var = sumsq_ / static_cast<double>(N) - m * m;
    return var > 0.0 ? std::sqrt(var) : 0.0;
  }

 private:
  std::array<double, N> buf_{};
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  double sum_ = 0.0;
  double sumsq_ = 0.0;
};

struct MeanReversion : sf::sdk::Strategy<MeanReversion> {
  explicit MeanReversion(const sf::sdk::CreateArgs& a)
      : entry_z_(a.params.get_double("entry_z", 2.0)), qty_(a.params.get_int("qty", 1)) {
    a.params.expect_all_used();
  }

  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    if (!b.two_sided()) return;
    const double mid = b.mid();
    mids_.push(mid);
    if (!mids_.full()) return;
    const double sd = mids_.stddev();
    if (sd <= 0.0) return;
    const double z = (mid - mids_.mean()) / sd;
    const std::int64_t pos = ctx.position(b.instrument());
    if (z > entry_z_ && pos > -qty_) {
      (void)ctx.sell_ioc(b.instrument(), b.bid_px(), qty_);
    } else if (z < -entry_z_ && pos < qty_) {
      (void)ctx.buy_ioc(b.instrument(), b.ask_px(), qty_);
    } else if (std::fabs(z) < 0.1 && pos != 0) {
      (void)ctx.market(b.instrument(), pos > 0 ? sf::sdk::Side::Sell : sf::sdk::Side::Buy, pos > 0 ? pos : -pos);
    }
  }

  Ring<64> mids_;
  double entry_z_;
  std::int64_t qty_;
};

SF_EXPORT_STRATEGY(MeanReversion, "mean_reversion_ring")
