// sf-engine pieces below the socket: SHA-256, the engine's stepping mode (same results as run()),
// removing a slot between events, firm-wide limits (FIRM_LIMIT). The daemon itself, over its
// control socket, is tested by tests/runtime/test_sf_engine.py.
#include <cstring>
#include <string>
#include <vector>

#include "sf/config.hpp"
#include "sf/daemon.hpp"
#include "sf/engine.hpp"
#include "sf/event_file.hpp"
#include "sf/sha256.hpp"
#include "sf/synth.hpp"
#include "sf_test.hpp"

namespace {

std::string tmp(const std::string& n) { return std::string(SF_TEST_TMP) + "/" + n; }

const std::string& synth_file() {
  static std::string path;
  if (path.empty()) {
    path = tmp("daemon_synth.sfe");
    sf::SynthOptions o;
    o.events = 40000;
    o.seed = 11;
    std::string err;
    if (!sf::write_synthetic(path, o, err)) std::fprintf(stderr, "synth: %s\n", err.c_str());
  }
  return path;
}

sf::RiskLimits limits(const sf::EventFile& f, const std::string& risk_json) {
  sf::json::Value risk, none;
  std::string perr;
  (void)sf::json::parse(risk_json, risk, perr);
  sf::RiskLimits lim;
  std::vector<std::string> errors;
  (void)sf::build_risk_limits(risk, none, f, {0}, lim, errors, "test");
  for (auto& e : errors) std::fprintf(stderr, "risk: %s\n", e.c_str());
  return lim;
}

const char* kRisk =
    R"({"max_order_qty": 5, "max_order_notional": 1e9, "max_position": 40, "price_band_bps": 500, "max_open_orders": 32,
        "max_msgs_per_sec": 1000000, "max_loss": 1e9})";

sf::EngineOptions options() {
  sf::EngineOptions o;
  o.venue.entry = sf::LatencyModel::constant(5000);
  o.venue.response = sf::LatencyModel::constant(5000);
  return o;
}

}  // namespace

