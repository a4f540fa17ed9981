// Broken strategy: throws a C++ exception from on_trade; the SDK wrapper turns it into a fault.
#include <stdexcept>

#include "sf/sdk.hpp"

namespace {
class Throws : public sf::sdk::Strategy<Throws> {
 public:
  explicit Throws(const sf::sdk::CreateArgs& a) { a.params.expect_all_used(); }
  void on_trade(sf::sdk::Context&, const sf_trade&) { throw std::runtime_error("boom from the throws test strategy"); }
};
}  // namespace
SF_EXPORT_STRATEGY(Throws, "throws")
