// Parses a weight list in the constructor (allocates, loops without a static bound: allowed
// there) and only indexes the parsed, fixed-capacity table in handlers.
#include <array>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sf/sdk.hpp"

struct WeightedParams : sf::sdk::Strategy<WeightedParams> {
  static constexpr std::size_t kMaxWeights = 8;

  explicit WeightedParams(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {
    const std::string list = a.params.get_string("weights", "1,1,1");
    std::vector<std::int64_t> parsed;
    std::size_t pos = 0;
    while (pos <= list.size()) {
      std::size_t comma = list.find(',', pos);
      if (comma == std::string::npos) comma = list.size();
      std::int64_t w = 0;
      const auto r = std::from_chars(list.data() + pos, list.data() + comma, w);
      if (r.ec != std::errc()) throw sf::sdk::ParamError("weights: not an integer list: " + list);
      parsed.push_back(w);
      pos = comma + 1;
    }
    if (parsed.size() > kMaxWeights) throw sf::sdk::ParamError("at most 8 weights");
    n_ = parsed.size();
    for (std::size_t i = 0; i < n_; ++i) weights_[i] = parsed[i];
    a.params.expect_all_used();
  }

  void on_trade(sf::sdk::Context& ctx, const sf_trade& t) {
    recent_[head_] = t.side == SF_SIDE_BUY ? t.qty : -t.qty;
    head_ = (head_ + 1) % kMaxWeights;
    std::int64_t score = 0;
    for (std::size_t i = 0; i < kMaxWeights; ++i) {
      if (i >= n_) break;
      score += weights_[i] * recent_[(head_ + kMaxWeights - 1 - i) % kMaxWeights];
    }
    if (score > 0) (void)ctx.buy_ioc(t.instrument, t.px, qty_);
    if (score < 0) (void)ctx.sell_ioc(t.instrument, t.px, qty_);
  }

  std::int64_t qty_;
  std::size_t n_ = 0;
  std::size_t head_ = 0;
  std::array<std::int64_t, kMaxWeights> weights_{};
  std::array<std::int64_t, kMaxWeights> recent_{};
};

SF_EXPORT_STRATEGY(WeightedParams, "weighted_params")
