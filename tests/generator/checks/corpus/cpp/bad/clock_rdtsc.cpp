// expect: SF-CPP-CLOCK
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    last_ = __builtin_ia32_rdtsc();
    (void)ctx; (void)b;
  }
  std::int64_t qty_;
  unsigned long long last_ = 0;
};
SF_EXPORT_STRATEGY(Strat, "clock_rdtsc")
