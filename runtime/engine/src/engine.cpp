#include "sf/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>

#include "sf/crash.hpp"

#include <link.h>

namespace sf {

namespace {

constexpr Nanos kNever = std::numeric_limits<Nanos>::max();

RiskDecision not_in_callback(const char* what) noexcept {
  RiskDecision d;
  d.reason = RiskReason::NotInCallback;
  std::snprintf(d.context, sizeof d.context, "%s", what);
  return d;
}
constexpr std::size_t kMaxPendingActions = 1u << 16;

std::int32_t t_submit(void* h, const sf_order_request* r, std::uint64_t* out) {
  auto& s = *static_cast<Slot*>(h);
  return s.eng->host_submit(s, *r, out);
}
std::int32_t t_cancel(void* h, std::uint64_t id) {
  auto& s = *static_cast<Slot*>(h);
  return s.eng->host_cancel(s, id);
}
std::int32_t t_replace(void* h, std::uint64_t id, std::int64_t px, std::int64_t qty) {
  auto& s = *static_cast<Slot*>(h);
  return s.eng->host_replace(s, id, px, qty);
}
std::int32_t t_book_level(void* h, std::uint32_t inst, std::uint32_t side, std::uint32_t depth, std::int64_t* px, std::int64_t* qty) {
  return static_cast<Slot*>(h)->eng->host_book_level(inst, side, depth, px, qty);
}
std::int64_t t_position(void* h, std::uint32_t inst) {
  auto& s = *static_cast<Slot*>(h);
  return inst < s.gate.instrument_count() ? s.gate.account(inst).position : 0;
}
std::int32_t t_set_timer(void* h, std::int64_t at, std::uint64_t id) {
  auto& s = *static_cast<Slot*>(h);
  return s.eng->host_set_timer(s, at, id);
}
void t_log(void* h, std::int32_t level, const char* msg) {
  static std::uint64_t lines = 0;
  if (++lines > 10000) return;  // a chatty strategy cannot flood stderr
  auto& s = *static_cast<Slot*>(h);
  static constexpr const char* kLevels[] = {"debug", "info", "warn", "error"};
  std::fprintf(stderr, "[%s %s] %s\n", s.id.c_str(), kLevels[std::clamp(level, 0, 3)], msg ? msg : "");
}
void t_fault(void* h, const char* msg) {
  auto& s = *static_cast<Slot*>(h);
  s.eng->host_fault(s, msg);
}

}  // namespace

Slot::Slot(Engine* e, std::uint32_t idx, RiskLimits lim, std::vector<double> qptl, const VenueConfig& vc, bool bar_mode,
           std::uint32_t ninst)
    : eng(e),
      index(idx),
      subscribed(ninst, 0),
      gate(std::move(lim)),
      venue(std::move(qptl), gate.limits().max_open_orders, vc.queue_model, vc.fees, bar_mode),
      rng(vc.seed ^ (0x9E3779B97F4A7C15ull * (idx + 1))),
      actions(1024),
      reports(1024) {}

Engine::Engine(const EventFile& file, EngineOptions opts)
    : file_(file),
      opts_(std::move(opts)),
      subs_(file.instrument_count()),
      sole_sub_(file.instrument_count(), nullptr),
      resting_all_(file.instrument_count(), 0) {
  books_.reserve(file.instrument_count());
  for (std::uint32_t i = 0; i < file.instrument_count(); ++i) books_.emplace_back(opts_.book_capacity);
  bar_ref_.resize(file.instrument_count());
}

Engine::~Engine() {
  for (auto& s : slots_) {
    if (s->state != nullptr && s->fn != nullptr) {
      g_crash_site.strategy = s->id.c_str();
      g_crash_site.callback = "destroy";
      s->fn->destroy(s->state);
      g_crash_site.callback = nullptr;
      s->state = nullptr;
    }
  }
}

bool Engine::add_strategy(StrategySetup st, std::string& error) {
  const std::string who = "strategy '" + st.id + "'";
  if (st.instruments.empty()) {
    error = "Condition failed: " + who + " has no instruments";
    return false;
  }
  for (auto i : st.instruments)
    if (i >= file_.instrument_count()) {
      error = "Condition failed: " + who + " instrument id " + std::to_string(i) + " is not in the data file";
      return false;
    }
  std::vector<double> qptl(file_.instrument_count());
  for (std::uint32_t i = 0; i < file_.instrument_count(); ++i)
    qptl[i] = static_cast<double>(file_.instruments()[i].tick_size_e9) * 1e-9 * static_cast<double>(file_.instruments()[i].lot_size_e9) * 1e-9;
  if (st.limits.instruments.size() != file_.instrument_count()) {
    error = "Invariant: " + who + " risk limits cover " + std::to_string(st.limits.instruments.size()) + " instruments, file has " +
            std::to_string(file_.instrument_count());
    return false;
  }
  auto slot = std::make_unique<Slot>(this, static_cast<std::uint32_t>(slots_.size()), std::move(st.limits), std::move(qptl), opts_.venue,
                                     opts_.bar_mode, file_.instrument_count());
  Slot& s = *slot;
  s.venue.set_shared_resting(resting_all_.data());  // sized once in the constructor, never reallocated
  for (auto& h : s.cb_hist) h.set_unit_ns(clock_.ns_per_tick());
  s.t2o_hist.set_unit_ns(clock_.ns_per_tick());
  s.id = st.id;
  s.plugin_path = st.plugin;
  std::string lerr;
  if (!load_plugin(st.plugin, s.plugin, lerr)) {
    error = who + ": " + lerr;
    return false;
  }
  s.fn = s.plugin.table();
  s.instruments = st.instruments;
  for (auto i : st.instruments) s.subscribed[i] = 1;
  s.ctx.abi_version = SF_ABI_VERSION;
  s.ctx.struct_size = sizeof(sf_ctx);
  s.ctx.host = &s;
  s.ctx.submit = &t_submit;
  s.ctx.cancel = &t_cancel;
  s.ctx.replace = &t_replace;
  s.ctx.book_level = &t_book_level;
  s.ctx.position = &t_position;
  s.ctx.set_timer = &t_set_timer;
  s.ctx.log = &t_log;
  s.ctx.fault = &t_fault;
  s.ctx.reason_name = &risk_reason_name_c;

  std::vector<sf_instrument> infos;
  for (auto i : st.instruments) {
    const InstrumentEntry& e = file_.instruments()[i];
    sf_instrument si{};
    si.id = i;
    si.tick_size_e9 = e.tick_size_e9;
    si.lot_size_e9 = e.lot_size_e9;
    si.bar_interval_ns = e.bar_interval_ns;
    std::memcpy(si.symbol, e.symbol, sizeof si.symbol - 1);
    infos.push_back(si);
  }
  sf_create_args args{};
  args.abi_version = SF_ABI_VERSION;
  args.struct_size = sizeof args;
  args.strategy_id = s.id.c_str();
  args.params = st.params.c_str();
  args.params_len = st.params.size();
  args.instruments = infos.data();
  args.instrument_count = static_cast<std::uint32_t>(infos.size());
  args.seed = opts_.venue.seed;
  char err[1024] = {0};
  g_crash_site.strategy = s.id.c_str();
  g_crash_site.callback = "create";
  const std::int32_t rc = s.fn->create(&args, &s.state, err, sizeof err);
  g_crash_site.callback = nullptr;
  if (rc != SF_OK) {
    s.state = nullptr;
    error = who + " (plugin '" + st.plugin + "', strategy name '" + s.fn->name + "') failed in create: " + (err[0] ? err : "no message");
    return false;
  }
  // Reserve every result list up front so the loop never allocates for them.
  const auto& o = opts_.output;
  s.fill_list.reserve(o.max_fills_listed);
  s.denial_list.reserve(o.max_denials_listed);
  if (o.orders_list) s.order_list.reserve(o.max_orders_listed);
  const std::size_t samples = pnl_sample_capacity();
  s.pnl_series.reserve(samples);
  s.pnl_positions.reserve(samples * s.instruments.size());
  for (auto i : s.instruments) {
    subs_[i].push_back(&s);
    sole_sub_[i] = subs_[i].size() == 1 ? subs_[i].front() : nullptr;
  }
  slots_.push_back(std::move(slot));
  if (stepping_) refresh_slot_ptrs();  // run() builds the list itself
  return true;
}

namespace {
// The engine's own code (the executable's PT_LOAD segments that are executable): what the host
// side of a callback runs (the risk gate, the venue, the order book), found once.
int exec_code(dl_phdr_info* info, std::size_t, void* data) {
  auto* out = static_cast<std::vector<LoadedPlugin::Segment>*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0 && ph.p_memsz > 0)
      out->push_back({reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr), static_cast<std::size_t>(ph.p_memsz)});
  }
  return 1;  // the first object is the executable
}
const std::vector<LoadedPlugin::Segment>& engine_code() {
  static const std::vector<LoadedPlugin::Segment> segs = [] {
    std::vector<LoadedPlugin::Segment> v;
    ::dl_iterate_phdr(&exec_code, &v);
    return v;
  }();
  return segs;
}

