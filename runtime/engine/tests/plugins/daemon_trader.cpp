// Test strategy for sf-engine (tests/runtime/test_sf_engine.py, test_daemon): trades on every
// `every`-th book update in one of three modes, optionally spinning `spin_ns` of wall time first
// (a slow strategy for the latency-budget rollback):
//   mode=taker  keeps one resting buy `rest_ticks` below the bid, and alternates IOC buys at the
//               ask and IOC sells at the bid (pays the spread and taker fees: loses money fast);
//   mode=buyer  buys `qty` with an IOC at the ask until its position reaches `max_pos`;
//   mode=quote  keeps one buy `rest_ticks` below the bid: cancel it, re-quote next time.
// throw_after=N (> 0) throws from on_book at its N-th book update (a strategy fault).
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "sf/sdk.hpp"

namespace {
class DaemonTrader : public sf::sdk::Strategy<DaemonTrader> {
 public:
  explicit DaemonTrader(const sf::sdk::CreateArgs& a)
      : mode_(a.params.get_string("mode", "taker")),
        qty_(a.params.get_int("qty", 1)),
        every_(a.params.get_int("every", 1)),
        spin_ns_(a.params.get_int("spin_ns", 0)),
        rest_ticks_(a.params.get_int("rest_ticks", 20)),
        max_pos_(a.params.get_int("max_pos", 1000000)),
        throw_after_(a.params.get_int("throw_after", 0)) {
    a.params.expect_all_used();
    inst_ = a.instruments.at(0).id;
  }
  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
    if (throw_after_ > 0 && ++books_ >= static_cast<std::uint64_t>(throw_after_)) throw std::runtime_error("daemon_trader: throw_after reached");
    if (!b.two_sided() || (++n_ % static_cast<std::uint64_t>(every_ > 0 ? every_ : 1)) != 0) return;
    if (spin_ns_ > 0) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(spin_ns_);
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    if (mode_ == "buyer") {
      if (ctx.position(inst_) + qty_ <= max_pos_) (void)ctx.buy_ioc(inst_, b.ask_px(), qty_);
      return;
    }
    if (mode_ == "quote" || (mode_ == "taker" && resting_ == 0)) {
      if (resting_ != 0) {
        (void)ctx.cancel(resting_);
        resting_ = 0;
        return;
      }
      if (auto r = ctx.buy_limit(inst_, b.bid_px() - rest_ticks_, qty_)) resting_ = r.id;
      if (mode_ == "quote") return;
    }
    if (flip_) (void)ctx.buy_ioc(inst_, b.ask_px(), qty_);
    else (void)ctx.sell_ioc(inst_, b.bid_px(), qty_);
    flip_ = !flip_;
  }
  void on_order_update(sf::sdk::Context&, const sf_order_update& u) {
    if (u.order_id == resting_ && (u.status == SF_ORDER_CANCELED || u.status == SF_ORDER_FILLED || u.status == SF_ORDER_EXPIRED || u.status == SF_ORDER_REJECTED)) resting_ = 0;
  }

 private:
  std::string mode_;
  std::int64_t qty_, every_, spin_ns_, rest_ticks_, max_pos_, throw_after_;
  std::uint64_t books_ = 0;
  std::uint32_t inst_ = 0;
  std::uint64_t n_ = 0;
  std::uint64_t resting_ = 0;
  bool flip_ = true;
};
}  // namespace
SF_EXPORT_STRATEGY(DaemonTrader, "daemon_trader")