SF_TEST(sha256_matches_the_fips_vectors_and_libcrypto) {
  CHECK_EQ(sf::sha256_hex_builtin("", 0), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  CHECK_EQ(sf::sha256_hex_builtin("abc", 3), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  const char* two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK_EQ(sf::sha256_hex_builtin(two, std::strlen(two)), std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  std::string million(1000000, 'a');
  CHECK_EQ(sf::sha256_hex_builtin(million.data(), million.size()),
           std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
  // every padding boundary, against the other implementation when there is one
  std::string buf;
  for (int n = 0; n < 300; ++n) {
    CHECK_EQ(sf::sha256_hex_builtin(buf.data(), buf.size()), sf::sha256_hex(buf.data(), buf.size()));
    buf.push_back(static_cast<char>(n * 37 + 11));
  }
  std::string hex, err;
  CHECK(!sf::sha256_file(tmp("no_such_plugin.so"), hex, err));
  CHECK_CONTAINS(err, "no_such_plugin.so");
}

SF_TEST(stepping_gives_the_same_results_as_run) {
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(synth_file(), err));
  auto setup = [&](sf::Engine& e) {
    sf::StrategySetup s;
    s.id = "mm";
    s.plugin = "builtin:market_maker";
    s.params = "qty=1\noffset_ticks=1\nmax_inventory=5";
    s.instruments = {0};
    s.limits = limits(f, kRisk);
    REQUIRE(e.add_strategy(std::move(s), err));
  };
  sf::Engine a(f, options());
  setup(a);
  REQUIRE(a.run() == sf::RunStatus::Ok);
  sf::Engine b(f, options());
  setup(b);
  b.begin_stepping();
  for (std::uint64_t i = 0; i < f.event_count(); ++i) b.step(f.events()[i]);
  const sf::Slot& sa = a.slot(0);
  const sf::Slot& sb = b.slot(0);
  CHECK(sa.fills > 10);
  CHECK_EQ(sa.fills, sb.fills);
  CHECK_EQ(sa.accepted, sb.accepted);
  CHECK_EQ(sa.done_canceled, sb.done_canceled);
  CHECK_EQ(sa.gate.pnl(), sb.gate.pnl());
  CHECK_EQ(sa.gate.account(0).position, sb.gate.account(0).position);
  CHECK_EQ(b.events_processed(), f.event_count());
}

SF_TEST(live_first_stepping_gives_every_slot_the_same_results_as_run) {
  // three market makers with different params; in stepping mode slot 1 is live, so its venue
  // work and callbacks run before the others' in each event: per slot nothing may change
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(synth_file(), err));
  auto setup = [&](sf::Engine& e) {
    const char* params[] = {"qty=1\noffset_ticks=1\nmax_inventory=5", "qty=2\noffset_ticks=1\nmax_inventory=8\nrequote_ticks=2",
                            "qty=1\noffset_ticks=2\nmax_inventory=3"};
    for (int k = 0; k < 3; ++k) {
      sf::StrategySetup s;
      s.id = "mm" + std::to_string(k);
      s.plugin = "builtin:market_maker";
      s.params = params[k];
      s.instruments = {0};
      s.limits = limits(f, kRisk);
      if (!e.add_strategy(std::move(s), err)) std::fprintf(stderr, "%s\n", err.c_str());
    }
  };
  sf::Engine a(f, options());
  setup(a);
  REQUIRE(a.slot_count() == 3);
  REQUIRE(a.run() == sf::RunStatus::Ok);
  sf::Engine b(f, options());
  setup(b);
  b.begin_stepping();
  b.set_live(1, true);
  for (std::uint64_t i = 0; i < f.event_count(); ++i) b.step(f.events()[i]);
  for (std::size_t k = 0; k < 3; ++k) {
    const sf::Slot& sa = a.slot(k);
    const sf::Slot& sb = b.slot(k);
    CHECK(sa.fills > 10);
    CHECK_EQ(sa.fills, sb.fills);
    CHECK_EQ(sa.accepted, sb.accepted);
    CHECK_EQ(sa.done_canceled, sb.done_canceled);
    CHECK_EQ(sa.cb_hist[sf::kCbBook].count(), sb.cb_hist[sf::kCbBook].count());
    CHECK_EQ(sa.cb_hist[sf::kCbTrade].count(), sb.cb_hist[sf::kCbTrade].count());
    CHECK_EQ(sa.gate.pnl(), sb.gate.pnl());
    CHECK_EQ(sa.gate.account(0).position, sb.gate.account(0).position);
  }
}

SF_TEST(a_slot_can_be_added_and_removed_between_events) {
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(synth_file(), err));
  sf::Engine e(f, options());
  auto add = [&](const std::string& id) {
    sf::StrategySetup s;
    s.id = id;
    s.plugin = "builtin:market_maker";
    s.params = "qty=1\noffset_ticks=1\nmax_inventory=5";
    s.instruments = {0};
    s.limits = limits(f, kRisk);
    REQUIRE(e.add_strategy(std::move(s), err));
  };
  add("first");
  e.begin_stepping();
  const std::uint64_t n = f.event_count();
  for (std::uint64_t i = 0; i < n / 3; ++i) e.step(f.events()[i]);
  add("second");
  for (std::uint64_t i = n / 3; i < 2 * n / 3; ++i) e.step(f.events()[i]);
  CHECK(e.slot(1).accepted > 0);
  CHECK(e.slot(1).fills > 0);  // the slot added between events trades: its orders reach its venue
  REQUIRE(e.slot(0).venue.active_orders() > 0 || e.slot(0).fills > 0);
  e.remove_strategy(0);  // with resting orders: the shared per-instrument counters must follow
  REQUIRE(e.slot_count() == 1);
  CHECK_EQ(e.slot(0).id, std::string("second"));
  CHECK_EQ(e.slot(0).index, 0u);
  for (std::uint64_t i = 2 * n / 3; i < n; ++i) e.step(f.events()[i]);
  CHECK(e.slot(0).fills > 0);
}

SF_TEST(firm_limit_denies_live_orders_beyond_the_firm_position) {
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(synth_file(), err));
  sf::Engine e(f, options());
  for (const char* id : {"one", "two", "paper"}) {
    sf::StrategySetup s;
    s.id = id;
    s.plugin = SF_PLUGIN_TRADER_A;
    s.params = "mode=buyer\nqty=2\nevery=3";
    s.instruments = {0};
    s.limits = limits(f, kRisk);
    REQUIRE(e.add_strategy(std::move(s), err));
  }
  sf::FirmLimits fl;
  fl.max_position = {7};
  e.set_firm_limits(fl);
  e.begin_stepping();
  e.set_live(0, true);
  e.set_live(1, true);  // slot 2 stays shadow: never counted, never limited by the firm
  for (std::uint64_t i = 0; i < 20000; ++i) e.step(f.events()[i]);
  const auto firm_denials = e.slot(0).denials_by_reason[static_cast<std::size_t>(sf::RiskReason::FirmLimit)] +
                            e.slot(1).denials_by_reason[static_cast<std::size_t>(sf::RiskReason::FirmLimit)];
  CHECK(firm_denials > 0);
  CHECK(e.firm_position(0) <= 7);
  CHECK(e.firm_position(0) >= 6);  // the firm fills up to the limit (qty 2 steps)
  CHECK_EQ(e.slot(2).denials_by_reason[static_cast<std::size_t>(sf::RiskReason::FirmLimit)], 0u);
  CHECK(e.slot(2).gate.account(0).position > 7);
  // planted defect: without the live flag the same orders pass the firm limit
  e.set_live(0, false);
  e.set_live(1, false);
  CHECK_EQ(e.firm_position(0), 0);
}