SF_WARM_READS std::size_t read_lines(const void* from, std::size_t size, unsigned& acc) noexcept {
  const volatile unsigned char* p = static_cast<const unsigned char*>(from);
  for (std::size_t off = 0; off < size; off += 64) acc += p[off];
  return (size + 63) / 64;
}
}  // namespace

std::size_t Engine::warm() const noexcept {
  constexpr std::uintptr_t kPage = 4096;  // the state's own page is mapped: it holds the state
  unsigned acc = 0;
  std::size_t lines = 0;
  if (!slots_.empty())
    for (const auto& seg : engine_code()) lines += read_lines(seg.begin, seg.size, acc);
  for (const auto& sp : slots_) {
    const Slot& s = *sp;
    if (s.faulted) continue;
    lines += s.plugin.warm();
    if (s.state != nullptr)
      lines += read_lines(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(s.state) & ~(kPage - 1)), kPage, acc);
    lines += read_lines(&s, sizeof(Slot), acc);
  }
  asm volatile("" : : "r"(acc));
  return lines;
}

Reference Engine::reference(std::uint32_t inst) const noexcept {
  if (inst >= books_.size()) return Reference{};
  if (opts_.bar_mode) return bar_ref_[inst];
  const Book& b = books_[inst];
  return Reference{b.best_bid(), b.best_ask(), b.last_update_ts(), false};
}

template <bool kMeasure, class F>
inline void Engine::invoke_as(Slot& s, CallbackKind cb, Nanos now, F&& f) {
  s.ctx.now_ns = now;
  g_crash_site.strategy = s.id.c_str();
  g_crash_site.callback = kCallbackNames[cb];
  g_crash_site.ts = now;
  s.in_callback = true;
  std::int32_t rc;
  if constexpr (kMeasure) {
    const std::uint64_t t0 = TscClock::now();
    rc = f();
    s.cb_hist[cb].record(static_cast<std::int64_t>(TscClock::now() - t0));
  } else {
    rc = f();
  }
  s.in_callback = false;
  g_crash_site.callback = nullptr;
  if (rc != SF_OK) [[unlikely]] callback_failed(s, cb, now, rc);
}

template <class F>
inline void Engine::invoke(Slot& s, CallbackKind cb, Nanos now, F&& f) {
  if (opts_.measure_latency) invoke_as<true>(s, cb, now, std::forward<F>(f));
  else invoke_as<false>(s, cb, now, std::forward<F>(f));
}

// Out of line and cold: keeps the string building out of every callback site's frame.
void Engine::callback_failed(Slot& s, CallbackKind cb, Nanos now, std::int32_t rc) {
  s.faulted = true;
  s.fault_callback = kCallbackNames[cb];
  if (s.fault_message.empty()) s.fault_message = "callback returned status " + std::to_string(rc) + " without a message";
  if (stepping_) {  // sf-engine: the slot stops receiving callbacks, the engine goes on
    ++faults_;
    return;
  }
  stop_ = true;
  error_ = "strategy '" + s.id + "' faulted in " + s.fault_callback + " at event time " + std::to_string(now) + ": " + s.fault_message;
}

void Engine::record_denial(Slot& s, const RiskDecision& d, char op, std::uint64_t id) {
  ++s.denials_by_reason[static_cast<std::size_t>(d.reason)];
  if (s.denial_list.size() < opts_.output.max_denials_listed) {
    DenialRecord r{now_, d.reason, op, id, {0}};
    std::memcpy(r.context, d.context, sizeof r.context);
    s.denial_list.push_back(r);
  }
}

