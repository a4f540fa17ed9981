// Test strategy: sends one order per book update from a script in its params, e.g.
//   orders=B100x5,S105x2,C1,K      (Buy/Sell px x qty, Cancel id, nothing = K (skip))
// and records what it was told, so engine tests can check order paths end to end.
#include <cstdint>
#include <string>
#include <vector>

#include "sf/sdk.hpp"

namespace {
class Scripted : public sf::sdk::Strategy<Scripted> {
 public:
  explicit Scripted(const sf::sdk::CreateArgs& a) {
    const std::string s = a.params.get_string("orders", "");
    a.params.expect_all_used();
    std::size_t p = 0;
    while (p < s.size()) {
      auto e = s.find(',', p);
      if (e == std::string::npos) e = s.size();
      steps_.push_back(s.substr(p, e - p));
      p = e + 1;
    }
    inst_ = a.instruments.at(0).id;
  }
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView&) {
    if (i_ >= steps_.size()) return;
    const std::string& st = steps_[i_++];
    if (st.empty() || st[0] == 'K') return;
    if (st[0] == 'C') {
      (void)ctx.cancel(std::stoull(st.substr(1)));
      return;
    }
    const auto x = st.find('x');
    const std::int64_t px = std::stoll(st.substr(1, x - 1));
    const std::int64_t qty = std::stoll(st.substr(x + 1));
    (void)ctx.limit(inst_, st[0] == 'B' ? sf::sdk::Side::Buy : sf::sdk::Side::Sell, px, qty);
  }

 private:
  std::vector<std::string> steps_;
  std::size_t i_ = 0;
  std::uint32_t inst_ = 0;
};
}  // namespace
SF_EXPORT_STRATEGY(Scripted, "scripted")
