// Engine end to end: synthetic replay with the market maker, determinism, bar mode fill at next
// open, kill switch on max loss through the engine, fault containment of a throwing strategy,
// bad records.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "sf/config.hpp"
#include "sf/engine.hpp"
#include "sf/event_file.hpp"
#include "sf/synth.hpp"
#include "sf_test.hpp"

namespace {

std::string tmp(const std::string& name) { return std::string(SF_TEST_TMP) + "/" + name; }

sf::EngineOptions options(bool bar_mode = false) {
  sf::EngineOptions o;
  o.bar_mode = bar_mode;
  o.venue.feed = sf::LatencyModel::constant(0);
  o.venue.entry = sf::LatencyModel::constant(0);
  o.venue.response = sf::LatencyModel::constant(0);
  o.venue.fees = sf::FeeModel{-0.5, 1.0};
  return o;
}

sf::RiskLimits risk(const sf::EventFile& f, const std::vector<std::uint32_t>& allowed, const char* json) {
  sf::json::Value v;
  std::string e;
  if (!sf::json::parse(json, v, e)) std::fprintf(stderr, "bad risk json: %s\n", e.c_str());
  sf::RiskLimits l;
  std::vector<std::string> errs;
  if (!sf::build_risk_limits(v, sf::json::Value{}, f, allowed, l, errs, "test")) {
    for (auto& x : errs) std::fprintf(stderr, "risk: %s\n", x.c_str());
  }
  return l;
}

constexpr const char* kLooseRisk = R"({"max_order_qty": 100, "max_order_notional": 1e12, "max_position": 1000,
  "price_band_bps": 5000, "max_open_orders": 32, "max_msgs_per_sec": 1000000, "max_loss": 1e9})";

struct RunOut {
  std::uint64_t fills = 0, orders = 0, makers = 0;
  double pnl = 0, fees = 0;
  std::uint64_t t2o = 0;
};

RunOut run_mm(const sf::EventFile& f, const std::string& plugin, sf::LatencyModel entry) {
  auto o = options();
  o.venue.entry = entry;
  o.venue.response = sf::LatencyModel::constant(5000);
  sf::Engine eng(f, o);
  sf::StrategySetup s{"mm", plugin, "qty=1\noffset_ticks=1\nmax_inventory=5", {0}, risk(f, {0}, kLooseRisk)};
  std::string err;
  if (!eng.add_strategy(std::move(s), err)) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return {};
  }
  if (eng.run() != sf::RunStatus::Ok) return {};
  const auto& sl = eng.slot(0);
  return RunOut{sl.fills, sl.accepted, sl.maker_fills, sl.gate.pnl(), sl.gate.fees(), sl.t2o_hist.count()};
}

void add_ev(std::vector<sf::Event>& v, sf::Nanos ts, sf::EventType t, std::uint8_t side, std::int64_t a, std::int64_t b,
            std::uint32_t flags = sf::kEvEndOfBatch, std::int64_t c = 0, std::int64_t d = 0, std::int64_t e5 = 0) {
  sf::Event e{};
  e.recv_ts = ts;
  e.exch_ts = ts;
  e.type = static_cast<std::uint8_t>(t);
  e.side = side;
  e.flags = flags;
  e.v[0] = a;
  e.v[1] = b;
  e.v[2] = c;
  e.v[3] = d;
  e.v[4] = e5;
  v.push_back(e);
}

std::string read_text(const std::string& path) {
  std::string out;
  if (FILE* fp = std::fopen(path.c_str(), "rb")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, fp)) > 0) out.append(buf, n);
    std::fclose(fp);
  }
  return out;
}

std::string write_file(const std::string& name, const std::vector<sf::Event>& evs, sf::InstrumentEntry ins) {
  sf::EventWriter w;
  std::string err;
  const std::string p = tmp(name);
  if (!w.open(p, {ins}, "test", err)) return "";
  for (const auto& e : evs) w.append(e);
  if (!w.finish(err)) return "";
  return p;
}

}  // namespace