namespace {
// An external venue that records what it is sent (the engine side of the gateway route).
struct RecordingVenue final : sf::ExternalVenue {
  bool is_up = true;
  std::vector<std::pair<char, std::uint64_t>> sent;  // ('N'|'C'|'R', order id)
  [[nodiscard]] bool up() const noexcept override { return is_up; }
  [[nodiscard]] bool send(const sf::Slot&, const sf::PendingAction& a, sf::Nanos) noexcept override {
    if (!is_up) return false;
    const char k = a.kind == sf::PendingAction::Kind::New ? 'N' : a.kind == sf::PendingAction::Kind::Cancel ? 'C' : 'R';
    sent.emplace_back(k, k == 'N' ? a.order.id : a.id);
    return true;
  }
};
}  // namespace

SF_TEST(live_orders_go_to_the_external_venue_and_their_cancels_follow_them) {
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(synth_file(), err));
  sf::Engine e(f, options());
  for (const char* id : {"live", "shadow"}) {
    sf::StrategySetup s;
    s.id = id;
    s.plugin = SF_PLUGIN_TRADER_A;
    s.params = "mode=quote";
    s.instruments = {0};
    s.limits = limits(f, kRisk);
    REQUIRE(e.add_strategy(std::move(s), err));
  }
  RecordingVenue ext;
  e.set_external_venue(&ext);
  e.begin_stepping();
  e.set_live(0, true);
  std::uint64_t i = 0;
  for (; i < 3000; ++i) e.step(f.events()[i]);
  const sf::Slot& live = e.slot(0);
  const sf::Slot& shadow = e.slot(1);
  REQUIRE(!ext.sent.empty());
  std::size_t news = 0, cancels = 0;
  for (auto& [k, id] : ext.sent) {
    news += k == 'N';
    cancels += k == 'C';
    CHECK(id >= 1 && id < live.next_order_id);
  }
  CHECK_EQ(news, live.accepted);  // every live order went out, none to its simulated venue
  CHECK(cancels > 0);
  CHECK_EQ(live.fills + live.done_canceled, 0u);  // no reports: the recording venue answers nothing
  CHECK(shadow.done_canceled > 0);  // the shadow trades paper as before
  // demoted: its working orders are canceled at the external venue, new orders go to paper
  const std::uint32_t working = live.gate.open_orders();
  REQUIRE(working > 0);
  const std::size_t before = ext.sent.size();
  e.set_live(0, false);
  e.cancel_working(0);
  CHECK_EQ(ext.sent.size(), before + working);
  CHECK(ext.sent.back().first == 'C');
  // the session drops: the external orders are reported canceled, nothing is sent any more
  e.external_orders_lost(0);
  for (std::uint64_t k = 0; k < 100; ++k, ++i) e.step(f.events()[i]);
  for (std::uint32_t k = 0; k < e.slot(0).gate.open_orders(); ++k)  // only new paper quotes may be working
    CHECK(!e.slot(0).routed_external(e.slot(0).gate.open_order_data()[k].id));
  const std::size_t sent_before = ext.sent.size();
  for (std::uint64_t k = 0; k < 500; ++k, ++i) e.step(f.events()[i]);
  CHECK_EQ(ext.sent.size(), sent_before);  // a shadow again: paper only
  CHECK(e.slot(0).done_canceled > 0);
  // live again with the venue down: new orders are denied VENUE_BACKPRESSURE
  ext.is_up = false;
  e.set_live(0, true);
  for (std::uint64_t k = 0; k < 500; ++k, ++i) e.step(f.events()[i]);
  CHECK(e.slot(0).denials_by_reason[static_cast<std::size_t>(sf::RiskReason::VenueBackpressure)] > 0);
}

SF_TEST_MAIN()
