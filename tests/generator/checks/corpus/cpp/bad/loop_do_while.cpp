// expect: SF-CPP-LOOP
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    std::uint32_t d = 0;
    std::int64_t px = 0, q = 0;
    do { ++d; } while (ctx.level(b.instrument(), sf::sdk::Side::Buy, d, px, q));
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "loop_do_while")
