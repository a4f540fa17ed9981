// expect: SF-CPP-IO
#include <sys/socket.h>
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {}
  void on_timer(sf::sdk::Context& ctx, std::uint64_t id) {
    (void)ctx; (void)id;
    fd_ = socket(2, 1, 0);
  }
  std::int64_t qty_;
  int fd_ = -1;
};
SF_EXPORT_STRATEGY(Strat, "io_socket")