std::int32_t Engine::host_submit(Slot& s, const sf_order_request& r, std::uint64_t* out_id) {
  if (out_id != nullptr) *out_id = 0;
  ++s.submitted;
  const std::uint64_t id = s.next_order_id;
  const auto type = static_cast<OrdType>(r.type);
  const OrderIntent oi{r.instrument, static_cast<Side>(r.side), type, type == OrdType::Market ? Tif::Ioc : static_cast<Tif>(r.tif), r.px, r.qty};
  RiskDecision d = s.in_callback ? s.gate.check_new(id, oi, reference(r.instrument), now_)
                                 : not_in_callback("orders may only be sent from inside a callback");
  if (s.in_callback) {
    if (d.accepted() && s.actions.size() >= kMaxPendingActions) {
      s.gate.on_done(id);
      d.reason = RiskReason::VenueBackpressure;
      std::snprintf(d.context, sizeof d.context, "pending_actions=%zu", s.actions.size());
    }
    // sf-engine live slots: the external venue must be up, and the firm-wide limits hold (the
    // order is already counted as working)
    if (s.live && d.accepted()) [[unlikely]] {
      if (s.ext != nullptr && !s.ext->up()) {
        s.gate.on_done(id);
        d.reason = RiskReason::VenueBackpressure;
        std::snprintf(d.context, sizeof d.context, "live venue disconnected (reconnecting)");
      } else if (firm_denies(s, r.instrument, oi.side, 0, d)) {
        s.gate.on_done(id);
      }
    }
  }
  if (!d.accepted()) {
    ++s.denied;
    record_denial(s, d, 'N', 0);
    if (tape_ != nullptr) tape_->submit(s.id.c_str(), now_, r, 0, risk_reason_name(d.reason), d.context);
    if (d.kill_engaged) [[unlikely]] kill_cancel_all(s, now_);  // MAX_DRAWDOWN or a kill_on_breach denial
    return static_cast<std::int32_t>(d.reason);
  }
  // The order has left the risk gate: this is the tick-to-order point.
  if (opts_.measure_latency) s.t2o_hist.record(static_cast<std::int64_t>(TscClock::now() - event_tsc_));
  ++s.next_order_id;
  ++s.accepted;
  if (out_id != nullptr) *out_id = id;
  PendingAction a{};
  a.kind = PendingAction::Kind::New;
  a.id = id;
  a.order.id = id;
  a.order.instrument = r.instrument;
  a.order.side = static_cast<Side>(r.side);
  a.order.type = type;
  a.order.tif = type == OrdType::Market ? Tif::Ioc : static_cast<Tif>(r.tif);
  a.order.px = type == OrdType::Market ? d.protect_px : r.px;
  a.order.leaves = r.qty;
  if (opts_.bar_mode) {
    a.ts = now_;
  } else {
    a.ts = std::max(s.last_arrive, now_ + opts_.venue.feed.sample(s.rng) + opts_.venue.entry.sample(s.rng));
    s.last_arrive = a.ts;
  }
  push_action(s, a);
  if (opts_.output.orders_list && s.order_list.size() < opts_.output.max_orders_listed)
    s.order_list.push_back(OrderRecord{id, now_, r.instrument, a.order.side, type, a.order.tif, a.order.px, r.qty, 0, 0});
  if (tape_ != nullptr) tape_->submit(s.id.c_str(), now_, r, id, "ACCEPTED", "");
  return SF_ACCEPTED;
}

std::int32_t Engine::host_cancel(Slot& s, std::uint64_t id) {
  const RiskDecision d = s.in_callback ? s.gate.check_cancel(id, now_) : not_in_callback("cancels may only be sent from inside a callback");
  if (!d.accepted()) {
    ++s.cancel_denied;
    record_denial(s, d, 'C', id);
    if (tape_ != nullptr) tape_->cancel(s.id.c_str(), now_, id, risk_reason_name(d.reason), d.context);
    return static_cast<std::int32_t>(d.reason);
  }
  ++s.cancels;
  PendingAction a{};
  a.kind = PendingAction::Kind::Cancel;
  a.id = id;
  if (opts_.bar_mode) {
    a.ts = now_;
  } else {
    a.ts = std::max(s.last_arrive, now_ + opts_.venue.feed.sample(s.rng) + opts_.venue.entry.sample(s.rng));
    s.last_arrive = a.ts;
  }
  push_action(s, a);
  if (tape_ != nullptr) tape_->cancel(s.id.c_str(), now_, id, "ACCEPTED", "");
  return SF_ACCEPTED;
}

std::int32_t Engine::host_replace(Slot& s, std::uint64_t id, Ticks px, Lots qty) {
  // one order lookup shared by the reference and the gate; the decision is built in place
  const GateOrder* g = s.in_callback ? s.gate.find(id) : nullptr;
  RiskDecision d;
  if (s.live && g != nullptr && qty > g->leaves) [[unlikely]] {
    // firm-wide limits (sf-engine live slots), checked before the gate changes the working order
    const Lots extra = qty - g->leaves;
    const Side side = g->side;
    const std::uint32_t inst = g->instrument;
    if (firm_denies(s, inst, side, extra, d)) {
      ++s.replace_denied;
      record_denial(s, d, 'R', id);
      if (tape_ != nullptr) tape_->replace(s.id.c_str(), now_, id, px, qty, risk_reason_name(d.reason), d.context);
      return static_cast<std::int32_t>(d.reason);
    }
  }
  d = s.in_callback ? s.gate.check_replace(g, id, px, qty, g != nullptr ? reference(g->instrument) : Reference{}, now_)
                    : not_in_callback("replaces may only be sent from inside a callback");
  if (!d.accepted()) {
    ++s.replace_denied;
    record_denial(s, d, 'R', id);
    if (tape_ != nullptr) tape_->replace(s.id.c_str(), now_, id, px, qty, risk_reason_name(d.reason), d.context);
    if (d.kill_engaged) [[unlikely]] kill_cancel_all(s, now_);  // MAX_DRAWDOWN or a kill_on_breach denial
    return static_cast<std::int32_t>(d.reason);
  }
  if (opts_.measure_latency) s.t2o_hist.record(static_cast<std::int64_t>(TscClock::now() - event_tsc_));
  ++s.replaces;
  PendingAction a{};
  a.kind = PendingAction::Kind::Replace;
  a.id = id;
  a.px = px;
  a.qty = qty;
  if (opts_.bar_mode) {
    a.ts = now_;
  } else {
    a.ts = std::max(s.last_arrive, now_ + opts_.venue.feed.sample(s.rng) + opts_.venue.entry.sample(s.rng));
    s.last_arrive = a.ts;
  }
  push_action(s, a);
  if (tape_ != nullptr) tape_->replace(s.id.c_str(), now_, id, px, qty, "ACCEPTED", "");
  return SF_ACCEPTED;
}

std::int32_t Engine::host_book_level(std::uint32_t inst, std::uint32_t side, std::uint32_t depth, std::int64_t* px,
                                     std::int64_t* qty) const {
  if (inst >= books_.size() || px == nullptr || qty == nullptr) return 0;
  const Book& b = books_[inst];
  if (side == SF_SIDE_BUY) return b.bids().level(depth, *px, *qty) ? 1 : 0;
  if (side == SF_SIDE_SELL) return b.asks().level(depth, *px, *qty) ? 1 : 0;
  return 0;
}

std::int32_t Engine::host_set_timer(Slot& s, Nanos at, std::uint64_t id) {
  if (s.n_timers >= s.timers.size()) return -1;
  s.timers[s.n_timers++] = Slot::Timer{at, id};
  lower_due(s, at);
  return 0;
}

void Engine::host_fault(Slot& s, const char* msg) {
  s.fault_message = msg != nullptr ? msg : "fault without a message";
}

void Engine::drain_venue(Slot& s) {
  for (const VenueReport& r : s.venue.reports()) {
    Nanos ts = r.ts;
    if (!opts_.bar_mode) {
      ts = std::max(s.last_deliver, r.ts + opts_.venue.response.sample(s.rng));
      s.last_deliver = ts;
    }
    s.reports.push(PendingReport{ts, r});
    lower_due(s, ts);
  }
  s.venue.clear_reports();
}

void Engine::venue_action(Slot& s, const PendingAction& a) {
  switch (a.kind) {
    case PendingAction::Kind::New:
      s.venue.new_order(a.ts, a.order, books_[a.order.instrument]);
      break;
    case PendingAction::Kind::Cancel:
      s.venue.cancel(a.ts, a.id);
      break;
    case PendingAction::Kind::Replace: {
      const VenueOrder* o = s.venue.find(a.id);
      s.venue.replace(a.ts, o, a.id, a.px, a.qty, books_[o != nullptr ? o->instrument : 0]);  // one lookup
      break;
    }
  }
  if (s.venue.has_reports()) drain_venue(s);
}

