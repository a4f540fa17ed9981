// Two-instrument spread: the constructor copies instrument metadata (allocates, once).
#include <array>
#include <cstdint>
#include <string>

#include "sf/sdk.hpp"

struct PairSpread : sf::sdk::Strategy<PairSpread> {
  explicit PairSpread(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {
    if (a.instruments.size() != 2) throw sf::sdk::ParamError("pair_spread needs exactly two instruments");
    for (std::size_t i = 0; i < 2; ++i) {
      ids_[i] = a.instruments[i].id;
      names_[i] = a.instruments[i].symbol + "/" + a.strategy_id;
    }
    entry_ = a.params.get_int("entry_ticks", 4);
    a.params.expect_all_used();
  }

  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    if (!b.two_sided()) return;
    for (std::size_t i = 0; i < ids_.size(); ++i)
      if (ids_[i] == b.instrument()) mid2_[i] = b.mid_x2();
    if (mid2_[0] == SF_NO_PRICE || mid2_[1] == SF_NO_PRICE) return;
    const std::int64_t spread2 = mid2_[0] - mid2_[1];
    if (spread2 > 2 * entry_ && ctx.position(ids_[0]) >= 0) {
      (void)ctx.sell_market(ids_[0], qty_);
      (void)ctx.buy_market(ids_[1], qty_);
    } else if (spread2 < -2 * entry_ && ctx.position(ids_[0]) <= 0) {
      (void)ctx.buy_market(ids_[0], qty_);
      (void)ctx.sell_market(ids_[1], qty_);
    }
  }

  void on_fill(sf::sdk::Context& ctx, const sf_fill& f) {
    if (f.position == 0) ctx.log(SF_LOG_INFO, "flat");
  }

  std::int64_t qty_;
  std::int64_t entry_ = 0;
  std::array<std::uint32_t, 2> ids_{};
  std::array<std::int64_t, 2> mid2_{SF_NO_PRICE, SF_NO_PRICE};
  std::array<std::string, 2> names_;
};

SF_EXPORT_STRATEGY(PairSpread, "pair_spread")
