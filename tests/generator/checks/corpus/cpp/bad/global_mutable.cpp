// expect: SF-CPP-GLOBAL-STATE
#include "sf/sdk.hpp"

namespace {
std::int64_t g_orders = 0;
}  // namespace

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    ++g_orders;
    (void)ctx.buy_limit(b.instrument(), b.bid_px(), qty_);
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "global_mutable")
