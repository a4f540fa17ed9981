// sf-engine's shadow side (sf/spsc_ring.hpp, sf/shadow.hpp): the SPSC ring, the shadow thread
// seeing every event the live engine sees (same seq, same per-slot results as a replay), slots
// moved between the live and the shadow engine at a defined seq with the thread running, and a
// full ring counted, never silent. Run under ASan/UBSan (scripts/test.sh) and ThreadSanitizer
// (SF_SANITIZE_THREAD=ON, scripts/test.sh).
#include <atomic>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "sf/config.hpp"
#include "sf/engine.hpp"
#include "sf/event_file.hpp"
#include "sf/shadow.hpp"
#include "sf/spsc_ring.hpp"
#include "sf/synth.hpp"
#include "sf_test.hpp"

namespace {

std::string tmp(const std::string& n) { return std::string(SF_TEST_TMP) + "/" + n; }

const std::string& synth_file(std::uint64_t events) {
  static std::map<std::uint64_t, std::string> paths;
  std::string& path = paths[events];
  if (path.empty()) {
    path = tmp("shadow_synth_" + std::to_string(events) + ".sfe");
    sf::SynthOptions o;
    o.events = events;
    o.seed = 23;
    std::string err;
    if (!sf::write_synthetic(path, o, err)) std::fprintf(stderr, "synth: %s\n", err.c_str());
  }
  return path;
}

sf::RiskLimits limits(const sf::EventFile& f) {
  sf::json::Value risk, none;
  std::string perr;
  (void)sf::json::parse(R"({"max_order_qty": 4, "max_order_notional": 1e9, "max_position": 30, "price_band_bps": 400,
                            "max_open_orders": 24, "max_msgs_per_sec": 1000000, "max_loss": 1e9})",
                        risk, perr);
  sf::RiskLimits lim;
  std::vector<std::string> errors;
  (void)sf::build_risk_limits(risk, none, f, {0}, lim, errors, "test");
  for (auto& e : errors) std::fprintf(stderr, "risk: %s\n", e.c_str());
  return lim;
}

sf::EngineOptions options() {
  sf::EngineOptions o;
  o.venue.entry = sf::LatencyModel::constant(7000);  // constant: no random draws (slot-index seeded)
  o.venue.response = sf::LatencyModel::constant(3000);
  return o;
}

const char* kParams[] = {"qty=1\noffset_ticks=1\nmax_inventory=4", "qty=2\noffset_ticks=1\nmax_inventory=6\nrequote_ticks=2",
                         "qty=1\noffset_ticks=2\nmax_inventory=3", "qty=3\noffset_ticks=3\nmax_inventory=9"};

void add_mm(sf::Engine& e, const sf::EventFile& f, int k, const std::string& plugin = "builtin:market_maker", const std::string& params = "") {
  sf::StrategySetup s;
  s.id = "mm" + std::to_string(k);
  s.plugin = plugin;
  s.params = params.empty() ? kParams[k] : params;
  s.instruments = {0};
  s.limits = limits(f);
  std::string err;
  if (!e.add_strategy(std::move(s), err)) std::fprintf(stderr, "add: %s\n", err.c_str());
}

// What one strategy does alone over the whole file (the reference every slot must match).
struct Result {
  std::uint64_t fills, accepted, canceled, book_cbs;
  double pnl;
  sf::Lots position;
  bool operator==(const Result&) const = default;
};
Result result(const sf::Slot& s) {
  return Result{s.fills, s.accepted, s.done_canceled, s.cb_hist[sf::kCbBook].count(), s.gate.pnl(), s.gate.account(0).position};
}
Result reference(const sf::EventFile& f, int k) {
  sf::Engine e(f, options());
  add_mm(e, f, k);
  (void)e.run();
  return result(e.slot(0));
}

void set_firm(sf::Engine& e, const sf::EventFile& f) {
  sf::FirmLimits fl;
  fl.max_position.assign(f.instrument_count(), -1);
  e.set_firm_limits(fl);
}

// Per-slot event accounting as sf-engine keeps it: every observation must be seq = last + 1.
struct Seen {
  std::uint64_t events = 0, first = 0, last = 0, gaps = 0, repeats = 0;
  void see(std::uint64_t seq) {
    if (last != 0 && seq != last + 1) (seq <= last ? repeats : gaps) += 1;
    if (first == 0) first = seq;
    last = seq;
    ++events;
  }
};

