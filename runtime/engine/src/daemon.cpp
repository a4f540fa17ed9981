// sf-engine's engine thread: the feed loop, the instances and the control commands
// (sf/daemon.hpp; protocol and semantics in docs/runtime.md).
#include "sf/daemon.hpp"

#include <dlfcn.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <utility>

#include "sf/crash.hpp"
#include "sf/daemon_util.hpp"
#include "sf/engine.hpp"
#include "sf/event_file.hpp"
#include "sf/gateway.hpp"
#include "sf/sha256.hpp"
#include "sf/shadow.hpp"
#include "sf/synth.hpp"

namespace sf {

namespace {

using SteadyClock = std::chrono::steady_clock;

// SIGTERM / SIGINT: a shutdown as if requested over the socket (orders canceled, venue logout,
// socket removed, exit 0). The handler only stores two atomics.
std::atomic<bool> g_terminate{false};
CommandQueue* g_signal_queue = nullptr;
extern "C" void on_terminate_signal(int) {
  g_terminate.store(true, std::memory_order_relaxed);
  if (g_signal_queue != nullptr) g_signal_queue->poke();
}
constexpr std::size_t kNoticeRing = 8192;
constexpr int kLatencyBreachWindows = 3;

// Closes the in-memory copy (memfd) a plugin was dlopen()ed from, after its library was
// closed — unless glibc still holds a library under its /proc/self/fd/N name (a library with
// unique symbols, as C++ inline statics make, is never unloaded): then the descriptor stays open
// for the process's life, so that name is never given to another load. dlopen() matches loaded
// libraries by name first and would hand the old library to the next load of a different
// plugin (its manifest check refused it: "manifest build_id is '<the old one>'").
void release_plugin_fd(int fd) noexcept {
  if (fd < 0) return;
  char name[32];
  std::snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
  if (void* h = ::dlopen(name, RTLD_LAZY | RTLD_NOLOAD)) {
    ::dlclose(h);
    return;  // kept open: one descriptor per such library, its name never reused
  }
  ::close(fd);
}

struct Instance {
  std::string strategy, build_id, sha256, plugin;
  Slot* slot = nullptr;
  bool live = false;
  std::uint64_t loaded_at_seq = 0, first_seq = 0, last_seq = 0, events = 0, live_first_seq = 0;
  std::int64_t latency_budget_ns = 0;
  LatencyHistogram win_snap;  // tick-to-order histogram at the start of the current window
  std::int64_t win_events = 0;
  int breach_windows = 0;
  bool kill_seen = false;   // the gate's kill switch is on and has been accounted for
  bool fault_seen = false;  // the fault has been handled
  std::uint64_t risk_breaches = 0;
  double peak = 0, drawdown = 0;
  // Shadow evidence: ShadowRunner::missed() when it last became a shadow, and the events it
  // missed in earlier shadow periods (the ring was full: its shadow metrics are incomplete).
  std::uint64_t missed_base = 0, missed_before = 0;
  // The in-memory copy of the plugin's checked bytes (memfd) it was dlopen()ed from: open for
  // the instance's life, so its /proc/self/fd/N name is never reused by another load while this
  // library is loaded (dlopen() would return this library for that name).
  int plugin_fd = -1;
  ~Instance() { release_plugin_fd(plugin_fd); }  // its slot (and library) went first
};

struct Strategy {
  std::string name;
  std::vector<std::unique_ptr<Instance>> instances;
  Instance* live = nullptr;
  std::string last_good;
  std::string previous;  // the build live before the current one (rollback's default target)
  bool killed = false;
};

struct Notice {
  std::uint64_t n = 0, seq = 0;
  Nanos ts = 0;
  std::string kind, strategy, build_id, from, to, reason;
};

ShadowOptions shadow_options(const DaemonConfig& c) {
  ShadowOptions o;
  o.threaded = c.shadow_thread;
  o.ring_events = c.shadow_ring_events;
  o.cpu = c.shadow_cpu;
  o.full = c.shadow_full == "drop" ? ShadowOptions::Full::Drop : ShadowOptions::Full::Wait;
  return o;
}

class BadRequest {
 public:
  explicit BadRequest(std::string m) : msg(std::move(m)) {}
  std::string msg;
};

std::uint64_t window_quantile(const LatencyHistogram& cur, const LatencyHistogram& snap, double q) {
  const std::uint64_t total = cur.count() - snap.count();
  if (total == 0) return 0;
  const std::uint64_t rank = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(q * static_cast<double>(total) + 0.5), 1, total);
  std::uint64_t seen = 0;
  for (std::uint32_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    seen += cur.bucket_count(i) - snap.bucket_count(i);
    if (seen >= rank) return std::min(cur.to_ns(LatencyHistogram::upper(i)), cur.max());
  }
  return cur.max();
}

void hist_json(json::Writer& w, const LatencyHistogram& h) {
  w.begin_object()
      .kv("count", h.count())
      .kv("p50", h.quantile(0.5))
      .kv("p99", h.quantile(0.99))
      .kv("p999", h.quantile(0.999))
      .kv("max", h.max())
      .end_object();
}

constexpr int kVenuePollEvents = 64;             // poll the live venue every 64 events (and while idle)
constexpr std::uint64_t kClientTagShift = 40;    // wire client id = instance tag << 40 | order id
constexpr auto kReconnectEvery = std::chrono::seconds(1);

// The live route to sf-venue: one GatewayClient session shared by every live instance.
class LiveGateway final : public ExternalVenue {
 public:
  [[nodiscard]] bool up() const noexcept override { return gw.connected(); }
  [[nodiscard]] bool send(const Slot& s, const PendingAction& a, Nanos now) noexcept override {
    switch (a.kind) {
      case PendingAction::Kind::New:
        return gw.new_order(now, cid(s, a.order.id), a.order.instrument, a.order.side, a.order.type, a.order.tif, a.order.px, a.order.leaves);
      case PendingAction::Kind::Cancel:
        return gw.cancel(now, cid(s, a.id));
      case PendingAction::Kind::Replace:
        return gw.replace(now, cid(s, a.id), a.px, a.qty);
    }
    return false;
  }
  static std::uint64_t cid(const Slot& s, std::uint64_t id) noexcept { return (std::uint64_t{s.route_tag} << kClientTagShift) | id; }
  GatewayClient gw;
};

class Daemon final : private ShadowHooks {
 public:
  Daemon(const DaemonConfig& cfg, const EventFile& file, ControlServer& srv, CommandQueue& q, EngineOptions opts)
      : cfg_(cfg), file_(file), srv_(srv), q_(q), engine_(file, opts), shadow_(file, opts, shadow_options(cfg), *this) {}
  ~Daemon() override { shadow_.stop(); }  // before any instance or slot goes

