// expect: SF-CPP-LOOP
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    std::int64_t s = 0;
    for (int i = 0; i < 8; --i) s += i;
    (void)ctx.buy_limit(b.instrument(), b.bid_px(), s);
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "loop_wrong_direction")