class CountingHooks : public sf::ShadowHooks {
 public:
  explicit CountingHooks(sf::ShadowRunner*& r) : runner(r) {}
  void shadow_event_done(std::uint64_t seq) override {
    ring_seen.see(seq);
    const sf::Engine& e = runner->engine();
    for (std::size_t i = 0; i < e.slot_count(); ++i) per_slot[e.slot(i).id].see(seq);
    if (spin_ns > 0) {
      const auto t0 = std::chrono::steady_clock::now();
      while (std::chrono::steady_clock::now() - t0 < std::chrono::nanoseconds(spin_ns)) {
      }
    }
  }
  void shadow_message(const sf::ShadowMsg&) override { ++messages; }
  sf::ShadowRunner*& runner;
  Seen ring_seen;
  std::map<std::string, Seen> per_slot;  // keys inserted before the thread starts
  std::uint64_t messages = 0;
  std::int64_t spin_ns = 0;
};

struct Item {
  std::uint64_t seq;
  std::uint64_t check[7];
};
Item item(std::uint64_t seq) {
  Item it{seq, {}};
  for (int k = 0; k < 7; ++k) it.check[k] = seq * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(k);
  return it;
}
bool intact(const Item& it) {
  for (int k = 0; k < 7; ++k)
    if (it.check[k] != it.seq * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(k)) return false;
  return true;
}

}  // namespace

SF_TEST(ring_is_fifo_bounded_and_wraps) {
  bool threw = false;
  try {
    sf::SpscRing<Item> bad(6);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
  sf::SpscRing<Item> r(4);
  CHECK_EQ(r.capacity(), std::size_t{4});
  Item out{};
  CHECK(!r.try_pop(out));
  std::uint64_t pushed = 0, popped = 0;
  for (int round = 0; round < 1000; ++round) {  // wraps the 64-bit indices' low bits many times
    const int n = 1 + round % 4;
    for (int k = 0; k < n; ++k) CHECK(r.try_push(item(++pushed)));
    if (n == 4) CHECK(!r.try_push(item(pushed + 1)));  // full: refused, nothing changed
    CHECK_EQ(r.size_approx(), static_cast<std::size_t>(n));
    for (int k = 0; k < n; ++k) {
      REQUIRE(r.try_pop(out));
      CHECK_EQ(out.seq, ++popped);
      CHECK(intact(out));
    }
    CHECK(!r.try_pop(out));
  }
}

SF_TEST(ring_across_two_threads_loses_reorders_and_tears_nothing) {
  constexpr std::uint64_t kN = 400000;
  sf::SpscRing<Item> r(64);  // small: the producer finds it full often
  std::atomic<bool> ok{true};
  std::uint64_t full = 0;
  std::thread consumer([&] {
    Item it{};
    std::uint64_t want = 1;
    while (want <= kN) {
      if (!r.try_pop(it)) continue;
      if (it.seq != want || !intact(it)) ok = false;
      ++want;
    }
  });
  for (std::uint64_t s = 1; s <= kN; ++s)
    while (!r.try_push(item(s))) ++full;
  consumer.join();
  CHECK(ok.load());
  CHECK(full > 0);  // the full path was exercised
  Item it{};
  CHECK(!r.try_pop(it));
}

SF_TEST(threaded_shadows_see_every_event_with_the_results_of_a_replay) {
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(synth_file(120000), err));
  sf::Engine live(f, options());
  set_firm(live, f);
  add_mm(live, f, 0);
  live.begin_stepping();
  live.set_live(0, true);
  sf::ShadowRunner* rp = nullptr;
  CountingHooks hooks(rp);
  sf::ShadowOptions so;
  so.ring_events = std::size_t{1} << 17;  // sized for the feed: nothing may be missed
  sf::ShadowRunner shadow(f, options(), so, hooks);
  rp = &shadow;
  for (int k = 1; k <= 3; ++k) {
    add_mm(shadow.engine(), f, k);
    hooks.per_slot["mm" + std::to_string(k)];
  }
  REQUIRE(shadow.start(err));
  Seen live_seen;
  const std::uint64_t n = f.event_count();
  for (std::uint64_t i = 0; i < n; ++i) {
    live.step(f.events()[i]);
    shadow.event(i + 1, f.events()[i]);
    live_seen.see(i + 1);
    if (i % 20000 == 19999) {  // a status read mid-run: quiesced, both sides at the same seq
      shadow.quiesce();
      CHECK_EQ(shadow.applied_seq(), i + 1);
      CHECK_EQ(hooks.ring_seen.last, i + 1);
      shadow.resume();
    }
  }
  shadow.quiesce();
  CHECK_EQ(shadow.missed(), std::uint64_t{0});
  CHECK_EQ(hooks.ring_seen.events, n);
  CHECK_EQ(hooks.ring_seen.gaps + hooks.ring_seen.repeats, std::uint64_t{0});
  for (int k = 1; k <= 3; ++k) {
    const Seen& s = hooks.per_slot["mm" + std::to_string(k)];
    CHECK_EQ(s.events, live_seen.events);  // shadow counts == live counts
    CHECK_EQ(s.first, std::uint64_t{1});
    CHECK_EQ(s.last, n);
    const Result got = result(shadow.engine().slot(static_cast<std::size_t>(k - 1)));
    CHECK(got.fills > 10);
    CHECK(got == reference(f, k));
  }
  CHECK(result(live.slot(0)) == reference(f, 0));
  CHECK(shadow.ring_high_water() >= 1);
  shadow.resume();
  shadow.stop();
}

