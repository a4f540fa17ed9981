// expect: SF-CPP-HEAP
#include <functional>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    std::function<std::int64_t()> f = [&b] { return b.bid_px(); };
    (void)ctx.buy_limit(b.instrument(), f(), qty_);
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "heap_std_function")
