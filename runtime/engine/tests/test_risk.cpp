// Pre-trade risk gate: every control with an accepted and a denied case and its reason code.
#include <cmath>
#include <cstdint>
#include <string>

#include "sf/risk.hpp"
#include "sf_test.hpp"

namespace {

using sf::RiskReason;

constexpr sf::Nanos kSec = 1'000'000'000;

sf::RiskLimits limits() {
  sf::RiskLimits l;
  l.instruments.resize(2);
  auto& a = l.instruments[0];
  a.allowed = true;
  a.symbol = "AAA";
  a.max_order_qty = 10;
  a.max_order_notional = 1000 * 10;  // px 1000 x 10 lots
  a.max_position = 20;
  a.price_band_cbps = 100 * 100;  // 100 bps = 1%
  a.quote_per_ticklot = 0.01;
  auto& b = l.instruments[1];
  b = a;
  b.symbol = "BBB";
  b.allowed = false;
  l.max_open_orders = 5;
  l.max_msgs_per_sec = 1000;
  l.msg_burst = 1000;
  l.max_loss = 50.0;
  l.kill_on_max_loss = true;
  l.max_reference_age_ns = kSec;
  l.duplicate_window_ns = kSec;
  return l;
}

sf::Reference ref(sf::Nanos ts = 0) { return sf::Reference{999, 1001, ts, false}; }  // mid 1000

sf::OrderIntent buy(sf::Ticks px, sf::Lots q) { return {0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, px, q}; }
sf::OrderIntent sell(sf::Ticks px, sf::Lots q) { return {0, sf::Side::Ask, sf::OrdType::Limit, sf::Tif::Gtc, px, q}; }

std::uint64_t g_id = 1;
RiskReason submit(sf::RiskGate& g, const sf::OrderIntent& o, sf::Nanos now = 0, const sf::Reference& r = ref(), std::string* ctx = nullptr) {
  const auto d = g.check_new(g_id++, o, r, now);
  if (ctx) *ctx = d.context;
  return d.reason;
}

}  // namespace

SF_TEST(reason_codes_have_stable_names) {
  CHECK_EQ(std::string(sf::risk_reason_name(RiskReason::MaxOrderQty)), "MAX_ORDER_QTY");
  CHECK_EQ(std::string(sf::risk_reason_name(RiskReason::PriceBand)), "PRICE_BAND");
  CHECK_EQ(std::string(sf::risk_reason_name(RiskReason::StaleReference)), "STALE_REFERENCE");
  CHECK_EQ(std::string(sf::risk_reason_name(RiskReason::KillSwitch)), "KILL_SWITCH");
  CHECK_EQ(std::string(sf::risk_reason_name(RiskReason::SelfTrade)), "SELF_TRADE");
  CHECK_EQ(std::string(sf::risk_reason_name_c(0)), "ACCEPTED");
  CHECK_EQ(std::string(sf::risk_reason_name_c(999)), "UNKNOWN_REASON");
  CHECK_EQ(static_cast<int>(RiskReason::NotInCallback), 18);  // ABI-visible values never move
  CHECK_EQ(static_cast<int>(RiskReason::MaxDrawdown), 19);
  CHECK_EQ(std::string(sf::risk_reason_name_c(19)), "MAX_DRAWDOWN");
  CHECK_EQ(static_cast<int>(RiskReason::FirmLimit), 20);
  CHECK_EQ(std::string(sf::risk_reason_name_c(20)), "FIRM_LIMIT");
  CHECK_EQ(sf::kRiskReasonCount, std::size_t{21});
}

SF_TEST(invalid_order) {
  sf::RiskGate g(limits());
  CHECK(submit(g, buy(1000, 1)) == RiskReason::Accepted);
  CHECK(submit(g, buy(1000, 0)) == RiskReason::InvalidOrder);
  CHECK(submit(g, buy(0, 1)) == RiskReason::InvalidOrder);
  sf::OrderIntent bad = buy(1000, 1);
  bad.side = sf::Side::None;
  CHECK(submit(g, bad) == RiskReason::InvalidOrder);
}