SF_TEST(warm_ups_between_events_read_and_change_nothing) {
  // sf-engine warms every instance before an event that ends an idle gap (docs/runtime.md "Cold
  // callbacks"): on the engine thread for the live engine, through the ring for the shadow
  // thread's. Interleaved with the feed they miss nothing and change no result.
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(synth_file(120000), err));
  sf::Engine live(f, options());
  set_firm(live, f);
  add_mm(live, f, 0);
  live.begin_stepping();
  live.set_live(0, true);
  sf::ShadowRunner* rp = nullptr;
  CountingHooks hooks(rp);
  sf::ShadowOptions so;
  so.ring_events = std::size_t{1} << 17;
  sf::ShadowRunner shadow(f, options(), so, hooks);
  rp = &shadow;
  for (int k = 1; k <= 2; ++k) {
    add_mm(shadow.engine(), f, k);
    hooks.per_slot["mm" + std::to_string(k)];
  }
  REQUIRE(shadow.start(err));
  CHECK(live.warm() > 0);  // the engine's code and the slot at least
  const std::uint64_t n = f.event_count();
  for (std::uint64_t i = 0; i < n; ++i) {
    if (i % 100 == 0) {
      shadow.warm(i + 1);
      (void)live.warm();
    }
    live.step(f.events()[i]);
    shadow.event(i + 1, f.events()[i]);
  }
  shadow.quiesce();
  CHECK_EQ(shadow.missed(), std::uint64_t{0});
  CHECK_EQ(hooks.ring_seen.events, n);
  CHECK_EQ(hooks.ring_seen.gaps + hooks.ring_seen.repeats, std::uint64_t{0});
  for (int k = 1; k <= 2; ++k)
    CHECK(result(shadow.engine().slot(static_cast<std::size_t>(k - 1))) == reference(f, k));
  CHECK(result(live.slot(0)) == reference(f, 0));
  shadow.resume();
  shadow.stop();
}

