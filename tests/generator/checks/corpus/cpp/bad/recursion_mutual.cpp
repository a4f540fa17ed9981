// expect: SF-CPP-RECURSION
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    (void)ctx.buy_limit(b.instrument(), ping(b.bid_px()), qty_);
  }
  std::int64_t qty_;
  std::int64_t ping(std::int64_t x) { return x <= 0 ? 0 : pong(x - 1); }
  std::int64_t pong(std::int64_t x) { return x <= 0 ? 1 : ping(x - 1); }
};
SF_EXPORT_STRATEGY(Strat, "recursion_mutual")