SF_TEST(instrument_allow_list) {
  sf::RiskGate g(limits());
  sf::OrderIntent o = buy(1000, 1);
  CHECK(submit(g, o) == RiskReason::Accepted);
  o.instrument = 1;
  CHECK(submit(g, o) == RiskReason::InstrumentNotAllowed);
  o.instrument = 7;  // not in the file at all
  CHECK(submit(g, o) == RiskReason::InstrumentNotAllowed);
}

SF_TEST(max_order_qty) {
  sf::RiskGate g(limits());
  std::string ctx;
  CHECK(submit(g, buy(1000, 10)) == RiskReason::Accepted);
  CHECK(submit(g, sell(1001, 11), 0, ref(), &ctx) == RiskReason::MaxOrderQty);
  CHECK_CONTAINS(ctx, "qty=11 max=10");
}

SF_TEST(max_order_notional_is_overflow_safe) {
  auto l = limits();
  l.instruments[0].max_order_qty = INT64_MAX;
  l.instruments[0].price_band_cbps = INT64_MAX / 4;  // band effectively off for this test
  sf::RiskGate g(l);
  CHECK(submit(g, buy(1000, 10)) == RiskReason::Accepted);   // 10,000 == limit
  CHECK(submit(g, sell(1000, 11)) == RiskReason::MaxOrderNotional);
  // px * qty overflows 64 bits: must still be denied, not wrap around to a small value
  const sf::Reference huge{INT64_MAX / 2 - 1, INT64_MAX / 2 + 1, 0, false};
  CHECK(submit(g, sell(INT64_MAX / 2, INT64_MAX / 2), 0, huge) == RiskReason::MaxOrderNotional);
}

SF_TEST(max_position_counts_working_orders) {
  sf::RiskGate g(limits());
  const std::uint64_t first = g_id;
  CHECK(submit(g, buy(1000, 10)) == RiskReason::Accepted);
  CHECK(submit(g, buy(999, 10)) == RiskReason::Accepted);  // worst case long 20 == max
  std::string ctx;
  CHECK(submit(g, buy(998, 1), 0, ref(), &ctx) == RiskReason::MaxPosition);
  CHECK_CONTAINS(ctx, "working_same_side=20");
  CHECK(submit(g, sell(1001, 9)) == RiskReason::Accepted);  // the short side is separate
  // a fill moves qty from working to position; a done order frees its remaining qty
  g.on_fill(first, sf::Side::Bid, 0, 1000, 10, 0.0);
  CHECK_EQ(g.account(0).position, 10);
  CHECK_EQ(g.account(0).working_buy, 10);
}

SF_TEST(max_open_orders) {
  sf::RiskGate g(limits());
  for (int i = 0; i < 5; ++i) CHECK(submit(g, buy(1000 - i, 1)) == RiskReason::Accepted);
  CHECK(submit(g, buy(990, 1)) == RiskReason::MaxOpenOrders);
  const sf::GateOrder* o = g.find(g_id - 2);
  REQUIRE(o != nullptr);
  g.on_done(o->id);
  CHECK(submit(g, buy(990, 1)) == RiskReason::Accepted);
}

