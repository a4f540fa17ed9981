// TWAP: slices a parent quantity over kSlices timer callbacks.
#include <algorithm>
#include <cstdint>

#include "sf/sdk.hpp"

template <std::int64_t Slices>
constexpr std::int64_t slice_qty(std::int64_t total, std::int64_t done) noexcept {
  const std::int64_t base = total / Slices;
  return std::min(base > 0 ? base : 1, total - done);
}

struct TimerTwap : sf::sdk::Strategy<TimerTwap> {
  static constexpr std::int64_t kSlices = 10;

  explicit TimerTwap(const sf::sdk::CreateArgs& a)
      : total_(a.params.require_int("total_qty")),
        interval_ns_(a.params.get_int("interval_ns", 1'000'000'000)),
        inst_(a.instruments.empty() ? 0u : a.instruments.front().id) {
    a.params.expect_all_used();
  }

  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    if (b.instrument() == inst_) last_ask_ = b.has_ask() ? b.ask_px() : SF_NO_PRICE;
    if (!started_) started_ = ctx.set_timer(ctx.now() + interval_ns_, 1);
  }

  void on_timer(sf::sdk::Context& ctx, std::uint64_t id) {
    if (id != 1 || done_ >= total_) return;
    const std::int64_t q = slice_qty<kSlices>(total_, done_);
    if (last_ask_ != SF_NO_PRICE && q > 0) {
      const auto r = ctx.buy_ioc(inst_, last_ask_, q);
      if (r) done_ += q;
    }
    if (done_ < total_) (void)ctx.set_timer(ctx.now() + interval_ns_, 1);
  }

  std::int64_t total_;
  std::int64_t interval_ns_;
  std::uint32_t inst_;
  std::int64_t done_ = 0;
  std::int64_t last_ask_ = SF_NO_PRICE;
  bool started_ = false;
};

SF_EXPORT_STRATEGY(TimerTwap, "timer_twap")