SF_TEST(market_maker_end_to_end_produces_fills) {
  sf::SynthOptions so;
  so.events = 50'000;
  so.seed = 11;
  std::string err;
  REQUIRE(sf::write_synthetic(tmp("e2e.sfe"), so, err));
  sf::EventFile f;
  REQUIRE(f.open(tmp("e2e.sfe"), err));
  const RunOut a = run_mm(f, SF_PLUGIN_MM, sf::LatencyModel::lognormal(5000, 20000));
  CHECK(a.fills > 100);
  CHECK(a.makers > a.fills / 2);  // mostly resting fills (latency can make a quote marketable on arrival)
  CHECK(a.orders > 0);
  CHECK(a.t2o > 0);
  CHECK(std::isfinite(a.pnl));
  CHECK(a.fees < 0);  // maker rebates
  // deterministic for a given seed, also through the builtin copy of the same strategy
  const RunOut b = run_mm(f, "builtin:market_maker", sf::LatencyModel::lognormal(5000, 20000));
  CHECK_EQ(a.fills, b.fills);
  CHECK_EQ(a.orders, b.orders);
  CHECK(a.pnl == b.pnl);
}

SF_TEST(noop_replay_and_results_document) {
  sf::SynthOptions so;
  so.events = 20'000;
  std::string err;
  REQUIRE(sf::write_synthetic(tmp("noop.sfe"), so, err));
  sf::EventFile f;
  REQUIRE(f.open(tmp("noop.sfe"), err));
  sf::Engine eng(f, options());
  REQUIRE(eng.add_strategy({"n", SF_PLUGIN_NOOP, "", {0}, risk(f, {0}, kLooseRisk)}, err));
  REQUIRE(eng.run() == sf::RunStatus::Ok);
  CHECK_EQ(eng.events_processed(), f.event_count());
  CHECK(eng.slot(0).cb_hist[sf::kCbBook].count() > 1000);
  CHECK(eng.slot(0).cb_hist[sf::kCbTrade].count() > 100);
  sf::json::Writer w;
  eng.write_results(w, "cfg.json");
  sf::json::Value doc;
  REQUIRE(sf::json::parse(w.str(), doc, err));
  const auto* s0 = &doc.get("strategies")->items()[0];
  CHECK(s0->get("latency_ns")->get("on_book")->get("p99") != nullptr);
  CHECK(s0->get("pnl_series")->get("ts")->items().size() > 100);
  CHECK_EQ(doc.get("run")->get("events_processed")->as_int(), static_cast<std::int64_t>(f.event_count()));
}