SF_TEST(rate_limit_token_bucket_on_event_clock) {
  auto l = limits();
  l.max_msgs_per_sec = 10;
  l.msg_burst = 3;
  l.max_open_orders = 100;
  l.duplicate_window_ns = 0;
  sf::RiskGate g(l);
  const sf::Nanos t0 = 5 * kSec;
  CHECK(submit(g, buy(1000, 1), t0, ref(t0)) == RiskReason::Accepted);
  CHECK(submit(g, buy(999, 1), t0, ref(t0)) == RiskReason::Accepted);
  CHECK(submit(g, buy(998, 1), t0, ref(t0)) == RiskReason::Accepted);
  CHECK(submit(g, buy(997, 1), t0, ref(t0)) == RiskReason::RateLimit);
  CHECK(submit(g, buy(997, 1), t0 + kSec / 20, ref(t0)) == RiskReason::RateLimit);  // half a token
  CHECK(submit(g, buy(997, 1), t0 + kSec / 10, ref(t0)) == RiskReason::Accepted);   // one token refilled
  // cancels consume tokens when there are some but are never denied
  const auto d = g.check_cancel(g_id - 1, t0 + kSec / 10);
  CHECK(d.accepted());
  CHECK(g.check_replace(g_id - 1, 996, 1, ref(t0), t0 + kSec / 10).reason == RiskReason::RateLimit);
}

SF_TEST(price_band) {
  sf::RiskGate g(limits());
  std::string ctx;
  CHECK(submit(g, buy(1010, 1)) == RiskReason::Accepted);  // +1.0% == band
  CHECK(submit(g, buy(1011, 1), 0, ref(), &ctx) == RiskReason::PriceBand);
  CHECK_CONTAINS(ctx, "band_bps=100.00");
  CHECK(submit(g, sell(1011, 1)) == RiskReason::PriceBand);  // a sell is held to the band too
  CHECK(submit(g, sell(1010, 1)) == RiskReason::SelfTrade);  // (band passes; crosses our buy at 1010)
  CHECK(submit(g, buy(990, 1)) == RiskReason::Accepted);     // -1.0%
  CHECK(submit(g, buy(989, 1)) == RiskReason::PriceBand);
}

SF_TEST(reference_must_be_fresh_two_sided_and_uncrossed) {
  sf::RiskGate g(limits());
  std::string ctx;
  CHECK(submit(g, buy(1000, 1), kSec, ref(0)) == RiskReason::Accepted);  // age == max
  CHECK(submit(g, buy(999, 1), 3 * kSec, ref(0), &ctx) == RiskReason::StaleReference);
  CHECK_CONTAINS(ctx, "age_ns=3000000000");
  CHECK(submit(g, buy(999, 1), 0, sf::Reference{1001, 999, 0, false}) == RiskReason::CrossedReference);
  CHECK(submit(g, buy(999, 1), 0, sf::Reference{1000, 1000, 0, false}) == RiskReason::CrossedReference);  // locked
  CHECK(submit(g, buy(999, 1), 0, sf::Reference{sf::kNoBid, 1001, 0, false}, &ctx) == RiskReason::NoReference);
  CHECK_CONTAINS(ctx, "bid=EMPTY");
  CHECK(submit(g, buy(999, 1), 0, sf::Reference{0, 1001, 0, false}, &ctx) == RiskReason::NoReference);
  CHECK_CONTAINS(ctx, "non_positive_price");
  CHECK(submit(g, buy(999, 1), 0, sf::Reference::last_price(1000, 0)) == RiskReason::Accepted);  // bar close
}

SF_TEST(market_orders_get_a_protection_price) {
  sf::RiskGate g(limits());
  const auto d = g.check_new(g_id++, {0, sf::Side::Bid, sf::OrdType::Market, sf::Tif::Ioc, 0, 1}, ref(), 0);
  CHECK(d.accepted());
  CHECK_EQ(d.protect_px, 1010);  // mid 1000 + 1%
  const auto d2 = g.check_new(g_id++, {0, sf::Side::Ask, sf::OrdType::Market, sf::Tif::Ioc, 0, 1}, ref(), 0);
  CHECK(d2.reason == RiskReason::SelfTrade);  // a market sell would hit our own working market buy
}

