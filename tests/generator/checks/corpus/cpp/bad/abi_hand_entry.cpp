// expect: SF-CPP-ABI-ENTRY
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    (void)ctx.buy_limit(b.instrument(), b.bid_px(), qty_);
  }
  std::int64_t qty_;
};
extern "C" const sf_plugin_v1* sf_plugin_entry(void) {
  static const sf_plugin_v1 kTable = sf::sdk::Adapter<Strat>::table("abi_hand_entry", "x", "");
  return &kTable;
}
