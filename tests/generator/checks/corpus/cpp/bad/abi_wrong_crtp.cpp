// expect: SF-CPP-ABI-BASE
#include "sf/sdk.hpp"

struct Other : sf::sdk::Strategy<Other> {
  explicit Other(const sf::sdk::CreateArgs&) {}
};

struct Strat : sf::sdk::Strategy<Other> {
  explicit Strat(const sf::sdk::CreateArgs&) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) { (void)ctx.buy_limit(b.instrument(), b.bid_px(), 1); }
};
SF_EXPORT_STRATEGY(Strat, "abi_wrong_crtp")
