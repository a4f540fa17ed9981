// expect: SF-CPP-HEAP
#include <cstring>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    (void)ctx;
    scratch(b.bid_px());
  }
  std::int64_t qty_;
  void scratch(std::int64_t px) {
    void* m = std::malloc(64);
    std::memcpy(m, &px, sizeof px);
  }
};
SF_EXPORT_STRATEGY(Strat, "heap_malloc_in_helper")
