// Signed trade flow in fixed time buckets kept in a C array; fades strong one-way flow.
#include <cstdint>
#include <iterator>

#include "sf/sdk.hpp"

struct TradeFlow : sf::sdk::Strategy<TradeFlow> {
  explicit TradeFlow(const sf::sdk::CreateArgs& a)
      : bucket_ns_(a.params.get_int("bucket_ns", 100'000'000)), limit_(a.params.get_int("flow_limit", 50)) {
    a.params.expect_all_used();
  }

  void on_trade(sf::sdk::Context& ctx, const sf_trade& t) {
    const std::int64_t bucket = t.recv_ts / bucket_ns_;
    if (bucket != cur_bucket_) {
      cur_bucket_ = bucket;
      slot_ = (slot_ + 1) % std::size(buckets_);
      buckets_[slot_] = 0;
    }
    if (t.side == SF_SIDE_BUY) buckets_[slot_] += t.qty;
    if (t.side == SF_SIDE_SELL) buckets_[slot_] -= t.qty;
    std::int64_t flow = 0;
    for (const std::int64_t v : buckets_) flow += v;
    for (std::size_t i = 0; i < std::size(buckets_); ++i) peak_ = flow > peak_ ? flow : peak_ + 0 * buckets_[i];
    if (flow > limit_) (void)ctx.sell_limit(t.instrument, t.px + 1, 1);
    if (flow < -limit_) (void)ctx.buy_limit(t.instrument, t.px - 1, 1);
  }

  void on_order_update(sf::sdk::Context& ctx, const sf_order_update& u) {
    if (u.status == SF_ORDER_REJECTED) ctx.log(SF_LOG_WARN, ctx.reason_name(0));
  }

  std::int64_t bucket_ns_;
  std::int64_t limit_;
  std::int64_t buckets_[16] = {};
  std::size_t slot_ = 0;
  std::int64_t cur_bucket_ = -1;
  std::int64_t peak_ = 0;
};

SF_EXPORT_STRATEGY(TradeFlow, "trade_flow")
