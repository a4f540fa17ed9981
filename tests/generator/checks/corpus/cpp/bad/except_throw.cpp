// expect: SF-CPP-EXCEPT
#include <stdexcept>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    if (!b.two_sided()) throw std::runtime_error("one-sided");
    (void)ctx.buy_limit(b.instrument(), b.bid_px(), qty_);
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "except_throw")
