// expect: SF-CPP-ABI-SIGNATURE
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_trade(sf::sdk::Context& ctx, sf_trade t) {
    (void)ctx.buy_limit(t.instrument, t.px, qty_);
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "abi_trade_by_value")
