// Quotes kLevels levels each side around the mid; re-quotes when the mid moves.
#include <array>
#include <cstdint>

#include "sf/sdk.hpp"

class MarketMaker : public sf::sdk::Strategy<MarketMaker> {
 public:
  explicit MarketMaker(const sf::sdk::CreateArgs& a)
      : qty_(a.params.get_int("qty", 1)),
        half_spread_(a.params.get_int("half_spread_ticks", 2)),
        max_pos_(a.params.get_int("max_position", 10)) {
    a.params.expect_all_used();
    if (a.instruments.empty()) throw sf::sdk::ParamError("needs one instrument");
    inst_ = a.instruments.front().id;
  }

  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    if (b.instrument() != inst_ || !b.two_sided() || b.crossed_or_locked()) return;
    const std::int64_t mid2 = b.mid_x2();
    if (mid2 == last_mid2_) return;
    last_mid2_ = mid2;
    const std::int64_t pos = ctx.position(inst_);
    for (std::size_t i = 0; i < kLevels; ++i) {
      const auto off = half_spread_ + static_cast<std::int64_t>(i);
      requote(ctx, bids_[i], sf::sdk::Side::Buy, mid2 / 2 - off, pos < max_pos_);
      requote(ctx, asks_[i], sf::sdk::Side::Sell, (mid2 + 1) / 2 + off, pos > -max_pos_);
    }
  }

  void on_order_update(sf::sdk::Context&, const sf_order_update& u) {
    const bool done = u.status == SF_ORDER_CANCELED || u.status == SF_ORDER_FILLED ||
                      u.status == SF_ORDER_REJECTED || u.status == SF_ORDER_EXPIRED;
    if (!done) return;
    for (auto& id : bids_)
      if (id == u.order_id) id = 0;
    for (auto& id : asks_)
      if (id == u.order_id) id = 0;
  }

 private:
  static constexpr std::size_t kLevels = 3;

  void requote(sf::sdk::Context& ctx, std::uint64_t& slot, sf::sdk::Side side, std::int64_t px, bool allowed) {
    if (slot != 0) {
      if (!allowed) {
        (void)ctx.cancel(slot);
        return;
      }
      if (ctx.replace(slot, px, qty_) == SF_ACCEPTED) return;
      slot = 0;
    }
    if (!allowed) return;
    const auto r = ctx.limit(inst_, side, px, qty_);
    if (r) slot = r.id;
  }

  std::int64_t qty_;
  std::int64_t half_spread_;
  std::int64_t max_pos_;
  std::uint32_t inst_ = 0;
  std::int64_t last_mid2_ = SF_NO_PRICE;
  std::array<std::uint64_t, kLevels> bids_{};
  std::array<std::uint64_t, kLevels> asks_{};
};

SF_EXPORT_STRATEGY(MarketMaker, "market_maker")