  bool init(std::string& error) {
    FirmLimits f;
    f.max_position.assign(file_.instrument_count(), -1);
    if (cfg_.firm.is_object()) {
      if (const json::Value* mp = cfg_.firm.get("max_position"))
        for (const auto& [sym, q] : mp->members()) {
          const long idx = file_.find_instrument(sym);
          if (idx < 0) {
            error = "firm.max_position." + sym + ": symbol is not in the feed (" + known_symbols() + ")";
            return false;
          }
          f.max_position[static_cast<std::size_t>(idx)] = q.as_int();
        }
      if (const json::Value* g = cfg_.firm.get("max_gross_notional")) f.max_gross_notional = g->as_double();
    }
    engine_.set_firm_limits(std::move(f));
    if (cfg_.has_venue) {
      gw_ = std::make_unique<LiveGateway>();
      engine_.set_external_venue(gw_.get());
      connect_venue(2000);
    }
    // the risk defaults must convert for this feed's instruments (values, not just keys)
    static const json::Value kNull;
    RiskLimits lim;
    std::vector<std::string> errors;
    std::vector<std::uint32_t> all;
    for (std::uint32_t i = 0; i < file_.instrument_count(); ++i) all.push_back(i);
    if (!build_risk_limits(cfg_.risk, kNull, file_, all, lim, errors, "risk")) {
      for (auto& e : errors) error += (error.empty() ? "" : "; ") + e;
      return false;
    }
    engine_.begin_stepping();
    std::string warning;
    if (!shadow_.start(warning)) notice("shadow_pin", "", "", "", "", warning);
    return true;
  }

  int run();

 private:
  std::string known_symbols() const {
    std::string s;
    for (std::uint32_t i = 0; i < file_.instrument_count() && i < 20; ++i) s += (i ? ", " : "has: ") + std::string(file_.instruments()[i].symbol_view());
    return s;
  }
  void handle_commands();
  // ShadowHooks (the shadow thread, or the engine thread when shadow_thread is false)
  void shadow_event_done(std::uint64_t seq) override;
  void shadow_message(const ShadowMsg& m) override;
  void deliver_gateway_report(Slot& s, const GatewayReport& g);
  void shadow_missed();
  void shadow_sync();
  [[nodiscard]] std::uint64_t missed_events(const Instance& x) const noexcept {
    return x.missed_before + (x.live ? 0 : shadow_.missed() - x.missed_base);
  }
  void shadow_json(json::Writer& w) const;
  std::string dispatch(const json::Value& req, const std::string& cmd, json::Writer& w);
  void after_event();
  void check_live(Strategy& st, Instance& x);
  struct SwapResult {
    std::int64_t swap_ns;
    std::uint64_t at_seq;
    std::string previous;
  };
  SwapResult swap(Strategy& st, Instance& to);
  void auto_rollback(Strategy& st, Instance& bad, const std::string& reason);
  void notice(const std::string& kind, const std::string& strategy, const std::string& build_id, const std::string& from,
              const std::string& to, const std::string& reason);
  Strategy* find_strategy(const std::string& name);
  Strategy& need_strategy(const json::Value& req, const char* cmd);
  static std::string need_string(const json::Value& req, const char* cmd, const char* key);
  void instance_json(json::Writer& w, const Instance& x) const;
  void metrics_json(json::Writer& w, const Instance& x) const;
  void feed_json(json::Writer& w) const;
  void kill_strategy(Strategy& st);
  void release_strategy(Strategy& st);
  void rebuild_index();
  void connect_venue(int timeout_ms);
  void poll_venue();

  void cmd_load(const json::Value& req, json::Writer& w);
  void cmd_swap(const json::Value& req, json::Writer& w, bool rollback);
  void cmd_unload(const json::Value& req, json::Writer& w);
  void cmd_kill(const json::Value& req, json::Writer& w, bool release);
  void cmd_status(json::Writer& w);
  void cmd_metrics(const json::Value& req, json::Writer& w);
  void cmd_events(const json::Value& req, json::Writer& w);