SF_TEST(bar_mode_fills_at_next_bar_open) {
  std::vector<sf::Event> ev;
  const sf::Nanos minute = 60'000'000'000;
  for (int k = 0; k < 6; ++k) {
    const std::int64_t close = 1000 + 10 * k;
    const std::int64_t open = close - 3;
    add_ev(ev, (k + 1) * minute, sf::EventType::Bar, 0, open, close + 2, sf::kEvEndOfBatch, open - 2, close, 100);
  }
  const std::string p = write_file("bars.sfe", ev, sf::make_instrument("BAR", 10'000'000, 1'000'000'000, 0, minute));
  REQUIRE(!p.empty());
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(p, err));
  sf::Engine eng(f, options(true));
  REQUIRE(eng.add_strategy({"mom", SF_PLUGIN_MOM, "lookback=1\nqty=2", {0},
                            risk(f, {0}, R"({"max_order_qty": 10, "max_order_notional": 1e9, "max_position": 10,
                                "price_band_bps": 1000, "max_open_orders": 4, "max_msgs_per_sec": 10, "max_loss": 1e6,
                                "max_reference_age_ms": 3600000})")},
                           err));
  REQUIRE(eng.run() == sf::RunStatus::Ok);
  const auto& s = eng.slot(0);
  REQUIRE(!s.fill_list.empty());
  // decision on bar 1 (close 1010 > close 1000) -> market buy 2 -> filled at bar 2's open (1017)
  CHECK_EQ(s.fill_list[0].px, 1017);
  CHECK_EQ(s.fill_list[0].qty, 2);
  CHECK_EQ(s.fill_list[0].ts, 3 * minute);
  CHECK(!s.fill_list[0].maker);
  CHECK_EQ(s.fill_list.size(), 1u);  // target reached, holds
  CHECK_EQ(s.gate.account(0).position, 2);
}

namespace {
struct Series {
  std::vector<sf::Nanos> ts;
  std::vector<double> pnl;
  std::vector<sf::Lots> pos;
  std::uint64_t dropped = 0;
};
Series pnl_series(const sf::Slot& s) {
  Series out;
  for (const auto& p : s.pnl_series) {
    out.ts.push_back(p.ts);
    out.pnl.push_back(p.pnl);
    out.pos.push_back(s.pnl_positions[p.pos_offset]);
  }
  out.dropped = s.pnl_samples_dropped;
  return out;
}
// Daily bars of a deterministic zig-zag walk (close moves +-3 ticks), weekdays only.
std::vector<sf::Event> daily_bars(int count, sf::Nanos day) {
  std::vector<sf::Event> ev;
  std::int64_t close = 5000;
  sf::Nanos t = 3 * day + 16 * 3600'000'000'000LL;  // a Monday, 16:00 UTC
  for (int k = 0; k < count; ++k) {
    const std::int64_t open = close;
    close += ((k * 7) % 5 < 2) ? -3 : 3;
    add_ev(ev, t, sf::EventType::Bar, 0, open, std::max(open, close) + 1, sf::kEvEndOfBatch, std::min(open, close) - 1, close, 100);
    t += ((k + 1) % 5 == 0) ? 3 * day : day;  // skip the weekend
  }
  return ev;
}
}  // namespace

SF_TEST(pnl_sampled_at_each_bar_with_a_one_ns_period) {
  // 4,500 bars: the every-n-events default samples every 2 bars (the bug the scorecard inherited);
  // period 1 ns samples once per receive time, i.e. the account after each bar.
  const sf::Nanos day = 86'400'000'000'000;
  const auto ev = daily_bars(4500, day);
  const std::string p = write_file("daily.sfe", ev, sf::make_instrument("D", 10'000'000, 1'000'000'000, 0, day));
  REQUIRE(!p.empty());
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(p, err));
  const char* lim = R"({"max_order_qty": 10, "max_order_notional": 1e9, "max_position": 10, "price_band_bps": 5000,
      "max_open_orders": 4, "max_msgs_per_sec": 10, "max_loss": 1e9, "max_reference_age_ms": 604800000})";
  auto run = [&](std::int64_t period, std::int64_t every) {
    auto o = options(true);
    o.output.pnl_sample_period_ns = period;
    o.output.pnl_sample_every = every;
    sf::Engine eng(f, o);
    std::string e;
    if (!eng.add_strategy({"mom", SF_PLUGIN_MOM, "lookback=3\nqty=2", {0}, risk(f, {0}, lim)}, e)) std::fprintf(stderr, "%s\n", e.c_str());
    if (eng.run() != sf::RunStatus::Ok) std::fprintf(stderr, "run failed: %s\n", eng.error().c_str());
    const auto& s = eng.slot(0);
    // independent mark-to-close PnL after each bar from the fill list: cash + position x close
    std::vector<double> expect;
    double cash = 0;
    std::int64_t pos = 0;
    std::size_t k = 0;
    for (const auto& b : ev) {
      while (k < s.fill_list.size() && s.fill_list[k].ts <= b.recv_ts) {
        const auto& fl = s.fill_list[k++];
        const double sgn = fl.side == sf::Side::Bid ? 1.0 : -1.0;
        cash -= sgn * static_cast<double>(fl.px * fl.qty) * 0.01 + fl.fee;
        pos += fl.side == sf::Side::Bid ? fl.qty : -fl.qty;
      }
      expect.push_back(cash + static_cast<double>(pos * b.v[3]) * 0.01);
    }
    return std::make_pair(pnl_series(s), expect);
  };
  const auto [bars, expect] = run(1, 0);
  REQUIRE(bars.ts.size() == ev.size());
  CHECK_EQ(bars.dropped, 0u);
  bool same_ts = true, same_pnl = true;
  for (std::size_t i = 0; i < ev.size(); ++i) {
    same_ts = same_ts && bars.ts[i] == ev[i].recv_ts;
    same_pnl = same_pnl && std::fabs(bars.pnl[i] - expect[i]) < 1e-6;
  }
  CHECK(same_ts);
  CHECK(same_pnl);
  CHECK(bars.pos.back() != 0 || bars.pnl.back() != 0);  // the strategy traded
  // the old rule: every n/2000 = 2 events -> about half as many samples, two bars apart
  const auto [old, unused] = run(0, 0);
  (void)unused;
  CHECK(old.ts.size() < ev.size() / 2 + 5);
  CHECK_EQ(old.ts[1] - old.ts[0], 2 * day);
}

