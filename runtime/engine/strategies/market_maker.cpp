// Reference strategy "market_maker": a symmetric quoter.
//
// Quotes one bid and one ask around the mid at a fixed offset (bid = floor(mid - offset),
// ask = ceil(mid + offset), in ticks), `qty` lots each, and keeps them there with replace when
// the target moves by at least `requote_ticks`. Inventory-limited: it stops quoting the side that
// would take |position| beyond `max_inventory` lots (and cancels that quote). It never quotes a
// crossed, locked or one-sided book. When the target moves up it updates the ask before the bid
// (and the bid first when it moves down) so its own quotes never cross (the risk gate's
// self-trade check would deny that).
// Parameters (name=value): qty=1, offset_ticks=1, max_inventory=10, requote_ticks=1.
// Hot path: fixed per-instrument state sized at construction; no allocation in callbacks.
#include <cstdint>
#include <vector>

#include "sf/sdk.hpp"

namespace {

using sf::sdk::BookView;
using sf::sdk::Context;

class MarketMaker : public sf::sdk::Strategy<MarketMaker> {
 public:
  explicit MarketMaker(const sf::sdk::CreateArgs& a)
      : qty_(a.params.get_int("qty", 1)),
        offset_(a.params.get_int("offset_ticks", 1)),
        max_inv_(a.params.get_int("max_inventory", 10)),
        requote_(a.params.get_int("requote_ticks", 1)) {
    a.params.expect_all_used();
    if (qty_ <= 0) throw sf::sdk::ParamError("qty must be > 0, was " + std::to_string(qty_));
    if (offset_ < 1) throw sf::sdk::ParamError("offset_ticks must be >= 1, was " + std::to_string(offset_));
    if (max_inv_ < 0) throw sf::sdk::ParamError("max_inventory must be >= 0, was " + std::to_string(max_inv_));
    if (requote_ < 1) throw sf::sdk::ParamError("requote_ticks must be >= 1, was " + std::to_string(requote_));
    std::uint32_t max_id = 0;
    for (const auto& in : a.instruments) max_id = in.id > max_id ? in.id : max_id;
    state_.resize(max_id + 1);
  }

  void on_book(Context& ctx, const BookView& b) {
    if (!b.two_sided() || b.crossed_or_locked() || b.instrument() >= state_.size()) return;
    Inst& st = state_[b.instrument()];
    const std::int64_t m2 = b.mid_x2();
    const std::int64_t bid = floor_div2(m2 - 2 * offset_);
    const std::int64_t ask = ceil_div2(m2 + 2 * offset_);
    const std::int64_t pos = ctx.position(b.instrument());
    const bool up = m2 >= st.last_mid_x2;
    st.last_mid_x2 = m2;
    if (up) {
      quote(ctx, b.instrument(), st.ask, sf::sdk::Side::Sell, ask, pos > -max_inv_);
      quote(ctx, b.instrument(), st.bid, sf::sdk::Side::Buy, bid, pos < max_inv_);
    } else {
      quote(ctx, b.instrument(), st.bid, sf::sdk::Side::Buy, bid, pos < max_inv_);
      quote(ctx, b.instrument(), st.ask, sf::sdk::Side::Sell, ask, pos > -max_inv_);
    }
  }

  void on_order_update(Context&, const sf_order_update& u) {
    const bool done = u.status == SF_ORDER_FILLED || u.status == SF_ORDER_CANCELED || u.status == SF_ORDER_EXPIRED ||
                      u.status == SF_ORDER_REJECTED;
    if (!done || u.instrument >= state_.size()) return;
    Inst& st = state_[u.instrument];
    if (st.bid.id == u.order_id) st.bid = Quote{};
    if (st.ask.id == u.order_id) st.ask = Quote{};
  }

 private:
  struct Quote {
    std::uint64_t id = 0;
    std::int64_t px = 0;
    bool cancel_sent = false;
  };
  struct Inst {
    Quote bid, ask;
    std::int64_t last_mid_x2 = 0;
  };

  static std::int64_t floor_div2(std::int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }
  static std::int64_t ceil_div2(std::int64_t v) { return v >= 0 ? (v + 1) / 2 : -((-v) / 2); }

  void quote(Context& ctx, std::uint32_t inst, Quote& q, sf::sdk::Side side, std::int64_t px, bool want) {
    if (q.id != 0) {
      if (q.cancel_sent) return;
      if (!want) {
        if (ctx.cancel(q.id) == SF_ACCEPTED) q.cancel_sent = true;
        return;
      }
      const std::int64_t diff = px > q.px ? px - q.px : q.px - px;
      if (diff >= requote_ && ctx.replace(q.id, px, qty_) == SF_ACCEPTED) q.px = px;
      return;
    }
    if (!want) return;
    const auto r = ctx.limit(inst, side, px, qty_);
    if (r) q = Quote{r.id, px, false};
  }

  std::int64_t qty_, offset_, max_inv_, requote_;
  std::vector<Inst> state_;
};

}  // namespace

SF_EXPORT_STRATEGY(MarketMaker, "market_maker")