SF_TEST(max_loss_engages_the_kill_switch) {
  sf::RiskGate g(limits());
  CHECK(submit(g, buy(1000, 10)) == RiskReason::Accepted);
  g.on_fill(g_id - 1, sf::Side::Bid, 0, 1000, 10, 0.5);
  g.on_done(g_id - 1);
  g.mark(0, 2 * 980);  // 10 lots x -20 ticks x 0.01 = -2.0, minus 0.5 fees
  CHECK(g.pnl() > -2.6 && g.pnl() < -2.4);
  CHECK(!g.check_loss(0));  // within max_loss 50
  g.mark(0, 2 * 500);       // -50 - 0.5
  std::string ctx;
  CHECK(submit(g, sell(500, 1), 0, sf::Reference{499, 501, 0, false}, &ctx) == RiskReason::MaxLoss);
  CHECK_CONTAINS(ctx, "max_loss=50");
  CHECK(g.killed());
  CHECK(g.kill_reason() == RiskReason::MaxLoss);
  CHECK(submit(g, sell(500, 1), 0, sf::Reference{499, 501, 0, false}) == RiskReason::KillSwitch);
}

SF_TEST(check_loss_engages_kill_without_an_order) {
  sf::RiskGate g(limits());
  CHECK(submit(g, buy(1000, 10)) == RiskReason::Accepted);
  g.on_fill(g_id - 1, sf::Side::Bid, 0, 1000, 10, 0.0);
  g.mark(0, 2 * 400);
  CHECK(g.check_loss(0));
  CHECK(g.killed());
}

SF_TEST(kill_switch_blocks_until_released) {
  sf::RiskGate g(limits());
  CHECK(submit(g, buy(1000, 1)) == RiskReason::Accepted);
  const std::uint64_t working = g_id - 1;
  g.engage_kill(RiskReason::KillSwitch, "operator=test");
  std::string ctx;
  CHECK(submit(g, buy(999, 1), 0, ref(), &ctx) == RiskReason::KillSwitch);
  CHECK_CONTAINS(ctx, "operator=test");
  CHECK(g.check_replace(working, 998, 1, ref(), 0).reason == RiskReason::KillSwitch);
  CHECK(g.check_cancel(working, 0).accepted());  // cancels still pass
  CHECK(submit(g, sell(1005, 1)) == RiskReason::KillSwitch);
  g.release_kill();
  CHECK(!g.killed());
  CHECK(submit(g, buy(999, 1)) == RiskReason::Accepted);
}

SF_TEST(duplicate_order_check) {
  sf::RiskGate g(limits());
  CHECK(submit(g, buy(1000, 2), 0) == RiskReason::Accepted);
  std::string ctx;
  CHECK(submit(g, buy(1000, 2), kSec / 2, ref(0), &ctx) == RiskReason::DuplicateOrder);
  CHECK_CONTAINS(ctx, "same_as_order_id=");
  CHECK(submit(g, buy(1000, 3), kSec / 2, ref(0)) == RiskReason::Accepted);        // different qty
  CHECK(submit(g, buy(1000, 2), kSec + 1, ref(kSec)) == RiskReason::Accepted);     // outside the window
}

SF_TEST(self_trade_prevention) {
  sf::RiskGate g(limits());
  CHECK(submit(g, sell(1005, 1)) == RiskReason::Accepted);
  std::string ctx;
  CHECK(submit(g, buy(1005, 1), 0, ref(), &ctx) == RiskReason::SelfTrade);
  CHECK_CONTAINS(ctx, "resting_px=1005");
  CHECK(submit(g, buy(1006, 1)) == RiskReason::SelfTrade);
  CHECK(submit(g, buy(1004, 1)) == RiskReason::Accepted);
  CHECK(g.check_replace(g_id - 1, 1005, 1, ref(), 0).reason == RiskReason::SelfTrade);
  CHECK(g.check_replace(g_id - 1, 1003, 1, ref(), 0).accepted());
}

