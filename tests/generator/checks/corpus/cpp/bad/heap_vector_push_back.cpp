// expect: SF-CPP-HEAP
#include <vector>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    (void)ctx;
    prices_.push_back(b.bid_px());
  }
  std::int64_t qty_;
  std::vector<std::int64_t> prices_;
};
SF_EXPORT_STRATEGY(Strat, "heap_vector_push_back")