SF_TEST(threaded_swaps_move_slots_at_a_defined_seq_dropping_and_repeating_nothing) {
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(synth_file(120000), err));
  sf::Engine live(f, options());
  set_firm(live, f);
  add_mm(live, f, 0);
  live.begin_stepping();
  live.set_live(0, true);
  sf::ShadowRunner* rp = nullptr;
  CountingHooks hooks(rp);
  sf::ShadowOptions so;
  so.ring_events = std::size_t{1} << 17;
  sf::ShadowRunner shadow(f, options(), so, hooks);
  rp = &shadow;
  add_mm(shadow.engine(), f, 1);
  add_mm(shadow.engine(), f, 2);
  for (const char* id : {"mm0", "mm1", "mm2"}) hooks.per_slot[id];
  REQUIRE(shadow.start(err));
  std::map<std::string, Seen> live_side;
  const std::uint64_t n = f.event_count();
  // live: mm0, then mm1 from seq 30001, mm2 from seq 70001, mm0 again from seq 100001
  struct Swap {
    std::uint64_t after_seq;
    const char* to;
  };
  const Swap swaps[] = {{30000, "mm1"}, {70000, "mm2"}, {100000, "mm0"}};
  std::size_t next = 0;
  std::map<std::string, std::uint64_t> live_from;
  live_from["mm0"] = 1;
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t seq = i + 1;
    live.step(f.events()[i]);
    shadow.event(seq, f.events()[i]);
    for (std::size_t k = 0; k < live.slot_count(); ++k) live_side[live.slot(k).id].see(seq);
    if (next < 3 && seq == swaps[next].after_seq) {
      shadow.quiesce();
      CHECK_EQ(shadow.applied_seq(), seq);  // both engines stand after event `seq`
      // demote the live slot (it is the only one in the live engine), then promote the target
      live.set_live(0, false);
      const std::string old = live.slot(0).id;
      (void)sf::move_slot(live, 0, shadow.engine());
      std::size_t idx = 0;
      while (shadow.engine().slot(idx).id != swaps[next].to) ++idx;
      const std::size_t at = sf::move_slot(shadow.engine(), idx, live);
      live.set_live(at, true);
      CHECK_EQ(live.slot_count(), std::size_t{1});
      CHECK_EQ(shadow.engine().slot_count(), std::size_t{2});
      CHECK(live.slot(0).eng == &live);
      live_from[swaps[next].to] = seq + 1;
      shadow.resume();
      ++next;
    }
  }
  shadow.quiesce();
  CHECK_EQ(shadow.missed(), std::uint64_t{0});
  for (int k = 0; k <= 2; ++k) {
    const std::string id = "mm" + std::to_string(k);
    const Seen& sh = hooks.per_slot[id];
    const Seen& lv = live_side[id];
    // every event exactly once, across both sides
    CHECK_EQ(sh.events + lv.events, n);
    CHECK_EQ(sh.repeats + lv.repeats, std::uint64_t{0});
    // moving a slot changes nothing it sees: the same results as one replay of it alone
    const sf::Slot* s = nullptr;
    for (std::size_t j = 0; j < live.slot_count(); ++j)
      if (live.slot(j).id == id) s = &live.slot(j);
    for (std::size_t j = 0; j < shadow.engine().slot_count(); ++j)
      if (shadow.engine().slot(j).id == id) s = &shadow.engine().slot(j);
    REQUIRE(s != nullptr);
    CHECK(result(*s) == reference(f, k));
  }
  // the defined seq: mm1 was live exactly for events 30001..70000, mm2 for 70001..100000
  CHECK_EQ(live_side["mm1"].first, std::uint64_t{30001});
  CHECK_EQ(live_side["mm1"].last, std::uint64_t{70000});
  CHECK_EQ(live_side["mm1"].events, std::uint64_t{40000});
  CHECK_EQ(live_side["mm2"].first, std::uint64_t{70001});
  CHECK_EQ(live_side["mm2"].events, std::uint64_t{30000});
  CHECK_EQ(live_side["mm0"].events, std::uint64_t{30000} + (n - 100000));
  shadow.resume();
  shadow.stop();
}

SF_TEST(a_quiesce_right_after_a_resume_still_waits_for_what_was_pushed_between) {
  // one event between a resume and the next quiesce (commands arriving back to back): the shadow
  // thread may not even have seen the resume; it must still apply that event before parking again
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(synth_file(6000), err));
  sf::ShadowRunner* rp = nullptr;
  CountingHooks hooks(rp);
  sf::ShadowOptions so;
  sf::ShadowRunner shadow(f, options(), so, hooks);
  rp = &shadow;
  REQUIRE(shadow.start(err));
  std::uint64_t wrong = 0;
  shadow.quiesce();
  for (std::uint64_t i = 0; i < f.event_count(); ++i) {
    shadow.resume();
    shadow.event(i + 1, f.events()[i]);
    shadow.quiesce();
    if (shadow.applied_seq() != i + 1 || hooks.ring_seen.last != i + 1) ++wrong;
  }
  CHECK_EQ(wrong, std::uint64_t{0});
  shadow.resume();
  shadow.stop();
}