SF_TEST(replace_is_checked_like_a_new_order) {
  sf::RiskGate g(limits());
  CHECK(submit(g, buy(1000, 5)) == RiskReason::Accepted);
  const std::uint64_t id = g_id - 1;
  CHECK(g.check_replace(424242, 1000, 1, ref(), 0).reason == RiskReason::UnknownOrder);
  CHECK(g.check_cancel(424242, 0).reason == RiskReason::UnknownOrder);
  CHECK(g.check_replace(id, 1000, 11, ref(), 0).reason == RiskReason::MaxOrderQty);
  CHECK(g.check_replace(id, 1020, 5, ref(), 0).reason == RiskReason::PriceBand);
  CHECK(g.check_replace(id, 1000, 0, ref(), 0).reason == RiskReason::InvalidOrder);
  CHECK(submit(g, buy(999, 10)) == RiskReason::Accepted);           // working buy 15
  CHECK(g.check_replace(id, 1000, 10, ref(), 0).reason == RiskReason::Accepted);  // 20
  CHECK_EQ(g.account(0).working_buy, 20);
  CHECK(g.check_replace(id, 1000, 11, ref(), 0).reason == RiskReason::MaxOrderQty);
}

namespace {
// Drawdown limit 3.0 quote; 1 tick x 10 lots = 0.1 quote. `n_inst` 1 takes the gate's single-
// instrument fast path (dd_known_ok), 2 the general one: both must decide the same.
sf::RiskLimits dd_limits(std::size_t n_inst) {
  auto l = limits();
  l.instruments.resize(n_inst);
  l.has_max_drawdown = true;
  l.max_drawdown = 3.0;
  return l;
}
}  // namespace

SF_TEST(drawdown_trips_only_after_the_fall_from_the_peak_exceeds_the_limit) {
  for (std::size_t n : {std::size_t{1}, std::size_t{2}}) {
    sf::RiskGate g(dd_limits(n));
    CHECK(submit(g, buy(1000, 10)) == RiskReason::Accepted);
    g.on_fill(g_id - 1, sf::Side::Bid, 0, 1000, 10, 0.0);
    g.on_done(g_id - 1);
    auto at = [&](sf::Ticks mid) {
      g.mark(0, 2 * mid);
      return g.check_loss(0);
    };
    CHECK(!at(1000));
    CHECK(!at(998));  // -0.2 below the starting PnL 0 (the first peak): within the limit
    CHECK(!at(1020));  // +2.0: new peak
    CHECK(!at(1050));  // +5.0: new peak
    CHECK(std::fabs(g.peak_pnl() - 5.0) < 1e-9);
    CHECK(!at(1030));  // fall 2.0
    CHECK(!at(1040));  // inside what is known: no new peak, no breach
    CHECK(!at(1022));  // fall 2.8
    CHECK(!g.killed());
    CHECK(submit(g, sell(1022, 1), 0, sf::Reference{1021, 1023, 0, false}) == RiskReason::Accepted);
    CHECK(!at(1060));  // +6.0: the peak moves up again
    CHECK(std::fabs(g.peak_pnl() - 6.0) < 1e-9);
    CHECK(!at(1032));  // fall 2.8 from the new peak (would be within 3.0 of the old one too)
    CHECK(!g.killed());
    CHECK(at(1028));   // fall 3.2 > 3.0; PnL +2.8 is nowhere near max_loss
    CHECK(g.killed());
    CHECK(g.kill_reason() == RiskReason::MaxDrawdown);
    CHECK_CONTAINS(std::string(g.kill_context()), "max_drawdown=3.000000");
    CHECK_CONTAINS(std::string(g.kill_context()), "peak=6.000000");
    CHECK(!at(1000));  // already killed: no second engagement
    std::string ctx;
    CHECK(submit(g, sell(1000, 1), 0, ref(), &ctx) == RiskReason::KillSwitch);
    CHECK_CONTAINS(ctx, "kill_reason=MAX_DRAWDOWN");
    // release does not reset the peak: still 6.0 - 0.0 below it, the next order re-trips
    g.release_kill();
    const auto d = g.check_new(g_id++, sell(1000, 1), ref(), 0);
    CHECK(d.reason == RiskReason::MaxDrawdown);
    CHECK(d.kill_engaged);
    CHECK(g.killed());
  }
}

