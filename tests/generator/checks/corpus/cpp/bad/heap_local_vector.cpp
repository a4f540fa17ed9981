// expect: SF-CPP-HEAP
#include <vector>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    std::vector<std::int64_t> v(4);
    v[0] = b.bid_px();
    (void)ctx.buy_limit(b.instrument(), v[0], qty_);
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "heap_local_vector")
