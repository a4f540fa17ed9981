// expect: SF-CPP-ABI-SIGNATURE
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_timer(sf::sdk::Context& ctx, int id) {
    (void)ctx; (void)id;
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "abi_timer_int")
