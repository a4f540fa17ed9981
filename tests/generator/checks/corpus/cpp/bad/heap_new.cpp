// expect: SF-CPP-HEAP
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    auto* p = new std::int64_t(b.bid_px());
    (void)ctx.buy_limit(b.instrument(), *p, qty_);
    last_ = p;
  }
  std::int64_t qty_;
  std::int64_t* last_ = nullptr;
};
SF_EXPORT_STRATEGY(Strat, "heap_new")