void Engine::deliver(Slot& s, const PendingReport& pr) {
  const VenueReport& r = pr.r;
  const Nanos saved_now = now_;
  now_ = pr.ts;
  if (r.kind == VenueReport::Kind::Fill) {
    s.gate.on_fill(r.id, r.side, r.instrument, r.px, r.qty, r.fee);
    ++s.fills;
    ++(r.maker ? s.maker_fills : s.taker_fills);
    const Lots pos = s.gate.account(r.instrument).position;
    if (s.fill_list.size() < opts_.output.max_fills_listed)
      s.fill_list.push_back(FillRecord{pr.ts, r.id, r.instrument, r.side, r.maker, r.px, r.qty, r.fee, pos});
    if (opts_.output.orders_list && r.id >= 1 && r.id <= s.order_list.size()) s.order_list[r.id - 1].filled += r.qty;
    const sf_fill f{pr.ts, r.id, r.instrument, static_cast<std::uint32_t>(r.side), r.maker ? SF_LIQ_MAKER : SF_LIQ_TAKER, 0, r.px, r.qty,
                    r.leaves, pos, r.fee};
    if (tape_ != nullptr) tape_->fill(s.id.c_str(), f);
    if (!s.faulted) invoke(s, kCbFill, pr.ts, [&] { return s.fn->on_fill(s.state, &s.ctx, &f); });
    if (s.gate.check_loss(pr.ts)) kill_cancel_all(s, pr.ts);
  } else {
    switch (r.status) {
      case SF_ORDER_FILLED: ++s.done_filled; break;
      case SF_ORDER_CANCELED: ++s.done_canceled; break;
      case SF_ORDER_EXPIRED: ++s.done_expired; break;
      case SF_ORDER_REJECTED: ++s.done_rejected; break;
      case SF_ORDER_CANCEL_REJECTED: ++s.cancel_rejected; break;
      default: break;
    }
    const bool done = r.status == SF_ORDER_FILLED || r.status == SF_ORDER_CANCELED || r.status == SF_ORDER_EXPIRED ||
                      r.status == SF_ORDER_REJECTED;
    if (done) {
      s.gate.on_done(r.id);
      if (opts_.output.orders_list && r.id >= 1 && r.id <= s.order_list.size()) s.order_list[r.id - 1].final_status = r.status;
    }
    const sf_order_update u{pr.ts, r.id, r.instrument, static_cast<std::uint32_t>(r.side), r.status, 0, r.px, r.qty, r.leaves};
    if (tape_ != nullptr) tape_->order_update(s.id.c_str(), u);
    if (!s.faulted) invoke(s, kCbOrderUpdate, pr.ts, [&] { return s.fn->on_order_update(s.state, &s.ctx, &u); });
  }
  now_ = saved_now;
}

void Engine::process_due(Slot& s, Nanos before) {
  while (!stop_) {
    const Nanos ta = s.actions.empty() ? kNever : s.actions.front().ts;
    const Nanos tr = s.reports.empty() ? kNever : s.reports.front().ts;
    Nanos tt = kNever;
    std::uint32_t ti = 0;
    for (std::uint32_t i = 0; i < s.n_timers; ++i)
      if (s.timers[i].at < tt) {
        tt = s.timers[i].at;
        ti = i;
      }
    const Nanos m = std::min({ta, tr, tt});
    if (m >= before) {
      s.next_due = m;  // exact again (see Slot::next_due)
      return;
    }
    // Items are used in place and popped afterwards (no copy): venue_action() only pushes
    // reports and deliver() (incl. the strategy's callbacks) only pushes actions, so neither
    // touches the queue whose front it is reading.
    if (ta == m) {
      venue_action(s, s.actions.front());
      s.actions.pop();
    } else if (tr == m) {
      deliver(s, s.reports.front());
      s.reports.pop();
    } else {
      const Slot::Timer t = s.timers[ti];
      s.timers[ti] = s.timers[--s.n_timers];
      const Nanos saved_now = now_;
      now_ = t.at;
      if (tape_ != nullptr) tape_->timer(s.id.c_str(), t.at, t.id);
      if (!s.faulted) invoke(s, kCbTimer, t.at, [&] { return s.fn->on_timer(s.state, &s.ctx, t.id); });
      now_ = saved_now;
    }
  }
}

void Engine::kill_cancel_all(Slot& s, Nanos now) {
  if (tape_ != nullptr) tape_->kill(s.id.c_str(), now, risk_reason_name(s.gate.kill_reason()), s.gate.kill_context());
  const GateOrder* orders = s.gate.open_order_data();
  for (std::uint32_t i = 0; i < s.gate.open_orders(); ++i) {
    PendingAction a{};
    a.kind = PendingAction::Kind::Cancel;
    a.id = orders[i].id;
    if (opts_.bar_mode) {
      a.ts = now;
    } else {
      a.ts = std::max(s.last_arrive, now + opts_.venue.entry.sample(s.rng));
      s.last_arrive = a.ts;
    }
    push_action(s, a);
  }
}

void Engine::engage_kill(std::uint32_t slot, const char* context) {
  Slot& s = *slots_.at(slot);
  s.gate.engage_kill(RiskReason::KillSwitch, context);
  kill_cancel_all(s, now_);
}

void Engine::release_kill(std::uint32_t slot) { slots_.at(slot)->gate.release_kill(); }

void Engine::after_mark(Slot& s, std::uint32_t inst, Ticks mark_x2, Nanos now) {
  const InstrumentAccount& a = s.gate.account(inst);
  if (mark_x2 == kNoPrice || mark_x2 == a.mark_x2) return;  // unchanged mark: PnL unchanged
  s.gate.mark(inst, mark_x2);
  if (a.position != 0 && s.gate.check_loss(now)) kill_cancel_all(s, now);
}

// Inlined into the DEPTH path of run(): one call per batch is most of a replay's work.
// Calls f(slot) for each slot subscribed to `inst`. The sole subscriber (the usual case) is
// called without a loop: no iterator lives across the callback.
template <class F>
[[gnu::always_inline]] inline void Engine::each_subscriber(std::uint32_t inst, F&& f) {
  if (Slot* const sole = sole_sub_[inst]; sole != nullptr) [[likely]] {
    f(*sole);
    return;
  }
  for (Slot* s : subs_[inst]) f(*s);
}

