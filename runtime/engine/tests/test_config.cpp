// JSON reader/writer, strict config loading, human-unit risk conversion, SDK params.
#include <cstdio>
#include <string>
#include <vector>

#include "sf/config.hpp"
#include "sf/json.hpp"
#include "sf/sdk.hpp"
#include "sf_test.hpp"

namespace {
const char* kGood = R"({
  "data": "x.sfe",
  "strategies": [{"id": "a", "plugin": "builtin:noop", "instruments": ["AAA"], "params": {"qty": 2, "name": "x", "on": true}}],
  "risk": {"max_order_qty": 0.5, "max_order_notional": 1000, "max_position": 2, "price_band_bps": 25.5,
           "max_open_orders": 8, "max_msgs_per_sec": 50, "max_loss": 100,
           "instruments": {"AAA": {"max_order_qty": 0.25}}},
  "venue": {"latency": {"feed": {"model": "constant", "ns": 1000},
                        "entry": {"model": "lognormal", "median_ns": 5000, "p99_ns": 20000},
                        "response": {"model": "constant", "ns": 0}},
            "queue_model": "decrease_advances", "fees": {"maker_bps": -0.1, "taker_bps": 0.5}, "seed": 9}
})";
}

SF_TEST(json_parses_and_reports_positions) {
  sf::json::Value v;
  std::string err;
  REQUIRE(sf::json::parse(R"({"a": [1, 2.5, "x\u00e9", true, null], "b": {"c": -3}})", v, err));
  CHECK(v.get("a")->items()[0].is_integer());
  CHECK_EQ(v.get("a")->items()[0].as_int(), 1);
  CHECK(!v.get("a")->items()[1].is_integer());
  CHECK_EQ(v.get("a")->items()[2].as_string(), std::string("x\xc3\xa9"));
  CHECK_EQ(v.get("b")->get("c")->as_int(), -3);
  CHECK(!sf::json::parse("{\n  \"a\": 1,\n  \"a\": 2\n}", v, err));
  CHECK_CONTAINS(err, "line 3");
  CHECK_CONTAINS(err, "duplicate key");
  CHECK(!sf::json::parse("[1, 2", v, err));
  CHECK(!sf::json::parse("{} x", v, err));
  CHECK_CONTAINS(err, "trailing");
}

SF_TEST(json_writer_escapes_and_nests) {
  sf::json::Writer w;
  w.begin_object().kv("s", "a\"b\n").kv("n", std::int64_t{-5}).kv("d", 0.25).key("arr").begin_array().value(1).null().end_array().end_object();
  CHECK_EQ(w.str(), std::string(R"({"s":"a\"b\n","n":-5,"d":0.25,"arr":[1,null]})"));
}

SF_TEST(good_config_loads) {
  sf::ReplayConfig c;
  std::vector<std::string> errs;
  REQUIRE(sf::parse_replay_config(kGood, "/base", c, errs));
  CHECK_EQ(c.data, std::string("/base/x.sfe"));
  CHECK_EQ(c.strategies.size(), 1u);
  CHECK_EQ(c.strategies[0].plugin, std::string("builtin:noop"));
  CHECK_CONTAINS(c.strategies[0].params, "qty=2\n");
  CHECK_CONTAINS(c.strategies[0].params, "on=true\n");
  CHECK(c.venue.queue_model == sf::QueueModel::DecreaseAdvances);
  CHECK(c.venue.entry.kind == sf::LatencyModel::Kind::Lognormal);
  CHECK_EQ(c.venue.feed.constant_ns, 1000);
  CHECK_EQ(c.venue.seed, 9u);
}

SF_TEST(every_config_error_is_reported_at_once_with_its_path) {
  const char* bad = R"({
    "strategies": [{"id": "a", "plugin": "p.so", "instruments": [], "colour": "red"}],
    "risk": {"max_order_qty": -1, "max_position": "big", "max_open_orders": 0},
    "venue": {"latency": {"feed": {"model": "gamma"}}, "queue_model": "fifo", "fees": {}},
    "extra": 1
  })";
  sf::ReplayConfig c;
  std::vector<std::string> errs;
  CHECK(!sf::parse_replay_config(bad, "", c, errs));
  std::string all;
  for (auto& e : errs) all += e + "\n";
  CHECK_CONTAINS(all, "extra is not a known key");
  CHECK_CONTAINS(all, "strategies[0].colour is not a known key");
  CHECK_CONTAINS(all, "strategies[0].instruments must be a symbol or a non-empty array");
  CHECK_CONTAINS(all, "venue.latency.feed.model must be \"constant\" or \"lognormal\", was \"gamma\"");
  CHECK_CONTAINS(all, "venue.latency.entry is required");
  CHECK_CONTAINS(all, "venue.queue_model must be");
  CHECK_CONTAINS(all, "venue.fees.maker_bps is required");
  CHECK(errs.size() >= 7u);
}

