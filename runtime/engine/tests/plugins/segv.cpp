// Broken strategy: dereferences an invalid pointer in on_book after `after` calls.
#include <cstdint>

#include "sf/sdk.hpp"

namespace {
class Segv : public sf::sdk::Strategy<Segv> {
 public:
  explicit Segv(const sf::sdk::CreateArgs& a) : after_(a.params.get_int("after", 3)) { a.params.expect_all_used(); }
  void on_book(sf::sdk::Context&, const sf::sdk::BookView&) {
    if (++n_ >= after_) {
      // An address read from a volatile: the optimiser cannot prove it out of bounds (a
      // constant address trips -Warray-bounds under -O2 -Werror), and the store faults.
      volatile std::uintptr_t addr = 16;
      *reinterpret_cast<volatile int*>(addr) = 1;
    }
  }

 private:
  std::int64_t after_;
  std::int64_t n_ = 0;
};
}  // namespace
SF_EXPORT_STRATEGY(Segv, "segv")
