// expect: SF-CPP-THREAD
#include <atomic>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    (void)ctx; (void)b;
    flag_.wait(0);
  }
  std::int64_t qty_;
  std::atomic<int> flag_{0};
};
SF_EXPORT_STRATEGY(Strat, "thread_atomic_wait")
