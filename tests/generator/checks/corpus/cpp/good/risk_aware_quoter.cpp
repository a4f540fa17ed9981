// Quotes one level, skews by inventory, pulls quotes on rejects; status handling by switch.
#include <cstdint>
#include <limits>

#include "sf/sdk.hpp"

namespace {

enum class Mode : std::uint8_t { Quoting, Paused };

constexpr std::int64_t clamp_skew(std::int64_t pos, std::int64_t max_pos) noexcept {
  return pos > max_pos ? max_pos : (pos < -max_pos ? -max_pos : pos);
}

}  // namespace

struct RiskAwareQuoter final : sf::sdk::Strategy<RiskAwareQuoter> {
  explicit RiskAwareQuoter(const sf::sdk::CreateArgs& a)
      : max_pos_(a.params.get_int("max_position", 5)), pause_ns_(a.params.get_int("pause_ns", 5'000'000'000)) {
    if (max_pos_ <= 0 || max_pos_ > std::numeric_limits<std::int32_t>::max())
      throw sf::sdk::ParamError("max_position out of range");
    a.params.expect_all_used();
  }

  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    if (mode_ == Mode::Paused || !b.two_sided() || b.spread() < 2) return;
    const std::int64_t skew = clamp_skew(ctx.position(b.instrument()), max_pos_);
    if (bid_id_ == 0) {
      const auto r = ctx.buy_limit(b.instrument(), b.bid_px() - (skew > 0 ? skew : 0), 1);
      if (r) bid_id_ = r.id;
    }
    if (ask_id_ == 0) {
      const auto r = ctx.sell_limit(b.instrument(), b.ask_px() + (skew < 0 ? -skew : 0), 1);
      if (r) ask_id_ = r.id;
    }
  }

  void on_order_update(sf::sdk::Context& ctx, const sf_order_update& u) {
    switch (u.status) {
      case SF_ORDER_REJECTED:
        mode_ = Mode::Paused;
        (void)ctx.set_timer(ctx.now() + pause_ns_, kResume);
        [[fallthrough]];
      case SF_ORDER_CANCELED:
      case SF_ORDER_FILLED:
      case SF_ORDER_EXPIRED:
        if (u.order_id == bid_id_) bid_id_ = 0;
        if (u.order_id == ask_id_) ask_id_ = 0;
        break;
      default:
        break;
    }
  }

  void on_fill(sf::sdk::Context& ctx, const sf_fill& f) {
    if (f.position > max_pos_ || f.position < -max_pos_) ctx.log(SF_LOG_WARN, "inventory above max_position");
  }

  void on_timer(sf::sdk::Context&, std::uint64_t id) {
    if (id == kResume) mode_ = Mode::Quoting;
  }

  static constexpr std::uint64_t kResume = 7;
  std::int64_t max_pos_;
  std::int64_t pause_ns_;
  Mode mode_ = Mode::Quoting;
  std::uint64_t bid_id_ = 0;
  std::uint64_t ask_id_ = 0;
};

SF_EXPORT_STRATEGY(RiskAwareQuoter, "risk_aware_quoter")