  const DaemonConfig& cfg_;
  const EventFile& file_;
  ControlServer& srv_;
  CommandQueue& q_;
  Engine engine_;        // the live slots (engine thread)
  ShadowRunner shadow_;  // the shadow slots (shadow thread; sf/shadow.hpp)
  std::vector<std::unique_ptr<Strategy>> strategies_;
  std::vector<Instance*> all_;      // every instance (changed only while the shadows are quiesced)
  std::vector<Instance*> shadows_;  // the shadow instances: the shadow thread's accounting
  std::vector<std::pair<Strategy*, Instance*>> lives_;
  // what the shadow side noticed (faults, risk breaches): written by the shadow thread, moved
  // into notices_ by the engine thread while quiesced
  std::vector<Notice> shadow_notices_;
  std::uint64_t missed_seen_ = 0;    // ShadowRunner::missed() already seen by shadow_missed()
  bool lag_announced_ = false;       // a shadow_lag event since the last resync
  std::uint64_t missed_synced_ = 0;  // ShadowRunner::missed() when the shadow books were last resynchronized
  std::uint64_t lag_at_command_ = 0;  // events the shadow thread was behind when the last command batch came
  std::uint64_t seq_ = 0;
  // events that ended an idle gap of the paced feed, each preceded by a warm-up of every
  // instance (Engine::warm on the live and the shadow thread; docs/runtime.md "Cold callbacks")
  std::uint64_t warmups_ = 0;
  bool feed_done_ = false;
  bool shutdown_ = false;
  bool killed_all_ = false;
  std::unique_ptr<LiveGateway> gw_;
  bool venue_up_ = false;
  SteadyClock::time_point last_connect_{};
  std::uint32_t next_tag_ = 1;
  std::map<std::uint32_t, Instance*> by_tag_;
  std::deque<Notice> notices_;
  std::uint64_t next_notice_ = 1;
};

void Daemon::rebuild_index() {
  all_.clear();
  shadows_.clear();
  lives_.clear();
  for (auto& st : strategies_) {
    for (auto& x : st->instances) {
      all_.push_back(x.get());
      if (!x->live) shadows_.push_back(x.get());
    }
    if (st->live != nullptr) lives_.emplace_back(st.get(), st->live);
  }
}

void Daemon::connect_venue(int timeout_ms) {
  last_connect_ = SteadyClock::now();
  std::string err;
  if (gw_->gw.connect(cfg_.venue_host, cfg_.venue_port, cfg_.venue_session, cfg_.heartbeat_ms, err, timeout_ms)) {
    venue_up_ = true;
    notice("venue_up", "", "", "", "", cfg_.venue_host + ":" + std::to_string(cfg_.venue_port) + " session " + cfg_.venue_session);
  } else if (venue_up_ || notices_.empty() || notices_.back().kind != "venue_down") {
    venue_up_ = false;
    notice("venue_down", "", "", "", "", err);
  }
}

// Reads the live venue's reports into the engine (delivered at the next event) and keeps the
// session alive; on a dropped session every live-routed order is reported canceled (the venue
// cancels them on disconnect) and the engine reconnects once a second.
void Daemon::poll_venue() {
  if (gw_->gw.connected()) {
    gw_->gw.poll(engine_.now(), [&](const GatewayReport& g) {
      const auto tag = static_cast<std::uint32_t>(g.client_id >> kClientTagShift);
      const auto it = by_tag_.find(tag);
      if (it == by_tag_.end()) return;  // an instance unloaded since
      if (it->second->live) {
        deliver_gateway_report(*it->second->slot, g);
      } else {  // demoted since it sent the order: its slot is the shadow thread's
        ShadowMsg m;
        m.seq = seq_;
        m.kind = ShadowMsg::kGatewayReport;
        m.tag = tag;
        m.rep = g;
        shadow_.message(m);
      }
    });
    if (gw_->gw.connected()) return;
  }
  if (venue_up_) {
    venue_up_ = false;
    for (Instance* x : all_) {
      if (x->slot->ext_ids.empty()) continue;  // ext_ids change only while quiesced
      if (x->live) {
        engine_.external_orders_lost(x->slot->index);
      } else {
        ShadowMsg m;
        m.seq = seq_;
        m.kind = ShadowMsg::kOrdersLost;
        m.tag = x->slot->route_tag;
        shadow_.message(m);
      }
    }
    notice("venue_down", "", "", "", "", gw_->gw.error());
  }
  if (SteadyClock::now() - last_connect_ >= kReconnectEvery) connect_venue(200);
}

// A report of the live venue for one of `s`'s orders, into the engine that holds `s` (called on
// the thread that owns that engine).
void Daemon::deliver_gateway_report(Slot& s, const GatewayReport& g) {
  Engine& eng = *s.eng;
  const std::uint64_t oid = g.client_id & ((std::uint64_t{1} << kClientTagShift) - 1);
  const GateOrder* o = s.gate.find(oid);
  VenueReport r{};
  r.id = oid;
  r.ts = eng.now();
  r.instrument = o != nullptr ? o->instrument : 0;
  r.side = o != nullptr ? o->side : Side::None;
  r.px = g.px;
  r.qty = g.qty;
  r.leaves = g.leaves;
  r.kind = VenueReport::Kind::Update;
  switch (g.kind) {
    case GatewayReport::Ack:
      r.status = SF_ORDER_ACCEPTED;
      r.qty = g.leaves;
      break;
    case GatewayReport::Reject:
      r.status = g.reason == static_cast<std::int32_t>(wire::RejectReason::UnknownOrder) ? SF_ORDER_CANCEL_REJECTED : SF_ORDER_REJECTED;
      break;
    case GatewayReport::Canceled:
      r.status = g.reason == static_cast<std::int32_t>(wire::CancelReason::Expired) ? SF_ORDER_EXPIRED : SF_ORDER_CANCELED;
      break;
    case GatewayReport::Fill:
      r.kind = VenueReport::Kind::Fill;
      r.maker = g.maker;
      r.fee = g.fee;
      eng.external_report(s.index, r);
      if (g.leaves != 0) return;
      r.kind = VenueReport::Kind::Update;  // the venue's last fill: the order is done
      r.status = SF_ORDER_FILLED;
      r.qty = 0;
      break;
  }
  eng.external_report(s.index, r);
}

// Shadow side (shadow thread): a live-venue message for a slot that was demoted to shadow.
void Daemon::shadow_message(const ShadowMsg& m) {
  const auto it = by_tag_.find(m.tag);  // by_tag_ changes only while quiesced
  if (it == by_tag_.end() || it->second->live) return;
  Slot& s = *it->second->slot;
  if (m.kind == ShadowMsg::kGatewayReport) deliver_gateway_report(s, m.rep);
  else s.eng->external_orders_lost(s.index);
}

// Shadow side, after each event (shadow thread): the same per-instance accounting as the live
// instances get; faults and risk breaches are noted for the engine thread to publish.
void Daemon::shadow_event_done(std::uint64_t seq) {
  for (Instance* x : shadows_) {
    Slot& s = *x->slot;
    if (s.faulted) [[unlikely]] {
      if (!x->fault_seen) {
        x->fault_seen = true;
        shadow_notices_.push_back(Notice{0, seq, s.eng->now(), "fault", x->strategy, x->build_id, "", "",
                                         "fault:" + s.fault_callback + ": " + s.fault_message});
      }
      continue;  // a faulted instance gets no more callbacks: no more events delivered
    }
    ++x->events;
    x->last_seq = seq;
    if (x->first_seq == 0) x->first_seq = seq;
    if ((x->events & 255) == 0) {
      const double p = s.gate.pnl();
      x->peak = std::max(x->peak, p);
      x->drawdown = std::max(x->drawdown, x->peak - p);
    }
    const bool killed = s.gate.killed();
    if (killed != x->kill_seen) [[unlikely]] {
      x->kill_seen = killed;
      if (killed) ++x->risk_breaches;  // the gate engaged its kill switch by itself: a risk breach
    }
  }
}

// The ring was full (engine thread): announced at the first miss after each resync, never
// silent (the running total is in status / metrics). The shadow engine's books are
// resynchronized from the live engine at the next quiesce (shadow_sync()).
void Daemon::shadow_missed() {
  const std::uint64_t n = shadow_.missed() - missed_seen_;
  missed_seen_ = shadow_.missed();
  if (lag_announced_) return;
  lag_announced_ = true;
  notice("shadow_lag", "", "", "", "", std::to_string(n) + " event(s) not delivered to the shadow thread (ring of " +
                                            std::to_string(shadow_.ring_capacity()) + " full; first at seq " +
                                            std::to_string(shadow_.first_missed_seq()) +
                                            "): every shadow present has incomplete evidence");
}

// Engine thread, quiesced: publish what the shadow side noticed; after missed events, give the
// shadow engine the live engine's books again (later shadows then start from a correct book).
void Daemon::shadow_sync() {
  for (auto& n : shadow_notices_) {
    n.n = next_notice_++;
    notices_.push_back(std::move(n));
    if (notices_.size() > kNoticeRing) notices_.pop_front();
  }
  shadow_notices_.clear();
  if (shadow_.missed() != missed_synced_) {
    missed_synced_ = shadow_.missed();
    shadow_.engine().copy_market_from(engine_);
    lag_announced_ = false;
  }
}

void Daemon::shadow_json(json::Writer& w) const {
  w.begin_object()
      .kv("thread", shadow_.threaded())
      .kv("ring_capacity", static_cast<std::uint64_t>(shadow_.ring_capacity()))
      .kv("ring_high_water", shadow_.ring_high_water())
      .kv("lag_events", lag_at_command_)
      .kv("full", shadow_.full_policy() == ShadowOptions::Full::Drop ? "drop" : "wait")
      .kv("full_waits", shadow_.full_waits())
      .kv("missed_events", shadow_.missed())
      .kv("first_missed_seq", shadow_.first_missed_seq())
      .kv("cpu", static_cast<std::int64_t>(cfg_.shadow_cpu))
      .end_object();
}

void Daemon::notice(const std::string& kind, const std::string& strategy, const std::string& build_id, const std::string& from,
                    const std::string& to, const std::string& reason) {
  Notice n{next_notice_++, seq_, engine_.now(), kind, strategy, build_id, from, to, reason};
  notices_.push_back(std::move(n));
  if (notices_.size() > kNoticeRing) notices_.pop_front();
}

Strategy* Daemon::find_strategy(const std::string& name) {
  for (auto& s : strategies_)
    if (s->name == name) return s.get();
  return nullptr;
}

std::string Daemon::need_string(const json::Value& req, const char* cmd, const char* key) {
  const json::Value* v = req.get(key);
  if (v == nullptr) throw BadRequest(std::string(cmd) + ": field \"" + key + "\" is required");
  if (!v->is_string() || v->as_string().empty())
    throw BadRequest(std::string(cmd) + ": field \"" + key + "\" must be a non-empty string, was " + v->describe());
  return v->as_string();
}

Strategy& Daemon::need_strategy(const json::Value& req, const char* cmd) {
  const std::string name = need_string(req, cmd, "strategy");
  Strategy* st = find_strategy(name);
  if (st == nullptr) {
    std::string known;
    for (auto& s : strategies_) known += (known.empty() ? "" : ", ") + s->name;
    throw BadRequest(std::string(cmd) + ": unknown strategy '" + name + "' (loaded: " + (known.empty() ? "none" : known) + ")");
  }
  return *st;
}

void Daemon::feed_json(json::Writer& w) const {
  w.begin_object()
      .kv("kind", cfg_.feed_kind)
      .kv("seq", seq_)
      .kv("events", seq_)
      .kv("ts_ns", static_cast<std::int64_t>(engine_.now()))
      .kv("done", feed_done_)
      .kv("speed", cfg_.speed)
      .kv("loop", cfg_.loop)
      .kv("bar_mode", cfg_.bar_mode)
      .kv("warmups", warmups_)
      .end_object();
}

void Daemon::instance_json(json::Writer& w, const Instance& x) const {
  w.begin_object()
      .kv("build_id", x.build_id)
      .kv("role", x.live ? "live" : "shadow")
      .kv("sha256", x.sha256)
      .kv("plugin", x.plugin)
      .kv("loaded_at_seq", x.loaded_at_seq)
      .kv("first_seq", x.first_seq)
      .kv("last_seq", x.last_seq)
      .kv("events", x.events)
      .kv("live_first_seq", x.live_first_seq)
      .kv("faulted", x.slot->faulted)
      .kv("killed", x.slot->gate.killed())
      .kv("missed_events", missed_events(x))
      .kv("complete", missed_events(x) == 0);
  if (x.slot->faulted) w.kv("fault", "in " + x.slot->fault_callback + ": " + x.slot->fault_message);
  w.end_object();
}

void Daemon::metrics_json(json::Writer& w, const Instance& x) const {
  const Slot& s = *x.slot;
  w.begin_object()
      .kv("strategy", x.strategy)
      .kv("build_id", x.build_id)
      .kv("role", x.live ? "live" : "shadow")
      .kv("events", x.events)
      .kv("first_seq", x.first_seq)
      .kv("last_seq", x.last_seq)
      .kv("live_first_seq", x.live_first_seq)
      .kv("missed_events", missed_events(x))
      .kv("complete", missed_events(x) == 0)
      .kv("pnl", s.gate.pnl())
      .kv("fees", s.gate.fees());
  w.key("position").begin_object();
  Lots fill_qty = 0;
  for (auto i : s.instruments) {
    w.kv(std::string(file_.instruments()[i].symbol_view()), static_cast<std::int64_t>(s.gate.account(i).position));
    fill_qty += s.gate.account(i).volume;
  }
  w.end_object();
  w.key("orders")
      .begin_object()
      .kv("submitted", s.submitted)
      .kv("accepted", s.accepted)
      .kv("denied", s.denied)
      .kv("canceled", s.done_canceled)
      .kv("fills", s.fills)
      .kv("fill_qty", static_cast<std::int64_t>(fill_qty))
      .kv("working", s.gate.open_orders())
      .end_object();
  w.key("denials").begin_object();
  for (std::size_t r = 1; r < kRiskReasonCount; ++r)
    if (s.denials_by_reason[r] != 0) w.kv(risk_reason_name(static_cast<RiskReason>(r)), s.denials_by_reason[r]);
  w.end_object();
  w.key("t2o_ns");
  hist_json(w, s.t2o_hist);
  LatencyHistogram cb;
  cb.set_unit_ns(s.t2o_hist.unit_ns());
  for (const auto& h : s.cb_hist) cb.merge(h);
  w.key("callback_ns");
  hist_json(w, cb);
  w.kv("drawdown", std::max(x.drawdown, x.peak - s.gate.pnl()))
      .kv("risk_breaches", x.risk_breaches)
      .kv("killed", s.gate.killed())
      .kv("kill_reason", s.gate.killed() ? risk_reason_name(s.gate.kill_reason()) : "")
      .kv("faulted", s.faulted)
      .end_object();
}

// Engine thread. With the shadows quiesced (both engines have processed exactly events 1..seq_),
// the old live slot moves into the shadow engine and the new one into the live engine: from event
// seq_ + 1 on, the new live instance is on the live path and the old one on the shadow thread,
// neither missing nor repeating an event. swap_ns is the move itself; the wait for the shadow
// thread to drain its ring is quiesce_ns (also done once per command batch).
Daemon::SwapResult Daemon::swap(Strategy& st, Instance& to) {
  shadow_.quiesce();
  shadow_sync();
  const std::uint64_t t0 = TscClock::now();
  Instance* old = st.live;
  if (old != nullptr) {
    // the old live instance's working orders are canceled at the live venue first
    engine_.set_live(old->slot->index, false);
    engine_.cancel_working(old->slot->index);
    old->live = false;
    (void)move_slot(engine_, old->slot->index, shadow_.engine());
    old->missed_base = shadow_.missed();
  }
  Engine& from = *to.slot->eng;
  from.cancel_working(to.slot->index);  // its paper orders: it starts live with none working
  if (&from != &engine_) {
    to.missed_before += shadow_.missed() - to.missed_base;
    (void)move_slot(from, to.slot->index, engine_);
  }
  engine_.set_live(to.slot->index, true);
  to.live = true;
  to.live_first_seq = seq_ + 1;
  to.win_events = 0;
  to.win_snap = to.slot->t2o_hist;
  to.breach_windows = 0;
  st.live = &to;
  st.previous = old != nullptr ? old->build_id : std::string();
  rebuild_index();
  const std::int64_t ns = engine_.clock().to_ns(TscClock::now() - t0);
  shadow_.resume();
  return SwapResult{ns, seq_ + 1, old != nullptr ? old->build_id : std::string()};
}

void Daemon::auto_rollback(Strategy& st, Instance& bad, const std::string& reason) {
  engine_.cancel_working(bad.slot->index);  // first, whatever the gate already did
  shadow_.quiesce();  // the candidates' state is the shadow thread's until it parks
  Instance* to = nullptr;
  for (auto& x : st.instances)
    if (x->build_id == st.last_good && x.get() != &bad && !x->slot->faulted && !x->slot->gate.killed()) to = x.get();
  if (to == nullptr) {
    // nothing to fall back to: the live instance stays, with its kill switch on
    if (!bad.slot->gate.killed()) engine_.engage_kill(bad.slot->index, ("auto rollback without last-good: " + reason).c_str());
    bad.kill_seen = true;
    notice("auto_rollback", st.name, bad.build_id, bad.build_id, "", reason + " (no last-good instance: stays live, killed)");
    shadow_.resume();
    return;
  }
  (void)swap(st, *to);
  st.last_good.clear();  // the instance rolled back from is not good
  notice("auto_rollback", st.name, to->build_id, bad.build_id, to->build_id, reason);
  shadow_.resume();
}

void Daemon::check_live(Strategy& st, Instance& x) {
  Slot& s = *x.slot;
  if (s.faulted && !x.fault_seen) {
    x.fault_seen = true;
    notice("fault", st.name, x.build_id, "", "", "fault:" + s.fault_callback + ": " + s.fault_message);
    auto_rollback(st, x, "fault:" + s.fault_callback);
    return;
  }
  if (x.latency_budget_ns > 0 && ++x.win_events >= cfg_.latency_window_events) {
    const std::uint64_t p99 = window_quantile(s.t2o_hist, x.win_snap, 0.99);
    x.win_snap = s.t2o_hist;
    x.win_events = 0;
    if (p99 > static_cast<std::uint64_t>(x.latency_budget_ns)) {
      if (++x.breach_windows >= kLatencyBreachWindows) {
        x.breach_windows = 0;
        auto_rollback(st, x, "latency:p99=" + std::to_string(p99) + ">budget=" + std::to_string(x.latency_budget_ns));
      }
    } else {
      x.breach_windows = 0;
    }
  }
}

// After every event (engine thread): the live instances' seq accounting, kill-switch
// transitions and rollback checks (the shadows get theirs on the shadow side: shadow_event_done).
// A rollback rebuilds the indexes but keeps the set and order of strategies, so the loop stays
// valid.
void Daemon::after_event() {
  for (std::size_t k = 0; k < lives_.size(); ++k) {
    Instance* x = lives_[k].second;
    Slot& s = *x->slot;
    if (s.faulted) [[unlikely]] {
      check_live(*lives_[k].first, *x);  // rolls back (a faulted instance gets no more events)
      continue;
    }
    ++x->events;
    x->last_seq = seq_;
    if (x->first_seq == 0) x->first_seq = seq_;
    if ((x->events & 255) == 0) {
      const double p = s.gate.pnl();
      x->peak = std::max(x->peak, p);
      x->drawdown = std::max(x->drawdown, x->peak - p);
    }
    const bool killed = s.gate.killed();
    if (killed != x->kill_seen) [[unlikely]] {
      x->kill_seen = killed;
      if (killed) {  // the gate engaged its kill switch by itself: a risk breach
        ++x->risk_breaches;
        auto_rollback(*lives_[k].first, *x, std::string("risk:") + risk_reason_name(s.gate.kill_reason()));
        continue;
      }
    }
    check_live(*lives_[k].first, *x);
  }
}

void Daemon::kill_strategy(Strategy& st) {
  st.killed = true;
  for (auto& x : st.instances) {
    if (!x->slot->gate.killed()) x->slot->eng->engage_kill(x->slot->index, "kill switch engaged via the control socket");
    x->kill_seen = true;
  }
}

void Daemon::release_strategy(Strategy& st) {
  st.killed = false;
  for (auto& x : st.instances) {
    x->slot->eng->release_kill(x->slot->index);
    x->kill_seen = false;
  }
}

void Daemon::cmd_load(const json::Value& req, json::Writer& w) {
  const std::string name = need_string(req, "load", "strategy");
  const std::string build_id = need_string(req, "load", "build_id");
  const std::string plugin = need_string(req, "load", "plugin");
  const bool builtin = plugin.rfind("builtin:", 0) == 0;
  std::string sha;
  if (const json::Value* v = req.get("sha256"); v != nullptr && !v->is_null()) {
    if (!v->is_string()) throw BadRequest("load: field \"sha256\" must be a hex string, was " + v->describe());
    sha = v->as_string();
    std::transform(sha.begin(), sha.end(), sha.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  if (!builtin && sha.empty()) throw BadRequest("load: field \"sha256\" is required (the SHA-256 of the plugin file that was tested)");
  if (builtin && !sha.empty()) throw BadRequest("load: a builtin plugin ('" + plugin + "') has no file: leave \"sha256\" out");
  std::string role = "shadow";
  if (const json::Value* v = req.get("role")) {
    if (!v->is_string() || (v->as_string() != "shadow" && v->as_string() != "live"))
      throw BadRequest("load: field \"role\" must be \"shadow\" or \"live\", was " + v->describe());
    role = v->as_string();
  }
  std::int64_t budget = 0;
  if (const json::Value* v = req.get("latency_budget_ns")) {
    if (!v->is_integer() || v->as_int() < 0) throw BadRequest("load: field \"latency_budget_ns\" must be an integer >= 0, was " + v->describe());
    budget = v->as_int();
  }
  std::string params;
  if (const json::Value* v = req.get("params"); v != nullptr && !v->is_null()) {
    if (v->is_string()) {
      params = v->as_string();
    } else {
      std::string perr;
      if (!params_from_json(*v, params, perr)) throw BadRequest("load: field \"params\": " + perr);
    }
  }
  std::vector<std::string> symbols;
  if (const json::Value* v = req.get("instruments")) {
    if (v->is_string()) symbols.push_back(v->as_string());
    else if (v->is_array())
      for (const auto& x : v->items()) {
        if (!x.is_string()) throw BadRequest("load: field \"instruments\" entries must be symbol strings, found " + x.describe());
        symbols.push_back(x.as_string());
      }
  }
  if (symbols.empty()) throw BadRequest("load: field \"instruments\" is required (a symbol or a non-empty array of symbols)");
  const json::Value* risk = req.get("risk");
  if (risk != nullptr && !risk->is_null() && !risk->is_object()) throw BadRequest("load: field \"risk\" must be an object, was " + risk->describe());

  Strategy* st = find_strategy(name);
  if (st != nullptr) {
    for (auto& x : st->instances)
      if (x->build_id == build_id) {
        if (x->sha256 != sha || x->plugin != plugin)
          throw BadRequest("load: strategy '" + name + "' build '" + build_id + "' is already loaded from a different plugin (sha256 " +
                           (x->sha256.empty() ? x->plugin : x->sha256) + "); unload it first");
        w.kv("already", true).key("instance");
        instance_json(w, *x);
        return;
      }
    if (role == "live" && st->live != nullptr)
      throw BadRequest("load: strategy '" + name + "' already has a live instance (build '" + st->live->build_id +
                       "'); load as shadow and promote");
  }
  // The plugin's bytes: hashed, then loaded from an in-memory copy of exactly those bytes, so
  // the file cannot change between the check and dlopen().
  std::string load_path = plugin;
  int memfd = -1;
  if (!builtin) {
    std::ifstream f(plugin, std::ios::binary);
    if (!f) throw BadRequest("load: cannot read plugin '" + plugin + "': " + std::strerror(errno));
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const std::string got = sha256_hex(bytes.data(), bytes.size());
    if (got != sha)
      throw BadRequest("load: refused plugin '" + plugin + "': its SHA-256 is " + got + ", the request says " + sha +
                       " (the file is not the build that was tested)");
    memfd = ::memfd_create(("sf-plugin-" + build_id).c_str(), MFD_CLOEXEC);
    if (memfd < 0 || ::write(memfd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
      if (memfd >= 0) ::close(memfd);
      throw BadRequest(std::string("load: cannot stage plugin bytes in memory: ") + std::strerror(errno));
    }
    load_path = "/proc/self/fd/" + std::to_string(memfd);
  }
  struct FdGuard {  // a refused load: after the probe's dlclose (declared after the guard)
    int fd;
    ~FdGuard() { release_plugin_fd(fd); }
  } guard{memfd};
  LoadedPlugin probe;
  std::string lerr;
  if (!load_plugin(load_path, probe, lerr)) {
    if (!builtin) {
      const auto k = lerr.find(load_path);
      if (k != std::string::npos) lerr.replace(k, load_path.size(), plugin);
    }
    throw BadRequest("load: " + lerr);
  }
  const char* manifest_build = probe.table()->build_id != nullptr ? probe.table()->build_id : "";
  if (build_id != manifest_build)
    throw BadRequest("load: refused plugin '" + plugin + "': its manifest build_id is '" + manifest_build + "', the request says '" +
                     build_id + "'");
  StrategySetup setup;
  setup.id = name + "@" + build_id;
  setup.plugin = load_path;
  setup.params = params;
  for (const auto& sym : symbols) {
    const long idx = file_.find_instrument(sym);
    if (idx < 0) throw BadRequest("load: instrument \"" + sym + "\" is not in the feed (" + known_symbols() + ")");
    setup.instruments.push_back(static_cast<std::uint32_t>(idx));
  }
  std::vector<std::string> errors;
  if (risk != nullptr && !risk->is_null()) {
    ReplayConfig probe_cfg;
    if (!probe_replay_config(cfg_.risk, cfg_.sim_venue_json, risk, probe_cfg, errors)) {
      std::string m;
      for (auto& e : errors) m += (m.empty() ? "" : "; ") + std::string(e.rfind("strategies[0].", 0) == 0 ? e.substr(14) : e);
      throw BadRequest("load: " + m);
    }
  }
  static const json::Value kNull;
  if (!build_risk_limits(cfg_.risk, risk != nullptr ? *risk : kNull, file_, setup.instruments, setup.limits, errors, "load")) {
    std::string m;
    for (auto& e : errors) m += (m.empty() ? "" : "; ") + e;
    throw BadRequest("load: " + m);
  }
  // a new instance starts as a shadow, in the shadow engine (quiesced: handle_commands)
  Engine& shadow_eng = shadow_.engine();
  if (!shadow_eng.add_strategy(std::move(setup), lerr)) throw BadRequest("load: " + lerr);
  if (st == nullptr) {
    strategies_.push_back(std::make_unique<Strategy>());
    st = strategies_.back().get();
    st->name = name;
  }
  auto inst = std::make_unique<Instance>();
  inst->strategy = name;
  inst->build_id = build_id;
  inst->sha256 = sha;
  inst->plugin = plugin;
  inst->slot = &shadow_eng.slot_mut(shadow_eng.slot_count() - 1);
  inst->missed_base = shadow_.missed();
  inst->loaded_at_seq = seq_;
  inst->latency_budget_ns = budget;
  inst->win_snap.set_unit_ns(inst->slot->t2o_hist.unit_ns());
  inst->plugin_fd = std::exchange(guard.fd, -1);
  inst->slot->route_tag = next_tag_++;
  by_tag_[inst->slot->route_tag] = inst.get();
  Instance& x = *inst;
  st->instances.push_back(std::move(inst));
  if (st->killed || killed_all_) {
    shadow_eng.engage_kill(x.slot->index, "kill switch engaged via the control socket");
    x.kill_seen = true;
  }
  if (role == "live") (void)swap(*st, x);
  rebuild_index();
  notice("load", name, build_id, "", "", role);
  w.key("instance");
  instance_json(w, x);
}

void Daemon::cmd_swap(const json::Value& req, json::Writer& w, bool rollback) {
  const char* cmd = rollback ? "rollback" : "promote";
  Strategy& st = need_strategy(req, cmd);
  std::string target;
  if (rollback) {
    const json::Value* to = req.get("to");
    if (to != nullptr && !to->is_null()) target = need_string(req, cmd, "to");
    else target = st.previous;
    if (target.empty()) throw BadRequest("rollback: strategy '" + st.name + "' has no previous live instance to roll back to; name one in \"to\"");
  } else {
    target = need_string(req, cmd, "build_id");
  }
  Instance* to = nullptr;
  for (auto& x : st.instances)
    if (x->build_id == target) to = x.get();
  if (to == nullptr) throw BadRequest(std::string(cmd) + ": strategy '" + st.name + "' has no loaded build '" + target + "'");
  if (to->live) throw BadRequest(std::string(cmd) + ": build '" + target + "' of strategy '" + st.name + "' is already live");
  if (to->slot->faulted) throw BadRequest(std::string(cmd) + ": build '" + target + "' of strategy '" + st.name + "' has faulted");
  if (to->slot->gate.killed() && to->risk_breaches > 0 && !st.killed && !killed_all_)
    throw BadRequest(std::string(cmd) + ": build '" + target + "' of strategy '" + st.name + "' has tripped its kill switch (" +
                     risk_reason_name(to->slot->gate.kill_reason()) + "); release the strategy first");
  std::string reason;
  if (const json::Value* r = req.get("reason"); r != nullptr && r->is_string()) reason = r->as_string();
  const SwapResult res = swap(st, *to);
  st.last_good = rollback ? std::string() : res.previous;
  notice(rollback ? "rollback" : "swap", st.name, to->build_id, res.previous, to->build_id, reason);
  // quiesce_ns: the wait for the shadow thread to drain its ring and park before this command batch
  w.kv("swap_ns", res.swap_ns).kv("quiesce_ns", shadow_.threaded() ? shadow_.last_quiesce_ns() : 0).kv("at_seq", res.at_seq).key("previous");
  if (res.previous.empty()) w.null();
  else w.value(res.previous);
}

void Daemon::cmd_unload(const json::Value& req, json::Writer& w) {
  Strategy& st = need_strategy(req, "unload");
  const std::string b = need_string(req, "unload", "build_id");
  auto it = std::find_if(st.instances.begin(), st.instances.end(), [&](auto& x) { return x->build_id == b; });
  if (it == st.instances.end()) throw BadRequest("unload: strategy '" + st.name + "' has no loaded build '" + b + "'");
  if ((*it)->live) throw BadRequest("unload: build '" + b + "' is the live instance of strategy '" + st.name + "'; promote or roll back first");
  w.key("instance");
  instance_json(w, **it);
  by_tag_.erase((*it)->slot->route_tag);
  (*it)->slot->eng->remove_strategy((*it)->slot->index);
  st.instances.erase(it);
  if (st.last_good == b) st.last_good.clear();
  if (st.previous == b) st.previous.clear();
  const std::string name = st.name;
  if (st.instances.empty())
    strategies_.erase(std::find_if(strategies_.begin(), strategies_.end(), [&](auto& s) { return s.get() == &st; }));
  rebuild_index();
  notice("unload", name, b, "", "", "");
}

void Daemon::cmd_kill(const json::Value& req, json::Writer& w, bool release) {
  const char* cmd = release ? "release" : "kill";
  std::vector<Strategy*> which;
  const json::Value* sv = req.get("strategy");
  const bool all = sv == nullptr || sv->is_null();
  if (all) {
    for (auto& s : strategies_) which.push_back(s.get());
    killed_all_ = !release;
  } else {
    which.push_back(&need_strategy(req, cmd));
  }
  w.key(release ? "released" : "killed").begin_array();
  for (Strategy* s : which) {
    if (release) release_strategy(*s);
    else kill_strategy(*s);
    w.value(s->name);
    if (!all) notice(cmd, s->name, s->live ? s->live->build_id : "", "", "", "control");
  }
  w.end_array();
  if (all) notice(cmd, "", "", "", "", "control: every strategy (firm-wide)");
}

void Daemon::cmd_status(json::Writer& w) {
  w.key("feed");
  feed_json(w);
  if (gw_) w.key("venue").begin_object().kv("connected", gw_->gw.connected()).kv("session", cfg_.venue_session).kv("paper", false).end_object();
  else w.key("venue").begin_object().kv("connected", true).kv("session", "paper-live").kv("paper", true).end_object();
  w.kv("killed_all", killed_all_);
  w.key("shadow");
  shadow_json(w);
  w.key("strategies").begin_array();
  for (auto& st : strategies_) {
    w.begin_object().kv("name", st->name).key("live");
    if (st->live) w.value(st->live->build_id);
    else w.null();
    w.key("last_good");
    if (!st->last_good.empty()) w.value(st->last_good);
    else w.null();
    w.kv("killed", st->killed || killed_all_);
    w.key("instances").begin_array();
    for (auto& x : st->instances) instance_json(w, *x);
    w.end_array().end_object();
  }
  w.end_array();
}

void Daemon::cmd_metrics(const json::Value& req, json::Writer& w) {
  Strategy* only = nullptr;
  if (const json::Value* sv = req.get("strategy"); sv != nullptr && !sv->is_null()) only = &need_strategy(req, "metrics");
  w.key("instances").begin_array();
  for (auto& st : strategies_) {
    if (only != nullptr && st.get() != only) continue;
    for (auto& x : st->instances) metrics_json(w, *x);
  }
  w.end_array();
  w.key("firm").begin_object().key("position").begin_object();
  const FirmLimits& fl = engine_.firm_limits();
  for (std::uint32_t i = 0; i < file_.instrument_count(); ++i) {
    const Lots p = engine_.firm_position(i);
    if (p != 0 || (i < fl.max_position.size() && fl.max_position[i] >= 0))
      w.kv(std::string(file_.instruments()[i].symbol_view()), static_cast<std::int64_t>(p));
  }
  w.end_object().kv("gross_notional", engine_.firm_gross_notional()).end_object();
  w.key("feed");
  feed_json(w);
  w.key("shadow");
  shadow_json(w);
}

void Daemon::cmd_events(const json::Value& req, json::Writer& w) {
  std::uint64_t since = 0;
  if (const json::Value* v = req.get("since"); v != nullptr && !v->is_null()) {
    if (!v->is_integer() || v->as_int() < 0) throw BadRequest("events: field \"since\" must be an integer >= 0, was " + v->describe());
    since = static_cast<std::uint64_t>(v->as_int());
  }
  w.key("events").begin_array();
  for (const auto& n : notices_) {
    if (n.n < since) continue;
    w.begin_object().kv("n", n.n).kv("seq", n.seq).kv("ts_ns", static_cast<std::int64_t>(n.ts)).kv("kind", n.kind);
    auto opt = [&](const char* k, const std::string& v) {
      w.key(k);
      if (v.empty()) w.null();
      else w.value(v);
    };
    opt("strategy", n.strategy);
    opt("build_id", n.build_id);
    opt("from", n.from);
    opt("to", n.to);
    opt("reason", n.reason);
    w.end_object();
  }
  w.end_array().kv("next", next_notice_);
  if (!notices_.empty() && since < notices_.front().n && since > 0) w.kv("dropped", notices_.front().n - since);
}

std::string Daemon::dispatch(const json::Value& req, const std::string& cmd, json::Writer& w) {
  if (cmd == "load") cmd_load(req, w);
  else if (cmd == "promote") cmd_swap(req, w, false);
  else if (cmd == "rollback") cmd_swap(req, w, true);
  else if (cmd == "unload") cmd_unload(req, w);
  else if (cmd == "kill") cmd_kill(req, w, false);
  else if (cmd == "release") cmd_kill(req, w, true);
  else if (cmd == "status") cmd_status(w);
  else if (cmd == "metrics") cmd_metrics(req, w);
  else if (cmd == "events") cmd_events(req, w);
  else if (cmd == "shutdown") {
    for (auto& [st, x] : lives_) {
      (void)st;
      engine_.cancel_working(x->slot->index);
    }
    if (gw_ && gw_->gw.connected()) {
      gw_->gw.poll(engine_.now(), [](const GatewayReport&) {});  // flush the cancels
      gw_->gw.close("sf-engine shutdown");
    }
    shutdown_ = true;
  } else {
    throw BadRequest("unknown cmd '" + cmd + "' (known: load, promote, rollback, unload, kill, release, status, metrics, events, shutdown)");
  }
  return {};
}

// Every command batch runs with the shadows quiesced (the shadow thread has applied events up to
// seq_ and is parked): commands may read and change any instance, and what they report is the
// state after the same events on both sides.
void Daemon::handle_commands() {
  std::vector<CommandQueue::Cmd> cmds = q_.take();
  if (cmds.empty()) return;
  lag_at_command_ = seq_ - std::min(seq_, shadow_.threaded() ? shadow_.applied_seq() : seq_);
  shadow_.quiesce();
  shadow_sync();
  struct Resume {
    ShadowRunner& r;
    ~Resume() { r.resume(); }
  } resume{shadow_};
  for (auto& c : cmds) {
    const json::Value& req = c.req;
    const std::int64_t id = req.get("id")->as_int();
    json::Writer w;
    w.begin_object().kv("id", id);
    const json::Value* cv = req.get("cmd");
    std::string error;
    if (cv == nullptr || !cv->is_string()) {
      error = std::string("request field \"cmd\" is missing or not a string") + (cv != nullptr ? " (was " + cv->describe() + ")" : "");
    } else {
      json::Writer body;
      body.begin_object();
      try {
        (void)dispatch(req, cv->as_string(), body);
      } catch (const BadRequest& e) {
        error = e.msg;
      } catch (const std::exception& e) {
        error = cv->as_string() + ": " + e.what();
      }
      if (error.empty()) {
        body.end_object();
        w.kv("ok", true);
        const std::string& b = body.str();
        if (b.size() > 2) {  // splice the body's members in
          w.str() += ',';
          w.str().append(b, 1, b.size() - 2);
        }
        w.str() += '}';
        srv_.reply(c.client, std::move(w.str()));
        continue;
      }
    }
    w.kv("ok", false).kv("error", error).end_object();
    srv_.reply(c.client, std::move(w.str()));
  }
}

int Daemon::run() {
  const Event* ev = file_.events();
  const std::uint64_t n = file_.event_count();
  if (n == 0) feed_done_ = true;
  const Nanos base = n > 0 ? ev[0].recv_ts : 0;
  const Nanos span = n > 0 ? ev[n - 1].recv_ts - base + 1000 : 0;
  Nanos offset = 0;
  std::uint64_t i = 0;
  const double speed = cfg_.speed;
  const auto wall0 = SteadyClock::now();
  bool idled = false;  // the paced feed waited since the last event: its caches went cold
  while (!shutdown_) {
    if (q_.pending()) [[unlikely]] {
      handle_commands();
      if (g_terminate.load(std::memory_order_relaxed)) [[unlikely]] {
        json::Writer ignored;
        (void)dispatch(json::Value{}, "shutdown", ignored);
      }
      if (shutdown_) break;
    }
    if (feed_done_) [[unlikely]] {
      if (gw_) poll_venue();
      q_.wait_until(SteadyClock::now() + std::chrono::milliseconds(gw_ ? std::max(1, cfg_.heartbeat_ms / 4) : 200));
      continue;
    }
    const Event& src = ev[i];
    if (speed > 0) {
      const auto target = wall0 + std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(src.recv_ts + offset - base) / speed));
      if (target > SteadyClock::now() + std::chrono::milliseconds(1)) {
        idled = true;
        if (gw_) {
          poll_venue();
          q_.wait_until(std::min(target, SteadyClock::now() + std::chrono::milliseconds(std::max(1, cfg_.heartbeat_ms / 4))));
        } else {
          q_.wait_until(std::min(target, SteadyClock::now() + std::chrono::milliseconds(100)));  // signals are seen within 100 ms
        }
        continue;
      }
    }
    if (idled) [[unlikely]] {
      // the first event after an idle gap: the shadow thread and this one read every
      // instance's code, state and slot back into the caches before the event is handed out,
      // as a low-latency engine keeps its hot path warm while the market is quiet. Nothing is
      // called and no callback is left out of the histograms.
      idled = false;
      ++warmups_;
      shadow_.warm(seq_ + 1);
      (void)engine_.warm();
    }
    // the live slots first (the live path), then the same event with the same seq to the shadows
    if (offset == 0) {
      ++seq_;
      engine_.step(src);
      shadow_.event(seq_, src);
    } else {
      Event e = src;
      e.recv_ts += offset;
      e.exch_ts += offset;
      ++seq_;
      engine_.step(e);
      shadow_.event(seq_, e);
    }
    if (shadow_.missed() != missed_seen_) [[unlikely]] shadow_missed();
    if (!lives_.empty()) after_event();
    if (gw_ && (seq_ % kVenuePollEvents) == 0) [[unlikely]] poll_venue();
    if (++i == n) {
      if (cfg_.loop) {
        i = 0;
        offset += span;
      } else {
        feed_done_ = true;
      }
    }
  }
  return kExitOk;
}

}  // namespace

int run_daemon(const DaemonConfig& cfg, bool quiet) {
  EventFile file;
  std::string err;
  std::string synth_path;
  if (cfg.feed_kind == "synth") {
    SynthOptions so;
    so.seed = cfg.synth_seed;
    so.events = cfg.synth_events;
    so.instruments = cfg.synth_instruments;
    const auto k = cfg.control_socket.rfind('/');
    synth_path = (k == std::string::npos ? std::string(".") : cfg.control_socket.substr(0, k)) + "/.sf-engine-synth-" +
                 std::to_string(::getpid()) + ".sfe";
    if (!write_synthetic(synth_path, so, err)) {
      std::fprintf(stderr, "sf-engine: error: cannot generate the synthetic feed: %s\n", err.c_str());
      return kExitData;
    }
  }
  const std::string data = synth_path.empty() ? cfg.feed_path : synth_path;
  const bool opened = file.open(data, err, Residency::Mapped);
  if (!synth_path.empty()) ::unlink(synth_path.c_str());  // the mapping stays valid
  if (!opened) {
    std::fprintf(stderr, "sf-engine: error: %s\n", err.c_str());
    return kExitData;
  }
  if (file.first_invalid_record() < file.event_count()) {
    const Event& e = file.events()[file.first_invalid_record()];
    const char* bad = validate_record(e, file.instrument_count());
    std::fprintf(stderr, "sf-engine: error: event file '%s' record %llu: %s\n", data.c_str(),
                 static_cast<unsigned long long>(file.first_invalid_record()), bad != nullptr ? bad : "invalid record");
    return kExitData;
  }
  EngineOptions opts;
  opts.venue = cfg.sim_venue;
  opts.bar_mode = cfg.bar_mode;  // bars: the shadows' venue fills on bars, the close is the reference
  opts.output.max_fills_listed = 0;
  opts.output.max_denials_listed = 0;
  opts.output.max_orders_listed = 0;
  opts.output.pnl_sample_every = INT64_MAX / 4;  // no PnL series in a daemon
  opts.measure_latency = true;
  CommandQueue q;
  ControlServer srv;
  auto d = std::make_unique<Daemon>(cfg, file, srv, q, opts);
  if (!d->init(err)) {
    std::fprintf(stderr, "sf-engine: error: config '%s': %s\n", cfg.path.c_str(), err.c_str());
    return kExitConfig;
  }
  if (!srv.start(cfg.control_socket, q, err)) {
    std::fprintf(stderr, "sf-engine: error: %s\n", err.c_str());
    return kExitConfig;
  }
  g_signal_queue = &q;
  struct sigaction sa{};
  sa.sa_handler = &on_terminate_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  if (!quiet)
    std::fprintf(stderr, "sf-engine: %s feed (%llu events, speed %g%s), control socket %s\n", cfg.feed_kind.c_str(),
                 static_cast<unsigned long long>(file.event_count()), cfg.speed, cfg.loop ? ", loop" : "", cfg.control_socket.c_str());
  const int rc = d->run();
  d.reset();  // strategies' destroy() before the socket goes
  srv.stop();
  if (!quiet) std::fprintf(stderr, "sf-engine: shut down\n");
  return rc;
}

}  // namespace sf
