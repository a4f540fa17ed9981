// expect: SF-CPP-EXCEPT
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    (void)ctx.buy_limit(b.instrument(), b.bid_px(), args_->params.get_int("qty", 1));
  }
  std::int64_t qty_;
  const sf::sdk::CreateArgs* args_ = nullptr;
};
SF_EXPORT_STRATEGY(Strat, "except_params_in_handler")