template <bool kMeasure>
[[gnu::always_inline]] inline void Engine::notify_book(std::uint32_t inst, const Event& e) {
  ++batches_;
  if (!has_subscriber(inst)) return;
  // Top of book read once; the state flags and the mid follow from it (as Book::state()/mid_x2()).
  const Book::Top t = books_[inst].top();
  const bool two_sided = t.bid_levels != 0 && t.ask_levels != 0;
  std::uint32_t flags = e.snapshot() ? SF_BOOK_SNAPSHOT : 0u;
  if (two_sided && t.bid_px >= t.ask_px) flags |= t.bid_px == t.ask_px ? SF_BOOK_LOCKED : SF_BOOK_CROSSED;
  const sf_book v{e.exch_ts, e.recv_ts, inst, flags, t.bid_px, t.bid_qty, t.ask_px, t.ask_qty, t.bid_levels, t.ask_levels};
  const Ticks mid_x2 = two_sided ? t.bid_px + t.ask_px : kNoPrice;
  auto one = [&](Slot& s) {
    if (s.faulted) [[unlikely]] return;
    // The mark: stored inline while flat (the PnL does not depend on it, and no branch asks
    // whether it moved, which mispredicts about every third batch); after_mark() when the slot
    // holds a position, whose PnL and loss limits move with it.
    if (mid_x2 != kNoPrice && !s.gate.mark_if_flat(inst, mid_x2)) after_mark(s, inst, mid_x2, now_);
    if (tape_ != nullptr) [[unlikely]] tape_->book(s.id.c_str(), v);
    invoke_as<kMeasure>(s, kCbBook, now_, [&] { return s.fn->on_book(s.state, &s.ctx, &v); });
  };
  each_subscriber(inst, one);
}

template <bool kMeasure>
[[gnu::always_inline]] inline void Engine::notify_trade(const Event& e) {
  if (!has_subscriber(e.instrument)) return;
  const sf_trade t{e.exch_ts, e.recv_ts, e.instrument, e.side, e.v[0], e.v[1], e.v[2]};
  auto one = [&](Slot& s) {
    if (s.faulted) [[unlikely]] return;
    if (tape_ != nullptr) [[unlikely]] tape_->trade(s.id.c_str(), t);
    invoke_as<kMeasure>(s, kCbTrade, now_, [&] { return s.fn->on_trade(s.state, &s.ctx, &t); });
  };
  each_subscriber(e.instrument, one);
}

void Engine::notify_bar(const Event& e) {
  const std::uint32_t inst = e.instrument;
  if (opts_.bar_mode) {
    for (auto& sp : slots_) {
      Slot& s = *sp;
      if (s.venue.resting(inst) == 0) continue;
      s.venue.on_bar(now_, inst, e.v[0], e.v[1], e.v[2]);
      drain_venue(s);
      process_due(s, now_ + 1);  // the strategy hears of these fills before this bar's on_bar
    }
  }
  bar_ref_[inst] = Reference::last_price(e.v[3], now_);
  const auto& subs = subs_[inst];
  if (subs.empty()) return;
  const sf_bar b{e.exch_ts, e.recv_ts, inst, 0, e.v[0], e.v[1], e.v[2], e.v[3], e.v[4]};
  for (Slot* s : subs) {
    if (s->faulted) continue;
    after_mark(*s, inst, 2 * e.v[3], now_);
    if (tape_ != nullptr) tape_->bar(s->id.c_str(), b);
    invoke(*s, kCbBar, now_, [&] { return s->fn->on_bar(s->state, &s->ctx, &b); });
  }
}

namespace {
std::int64_t events_per_sample(const OutputConfig& o, std::uint64_t n) {
  return o.pnl_sample_every > 0 ? o.pnl_sample_every : std::max<std::int64_t>(1, static_cast<std::int64_t>(n / 2000));
}
// Largest multiple of `period` <= t (floor, also for negative t).
Nanos period_floor(Nanos t, std::int64_t period) { return t - ((t % period) + period) % period; }
}  // namespace

std::size_t Engine::pnl_sample_capacity() const noexcept {
  const std::uint64_t n = file_.event_count();
  const std::int64_t period = opts_.output.pnl_sample_period_ns;
  if (period <= 0) return n / static_cast<std::uint64_t>(events_per_sample(opts_.output, n)) + 4;
  // One sample per period in which something happened: at most the periods the data spans, and
  // at most one per record plus one per due item (bounded here by one more per record).
  const FileHeader& h = file_.header();
  const auto spanned = static_cast<std::uint64_t>((period_floor(h.last_recv_ts, period) - period_floor(h.first_recv_ts, period)) / period) + 1;
  return static_cast<std::size_t>(std::min(spanned, 2 * n) + 4);
}

void Engine::sample_due(std::uint64_t index) {
  const Event* ev = file_.events();
  const std::uint64_t n = file_.event_count();
  if (sample_period_ == 0) {  // every sample_every_ records
    if (index < next_sample_idx_) return;  // an earlier record with the target's receive time
    sample_pnl(ev[index - 1].recv_ts);     // the account after record index-1, as before
    next_sample_idx_ += static_cast<std::uint64_t>(sample_every_);
    next_sample_ts_ = next_sample_idx_ < n ? ev[next_sample_idx_].recv_ts : INT64_MAX;
    return;
  }
  // now_ has crossed one or more period boundaries. Close each period in which something
  // happened (an event, or a venue message or timer due in it): first process what falls due
  // before the boundary (exactly what the loop would process next, in the same order), then
  // sample, stamped with the period's last nanosecond. Periods where nothing happened get no
  // sample (the account did not change).
  while (now_ >= next_sample_ts_ && !stop_) {
    const Nanos b = next_sample_ts_;
    Nanos min_due = INT64_MAX;
    for (auto& sp : slots_) {
      Slot& s = *sp;
      if (s.next_due < b) process_due(s, b);
      min_due = std::min(min_due, s.next_due);
    }
    next_due_min_ = min_due;
    sample_pnl(b - 1);
    // the next period in which something happens (an event or a due item), always a later one
    next_sample_ts_ = std::max(b + sample_period_, period_floor(std::min(now_, min_due), sample_period_) + sample_period_);
  }
}

void Engine::sample_pnl(Nanos ts) {
  for (auto& sp : slots_) {
    Slot& s = *sp;
    if (s.pnl_series.size() == s.pnl_series.capacity()) {  // never grows in the loop
      ++s.pnl_samples_dropped;
      continue;
    }
    const double p = s.gate.pnl();
    s.pnl_series.push_back(PnlSample{ts, p, s.gate.fees(), s.pnl_positions.size()});
    for (auto i : s.instruments) s.pnl_positions.push_back(s.gate.account(i).position);
    s.peak_pnl = std::max(s.peak_pnl, p);
    s.max_drawdown = std::max(s.max_drawdown, s.peak_pnl - p);
  }
}

void Engine::notify_book_rt(std::uint32_t inst, const Event& e) {
  if (opts_.measure_latency) notify_book<true>(inst, e);
  else notify_book<false>(inst, e);
}