SF_TEST(pnl_sampled_at_clock_period_boundaries) {
  // Quotes at irregular times across minutes with a gap: one sample per minute in which
  // something happened, stamped with that minute's last nanosecond; the account before the
  // first event of the next minute.
  const sf::Nanos m = 60'000'000'000;
  const sf::Nanos t0 = 1'700'000'000LL * 1'000'000'000 / m * m;  // a minute boundary
  std::vector<sf::Event> ev;
  const std::vector<sf::Nanos> at = {t0 + 1, t0 + m / 2, t0 + m - 1, t0 + m, t0 + m + 7, t0 + 5 * m + 3, t0 + 5 * m + 9};
  for (std::size_t k = 0; k < at.size(); ++k) {
    add_ev(ev, at[k], sf::EventType::Clear, 0, 0, 0, 0);
    add_ev(ev, at[k], sf::EventType::Depth, 1, 99 - static_cast<std::int64_t>(k), 10, 0);
    add_ev(ev, at[k], sf::EventType::Depth, 2, 101 - static_cast<std::int64_t>(k), 10);
  }
  const std::string p = write_file("clock.sfe", ev, sf::make_instrument("C", 1'000'000'000, 1'000'000'000, 0));
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(p, err));
  auto o = options();
  o.output.pnl_sample_period_ns = m;
  sf::Engine eng(f, o);
  // buy 1 at the first book (takes the ask 101), then hold: PnL = mid - 101 - fee
  REQUIRE(eng.add_strategy({"s", SF_PLUGIN_SCRIPTED, "orders=B101x1", {0}, risk(f, {0}, kLooseRisk)}, err));
  REQUIRE(eng.run() == sf::RunStatus::Ok);
  const Series s = pnl_series(eng.slot(0));
  // minutes t0, t0+m (two events), t0+5m; plus the final sample at the last event
  const std::vector<sf::Nanos> want = {t0 + m - 1, t0 + 2 * m - 1, t0 + 5 * m + 9};
  REQUIRE(s.ts.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK_EQ(s.ts[i], want[i]);
  const double fee = 101 * 1.0 * 1e-4;  // taker 1 bp
  CHECK(std::fabs(s.pnl[0] - ((99 - 2 + 101 - 2) / 2.0 - 101 - fee)) < 1e-9);  // mid of the 3rd book
  CHECK(std::fabs(s.pnl[1] - ((99 - 4 + 101 - 4) / 2.0 - 101 - fee)) < 1e-9);
  CHECK(std::fabs(s.pnl[2] - ((99 - 6 + 101 - 6) / 2.0 - 101 - fee)) < 1e-9);
  // the results document states the rule
  sf::json::Writer w;
  eng.write_results(w, "cfg.json");
  sf::json::Value doc;
  REQUIRE(sf::json::parse(w.str(), doc, err));
  const auto* smp = doc.get("strategies")->items()[0].get("pnl_series")->get("sampling");
  REQUIRE(smp != nullptr);
  CHECK_EQ(smp->get("rule")->as_string(), std::string("period"));
  CHECK_EQ(smp->get("period_ns")->as_int(), m);
}

