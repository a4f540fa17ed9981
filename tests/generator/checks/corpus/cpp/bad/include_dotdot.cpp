// expect: SF-CPP-INCLUDE
#include "sf/sdk.hpp"
#include "sf/../../src/engine.cpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs&) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) { (void)ctx.buy_limit(b.instrument(), b.bid_px(), 1); }
};
SF_EXPORT_STRATEGY(Strat, "include_dotdot")