SF_TEST(drawdown_of_a_short_position) {
  for (std::size_t n : {std::size_t{1}, std::size_t{2}}) {
    sf::RiskGate g(dd_limits(n));
    CHECK(submit(g, sell(1000, 10)) == RiskReason::Accepted);
    g.on_fill(g_id - 1, sf::Side::Ask, 0, 1000, 10, 0.25);  // fees count: PnL -0.25 at mark 1000
    g.on_done(g_id - 1);
    auto at = [&](sf::Ticks mid) {
      g.mark(0, 2 * mid);
      return g.check_loss(0);
    };
    CHECK(!at(1002));  // -0.45
    CHECK(!at(970));   // +2.75 peak
    CHECK(!at(980));   // +1.75
    CHECK(!at(995));   // +0.25: fall 2.5
    CHECK(!g.killed());
    CHECK(at(1001));   // -0.35: fall 3.1
    CHECK(g.kill_reason() == RiskReason::MaxDrawdown);
  }
}

SF_TEST(drawdown_absent_means_no_control) {
  sf::RiskGate g(limits());
  CHECK(submit(g, buy(1000, 10)) == RiskReason::Accepted);
  g.on_fill(g_id - 1, sf::Side::Bid, 0, 1000, 10, 0.0);
  g.mark(0, 2 * 1100);
  CHECK(!g.check_loss(0));
  g.mark(0, 2 * 960);  // fall 14 from +10; loss 4 < max_loss 50
  CHECK(!g.check_loss(0));
  CHECK(!g.killed());
}

// The fast path (single instrument) and the general path against a reference peak, over random
// fills and marks: the peak must be exact after every PnL change, the trip at the first breach.
SF_TEST(drawdown_fast_path_matches_a_reference) {
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  auto rnd = [&](int n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return static_cast<int>(x % static_cast<std::uint64_t>(n));
  };
  int trips = 0;
  for (int run = 0; run < 400; ++run) {
    for (std::size_t n : {std::size_t{1}, std::size_t{2}}) {
      auto l = dd_limits(n);
      l.max_loss = 1e12;
      l.max_drawdown = 0.5 + rnd(40) * 0.25;
      l.instruments[0].max_position = 1'000'000;
      l.instruments[0].max_order_qty = 1'000'000;
      l.instruments[0].max_order_notional = 1'000'000'000'000;
      sf::RiskGate g(l);
      double peak = 0;
      sf::Ticks mid = 1000;
      g.mark(0, 2 * mid);
      for (int step = 0; step < 300 && !g.killed(); ++step) {
        if (rnd(10) == 0) {
          const bool b = rnd(2) == 0;
          g.on_fill(0, b ? sf::Side::Bid : sf::Side::Ask, 0, mid + rnd(5) - 2, 1 + rnd(20), rnd(3) * 0.01);
        } else {
          mid += rnd(7) - 3;
          g.mark(0, 2 * mid);
        }
        const bool tripped = g.check_loss(0);
        const double p = g.pnl();
        peak = std::max(peak, p);
        const bool breach = peak - p > l.max_drawdown;
        CHECK_EQ(tripped, breach);
        CHECK_EQ(g.peak_pnl(), peak);
        trips += tripped ? 1 : 0;
      }
    }
  }
  CHECK(trips > 100);  // the limits are tight enough that many runs trip
}