SF_TEST(pnl_sample_closes_the_period_in_which_a_delayed_fill_happened) {
  // An order sent at t0+1 with 90 s entry latency fills at t0+90s, inside a gap with no market
  // data until t0+5m: the fill belongs to minute 1, so minute 1 gets a sample holding it.
  const sf::Nanos m = 60'000'000'000;
  const sf::Nanos t0 = 1'700'000'000LL * 1'000'000'000 / m * m;
  std::vector<sf::Event> ev;
  for (sf::Nanos t : {t0 + 1, t0 + 5 * m + 3}) {
    add_ev(ev, t, sf::EventType::Clear, 0, 0, 0, 0);
    add_ev(ev, t, sf::EventType::Depth, 1, 99, 10, 0);
    add_ev(ev, t, sf::EventType::Depth, 2, 101, 10);
  }
  const std::string p = write_file("delayed.sfe", ev, sf::make_instrument("L", 1'000'000'000, 1'000'000'000, 0));
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(p, err));
  auto o = options();
  o.venue.entry = sf::LatencyModel::constant(90'000'000'000);
  o.output.pnl_sample_period_ns = m;
  sf::Engine eng(f, o);
  REQUIRE(eng.add_strategy({"s", SF_PLUGIN_SCRIPTED, "orders=B101x1", {0}, risk(f, {0}, kLooseRisk)}, err));
  REQUIRE(eng.run() == sf::RunStatus::Ok);
  const Series s = pnl_series(eng.slot(0));
  REQUIRE(s.ts.size() == 3u);
  CHECK_EQ(s.ts[0], t0 + m - 1);
  CHECK_EQ(s.pos[0], 0);
  CHECK_EQ(s.ts[1], t0 + 2 * m - 1);  // the fill's minute, not the next market event's
  CHECK_EQ(s.pos[1], 1);
  CHECK_EQ(eng.slot(0).fill_list.at(0).ts, t0 + 1 + 90'000'000'000);
  CHECK_EQ(s.ts[2], t0 + 5 * m + 3);
}

SF_TEST(pnl_sampled_every_n_events_as_before) {
  sf::SynthOptions so;
  so.events = 20'000;
  so.seed = 5;
  std::string err;
  REQUIRE(sf::write_synthetic(tmp("every.sfe"), so, err));
  sf::EventFile f;
  REQUIRE(f.open(tmp("every.sfe"), err));
  auto o = options();
  o.output.pnl_sample_every = 100;
  sf::Engine eng(f, o);
  REQUIRE(eng.add_strategy({"n", SF_PLUGIN_NOOP, "", {0}, risk(f, {0}, kLooseRisk)}, err));
  REQUIRE(eng.run() == sf::RunStatus::Ok);
  const Series s = pnl_series(eng.slot(0));
  // after records 99, 199, ..., 19899, then the final sample
  REQUIRE(s.ts.size() == 200u);
  bool ok = true;
  for (std::size_t k = 0; k + 1 < s.ts.size(); ++k) ok = ok && s.ts[k] == f.events()[(k + 1) * 100 - 1].recv_ts;
  CHECK(ok);
  CHECK_EQ(s.ts.back(), f.events()[f.event_count() - 1].recv_ts);
}

SF_TEST(max_loss_kills_and_cancels_through_the_engine) {
  std::vector<sf::Event> ev;
  sf::Nanos t = 1000;
  auto two_sided = [&](std::int64_t bid, std::int64_t ask) {
    add_ev(ev, t, sf::EventType::Clear, 0, 0, 0, 0);
    add_ev(ev, t, sf::EventType::Depth, 1, bid, 10, 0);
    add_ev(ev, t, sf::EventType::Depth, 2, ask, 10);
    t += 1000;
  };
  two_sided(99, 101);  // on_book 1: buy 5 @ 101 (takes the ask)
  two_sided(99, 101);  // on_book 2: buy 1 @ 60 (rests)
  two_sided(70, 72);   // mark 71: loss 5 x 30 = 150 > 100 -> kill, cancel the resting order
  two_sided(70, 72);   // on_book 4: buy 1 @ 50 -> KILL_SWITCH
  two_sided(70, 72);
  const std::string p = write_file("kill.sfe", ev, sf::make_instrument("K", 1'000'000'000, 1'000'000'000, 0));
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(p, err));
  sf::Engine eng(f, options());
  REQUIRE(eng.add_strategy({"s", SF_PLUGIN_SCRIPTED, "orders=B101x5,B60x1,K,B50x1", {0},
                            risk(f, {0}, R"({"max_order_qty": 10, "max_order_notional": 1e9, "max_position": 10,
                                "price_band_bps": 5000, "max_open_orders": 4, "max_msgs_per_sec": 100, "max_loss": 100})")},
                           err));
  REQUIRE(eng.run() == sf::RunStatus::Ok);
  const auto& s = eng.slot(0);
  CHECK_EQ(s.fills, 1u);
  CHECK_EQ(s.taker_fills, 1u);
  CHECK(s.gate.killed());
  CHECK(s.gate.kill_reason() == sf::RiskReason::MaxLoss);
  CHECK_EQ(s.done_canceled, 1u);  // the resting buy @ 60 was cancelled by the kill switch
  CHECK_EQ(s.denials_by_reason[static_cast<std::size_t>(sf::RiskReason::KillSwitch)], 1u);
  CHECK_EQ(s.gate.open_orders(), 0u);
  CHECK(s.gate.pnl() < -100);
}

