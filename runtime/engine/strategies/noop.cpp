// Reference strategy "noop": receives every callback and does nothing. Used to measure the pure
// replay cost of the engine (sf-bench mode a) and as the smallest example of the SDK.
#include "sf/sdk.hpp"

namespace {

class Noop : public sf::sdk::Strategy<Noop> {
 public:
  explicit Noop(const sf::sdk::CreateArgs& a) { a.params.expect_all_used(); }
};

}  // namespace

SF_EXPORT_STRATEGY(Noop, "noop")
