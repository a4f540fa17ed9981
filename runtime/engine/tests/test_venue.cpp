// Simulated venue: queue position, trades, trade-through, crossing liquidity, taking, IOC,
// market protection, cancel/replace, queue models, fees, bar-mode fills.
#include <cmath>
#include <vector>

#include "sf/venue.hpp"
#include "sf_test.hpp"

namespace {

sf::Book make_book() {
  sf::Book b(64);
  b.set_level(sf::Side::Bid, 99, 10);
  b.set_level(sf::Side::Bid, 98, 20);
  b.set_level(sf::Side::Ask, 101, 5);
  b.set_level(sf::Side::Ask, 102, 7);
  return b;
}

sf::SimVenue venue(sf::QueueModel qm = sf::QueueModel::RiskAverse, bool bar = false, std::uint32_t cap = 16) {
  return sf::SimVenue({0.01}, cap, qm, sf::FeeModel{-1.0, 2.0}, bar);
}

sf::VenueOrder order(std::uint64_t id, sf::Side s, sf::Ticks px, sf::Lots q, sf::Tif tif = sf::Tif::Gtc,
                     sf::OrdType t = sf::OrdType::Limit) {
  sf::VenueOrder o;
  o.id = id;
  o.instrument = 0;
  o.side = s;
  o.type = t;
  o.tif = tif;
  o.px = px;
  o.leaves = q;
  return o;
}

sf::Lots filled(const sf::SimVenue& v) {
  sf::Lots q = 0;
  for (const auto& r : v.reports())
    if (r.kind == sf::VenueReport::Kind::Fill) q += r.qty;
  return q;
}
bool has_status(const sf::SimVenue& v, std::uint32_t st) {
  for (const auto& r : v.reports())
    if (r.kind == sf::VenueReport::Kind::Update && r.status == st) return true;
  return false;
}

}  // namespace

SF_TEST(resting_order_joins_back_of_queue_and_trades_advance_it) {
  auto b = make_book();
  auto v = venue();
  v.new_order(1, order(1, sf::kBuy, 99, 3), b);
  CHECK(has_status(v, SF_ORDER_ACCEPTED));
  CHECK_EQ(v.find(1)->queue_ahead, 10);
  v.clear_reports();
  v.on_trade(2, 0, sf::kSell, 99, 4);
  CHECK_EQ(filled(v), 0);
  CHECK_EQ(v.find(1)->queue_ahead, 6);
  v.on_trade(3, 0, sf::kSell, 99, 8);  // 6 ahead, 2 left for us
  CHECK_EQ(filled(v), 2);
  REQUIRE(!v.reports().empty());
  CHECK(v.reports().front().maker);
  CHECK_EQ(v.reports().front().px, 99);
  CHECK_EQ(v.find(1)->leaves, 1);
  v.clear_reports();
  v.on_trade(4, 0, sf::kBuy, 99, 5);  // buyer-initiated at our bid price: not our queue
  CHECK_EQ(filled(v), 0);
  v.on_trade(5, 0, sf::Side::None, 99, 1);  // unknown aggressor counts
  CHECK_EQ(filled(v), 1);
  CHECK(has_status(v, SF_ORDER_FILLED));
  CHECK(v.find(1) == nullptr);
  CHECK_EQ(v.resting(0), 0u);
}

SF_TEST(trade_through_fills_everything_at_our_price) {
  auto b = make_book();
  auto v = venue();
  v.new_order(1, order(1, sf::kBuy, 99, 3), b);
  v.clear_reports();
  v.on_trade(2, 0, sf::kSell, 98, 1);
  CHECK_EQ(filled(v), 3);
  CHECK_EQ(v.reports().front().px, 99);
  CHECK(has_status(v, SF_ORDER_FILLED));
}

SF_TEST(queue_models_on_level_decrease) {
  for (auto qm : {sf::QueueModel::RiskAverse, sf::QueueModel::DecreaseAdvances}) {
    auto b = make_book();
    auto v = venue(qm);
    v.new_order(1, order(1, sf::kBuy, 99, 3), b);                 // queue_ahead 10
    v.on_level(2, 0, sf::Side::Bid, 99, 10, 15);                  // someone joins behind us
    CHECK_EQ(v.find(1)->queue_ahead, 10);
    v.on_level(3, 0, sf::Side::Bid, 99, 15, 12);                  // 3 cancelled somewhere
    CHECK_EQ(v.find(1)->queue_ahead, qm == sf::QueueModel::RiskAverse ? 10 : 7);
    v.on_level(4, 0, sf::Side::Bid, 99, 12, 4);                   // level shrinks below our queue
    CHECK_EQ(v.find(1)->queue_ahead, qm == sf::QueueModel::RiskAverse ? 4 : 0);
  }
  // decrease_advances does not double count a trade followed by its depth update
  auto b = make_book();
  auto v = venue(sf::QueueModel::DecreaseAdvances);
  v.new_order(1, order(1, sf::kBuy, 99, 3), b);
  v.on_level(2, 0, sf::Side::Bid, 99, 10, 20);
  v.on_trade(3, 0, sf::kSell, 99, 4);  // queue 10 -> 6
  v.on_level(4, 0, sf::Side::Bid, 99, 20, 16);  // the same 4 lots leaving the book
  CHECK_EQ(v.find(1)->queue_ahead, 6);
}