SF_TEST(max_drawdown_kills_after_a_peak_through_the_engine) {
  std::vector<sf::Event> ev;
  sf::Nanos t = 1000;
  auto two_sided = [&](std::int64_t bid, std::int64_t ask) {
    add_ev(ev, t, sf::EventType::Clear, 0, 0, 0, 0);
    add_ev(ev, t, sf::EventType::Depth, 1, bid, 10, 0);
    add_ev(ev, t, sf::EventType::Depth, 2, ask, 10);
    t += 1000;
  };
  two_sided(99, 101);   // on_book 1: buy 5 @ 101 (takes the ask): PnL -5.05 at mid 100, within 20 of the start (0)
  two_sided(99, 101);   // on_book 2: buy 1 @ 60 (rests)
  two_sided(119, 121);  // mid 120: PnL +94.95, the peak
  two_sided(117, 119);  // mid 118: fall 10 <= 20, no trip
  const std::size_t before_fall = ev.size();
  two_sided(109, 111);  // mid 110: fall 50 > 20 -> kill, cancel the resting order (PnL +44.95: no loss breach)
  two_sided(109, 111);  // on_book 6: buy 1 @ 105 -> KILL_SWITCH
  two_sided(109, 111);
  const char* lim = R"({"max_order_qty": 10, "max_order_notional": 1e9, "max_position": 10, "price_band_bps": 5000,
                        "max_open_orders": 4, "max_msgs_per_sec": 100, "max_loss": 100, "max_drawdown": 20})";
  const char* script = "orders=B101x5,B60x1,K,K,K,B105x1";
  {  // up to the event before the fall: the peak is tracked, nothing trips
    const std::vector<sf::Event> head(ev.begin(), ev.begin() + static_cast<std::ptrdiff_t>(before_fall));
    const std::string p = write_file("dd_head.sfe", head, sf::make_instrument("D", 1'000'000'000, 1'000'000'000, 0));
    sf::EventFile f;
    std::string err;
    REQUIRE(f.open(p, err));
    sf::Engine eng(f, options());
    REQUIRE(eng.add_strategy({"s", SF_PLUGIN_SCRIPTED, script, {0}, risk(f, {0}, lim)}, err));
    REQUIRE(eng.run() == sf::RunStatus::Ok);
    const auto& s = eng.slot(0);
    CHECK_EQ(s.fills, 1u);
    CHECK(!s.gate.killed());
    CHECK(std::fabs(s.gate.peak_pnl() - (95.0 - 0.0505)) < 1e-6);
    CHECK(std::fabs(s.gate.pnl() - (85.0 - 0.0505)) < 1e-6);
    CHECK_EQ(s.done_canceled, 0u);
    CHECK_EQ(s.gate.open_orders(), 1u);
  }
  const std::string p = write_file("dd.sfe", ev, sf::make_instrument("D", 1'000'000'000, 1'000'000'000, 0));
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(p, err));
  sf::Engine eng(f, options());
  REQUIRE(eng.add_strategy({"s", SF_PLUGIN_SCRIPTED, script, {0}, risk(f, {0}, lim)}, err));
  sf::TapeWriter tape;
  REQUIRE(tape.open(tmp("dd_tape.jsonl"), err));
  eng.set_tape(&tape);
  REQUIRE(eng.run() == sf::RunStatus::Ok);
  REQUIRE(tape.finish(err));
  const auto& s = eng.slot(0);
  CHECK(s.gate.killed());
  CHECK(s.gate.kill_reason() == sf::RiskReason::MaxDrawdown);
  CHECK_CONTAINS(std::string(s.gate.kill_context()), "max_drawdown=20.000000");
  CHECK_EQ(s.done_canceled, 1u);  // the resting buy @ 60 was cancelled by the kill switch
  CHECK_EQ(s.denials_by_reason[static_cast<std::size_t>(sf::RiskReason::KillSwitch)], 1u);
  CHECK_EQ(s.gate.open_orders(), 0u);
  CHECK(s.gate.pnl() > 0);  // a drawdown trip, not a loss
  CHECK_CONTAINS(read_text(tmp("dd_tape.jsonl")), R"("k":"kill","s":"s","ts":5000,"reason":"MAX_DRAWDOWN")");
}

