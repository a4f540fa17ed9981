// expect: SF-CPP-IO
#include "sf/sdk.hpp"

struct Strat : sf::sdk::Strategy<Strat> {
  explicit Strat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) { if (FILE* f = std::fopen("/etc/passwd", "r")) std::fclose(f); }
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    (void)ctx; (void)b;
  }
  std::int64_t qty_;
};
SF_EXPORT_STRATEGY(Strat, "io_fopen_ctor")