SF_TEST(risk_is_converted_once_to_ticks_and_lots) {
  sf::ReplayConfig c;
  std::vector<std::string> errs;
  REQUIRE(sf::parse_replay_config(kGood, "", c, errs));
  // AAA: tick 0.01, lot 0.001 ; BBB: tick 0.5, lot 1
  const sf::InstrumentEntry ins[2] = {sf::make_instrument("AAA", 10'000'000, 1'000'000, 0), sf::make_instrument("BBB", 500'000'000, 1'000'000'000, 1)};
  sf::RiskLimits lim;
  REQUIRE(sf::build_risk_limits(c.risk, sf::json::Value{}, ins, 2, {0}, lim, errs, "strategies[0]"));
  CHECK(lim.instruments[0].allowed);
  CHECK(!lim.instruments[1].allowed);
  CHECK_EQ(lim.instruments[0].max_order_qty, 250);     // per-instrument override 0.25 / 0.001
  CHECK_EQ(lim.instruments[0].max_position, 2000);     // 2 / 0.001
  CHECK(lim.instruments[0].max_order_notional == 100'000'000);  // 1000 / (0.01 * 0.001)
  CHECK_EQ(lim.instruments[0].price_band_cbps, 2550);
  CHECK_EQ(lim.max_open_orders, 8u);
  CHECK_EQ(lim.msg_burst, 50);  // defaults to max_msgs_per_sec
  CHECK_EQ(lim.max_reference_age_ns, 5'000'000'000);
  // a limit below one lot of a tradable instrument is an error
  sf::json::Value ov;
  std::string e;
  REQUIRE(sf::json::parse(R"({"max_position": 0.5})", ov, e));
  errs.clear();
  CHECK(!sf::build_risk_limits(c.risk, ov, ins, 2, {1}, lim, errs, "strategies[0]"));
  REQUIRE(!errs.empty());
  CHECK_CONTAINS(errs[0], "below one lot");
}

SF_TEST(drawdown_and_kill_on_breach_keys) {
  const sf::InstrumentEntry ins[1] = {sf::make_instrument("AAA", 10'000'000, 1'000'000'000, 0)};
  const char* base = R"({"max_order_qty": 1, "max_order_notional": 1000, "max_position": 2, "price_band_bps": 25,
                        "max_open_orders": 8, "max_msgs_per_sec": 50, "max_loss": 100)";
  auto build = [&](const std::string& extra, const char* overrides, sf::RiskLimits& lim, std::vector<std::string>& errs) {
    sf::json::Value risk, ov;
    std::string e;
    if (!sf::json::parse(std::string(base) + extra + "}", risk, e)) return false;
    if (overrides != nullptr && !sf::json::parse(overrides, ov, e)) return false;
    return sf::build_risk_limits(risk, ov, ins, 1, {0}, lim, errs, "strategies[0]");
  };
  sf::RiskLimits lim;
  std::vector<std::string> errs;
  REQUIRE(build("", nullptr, lim, errs));
  CHECK(!lim.has_max_drawdown);  // absent: no drawdown control
  CHECK(!lim.kill_on_breach);    // default false
  REQUIRE(build(R"(, "max_drawdown": 40.5, "kill_on_breach": true)", nullptr, lim, errs));
  CHECK(lim.has_max_drawdown);
  CHECK_EQ(lim.max_drawdown, 40.5);
  CHECK(lim.kill_on_breach);
  REQUIRE(build(R"(, "max_drawdown": 40.5, "kill_on_breach": true)", R"({"max_drawdown": 7, "kill_on_breach": false})", lim, errs));
  CHECK_EQ(lim.max_drawdown, 7.0);  // strategy-level overrides win
  CHECK(!lim.kill_on_breach);
  CHECK(!build(R"(, "max_drawdown": 0, "kill_on_breach": "yes")", nullptr, lim, errs));
  std::string all;
  for (auto& x : errs) all += x + "\n";
  CHECK_CONTAINS(all, "risk.max_drawdown must be > 0, was 0");
  CHECK_CONTAINS(all, "risk.kill_on_breach must be true or false");
  // both keys are known to the strict loader (global and per strategy)
  sf::ReplayConfig c;
  errs.clear();
  std::string doc = kGood;
  doc.replace(doc.find("\"max_loss\": 100,"), 16, "\"max_loss\": 100, \"max_drawdown\": 50, \"kill_on_breach\": true,");
  CHECK(sf::parse_replay_config(doc, "", c, errs));
  CHECK(errs.empty());
}

SF_TEST(pnl_sample_period_option) {
  auto with_output = [](const std::string& output) {
    std::string doc = kGood;
    doc.insert(doc.rfind('}'), ", \"output\": " + output);
    return doc;
  };
  sf::ReplayConfig c;
  std::vector<std::string> errs;
  REQUIRE(sf::parse_replay_config(kGood, "", c, errs));
  CHECK_EQ(c.output.pnl_sample_period_ns, 0);  // absent: off (every-n-events rule)
  sf::ReplayConfig c2;
  const bool ok = sf::parse_replay_config(with_output(R"({"pnl_sample_period_ns": 60000000000})"), "", c2, errs);
  for (auto& x : errs) std::fprintf(stderr, "%s\n", x.c_str());
  REQUIRE(ok);
  c = c2;
  CHECK_EQ(c.output.pnl_sample_period_ns, 60'000'000'000);
  errs.clear();
  CHECK(!sf::parse_replay_config(with_output(R"({"pnl_sample_period_ns": -1})"), "", c, errs));
  std::string all;
  for (auto& x : errs) all += x + "\n";
  CHECK_CONTAINS(all, "output.pnl_sample_period_ns");
  errs.clear();
  all.clear();
  CHECK(!sf::parse_replay_config(with_output(R"({"pnl_sample_period_ns": 1, "pnl_sample_every": 10})"), "", c, errs));
  for (auto& x : errs) all += x + "\n";
  CHECK_CONTAINS(all, "output.pnl_sample_period_ns cannot be combined with output.pnl_sample_every");
}

SF_TEST(missing_risk_limits_are_errors_not_defaults) {
  sf::json::Value risk;
  std::string e;
  REQUIRE(sf::json::parse(R"({"max_order_qty": 1})", risk, e));
  const sf::InstrumentEntry ins[1] = {sf::make_instrument("AAA", 10'000'000, 1'000'000'000, 0)};
  sf::RiskLimits lim;
  std::vector<std::string> errs;
  CHECK(!sf::build_risk_limits(risk, sf::json::Value{}, ins, 1, {0}, lim, errs, "s"));
  std::string all;
  for (auto& x : errs) all += x + "\n";
  CHECK_CONTAINS(all, "risk.max_position is required");
  CHECK_CONTAINS(all, "risk.max_loss is required");
  CHECK_CONTAINS(all, "risk.price_band_bps is required");
}

SF_TEST(sdk_params_parser) {
  auto p = sf::sdk::Params::parse("# comment\nqty = 5\n\nname=abc\r\nratio=0.25\nflag=true");
  CHECK_EQ(p.get_int("qty", 1), 5);
  CHECK_EQ(p.get_string("name", ""), std::string("abc"));
  CHECK(std::abs(p.get_double("ratio", 0) - 0.25) < 1e-12);
  CHECK(p.get_bool("flag", false));
  CHECK_EQ(p.get_int("missing", 7), 7);
  p.expect_all_used();
  auto q = sf::sdk::Params::parse("a=1\nb=2");
  (void)q.get_int("a", 0);
  bool threw = false;
  try {
    q.expect_all_used();
  } catch (const sf::sdk::ParamError& e) {
    threw = std::string(e.what()).find("b") != std::string::npos;
  }
  CHECK(threw);
  threw = false;
  try {
    (void)sf::sdk::Params::parse("a=1\nnot a pair");
  } catch (const sf::sdk::ParamError& e) {
    threw = std::string(e.what()).find("line 2") != std::string::npos;
  }
  CHECK(threw);
  threw = false;
  try {
    (void)sf::sdk::Params::parse("a=x").require_int("a");
  } catch (const sf::sdk::ParamError&) {
    threw = true;
  }
  CHECK(threw);
}

SF_TEST_MAIN()
