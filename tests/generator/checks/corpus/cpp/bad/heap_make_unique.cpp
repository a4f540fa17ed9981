// expect: SF-CPP-HEAP
#include <memory>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    (void)ctx;
    auto p = std::make_unique<std::int64_t>(b.bid_px());
    last_ = *p;
  }
  std::int64_t qty_;
  std::int64_t last_ = 0;
};
SF_EXPORT_STRATEGY(Strat, "heap_make_unique")
