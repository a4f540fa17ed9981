// expect: SF-CPP-UNSAFE-CAST
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    const auto* raw = reinterpret_cast<const std::int64_t*>(&b.raw());
    (void)ctx.buy_limit(b.instrument(), raw[2], qty_);
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "cast_reinterpret")
