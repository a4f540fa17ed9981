// expect: SF-CPP-SYSCALL
#include <cstdlib>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_timer(sf::sdk::Context& ctx, std::uint64_t id) {
    (void)ctx; (void)id;
    (void)std::system("curl http://example.invalid");
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "syscall_system")
