// expect: SF-CPP-LOOP
#include <vector>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    std::int64_t s = 0;
    for (const auto w : weights_) s += w;
    (void)ctx.buy_limit(b.instrument(), b.bid_px(), s);
  }
  std::int64_t qty_;
  std::vector<std::int64_t> weights_{1, 2};
};
SF_EXPORT_STRATEGY(Strat, "loop_range_for_vector")
