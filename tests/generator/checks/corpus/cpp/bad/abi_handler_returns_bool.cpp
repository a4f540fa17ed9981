// expect: SF-CPP-ABI-SIGNATURE
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  bool on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    (void)ctx.buy_limit(b.instrument(), b.bid_px(), qty_);
    return true;
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "abi_handler_returns_bool")