SF_TEST(marketable_limit_walks_levels_as_taker) {
  auto b = make_book();
  auto v = venue();
  v.new_order(1, order(1, sf::kBuy, 102, 8), b);
  REQUIRE(v.reports().size() == 3u);
  CHECK_EQ(v.reports()[0].px, 101);
  CHECK_EQ(v.reports()[0].qty, 5);
  CHECK(!v.reports()[0].maker);
  CHECK_EQ(v.reports()[1].px, 102);
  CHECK_EQ(v.reports()[1].qty, 3);
  CHECK(std::fabs(v.reports()[0].fee - 101 * 5 * 0.01 * 2.0e-4) < 1e-12);  // taker 2 bps
  CHECK(has_status(v, SF_ORDER_FILLED));
  CHECK_EQ(b.best_ask_qty(), 5);  // the replayed book is never changed by our fills
}

SF_TEST(limit_remainder_rests_after_taking) {
  auto b = make_book();
  auto v = venue();
  v.new_order(1, order(1, sf::kBuy, 101, 8), b);
  CHECK_EQ(filled(v), 5);
  CHECK(has_status(v, SF_ORDER_ACCEPTED));
  CHECK_EQ(v.find(1)->leaves, 3);
}

SF_TEST(ioc_and_market_remainders_expire) {
  auto b = make_book();
  auto v = venue();
  v.new_order(1, order(1, sf::kBuy, 101, 8, sf::Tif::Ioc), b);
  CHECK_EQ(filled(v), 5);
  CHECK(has_status(v, SF_ORDER_EXPIRED));
  CHECK(v.find(1) == nullptr);
  v.clear_reports();
  // market sell with protection price 98.5 -> only the 99 level is reachable
  v.new_order(2, order(2, sf::kSell, 99, 15, sf::Tif::Ioc, sf::OrdType::Market), b);
  CHECK_EQ(filled(v), 10);
  CHECK(has_status(v, SF_ORDER_EXPIRED));
}

SF_TEST(new_crossing_liquidity_fills_resting_order_as_maker) {
  auto b = make_book();
  auto v = venue();
  v.new_order(1, order(1, sf::kBuy, 100, 5), b);  // inside the spread, queue 0
  CHECK_EQ(v.find(1)->queue_ahead, 0);
  v.clear_reports();
  v.on_level(2, 0, sf::Side::Ask, 100, 0, 3);  // a seller appears at our price
  CHECK_EQ(filled(v), 3);
  CHECK(v.reports().front().maker);
  CHECK(std::fabs(v.reports().front().fee - (-(100 * 3 * 0.01) * 1.0e-4)) < 1e-12);  // maker rebate
  v.clear_reports();
  v.on_level(3, 0, sf::Side::Ask, 100, 3, 1);  // liquidity leaving: no fill
  CHECK_EQ(filled(v), 0);
}

SF_TEST(cancel_and_replace) {
  auto b = make_book();
  auto v = venue();
  v.new_order(1, order(1, sf::kBuy, 99, 5), b);
  v.on_trade(2, 0, sf::kSell, 99, 4);  // queue 6
  v.clear_reports();
  v.replace(3, 1, 99, 4, b);  // same price, smaller: keeps its place
  CHECK(has_status(v, SF_ORDER_REPLACED));
  CHECK_EQ(v.find(1)->queue_ahead, 6);
  CHECK_EQ(v.find(1)->leaves, 4);
  v.replace(4, 1, 98, 4, b);  // new price: back of the 98 queue
  CHECK_EQ(v.find(1)->queue_ahead, 20);
  v.clear_reports();
  v.cancel(5, 1);
  CHECK(has_status(v, SF_ORDER_CANCELED));
  CHECK(v.find(1) == nullptr);
  v.clear_reports();
  v.cancel(6, 1);
  CHECK(has_status(v, SF_ORDER_CANCEL_REJECTED));
}

SF_TEST(capacity_rejects) {
  auto b = make_book();
  auto v = venue(sf::QueueModel::RiskAverse, false, 1);
  v.new_order(1, order(1, sf::kBuy, 99, 1), b);
  v.new_order(2, order(2, sf::kBuy, 98, 1), b);
  CHECK(has_status(v, SF_ORDER_REJECTED));
  CHECK_EQ(v.active_orders(), 1u);
}

SF_TEST(bar_mode_fills_at_next_bar_open) {
  sf::Book b(4);
  auto v = venue(sf::QueueModel::RiskAverse, true);
  v.new_order(1, order(1, sf::kBuy, 0, 2, sf::Tif::Ioc, sf::OrdType::Market), b);
  v.new_order(2, order(2, sf::kBuy, 99, 1), b);
  v.new_order(3, order(3, sf::kBuy, 95, 1), b);
  v.new_order(4, order(4, sf::kSell, 120, 1, sf::Tif::Ioc), b);
  CHECK_EQ(filled(v), 0);  // nothing fills before the next bar
  v.clear_reports();
  v.on_bar(10, 0, /*open*/ 101, /*high*/ 110, /*low*/ 98);
  std::vector<std::pair<std::uint64_t, sf::Ticks>> fills;
  for (const auto& r : v.reports())
    if (r.kind == sf::VenueReport::Kind::Fill) fills.push_back({r.id, r.px});
  REQUIRE(fills.size() == 2u);
  for (auto [id, px] : fills) {
    if (id == 1) CHECK_EQ(px, 101);  // market: the open
    else CHECK_EQ(px, 99);           // limit touched inside the bar: its limit
  }
  CHECK(has_status(v, SF_ORDER_EXPIRED));  // the IOC sell at 120 was not reached
  CHECK(v.find(3) != nullptr);             // GTC at 95 keeps waiting
  v.clear_reports();
  v.on_bar(20, 0, 94, 96, 90);  // opens below the limit: filled at the open
  REQUIRE(!v.reports().empty());
  CHECK_EQ(v.reports().front().px, 94);
}

SF_TEST_MAIN()
