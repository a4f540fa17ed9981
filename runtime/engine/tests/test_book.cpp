// L2 book: ordering, updates, deletes, sentinels, crossed/locked, quote, clear, capacity.
#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "sf/book.hpp"
#include "sf_test.hpp"

namespace {
sf::Event depth(sf::Side s, sf::Ticks px, sf::Lots q) {
  sf::Event e{};
  e.type = static_cast<std::uint8_t>(sf::EventType::Depth);
  e.side = static_cast<std::uint8_t>(s);
  e.v[0] = px;
  e.v[1] = q;
  e.flags = sf::kEvEndOfBatch;
  return e;
}
}  // namespace

SF_TEST(empty_book_uses_named_sentinels) {
  sf::Book b(8);
  CHECK_EQ(b.best_bid(), sf::kNoBid);
  CHECK_EQ(b.best_ask(), sf::kNoAsk);
  CHECK_EQ(b.mid_x2(), sf::kNoPrice);
  CHECK_EQ(b.spread(), sf::kNoPrice);
  CHECK(std::isnan(b.mid()));
  CHECK(std::isnan(b.imbalance()));
  CHECK(b.state() == sf::BookState::Empty);
  CHECK(b.best_bid() != 0 && b.best_ask() != 0);
  b.apply(depth(sf::Side::Bid, 100, 5));
  CHECK(b.state() == sf::BookState::OneSided);
  CHECK_EQ(b.best_ask(), sf::kNoAsk);
  CHECK_EQ(b.mid_x2(), sf::kNoPrice);
}

SF_TEST(levels_are_ordered_and_top_is_o1) {
  sf::Book b(16);
  for (sf::Ticks p : {100, 98, 99, 97}) b.apply(depth(sf::Side::Bid, p, p - 90));
  for (sf::Ticks p : {103, 101, 102}) b.apply(depth(sf::Side::Ask, p, p - 100));
  CHECK_EQ(b.best_bid(), 100);
  CHECK_EQ(b.best_bid_qty(), 10);
  CHECK_EQ(b.best_ask(), 101);
  CHECK_EQ(b.best_ask_qty(), 1);
  CHECK_EQ(b.mid_x2(), 201);
  CHECK_EQ(b.spread(), 1);
  CHECK(std::fabs(b.imbalance() - (10.0 - 1.0) / 11.0) < 1e-12);
  sf::Ticks px;
  sf::Lots q;
  CHECK(b.bids().level(0, px, q) && px == 100);
  CHECK(b.bids().level(1, px, q) && px == 99 && q == 9);
  CHECK(b.bids().level(3, px, q) && px == 97);
  CHECK(!b.bids().level(4, px, q));
  CHECK(b.asks().level(2, px, q) && px == 103 && q == 3);
  CHECK_EQ(b.bids().qty_at(98), 8);
  CHECK_EQ(b.bids().qty_at(96), 0);
}

SF_TEST(update_and_delete) {
  sf::Book b(16);
  b.apply(depth(sf::Side::Bid, 100, 5));
  b.apply(depth(sf::Side::Bid, 99, 6));
  CHECK_EQ(b.apply(depth(sf::Side::Bid, 100, 7)), 5);  // returns the old qty
  CHECK_EQ(b.best_bid_qty(), 7);
  CHECK_EQ(b.apply(depth(sf::Side::Bid, 100, 0)), 7);  // qty 0 deletes
  CHECK_EQ(b.best_bid(), 99);
  CHECK_EQ(b.bids().size(), 1u);
  b.apply(depth(sf::Side::Bid, 50, 0));  // delete of a missing level: counted, harmless
  CHECK_EQ(b.bids().deletes_of_missing(), 1u);
  b.apply(depth(sf::Side::Bid, 99, 0));
  CHECK_EQ(b.best_bid(), sf::kNoBid);
}