namespace {
// kill_on_breach through the engine: the second order breaches max_position 5 (worst long 6).
struct BreachRun {
  bool killed = false;
  sf::RiskReason reason = sf::RiskReason::Accepted;
  std::uint64_t canceled = 0, accepted = 0, max_position = 0, kill_switch = 0;
  std::string tape;
};
BreachRun run_breach(bool kill_on_breach) {
  std::vector<sf::Event> ev;
  for (int k = 0; k < 5; ++k) add_ev(ev, 1000 + 1000 * k, sf::EventType::Quote, 0, 99, 10, sf::kEvEndOfBatch, 101, 10);
  const std::string name = kill_on_breach ? "kob_true" : "kob_false";
  const std::string p = write_file(name + ".sfe", ev, sf::make_instrument("B", 1'000'000'000, 1'000'000'000, 0));
  sf::EventFile f;
  std::string err;
  BreachRun out;
  if (!f.open(p, err)) return out;
  sf::Engine eng(f, options());
  const std::string lim = std::string(R"({"max_order_qty": 10, "max_order_notional": 1e9, "max_position": 5, "price_band_bps": 5000,
      "max_open_orders": 4, "max_msgs_per_sec": 100, "max_loss": 100, "kill_on_breach": )") + (kill_on_breach ? "true}" : "false}");
  if (!eng.add_strategy({"s", SF_PLUGIN_SCRIPTED, "orders=B98x3,B97x3,B96x1", {0}, risk(f, {0}, lim.c_str())}, err)) return out;
  sf::TapeWriter tape;
  if (!tape.open(tmp(name + ".jsonl"), err)) return out;
  eng.set_tape(&tape);
  if (eng.run() != sf::RunStatus::Ok || !tape.finish(err)) return out;
  const auto& s = eng.slot(0);
  out.killed = s.gate.killed();
  out.reason = s.gate.kill_reason();
  out.canceled = s.done_canceled;
  out.accepted = s.accepted;
  out.max_position = s.denials_by_reason[static_cast<std::size_t>(sf::RiskReason::MaxPosition)];
  out.kill_switch = s.denials_by_reason[static_cast<std::size_t>(sf::RiskReason::KillSwitch)];
  out.tape = read_text(tmp(name + ".jsonl"));
  return out;
}
}  // namespace

SF_TEST(kill_on_breach_trips_on_a_position_breach_through_the_engine) {
  const BreachRun r = run_breach(true);
  CHECK(r.killed);
  CHECK(r.reason == sf::RiskReason::MaxPosition);
  CHECK_EQ(r.max_position, 1u);
  CHECK_EQ(r.accepted, 1u);     // B98x3 only
  CHECK_EQ(r.kill_switch, 1u);  // B96x1, a valid order, blocked until released
  CHECK_EQ(r.canceled, 1u);     // the resting B98x3 was cancelled by the kill switch
  CHECK_CONTAINS(r.tape, R"("k":"kill","s":"s","ts":2000,"reason":"MAX_POSITION","context":"instrument=B position=0 working_same_side=3)");
}

