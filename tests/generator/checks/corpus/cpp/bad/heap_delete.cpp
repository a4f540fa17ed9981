// expect: SF-CPP-HEAP
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    (void)ctx; (void)b;
    delete buf_;
    buf_ = nullptr;
  }
  std::int64_t qty_;
  std::int64_t* buf_ = nullptr;
};
SF_EXPORT_STRATEGY(Strat, "heap_delete")