SF_TEST(crossed_and_locked_are_flagged_not_fatal) {
  sf::Book b(8);
  b.apply(depth(sf::Side::Bid, 100, 1));
  b.apply(depth(sf::Side::Ask, 100, 1));
  CHECK(b.state() == sf::BookState::Locked);
  CHECK(b.crossed_or_locked());
  CHECK_EQ(b.spread(), 0);
  b.apply(depth(sf::Side::Bid, 102, 1));
  CHECK(b.state() == sf::BookState::Crossed);
  CHECK_EQ(b.spread(), -2);
  CHECK_EQ(b.mid_x2(), 202);
  b.apply(depth(sf::Side::Bid, 102, 0));
  b.apply(depth(sf::Side::Bid, 100, 0));
  CHECK(b.state() == sf::BookState::OneSided);
}

SF_TEST(quote_replaces_top_and_clear_empties) {
  sf::Book b(8);
  b.apply(depth(sf::Side::Bid, 90, 1));
  b.apply(depth(sf::Side::Bid, 91, 1));
  sf::Event q{};
  q.type = static_cast<std::uint8_t>(sf::EventType::Quote);
  q.v[0] = 100;
  q.v[1] = 3;
  q.v[2] = 101;
  q.v[3] = 4;
  b.apply(q);
  CHECK_EQ(b.bids().size(), 1u);
  CHECK_EQ(b.best_bid(), 100);
  CHECK_EQ(b.best_ask_qty(), 4);
  q.v[3] = 0;  // empty ask in a quote
  b.apply(q);
  CHECK_EQ(b.best_ask(), sf::kNoAsk);
  sf::Event c{};
  c.type = static_cast<std::uint8_t>(sf::EventType::Clear);
  c.side = 1;
  b.apply(depth(sf::Side::Ask, 105, 1));
  b.apply(c);
  CHECK_EQ(b.best_bid(), sf::kNoBid);
  CHECK_EQ(b.best_ask(), 105);
  c.side = 0;
  b.apply(c);
  CHECK(b.state() == sf::BookState::Empty);
}

SF_TEST(capacity_overflow_keeps_the_best_levels) {
  sf::Book b(4);
  for (sf::Ticks p = 100; p > 94; --p) b.apply(depth(sf::Side::Bid, p, 1));  // 6 levels into 4
  CHECK_EQ(b.bids().size(), 4u);
  CHECK_EQ(b.best_bid(), 100);
  CHECK(b.overflow_count() > 0);
  b.apply(depth(sf::Side::Bid, 101, 2));  // better level evicts the worst
  CHECK_EQ(b.best_bid(), 101);
  sf::Ticks px;
  sf::Lots q;
  CHECK(b.bids().level(3, px, q) && px == 98);
}

SF_TEST(random_updates_match_a_reference_model) {
  // Both sides against a std::map model after every operation: previous quantity returned, every
  // level in order, qty_at, top of book. Three price ranges: narrow (updates land in the search
  // window), wide (searches step through many windows, moves longer than a window) and one that
  // keeps a side near a full small capacity without overflowing it.
  struct Case {
    std::uint32_t capacity;
    sf::Ticks span;
  };
  for (const Case c : {Case{512, 12}, Case{512, 300}, Case{40, 40}}) {
    sf::Book b(c.capacity);
    std::map<sf::Ticks, sf::Lots> bids, asks;
    std::uint64_t x = 12345 + static_cast<std::uint64_t>(c.span);
    auto rnd = [&]() { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x; };
    for (int i = 0; i < 20000; ++i) {
      const bool bid = (rnd() & 1) != 0;
      const sf::Ticks px = 1000 + static_cast<sf::Ticks>(rnd() % static_cast<std::uint64_t>(c.span));
      const sf::Lots q = static_cast<sf::Lots>(rnd() % 4);  // 0 deletes
      auto& m = bid ? bids : asks;
      const auto it = m.find(px);
      const sf::Lots expect_old = it == m.end() ? 0 : it->second;
      const sf::Lots old = b.apply(depth(bid ? sf::Side::Bid : sf::Side::Ask, px, q));
      REQUIRE(old == expect_old);
      if (q == 0) {
        if (it != m.end()) m.erase(it);
      } else {
        m[px] = q;
      }
      REQUIRE(b.bids().size() == bids.size());
      REQUIRE(b.asks().size() == asks.size());
      CHECK_EQ(b.best_bid(), bids.empty() ? sf::kNoBid : bids.rbegin()->first);
      CHECK_EQ(b.best_ask(), asks.empty() ? sf::kNoAsk : asks.begin()->first);
      CHECK_EQ(b.bids().qty_at(px), bids.count(px) ? bids[px] : 0);
      CHECK_EQ(b.asks().qty_at(px), asks.count(px) ? asks[px] : 0);
      if (i % 97 != 0) continue;
      std::uint32_t d = 0;
      for (auto l = bids.rbegin(); l != bids.rend(); ++l, ++d) {
        sf::Ticks lp;
        sf::Lots lq;
        REQUIRE(b.bids().level(d, lp, lq));
        REQUIRE(lp == l->first && lq == l->second);
      }
      d = 0;
      for (auto l = asks.begin(); l != asks.end(); ++l, ++d) {
        sf::Ticks lp;
        sf::Lots lq;
        REQUIRE(b.asks().level(d, lp, lq));
        REQUIRE(lp == l->first && lq == l->second);
      }
    }
    CHECK_EQ(b.overflow_count(), 0u);
  }
}

