// expect: SF-CPP-ABI-BASE
#include "sf/sdk.hpp"

struct Strat {
  explicit Strat(const sf::sdk::CreateArgs&) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) { (void)ctx.buy_limit(b.instrument(), b.bid_px(), 1); }
  void on_trade(sf::sdk::Context&, const sf_trade&) {}
  void on_bar(sf::sdk::Context&, const sf_bar&) {}
  void on_fill(sf::sdk::Context&, const sf_fill&) {}
  void on_order_update(sf::sdk::Context&, const sf_order_update&) {}
  void on_timer(sf::sdk::Context&, std::uint64_t) {}
};
SF_EXPORT_STRATEGY(Strat, "abi_no_base")