SF_TEST(kill_on_breach_trips_on_a_position_breach_and_blocks_until_released) {
  auto l = limits();
  l.kill_on_breach = true;
  sf::RiskGate g(l);
  CHECK(submit(g, buy(1000, 10)) == RiskReason::Accepted);
  CHECK(submit(g, buy(999, 10)) == RiskReason::Accepted);  // worst case long 20 == max
  const auto d = g.check_new(g_id++, buy(998, 1), ref(), 0);
  CHECK(d.reason == RiskReason::MaxPosition);
  CHECK(d.kill_engaged);
  CHECK(g.killed());
  CHECK(g.kill_reason() == RiskReason::MaxPosition);
  CHECK_CONTAINS(std::string(g.kill_context()), "max=20");
  std::string ctx;
  CHECK(submit(g, sell(1005, 1), 0, ref(), &ctx) == RiskReason::KillSwitch);  // a valid order, blocked
  CHECK_CONTAINS(ctx, "kill_reason=MAX_POSITION");
  CHECK(g.check_replace(g_id - 3, 997, 5, ref(), 0).reason == RiskReason::KillSwitch);
  g.release_kill();
  CHECK(!g.killed());
  CHECK(submit(g, sell(1005, 9)) == RiskReason::Accepted);  // short worst 9
  CHECK(submit(g, sell(1004, 9)) == RiskReason::Accepted);  // 18
  CHECK(submit(g, sell(1003, 2)) == RiskReason::Accepted);  // 20 == max
  const std::uint64_t last = g_id - 1;
  const auto r = g.check_replace(last, 1003, 12, ref(), 0);
  CHECK(r.reason == RiskReason::MaxOrderQty);  // not a kill_on_breach reason: only denied
  CHECK(!r.kill_engaged);
  CHECK(!g.killed());
  const auto r2 = g.check_replace(last, 1003, 3, ref(), 0);  // a replace breach trips it too
  CHECK(r2.reason == RiskReason::MaxPosition);
  CHECK(r2.kill_engaged);
  CHECK(g.killed());
  CHECK(g.kill_reason() == RiskReason::MaxPosition);
  CHECK_CONTAINS(std::string(g.kill_context()), "op=replace");
}

SF_TEST(kill_on_breach_false_only_denies) {
  sf::RiskGate g(limits());  // kill_on_breach defaults to false
  CHECK(!g.limits().kill_on_breach);
  CHECK(submit(g, buy(1000, 10)) == RiskReason::Accepted);
  CHECK(submit(g, buy(999, 10)) == RiskReason::Accepted);
  const auto d = g.check_new(g_id++, buy(998, 1), ref(), 0);
  CHECK(d.reason == RiskReason::MaxPosition);
  CHECK(!d.kill_engaged);
  CHECK(!g.killed());
  CHECK(submit(g, sell(1005, 1)) == RiskReason::Accepted);
}

SF_TEST(kill_on_breach_open_orders_and_rate_limit) {
  {
    auto l = limits();
    l.kill_on_breach = true;
    sf::RiskGate g(l);
    for (int i = 0; i < 5; ++i) CHECK(submit(g, buy(1000 - i, 1)) == RiskReason::Accepted);
    CHECK(submit(g, buy(990, 1)) == RiskReason::MaxOpenOrders);
    CHECK(g.killed());
    CHECK(g.kill_reason() == RiskReason::MaxOpenOrders);
  }
  {
    auto l = limits();
    l.kill_on_breach = true;
    l.max_msgs_per_sec = 10;
    l.msg_burst = 2;
    sf::RiskGate g(l);
    CHECK(submit(g, buy(1000, 1)) == RiskReason::Accepted);
    CHECK(submit(g, buy(999, 1)) == RiskReason::Accepted);
    CHECK(submit(g, buy(998, 1)) == RiskReason::RateLimit);
    CHECK(g.killed());
    CHECK(g.kill_reason() == RiskReason::RateLimit);
    // other denials never trip it
    g.release_kill();
    CHECK(submit(g, buy(1000, 11), kSec) == RiskReason::MaxOrderQty);
    CHECK(submit(g, buy(1020, 1), kSec) == RiskReason::PriceBand);
    CHECK(!g.killed());
  }
}

SF_TEST_MAIN()