namespace {

// Reference model of one side with the book's capacity semantics: a new level into a full side
// evicts the worst level if it is better than it, else it is dropped.
struct ModelSide {
  bool bid;
  std::size_t cap;
  std::map<sf::Ticks, sf::Lots> lv;
  std::uint64_t overflow = 0;
  bool better(sf::Ticks a, sf::Ticks b) const { return bid ? a > b : a < b; }
  sf::Lots set(sf::Ticks px, sf::Lots q) {
    auto it = lv.find(px);
    const sf::Lots old = it == lv.end() ? 0 : it->second;
    if (q <= 0) {
      if (it != lv.end()) lv.erase(it);
      return old;
    }
    if (it != lv.end()) {
      it->second = q;
      return old;
    }
    if (lv.size() == cap) {
      ++overflow;
      const auto worst = bid ? lv.begin() : std::prev(lv.end());
      if (!better(px, worst->first)) return 0;
      lv.erase(worst);
    }
    lv[px] = q;
    return 0;
  }
  // levels best first
  std::vector<std::pair<sf::Ticks, sf::Lots>> levels() const {
    std::vector<std::pair<sf::Ticks, sf::Lots>> v(lv.begin(), lv.end());
    if (bid) std::reverse(v.begin(), v.end());
    return v;
  }
};

template <class Side>
void check_side(const Side& side, const ModelSide& m) {
  const auto v = m.levels();
  REQUIRE(side.size() == v.size());
  for (std::uint32_t d = 0; d < v.size(); ++d) {
    sf::Ticks px;
    sf::Lots q;
    REQUIRE(side.level(d, px, q));
    REQUIRE(px == v[d].first && q == v[d].second);
    REQUIRE(side.qty_at(px) == q);
  }
  sf::Ticks px;
  sf::Lots q;
  REQUIRE(!side.level(static_cast<std::uint32_t>(v.size()), px, q));
}

}  // namespace

