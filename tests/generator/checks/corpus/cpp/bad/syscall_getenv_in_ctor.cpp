// expect: SF-CPP-SYSCALL
#include <cstdlib>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) { if (std::getenv("SF_DEBUG")) qty_ = 2; }
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    (void)ctx.buy_limit(b.instrument(), b.bid_px(), qty_);
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "syscall_getenv_in_ctor")