SF_TEST(kill_on_breach_false_only_denies_through_the_engine) {
  const BreachRun r = run_breach(false);
  CHECK(!r.killed);
  CHECK_EQ(r.max_position, 1u);
  CHECK_EQ(r.accepted, 2u);  // B98x3 and B96x1 (worst long 4)
  CHECK_EQ(r.kill_switch, 0u);
  CHECK_EQ(r.canceled, 0u);
  CHECK(r.tape.find(R"("k":"kill")") == std::string::npos);
}

SF_TEST(manual_kill_switch_through_the_engine) {
  std::vector<sf::Event> ev;
  for (int k = 0; k < 4; ++k) {
    add_ev(ev, 1000 + k, sf::EventType::Quote, 0, 99, 10, sf::kEvEndOfBatch, 101, 10);
  }
  const std::string p = write_file("mk.sfe", ev, sf::make_instrument("Q", 1'000'000'000, 1'000'000'000, 0));
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(p, err));
  sf::Engine eng(f, options());
  REQUIRE(eng.add_strategy({"s", SF_PLUGIN_SCRIPTED, "orders=B98x1,B97x1,B96x1,B95x1", {0}, risk(f, {0}, kLooseRisk)}, err));
  eng.engage_kill(0, "operator=test");
  REQUIRE(eng.run() == sf::RunStatus::Ok);
  CHECK_EQ(eng.slot(0).denials_by_reason[static_cast<std::size_t>(sf::RiskReason::KillSwitch)], 4u);
  CHECK_EQ(eng.slot(0).accepted, 0u);
}

SF_TEST(throwing_strategy_becomes_a_reported_fault) {
  sf::SynthOptions so;
  so.events = 5'000;
  std::string err;
  REQUIRE(sf::write_synthetic(tmp("throw.sfe"), so, err));
  sf::EventFile f;
  REQUIRE(f.open(tmp("throw.sfe"), err));
  sf::Engine eng(f, options());
  REQUIRE(eng.add_strategy({"thrower", SF_PLUGIN_THROWS, "", {0}, risk(f, {0}, kLooseRisk)}, err));
  CHECK(eng.run() == sf::RunStatus::StrategyFault);
  CHECK_CONTAINS(eng.error(), "strategy 'thrower' faulted in on_trade");
  CHECK_CONTAINS(eng.error(), "boom from the throws test strategy");
  CHECK(eng.events_processed() < f.event_count());
}

SF_TEST(constructor_errors_are_reported) {
  sf::SynthOptions so;
  so.events = 100;
  std::string err;
  REQUIRE(sf::write_synthetic(tmp("ctor.sfe"), so, err));
  sf::EventFile f;
  REQUIRE(f.open(tmp("ctor.sfe"), err));
  sf::Engine eng(f, options());
  CHECK(!eng.add_strategy({"mm", SF_PLUGIN_MM, "qty=1\nbogus=3", {0}, risk(f, {0}, kLooseRisk)}, err));
  CHECK_CONTAINS(err, "unknown parameter(s): bogus");
  CHECK_CONTAINS(err, "strategy 'mm'");
}

SF_TEST(bad_record_is_a_data_error) {
  std::vector<sf::Event> ev;
  add_ev(ev, 1, sf::EventType::Depth, 1, 100, 1);
  add_ev(ev, 2, sf::EventType::Depth, 1, 100, 1);
  ev.back().type = 9;
  const std::string p = write_file("bad.sfe", ev, sf::make_instrument("X", 1, 1, 0));
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(p, err));
  sf::Engine eng(f, options());
  CHECK(eng.run() == sf::RunStatus::DataError);
  CHECK_CONTAINS(eng.error(), "record 1: unknown event type");
}

SF_TEST_MAIN()