SF_TEST(wide_and_drifting_books_match_the_model) {
  // Prices far apart (beyond the direct-mapped window: levels below it, re-centring up and
  // down), a touch that drifts by thousands of ticks, deletes of the best level, and small
  // capacities (eviction of the worst / dropping of a worse level), both sides, against the
  // model after every operation; full level lists every few operations.
  struct Case {
    std::uint32_t capacity;
    sf::Ticks span;   // prices drawn within +-span of the drifting centre
    sf::Ticks drift;  // max step of the centre per operation
  };
  for (const Case c : {Case{512, 5000, 0}, Case{512, 100000, 0}, Case{64, 3000, 50}, Case{16, 400, 5}, Case{1024, 20, 300},
                       Case{3, 10, 1}}) {
    sf::Book b(c.capacity);
    ModelSide bids{true, c.capacity, {}}, asks{false, c.capacity, {}};
    std::uint64_t x = 99 + static_cast<std::uint64_t>(c.span * 7 + c.drift);
    auto rnd = [&]() { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x; };
    sf::Ticks centre = 1'000'000;
    for (int i = 0; i < 30000; ++i) {
      if (c.drift > 0) centre += static_cast<sf::Ticks>(rnd() % static_cast<std::uint64_t>(2 * c.drift + 1)) - c.drift;
      const bool bid = (rnd() & 1) != 0;
      auto& m = bid ? bids : asks;
      sf::Ticks px;
      const auto r = rnd() % 10;
      if (r < 3 && !m.lv.empty()) {
        px = m.levels().front().first;  // touch the best level (often a delete below)
      } else {
        px = centre + static_cast<sf::Ticks>(rnd() % static_cast<std::uint64_t>(2 * c.span + 1)) - c.span;
      }
      const sf::Lots q = (r < 2 || rnd() % 4 == 0) ? 0 : static_cast<sf::Lots>(1 + rnd() % 9);
      const sf::Lots expect = m.set(px, q);
      REQUIRE(b.apply(depth(bid ? sf::Side::Bid : sf::Side::Ask, px, q)) == expect);
      REQUIRE(b.bids().size() == bids.lv.size());
      REQUIRE(b.asks().size() == asks.lv.size());
      CHECK_EQ(b.best_bid(), bids.lv.empty() ? sf::kNoBid : bids.lv.rbegin()->first);
      CHECK_EQ(b.best_ask(), asks.lv.empty() ? sf::kNoAsk : asks.lv.begin()->first);
      CHECK_EQ(b.best_bid_qty(), bids.lv.empty() ? 0 : bids.lv.rbegin()->second);
      CHECK_EQ(b.best_ask_qty(), asks.lv.empty() ? 0 : asks.lv.begin()->second);
      if (i % 211 == 0) {
        check_side(b.bids(), bids);
        check_side(b.asks(), asks);
      }
      if (i == 15000) {  // a CLEAR in the middle: both sides start again
        sf::Event e{};
        e.type = static_cast<std::uint8_t>(sf::EventType::Clear);
        b.apply(e);
        bids.lv.clear();
        asks.lv.clear();
        REQUIRE(b.bids().size() == 0 && b.asks().size() == 0);
      }
    }
    check_side(b.bids(), bids);
    check_side(b.asks(), asks);
    CHECK_EQ(b.overflow_count(), bids.overflow + asks.overflow);
  }
}

SF_TEST(extreme_prices_are_ordinary_levels) {
  // The search compares raw prices: the sentinel values themselves must not confuse it.
  sf::Book b(16);
  b.apply(depth(sf::Side::Bid, sf::kNoBid + 1, 5));
  b.apply(depth(sf::Side::Bid, 7, 1));
  b.apply(depth(sf::Side::Ask, sf::kNoAsk - 1, 3));
  b.apply(depth(sf::Side::Ask, 9, 2));
  CHECK_EQ(b.best_bid(), 7);
  CHECK_EQ(b.best_ask(), 9);
  CHECK_EQ(b.bids().qty_at(sf::kNoBid + 1), 5);
  CHECK_EQ(b.asks().qty_at(sf::kNoAsk - 1), 3);
  CHECK_EQ(b.apply(depth(sf::Side::Bid, 7, 0)), 1);
  CHECK_EQ(b.best_bid(), sf::kNoBid + 1);
  CHECK_EQ(b.apply(depth(sf::Side::Ask, 9, 0)), 2);
  CHECK_EQ(b.best_ask(), sf::kNoAsk - 1);
  // the other ends of the price range (the window placement clamps at both ends of the keys)
  b.apply(depth(sf::Side::Bid, sf::kNoAsk - 1, 4));
  b.apply(depth(sf::Side::Ask, sf::kNoBid + 2, 6));
  CHECK_EQ(b.best_bid(), sf::kNoAsk - 1);
  CHECK_EQ(b.best_ask(), sf::kNoBid + 2);
  CHECK(b.state() == sf::BookState::Crossed);
  CHECK_EQ(b.bids().size(), 2u);
  CHECK_EQ(b.apply(depth(sf::Side::Bid, sf::kNoAsk - 1, 0)), 4);
  CHECK_EQ(b.best_bid(), sf::kNoBid + 1);
  CHECK_EQ(b.apply(depth(sf::Side::Ask, sf::kNoBid + 2, 0)), 6);
  CHECK_EQ(b.best_ask(), sf::kNoAsk - 1);
}

SF_TEST_MAIN()
