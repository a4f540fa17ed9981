// Bar momentum: fast/slow EMA cross, one position at a time.
#include <cmath>
#include <cstdint>

#include "sf/sdk.hpp"

namespace {

constexpr double ema_alpha(std::int64_t period) noexcept { return 2.0 / (static_cast<double>(period) + 1.0); }

struct Ema {
  double alpha;
  double value = 0.0;
  bool primed = false;
  void update(double x) noexcept {
    value = primed ? value + alpha * (x - value) : x;
    primed = true;
  }
};

}  // namespace

struct MomentumEma : sf::sdk::Strategy<MomentumEma> {
  explicit MomentumEma(const sf::sdk::CreateArgs& a)
      : fast_{ema_alpha(a.params.require_int("fast"))},
        slow_{ema_alpha(a.params.require_int("slow"))},
        qty_(a.params.get_int("qty", 1)),
        threshold_(a.params.get_double("threshold", 0.0)) {
    if (fast_.alpha <= slow_.alpha) throw sf::sdk::ParamError("fast must be shorter than slow");
    a.params.expect_all_used();
  }

  void on_bar(sf::sdk::Context& ctx, const sf_bar& bar) {
    const auto close = static_cast<double>(bar.close);
    fast_.update(close);
    slow_.update(close);
    ++bars_;
    if (bars_ < kWarmup) return;
    const double diff = fast_.value - slow_.value;
    const std::int64_t pos = ctx.position(bar.instrument);
    if (diff > threshold_ && pos <= 0) {
      (void)ctx.buy_market(bar.instrument, qty_ - pos);
    } else if (diff < -threshold_ && pos >= 0) {
      (void)ctx.sell_market(bar.instrument, qty_ + pos);
    }
  }

  static constexpr std::int64_t kWarmup = 20;
  Ema fast_;
  Ema slow_;
  std::int64_t qty_;
  double threshold_;
  std::int64_t bars_ = 0;
};

SF_EXPORT_STRATEGY(MomentumEma, "momentum_ema")
