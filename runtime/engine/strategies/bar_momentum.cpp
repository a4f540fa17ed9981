// Reference strategy "bar_momentum": time-series momentum on bars (for bar mode).
//
// On each bar: r = (close - close[lookback bars ago]) / close[lookback bars ago] in bps. If
// r > threshold_bps the target position is +qty lots, if r < -threshold_bps it is -qty, else the
// target is unchanged. When the position differs from the target and no order is working, it
// sends one market order for the difference (filled at the next bar's open in bar mode).
// Parameters: lookback=10 (bars, >= 1), qty=1 (lots), threshold_bps=0.
// Hot path: a ring of lookback+1 closes allocated at construction.
#include <cstdint>
#include <vector>

#include "sf/sdk.hpp"

namespace {

class BarMomentum : public sf::sdk::Strategy<BarMomentum> {
 public:
  explicit BarMomentum(const sf::sdk::CreateArgs& a)
      : lookback_(a.params.get_int("lookback", 10)),
        qty_(a.params.get_int("qty", 1)),
        threshold_bps_(a.params.get_double("threshold_bps", 0.0)) {
    a.params.expect_all_used();
    if (lookback_ < 1) throw sf::sdk::ParamError("lookback must be >= 1, was " + std::to_string(lookback_));
    if (qty_ <= 0) throw sf::sdk::ParamError("qty must be > 0, was " + std::to_string(qty_));
    if (a.instruments.size() != 1) throw sf::sdk::ParamError("bar_momentum trades exactly one instrument");
    inst_ = a.instruments[0].id;
    closes_.assign(static_cast<std::size_t>(lookback_ + 1), 0);
  }

  void on_bar(sf::sdk::Context& ctx, const sf_bar& b) {
    if (b.instrument != inst_) return;
    closes_[static_cast<std::size_t>(n_ % (lookback_ + 1))] = b.close;
    ++n_;
    if (n_ <= lookback_) return;
    const std::int64_t past = closes_[static_cast<std::size_t>(n_ % (lookback_ + 1))];
    if (past <= 0) return;
    const double r_bps = static_cast<double>(b.close - past) * 1e4 / static_cast<double>(past);
    if (r_bps > threshold_bps_) target_ = qty_;
    else if (r_bps < -threshold_bps_) target_ = -qty_;
    if (working_ != 0) return;
    const std::int64_t delta = target_ - ctx.position(inst_);
    if (delta == 0) return;
    const auto r = delta > 0 ? ctx.buy_market(inst_, delta) : ctx.sell_market(inst_, -delta);
    if (r) working_ = r.id;
  }

  void on_order_update(sf::sdk::Context&, const sf_order_update& u) {
    if (u.order_id == working_ && u.status != SF_ORDER_ACCEPTED && u.status != SF_ORDER_REPLACED &&
        u.status != SF_ORDER_CANCEL_REJECTED)
      working_ = 0;
  }

 private:
  std::int64_t lookback_, qty_;
  double threshold_bps_;
  std::uint32_t inst_ = 0;
  std::vector<std::int64_t> closes_;
  std::int64_t n_ = 0;
  std::int64_t target_ = 0;
  std::uint64_t working_ = 0;
};

}  // namespace

SF_EXPORT_STRATEGY(BarMomentum, "bar_momentum")
