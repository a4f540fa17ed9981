// Order-book imbalance over the top kDepth levels, read through ctx.level().
#include <array>
#include <cstdint>

#include "sf/sdk.hpp"

struct BookImbalance : sf::sdk::Strategy<BookImbalance> {
  static constexpr std::uint32_t kDepth = 5;
  static constexpr std::array<std::int64_t, kDepth> kWeights{5, 4, 3, 2, 1};

  explicit BookImbalance(const sf::sdk::CreateArgs& a)
      : threshold_(a.params.get_double("threshold", 0.3)), qty_(a.params.get_int("qty", 1)) {
    a.params.expect_all_used();
  }

  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    if (!b.two_sided()) return;
    std::int64_t bid_w = 0;
    std::int64_t ask_w = 0;
    for (std::uint32_t d = 0; d < kDepth; ++d) {
      std::int64_t px = 0;
      std::int64_t q = 0;
      if (ctx.level(b.instrument(), sf::sdk::Side::Buy, d, px, q)) bid_w += q * kWeights[d];
      if (ctx.level(b.instrument(), sf::sdk::Side::Sell, d, px, q)) ask_w += q * kWeights[d];
    }
    std::int64_t total = 0;
    for (const auto w : kWeights) total += w;
    if (bid_w + ask_w == 0 || total == 0) return;
    const double imb = static_cast<double>(bid_w - ask_w) / static_cast<double>(bid_w + ask_w);
    if (imb > threshold_) (void)ctx.buy_ioc(b.instrument(), b.ask_px(), qty_);
    if (imb < -threshold_) (void)ctx.sell_ioc(b.instrument(), b.bid_px(), qty_);
  }

  double threshold_;
  std::int64_t qty_;
};

SF_EXPORT_STRATEGY(BookImbalance, "book_imbalance")
