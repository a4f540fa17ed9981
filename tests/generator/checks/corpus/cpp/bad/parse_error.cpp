// expect: SF-CPP-PARSE
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs&) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) { (void)ctx.buy_limit(b.instrument(), b.bid_px(), undeclared_qty); }
};
SF_EXPORT_STRATEGY(Strat, "parse_error")
