// expect: SF-CPP-GLOBAL-STATE
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    static std::int64_t last = 0;
    if (b.bid_px() != last) (void)ctx.buy_limit(b.instrument(), b.bid_px(), qty_);
    last = b.bid_px();
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "global_static_local")