// QUOTE, CLEAR and BAR records (out of the DEPTH/TRADE fast path).
void Engine::other_event(const Event& e, Slot* const* slots, std::size_t nslots) {
  const std::uint32_t inst = e.instrument;
  Book& book = books_[inst];
  switch (static_cast<EventType>(e.type)) {
    case EventType::Quote: {
      const Ticks pb = book.best_bid(), pa = book.best_ask();
      const Lots pbq = book.best_bid_qty(), paq = book.best_ask_qty();
      book.apply(e);
      const Ticks nb = book.best_bid(), na = book.best_ask();
      const Lots nbq = book.best_bid_qty(), naq = book.best_ask_qty();
      for (std::size_t k = 0; k < nslots; ++k) {
        Slot& s = *slots[k];
        if (s.venue.resting(inst) == 0) continue;
        auto level = [&](Side side, Ticks p0, Lots q0, Ticks p1, Lots q1, Ticks empty) {
          if (p0 == p1) {
            if (p1 != empty) s.venue.on_level(now_, inst, side, p1, q0, q1);
          } else {
            if (p0 != empty) s.venue.on_level(now_, inst, side, p0, q0, 0);
            if (p1 != empty) s.venue.on_level(now_, inst, side, p1, 0, q1);
          }
        };
        level(Side::Bid, pb, pbq, nb, nbq, kNoBid);
        level(Side::Ask, pa, paq, na, naq, kNoAsk);
        if (s.venue.has_reports()) drain_venue(s);
      }
      notify_book_rt(inst, e);
      break;
    }
    case EventType::Clear:
      book.apply(e);
      if (e.end_of_batch()) notify_book_rt(inst, e);
      break;
    case EventType::Bar:
      notify_bar(e);
      break;
    case EventType::Depth:
    case EventType::Trade:
      break;  // handled in run()
  }
}

// One record's work after the due items: the book, the venues, the callbacks. Shared by run()'s
// loop (inlined there, with the slot list cached in registers) and step().
template <bool kMeasure>
[[gnu::always_inline]] inline void Engine::process_event(const Event& e, Slot* const* slots, std::size_t nslots,
                                                         const std::uint32_t* resting_all) {
  const std::uint32_t inst = e.instrument;
  Book& book = books_[inst];
  // DEPTH (most records of an L2 feed) first, then TRADE: two predictable compares instead of
  // a jump table, whose indirect branch mispredicted at every change of record type.
  if (e.type == static_cast<std::uint8_t>(EventType::Depth)) [[likely]] {
    const Lots old = book.apply_depth(e);
    if (resting_all[inst] != 0) {  // else no slot has an order on inst: no venue work at all
      const Lots nq = e.v[1] > 0 ? e.v[1] : 0;
      for (std::size_t k = 0; k < nslots; ++k) {
        Slot& s = *slots[k];
        if (s.venue.resting(inst) == 0) continue;
        s.venue.on_level(now_, inst, static_cast<Side>(e.side), e.v[0], old, nq);
        if (s.venue.has_reports()) drain_venue(s);
      }
    }
    if (e.end_of_batch()) {
      ++end_of_batch_flags_;
      notify_book<kMeasure>(inst, e);
    }
  } else if (e.type == static_cast<std::uint8_t>(EventType::Trade)) {
    end_of_batch_flags_ += e.end_of_batch() ? 1u : 0u;
    if (resting_all[inst] != 0) {
      for (std::size_t k = 0; k < nslots; ++k) {
        Slot& s = *slots[k];
        if (s.venue.resting(inst) == 0) continue;
        s.venue.on_trade(now_, inst, static_cast<Side>(e.side), e.v[0], e.v[1]);
        if (s.venue.has_reports()) drain_venue(s);
      }
    }
    notify_trade<kMeasure>(e);
  } else {
    end_of_batch_flags_ += e.end_of_batch() ? 1u : 0u;
    other_event(e, slots, nslots);
  }
}

RunStatus Engine::run() { return opts_.measure_latency ? run_loop<true>() : run_loop<false>(); }

// The event loop, compiled once with latency measurement and once without (no per-event or
// per-callback test of the option).
template <bool kMeasure>
RunStatus Engine::run_loop() {
  const Event* ev = file_.events();
  const std::uint64_t n = file_.event_count();
  const std::uint32_t ninst = file_.instrument_count();
  sample_period_ = std::max<std::int64_t>(0, opts_.output.pnl_sample_period_ns);
  sample_every_ = events_per_sample(opts_.output, n);
  if (sample_period_ > 0) {
    next_sample_ts_ = n > 0 ? period_floor(ev[0].recv_ts, sample_period_) + sample_period_ : INT64_MAX;
  } else {
    next_sample_idx_ = static_cast<std::uint64_t>(sample_every_);
    next_sample_ts_ = next_sample_idx_ < n ? ev[next_sample_idx_].recv_ts : INT64_MAX;
  }
  slot_ptrs_.clear();
  for (auto& sp : slots_) slot_ptrs_.push_back(sp.get());
  Slot* const* slots = slot_ptrs_.data();
  const std::uint32_t* const resting_all = resting_all_.data();
  const std::size_t nslots = slot_ptrs_.size();
  const auto wall0 = std::chrono::steady_clock::now();
  // Records were validated once at open: [0, valid_end) pass validate_record(), so the loop
  // needs no per-record check; a bad record stops the run when the loop reaches it, as before.
  const std::uint64_t valid_end = std::min(n, file_.first_invalid_record());
  // A pointer walk (the record index is recovered at the end): one register fewer in the loop.
  const Event* p = ev;
  const Event* const valid_stop = ev + valid_end;
  for (; p != valid_stop && !stop_; ++p) {
    const Event& e = *p;
    __builtin_prefetch(p + 16);  // 1 KiB ahead; harmless past the end (no fault on prefetch)
    if constexpr (kMeasure) event_tsc_ = TscClock::now();
    now_ = e.recv_ts;
    if (now_ >= next_sample_ts_) [[unlikely]] sample_due(static_cast<std::uint64_t>(p - ev));
    if (next_due_min_ < now_) {  // something may be due in some slot
      Nanos min_due = INT64_MAX;
      for (std::size_t k = 0; k < nslots; ++k) {
        Slot& s = *slots[k];
        if (s.next_due < now_) process_due(s, now_);  // process_due re-checks exactly
        min_due = std::min(min_due, s.next_due);      // a slot's processing only touches its own queues
      }
      next_due_min_ = min_due;
    }
    process_event<kMeasure>(e, slots, nslots, resting_all);
  }
  const auto i = static_cast<std::uint64_t>(p - ev);
  if (i < n && !stop_) [[unlikely]] {
    const Event& e = ev[i];
    const char* bad = validate_record(e, ninst);
    error_ = "Condition failed: event file '" + file_.path() + "' record " + std::to_string(i) + ": " +
             (bad != nullptr ? bad : "invalid record") + " (type=" + std::to_string(e.type) + ", side=" + std::to_string(e.side) +
             ", instrument=" + std::to_string(e.instrument) + ")";
    events_done_ = i;
    return RunStatus::DataError;
  }
  events_done_ = i;
  wall_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - wall0).count();
  for (auto& sp : slots_) sp->pnl_series.reserve(sp->pnl_series.size() + 1);
  sample_pnl(now_);
  return stop_ ? RunStatus::StrategyFault : RunStatus::Ok;
}

// --- stepping mode (sf-engine) ----------------------------------------------------------------

void Engine::refresh_slot_ptrs() {
  slot_ptrs_.clear();
  for (auto& sp : slots_) slot_ptrs_.push_back(sp.get());
  for (std::size_t k = 0; k < slots_.size(); ++k) slots_[k]->index = static_cast<std::uint32_t>(k);
}

void Engine::begin_stepping() {
  stepping_ = true;
  next_sample_ts_ = INT64_MAX;  // no PnL series: a daemon reports the live account instead
  refresh_slot_ptrs();
}

