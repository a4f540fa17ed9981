// expect: SF-CPP-CLOCK
#include <chrono>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    const auto t = std::chrono::system_clock::now().time_since_epoch().count();
    if (t % 2 == 0) (void)ctx.buy_limit(b.instrument(), b.bid_px(), qty_);
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "clock_system_clock")
