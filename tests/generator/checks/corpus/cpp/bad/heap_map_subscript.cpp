// expect: SF-CPP-HEAP
#include <map>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_trade(sf::sdk::Context& ctx, const sf_trade& t) {
    (void)ctx;
    volume_[t.instrument] += t.qty;
  }
  std::int64_t qty_;
  std::map<std::uint32_t, std::int64_t> volume_;
};
SF_EXPORT_STRATEGY(Strat, "heap_map_subscript")
