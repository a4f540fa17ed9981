// expect: SF-CPP-IO
#include <iostream>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    std::cout << b.bid_px() << '\n';
    (void)ctx;
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "io_cout")
