// expect: SF-CPP-THREAD
#include <thread>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) { std::thread([] {}).detach(); }
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    (void)ctx; (void)b;
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "thread_spawn")
