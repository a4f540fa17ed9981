// expect: SF-CPP-HEAP
#include <string>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    ctx.log(SF_LOG_INFO, std::to_string(b.bid_px()).c_str());
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "heap_to_string")