SF_TEST(a_full_ring_is_counted_and_the_books_resynchronized_never_silent) {
  // planted: a 4-event ring and a shadow side that needs 50 us per event
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(synth_file(6000), err));
  sf::Engine live(f, options());
  live.begin_stepping();
  sf::ShadowRunner* rp = nullptr;
  CountingHooks hooks(rp);
  hooks.spin_ns = 50000;
  sf::ShadowOptions so;
  so.ring_events = 4;
  sf::ShadowRunner shadow(f, options(), so, hooks);
  rp = &shadow;
  add_mm(shadow.engine(), f, 1);
  hooks.per_slot["mm1"];
  REQUIRE(shadow.start(err));
  const std::uint64_t n = f.event_count();
  for (std::uint64_t i = 0; i < n; ++i) {
    live.step(f.events()[i]);
    shadow.event(i + 1, f.events()[i]);  // never waits, whatever the shadow side does
  }
  shadow.quiesce();
  CHECK(shadow.missed() > 0);
  CHECK(shadow.first_missed_seq() > 0);
  CHECK(shadow.first_missed_seq() <= n);
  // what was not applied is exactly what was counted as missed
  CHECK_EQ(hooks.ring_seen.events + shadow.missed(), n);
  CHECK(hooks.ring_seen.events < n);
  CHECK_EQ(hooks.ring_seen.repeats, std::uint64_t{0});
  CHECK_EQ(hooks.per_slot["mm1"].events, hooks.ring_seen.events);
  // the shadow engine's books are wrong now; the resync gives it the live engine's again
  shadow.engine().copy_market_from(live);
  for (std::uint32_t inst = 0; inst < f.instrument_count(); ++inst) {
    const sf::Book& a = live.book(inst);
    const sf::Book& b = shadow.engine().book(inst);
    CHECK_EQ(a.best_bid(), b.best_bid());
    CHECK_EQ(a.best_ask(), b.best_ask());
    CHECK_EQ(a.bids().size(), b.bids().size());
    CHECK_EQ(a.asks().size(), b.asks().size());
    std::int64_t pa = 0, qa = 0, pb = 0, qb = 0;
    for (std::uint32_t d = 0; a.bids().level(d, pa, qa); ++d) {
      REQUIRE(b.bids().level(d, pb, qb));
      CHECK_EQ(pa, pb);
      CHECK_EQ(qa, qb);
    }
  }
  CHECK_EQ(shadow.engine().now(), live.now());
  shadow.resume();
  shadow.stop();
}

SF_TEST(the_wait_policy_waits_for_ring_space_and_misses_nothing) {
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(synth_file(6000), err));
  sf::ShadowRunner* rp = nullptr;
  CountingHooks hooks(rp);
  hooks.spin_ns = 20000;
  sf::ShadowOptions so;
  so.ring_events = 4;
  so.full = sf::ShadowOptions::Full::Wait;
  sf::ShadowRunner shadow(f, options(), so, hooks);
  rp = &shadow;
  add_mm(shadow.engine(), f, 3);
  hooks.per_slot["mm3"];
  REQUIRE(shadow.start(err));
  for (std::uint64_t i = 0; i < f.event_count(); ++i) shadow.event(i + 1, f.events()[i]);
  shadow.quiesce();
  CHECK_EQ(shadow.missed(), std::uint64_t{0});
  CHECK(shadow.full_waits() > 0);
  CHECK_EQ(hooks.ring_seen.events, f.event_count());
  CHECK_EQ(hooks.ring_seen.gaps, std::uint64_t{0});
  CHECK(result(shadow.engine().slot(0)) == reference(f, 3));
  shadow.resume();
  shadow.stop();
}

SF_TEST(inline_mode_steps_the_shadows_on_the_callers_thread) {
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(synth_file(6000), err));
  sf::ShadowRunner* rp = nullptr;
  CountingHooks hooks(rp);
  sf::ShadowOptions so;
  so.threaded = false;
  sf::ShadowRunner shadow(f, options(), so, hooks);
  rp = &shadow;
  add_mm(shadow.engine(), f, 2);
  hooks.per_slot["mm2"];
  REQUIRE(shadow.start(err));
  for (std::uint64_t i = 0; i < f.event_count(); ++i) {
    shadow.event(i + 1, f.events()[i]);
    CHECK_EQ(hooks.ring_seen.last, i + 1);  // applied before event() returns
  }
  CHECK_EQ(shadow.ring_capacity(), std::size_t{0});
  CHECK_EQ(hooks.per_slot["mm2"].events, f.event_count());
}

SF_TEST_MAIN()