template <bool kMeasure>
void Engine::step_as(const Event& e) {
  if constexpr (kMeasure) event_tsc_ = TscClock::now();
  now_ = e.recv_ts;
  Slot* const* slots = slot_ptrs_.data();
  const std::size_t nslots = slot_ptrs_.size();
  if (next_due_min_ < now_) {
    Nanos min_due = INT64_MAX;
    for (std::size_t k = 0; k < nslots; ++k) {
      Slot& s = *slots[k];
      if (s.next_due < now_) process_due(s, now_);
      min_due = std::min(min_due, s.next_due);
    }
    next_due_min_ = min_due;
  }
  const auto type = static_cast<EventType>(e.type);
  if (first_live_ != nullptr && nslots > 1 && (type == EventType::Depth || type == EventType::Trade)) [[likely]]
    process_event_live_first<kMeasure>(e, *first_live_);
  else
    process_event<kMeasure>(e, slots, nslots, resting_all_.data());
  ++events_done_;
}

// Stepping mode with a live slot, for DEPTH and TRADE records: the same work as process_event(),
// reordered per slot — the live slot's venue work and callbacks first, then every other slot's.
// Each slot sees exactly what process_event() shows it (its own venue's reports before its own
// callbacks, the book after the record): slots share only the read-only book, so the order
// between slots changes nothing but who waits for whom. The live slot's tick-to-order no longer
// includes the shadows' matching and callbacks.
template <bool kMeasure>
void Engine::process_event_live_first(const Event& e, Slot& live) {
  const std::uint32_t inst = e.instrument;
  Book& book = books_[inst];
  const bool depth = e.type == static_cast<std::uint8_t>(EventType::Depth);
  Lots old = 0;
  if (depth) old = book.apply_depth(e);
  if (e.end_of_batch()) ++end_of_batch_flags_;
  const bool venue_work = resting_all_[inst] != 0;
  const Lots nq = e.v[1] > 0 ? e.v[1] : 0;
  auto venue = [&](Slot& s) {
    if (!venue_work || s.venue.resting(inst) == 0) return;
    if (depth) s.venue.on_level(now_, inst, static_cast<Side>(e.side), e.v[0], old, nq);
    else s.venue.on_trade(now_, inst, static_cast<Side>(e.side), e.v[0], e.v[1]);
    if (s.venue.has_reports()) drain_venue(s);
  };
  const bool book_cb = depth && e.end_of_batch();
  if (book_cb) ++batches_;
  sf_book v{};
  Ticks mid_x2 = kNoPrice;
  if (book_cb && has_subscriber(inst)) {
    const Book::Top t = book.top();
    const bool two_sided = t.bid_levels != 0 && t.ask_levels != 0;
    std::uint32_t flags = e.snapshot() ? SF_BOOK_SNAPSHOT : 0u;
    if (two_sided && t.bid_px >= t.ask_px) flags |= t.bid_px == t.ask_px ? SF_BOOK_LOCKED : SF_BOOK_CROSSED;
    v = sf_book{e.exch_ts, e.recv_ts, inst, flags, t.bid_px, t.bid_qty, t.ask_px, t.ask_qty, t.bid_levels, t.ask_levels};
    mid_x2 = two_sided ? t.bid_px + t.ask_px : kNoPrice;
  }
  const sf_trade tr{e.exch_ts, e.recv_ts, e.instrument, e.side, e.v[0], e.v[1], e.v[2]};
  auto callbacks = [&](Slot& s) {
    if (s.faulted || !s.subscribed[inst]) return;
    if (book_cb) {
      if (mid_x2 != kNoPrice && !s.gate.mark_if_flat(inst, mid_x2)) after_mark(s, inst, mid_x2, now_);
      if (tape_ != nullptr) tape_->book(s.id.c_str(), v);
      invoke_as<kMeasure>(s, kCbBook, now_, [&] { return s.fn->on_book(s.state, &s.ctx, &v); });
    } else if (!depth) {
      if (tape_ != nullptr) tape_->trade(s.id.c_str(), tr);
      invoke_as<kMeasure>(s, kCbTrade, now_, [&] { return s.fn->on_trade(s.state, &s.ctx, &tr); });
    }
  };
  venue(live);
  callbacks(live);
  for (Slot* s : slot_ptrs_)
    if (s != &live) venue(*s);
  for (Slot* s : subs_[inst])
    if (s != &live) callbacks(*s);
}

void Engine::step(const Event& e) {
  if (opts_.measure_latency) step_as<true>(e);
  else step_as<false>(e);
}

void Engine::remove_strategy(std::size_t idx) {
  Slot& s = *slots_.at(idx);
  if (first_live_ == &s) first_live_ = nullptr;
  for (auto i : s.instruments) {
    auto& v = subs_[i];
    v.erase(std::remove(v.begin(), v.end(), &s), v.end());
    sole_sub_[i] = v.size() == 1 ? v.front() : nullptr;
  }
  // its venue's resting orders leave the shared per-instrument counters with it
  s.venue.cancel_all(now_);
  s.venue.clear_reports();
  if (s.state != nullptr && s.fn != nullptr) {
    g_crash_site.strategy = s.id.c_str();
    g_crash_site.callback = "destroy";
    s.fn->destroy(s.state);
    g_crash_site.callback = nullptr;
    s.state = nullptr;
  }
  slots_.erase(slots_.begin() + static_cast<std::ptrdiff_t>(idx));
  refresh_slot_ptrs();
  Nanos min_due = INT64_MAX;
  for (auto& sp : slots_) min_due = std::min(min_due, sp->next_due);
  next_due_min_ = min_due;
}

std::unique_ptr<Slot> Engine::detach_slot(std::size_t idx) {
  Slot& s = *slots_.at(idx);
  if (first_live_ == &s) first_live_ = nullptr;
  for (auto i : s.instruments) {
    auto& v = subs_[i];
    v.erase(std::remove(v.begin(), v.end(), &s), v.end());
    sole_sub_[i] = v.size() == 1 ? v.front() : nullptr;
  }
  // its venue's resting orders leave this engine's per-instrument counters with it
  for (std::uint32_t i = 0; i < resting_all_.size(); ++i) resting_all_[i] -= s.venue.resting(i);
  s.venue.set_shared_resting(nullptr);
  std::unique_ptr<Slot> out = std::move(slots_[idx]);
  slots_.erase(slots_.begin() + static_cast<std::ptrdiff_t>(idx));
  refresh_slot_ptrs();
  Nanos min_due = INT64_MAX;
  for (auto& sp : slots_) min_due = std::min(min_due, sp->next_due);
  next_due_min_ = min_due;
  return out;
}

std::size_t Engine::attach_slot(std::unique_ptr<Slot> sp) {
  Slot& s = *sp;
  s.eng = this;
  s.ext = s.live ? ext_ : nullptr;  // a shadow's orders never reach the external venue from here
  s.venue.set_shared_resting(resting_all_.data());
  for (std::uint32_t i = 0; i < resting_all_.size(); ++i) resting_all_[i] += s.venue.resting(i);
  for (auto i : s.instruments) {
    subs_[i].push_back(&s);
    sole_sub_[i] = subs_[i].size() == 1 ? subs_[i].front() : nullptr;
  }
  if (s.live) first_live_ = &s;
  slots_.push_back(std::move(sp));
  refresh_slot_ptrs();
  if (s.next_due < next_due_min_) next_due_min_ = s.next_due;
  return slots_.size() - 1;
}

void Engine::copy_market_from(const Engine& o) {
  // Level by level through the records the book itself applies (a book owns its level arrays).
  for (std::size_t i = 0; i < books_.size() && i < o.books_.size(); ++i) {
    const Book& src = o.books_[i];
    Book& dst = books_[i];
    Event c{};
    c.type = static_cast<std::uint8_t>(EventType::Clear);
    c.side = static_cast<std::uint8_t>(Side::None);
    c.recv_ts = src.last_update_ts();
    (void)dst.apply(c);
    for (int side = 0; side < 2; ++side) {
      Event d{};
      d.type = static_cast<std::uint8_t>(EventType::Depth);
      d.side = static_cast<std::uint8_t>(side == 0 ? Side::Bid : Side::Ask);
      d.recv_ts = src.last_update_ts();
      std::int64_t px = 0, qty = 0;
      for (std::uint32_t k = 0; side == 0 ? src.bids().level(k, px, qty) : src.asks().level(k, px, qty); ++k) {
        d.v[0] = px;
        d.v[1] = qty;
        (void)dst.apply(d);
      }
    }
  }
  bar_ref_ = o.bar_ref_;
  now_ = o.now_;
}

void Engine::set_live(std::size_t idx, bool live) {
  Slot& s = *slots_.at(idx);
  if (live) first_live_ = &s;
  else if (first_live_ == &s) first_live_ = nullptr;
  if (ext_ != nullptr) {
    s.ext = ext_;
    if (live && !s.live) s.ext_ids.emplace_back(s.next_order_id, UINT64_MAX);
    if (!live && s.live && !s.ext_ids.empty()) s.ext_ids.back().second = s.next_order_id;
  }
  s.live = live;
  if (!live) return;
  for (auto i : s.instruments) {
    auto& v = subs_[i];
    auto it = std::find(v.begin(), v.end(), &s);
    if (it != v.end()) std::rotate(v.begin(), it, it + 1);
  }
}

bool Engine::route_external(Slot& s, const PendingAction& a) {
  const std::uint64_t id = a.kind == PendingAction::Kind::New ? a.order.id : a.id;
  if (!s.routed_external(id)) return false;
  if (s.ext->send(s, a, now_)) return true;
  // not sent (the session dropped after the order passed the gate): tell the strategy now
  VenueReport r{};
  r.kind = VenueReport::Kind::Update;
  r.id = id;
  r.ts = now_;
  if (a.kind == PendingAction::Kind::New) {
    r.status = SF_ORDER_REJECTED;
    r.instrument = a.order.instrument;
    r.side = a.order.side;
    r.px = a.order.px;
    r.qty = a.order.leaves;
  } else {
    r.status = SF_ORDER_CANCEL_REJECTED;
  }
  s.reports.push(PendingReport{now_, r});
  lower_due(s, now_);
  return true;
}

void Engine::external_report(std::size_t idx, const VenueReport& r) {
  Slot& s = *slots_.at(idx);
  s.reports.push(PendingReport{now_, r});
  lower_due(s, now_);
}

void Engine::external_orders_lost(std::size_t idx) {
  Slot& s = *slots_.at(idx);
  const GateOrder* orders = s.gate.open_order_data();
  for (std::uint32_t i = 0; i < s.gate.open_orders(); ++i) {
    if (!s.routed_external(orders[i].id)) continue;
    VenueReport r{};
    r.kind = VenueReport::Kind::Update;
    r.status = SF_ORDER_CANCELED;
    r.id = orders[i].id;
    r.ts = now_;
    r.instrument = orders[i].instrument;
    r.side = orders[i].side;
    r.px = orders[i].px;
    r.qty = orders[i].leaves;
    s.reports.push(PendingReport{now_, r});
  }
  lower_due(s, now_);
}

double Engine::quote_per_ticklot(std::uint32_t inst) const noexcept {
  const InstrumentEntry& e = file_.instruments()[inst];
  return static_cast<double>(e.tick_size_e9) * 1e-9 * static_cast<double>(e.lot_size_e9) * 1e-9;
}

Lots Engine::firm_position(std::uint32_t inst) const noexcept {
  Lots p = 0;
  for (const auto& sp : slots_)
    if (sp->live && inst < sp->gate.instrument_count()) p += sp->gate.account(inst).position;
  return p;
}

double Engine::firm_gross_notional() const noexcept {
  double g = 0;
  for (std::uint32_t i = 0; i < books_.size(); ++i) {
    const Lots p = firm_position(i);
    if (p == 0) continue;
    const Book& b = books_[i];
    if (!b.two_sided()) continue;
    g += static_cast<double>(p < 0 ? -p : p) * static_cast<double>(b.best_bid() + b.best_ask()) * 0.5 * quote_per_ticklot(i);
  }
  return g;
}

// Worst case of the firm's net position on `inst` if every working order of the live slots on
// that side filled (the order being checked is already among them, plus `extra` lots more).
bool Engine::firm_denies(Slot& s, std::uint32_t inst, Side side, Lots extra, RiskDecision& d) const noexcept {
  (void)s;
  Lots worst = 0, pos = 0;
  for (const auto& sp : slots_) {
    if (!sp->live || inst >= sp->gate.instrument_count()) continue;
    const InstrumentAccount& a = sp->gate.account(inst);
    pos += a.position;
    worst += side == Side::Bid ? a.position + a.working_buy : a.position - a.working_sell;
  }
  worst += side == Side::Bid ? extra : -extra;
  const char* sym = file_.instruments()[inst].symbol;
  const Lots maxp = inst < firm_.max_position.size() ? firm_.max_position[inst] : -1;
  if (maxp >= 0 && (worst > maxp || worst < -maxp)) {
    d.reason = RiskReason::FirmLimit;
    std::snprintf(d.context, sizeof d.context, "firm max_position instrument=%s firm_position=%lld worst_case=%lld max=%lld", sym,
                  static_cast<long long>(pos), static_cast<long long>(worst), static_cast<long long>(maxp));
    return true;
  }
  if (firm_.max_gross_notional > 0) {
    const Book& b = books_[inst];
    const double mid = b.two_sided() ? static_cast<double>(b.best_bid() + b.best_ask()) * 0.5 : 0.0;
    double g = firm_gross_notional();
    // replace this instrument's term by its worst case
    const double cur = static_cast<double>(pos < 0 ? -pos : pos) * mid * quote_per_ticklot(inst);
    const double after = static_cast<double>(worst < 0 ? -worst : worst) * mid * quote_per_ticklot(inst);
    g += after - cur;
    if (g > firm_.max_gross_notional) {
      d.reason = RiskReason::FirmLimit;
      std::snprintf(d.context, sizeof d.context, "firm max_gross_notional instrument=%s gross_worst_case=%.2f max=%.2f", sym, g,
                    firm_.max_gross_notional);
      return true;
    }
  }
  return false;
}

}  // namespace sf
