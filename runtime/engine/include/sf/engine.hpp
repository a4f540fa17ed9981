// sf/engine.hpp — the replay engine: event file -> books -> strategies -> risk gate -> venue.
//
// Design: one thread walks the mmapped Event[] once. Per event: (1) for each strategy slot,
// deliver everything due strictly before the event's recv_ts, in time order: venue arrivals of
// its orders/cancels/replaces, venue reports (fills, order updates) reaching the strategy, and
// timers; (2) apply the record to the instrument's book and let each slot's venue see it (queue
// position, fills) — zero work for slots without resting orders; (3) at a batch end (DEPTH/CLEAR
// with END_OF_BATCH, every QUOTE) call on_book, on TRADE on_trade, on BAR on_bar, for the
// subscribed slots. Strategies act only through sf_ctx; every order goes through the slot's
// RiskGate, then waits in a FIFO for its venue arrival time.
// Latency model (docs/replay.md): an order decided at event time t reaches the venue at
// t + feed + entry (the strategy saw the market `feed` late, the order took `entry`), and each
// venue report reaches the strategy `response` later; FIFO order is kept (no overtaking).
// Bar mode: no latency; orders fill on the next bar (see venue.hpp).
// Measurement: tick-to-order = TSC at the start of processing the event -> TSC when the order
// leaves the risk gate; per-callback cost = TSC around each callback. Neither is visible to the
// strategy, whose clock is the event clock (ctx.now_ns).
// Faults: a callback returning SF_FAULT stops the run (status StrategyFault, message names the
// strategy and callback); a crash is handled by sf/crash.hpp.
// Stepping mode (sf-engine, docs/runtime.md): step() runs the same per-event work for one event
// at a time; slots can be added and removed between events; slots marked live have their orders
// checked against the firm-wide limits (FIRM_LIMIT), optionally go to an ExternalVenue (the TCP
// gateway) instead of their simulated venue, and in DEPTH/TRADE records get their venue work and
// callbacks before the other slots (per-slot results identical to run()). A fault only marks its
// slot in stepping mode.
// Worst case per event: O(slots) due-checks (one compare each against the slot's cached
// earliest pending time) + the book update (book.hpp) + O(resting orders)
// venue work + callbacks. No allocation in the loop except the capped result lists, which are
// reserved up front.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sf/abi.h"
#include "sf/book.hpp"
#include "sf/clock.hpp"
#include "sf/config.hpp"
#include "sf/event_file.hpp"
#include "sf/histogram.hpp"
#include "sf/json.hpp"
#include "sf/latency_model.hpp"
#include "sf/loader.hpp"
#include "sf/risk.hpp"
#include "sf/tape.hpp"
#include "sf/venue.hpp"

namespace sf {

struct EngineOptions {
  bool bar_mode = false;
  std::uint32_t book_capacity = Book::kDefaultCapacity;
  VenueConfig venue;
  OutputConfig output;
  bool measure_latency = true;
};

struct StrategySetup {
  std::string id;
  std::string plugin;  // path or builtin:<name>
  std::string params;
  std::vector<std::uint32_t> instruments;  // file instrument ids
  RiskLimits limits;
};

enum class RunStatus { Ok, StrategyFault, DataError };

/// FIFO ring of trivially copyable items; grows (doubling) only if full, which the bounded
/// order rate makes a start-up-sized rarity.
template <class T>
class Fifo {
 public:
  explicit Fifo(std::size_t cap_pow2 = 1024) : buf_(cap_pow2), mask_(cap_pow2 - 1) {}
  [[nodiscard]] bool empty() const noexcept { return head_ == tail_; }
  [[nodiscard]] std::size_t size() const noexcept { return tail_ - head_; }
  [[nodiscard]] const T& front() const noexcept { return buf_[head_ & mask_]; }
  void pop() noexcept { ++head_; }
  void push(const T& v) {
    if (size() > mask_) [[unlikely]] grow();  // full: size() == capacity == mask_ + 1
    buf_[tail_++ & mask_] = v;
  }

 private:
  void grow() {
    std::vector<T> nb(buf_.size() * 2);
    for (std::size_t i = 0; i < size(); ++i) nb[i] = buf_[(head_ + i) & mask_];
    tail_ = size();
    head_ = 0;
    buf_.swap(nb);
    mask_ = buf_.size() - 1;
  }
  std::vector<T> buf_;
  std::size_t mask_;
  std::size_t head_ = 0, tail_ = 0;
};

struct PendingAction {
  enum class Kind : std::uint8_t { New, Cancel, Replace };
  Kind kind;
  Nanos ts;  // venue arrival time
  VenueOrder order;  // New
  std::uint64_t id;  // Cancel / Replace
  Ticks px;
  Lots qty;
};

struct PendingReport {
  Nanos ts;  // when the strategy learns of it
  VenueReport r;
};

struct FillRecord {
  Nanos ts;
  std::uint64_t order_id;
  std::uint32_t instrument;
  Side side;
  bool maker;
  Ticks px;
  Lots qty;
  double fee;
  Lots position;
};

struct DenialRecord {
  Nanos ts;
  RiskReason reason;
  char op;  // 'N'ew, 'R'eplace, 'C'ancel
  std::uint64_t order_id;
  char context[192];
};

struct OrderRecord {
  std::uint64_t id;
  Nanos ts;
  std::uint32_t instrument;
  Side side;
  OrdType type;
  Tif tif;
  Ticks px;
  Lots qty;
  std::uint32_t final_status;  // SF_ORDER_* once done, 0 while working
  Lots filled;
};

struct PnlSample {
  Nanos ts;
  double pnl;
  double fees;
  std::size_t pos_offset;  // into positions_ (one entry per subscribed instrument)
};

enum CallbackKind : std::uint32_t { kCbBook, kCbTrade, kCbBar, kCbFill, kCbOrderUpdate, kCbTimer, kCbCount };
inline constexpr const char* kCallbackNames[kCbCount] = {"on_book", "on_trade", "on_bar", "on_fill", "on_order_update", "on_timer"};

class Engine;

/// Firm-wide limits (sf-engine): across every slot marked live, per-instrument net position
/// (lots; < 0 = no limit) and the sum of |position| x mid in quote currency (<= 0 = no limit).
/// Checked after the slot's own gate accepted a new order or a replace; shadow slots never count.
struct FirmLimits {
  std::vector<Lots> max_position;  // by file instrument id
  double max_gross_notional = 0.0;
};

struct PendingAction;
struct Slot;

/// An external live venue (sf-engine: the TCP gateway to sf-venue). The orders a slot sends
/// while it is live go there at decision time instead of through its simulated venue; the
/// venue's reports come back through Engine::external_report().
class ExternalVenue {
 public:
  virtual ~ExternalVenue() = default;
  [[nodiscard]] virtual bool up() const noexcept = 0;
  /// Sends a New / Cancel / Replace of `slot` stamped with engine time `now`; false if not sent.
  [[nodiscard]] virtual bool send(const Slot& slot, const PendingAction& a, Nanos now) noexcept = 0;
};

struct Slot {
  Slot(Engine* e, std::uint32_t idx, RiskLimits lim, std::vector<double> qptl, const VenueConfig& vc, bool bar_mode, std::uint32_t ninst);

  Engine* eng;
  std::uint32_t index;
  std::string id;
  std::string plugin_path;
  LoadedPlugin plugin;
  const sf_plugin_v1* fn = nullptr;
  void* state = nullptr;
  sf_ctx ctx{};
  std::vector<std::uint8_t> subscribed;   // by instrument id
  std::vector<std::uint32_t> instruments;  // subscribed ids
  RiskGate gate;
  SimVenue venue;
  Rng rng;
  Fifo<PendingAction> actions;
  Fifo<PendingReport> reports;
  Nanos last_arrive = INT64_MIN;
  Nanos last_deliver = INT64_MIN;
  struct Timer {
    Nanos at;
    std::uint64_t id;
  };
  std::array<Timer, 16> timers{};
  std::uint32_t n_timers = 0;
  // Lower bound of the earliest pending item (action arrival, report delivery, timer): lowered
  // on every push, made exact when process_due() returns. The hot loop enters process_due() only
  // when next_due < now, which is exactly when it has something due (it re-checks exactly).
  Nanos next_due = INT64_MAX;
  bool in_callback = false;
  bool faulted = false;
  std::string fault_callback;
  std::string fault_message;
  std::uint64_t next_order_id = 1;
  bool kill_reported = false;
  bool live = false;  // sf-engine: counted by (and checked against) the firm-wide limits
  // sf-engine with an external live venue: order ids [from, to) sent there (one range per live
  // period); their cancels and replaces follow them there.
  ExternalVenue* ext = nullptr;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ext_ids;
  std::uint32_t route_tag = 0;  // sf-engine: identifies the slot in the external venue's order ids
  [[nodiscard]] bool routed_external(std::uint64_t id) const noexcept {
    for (auto it = ext_ids.rbegin(); it != ext_ids.rend(); ++it)
      if (id >= it->first && id < it->second) return true;
    return false;
  }

  // counters
  std::uint64_t submitted = 0, accepted = 0, denied = 0, cancels = 0, replaces = 0, cancel_denied = 0, replace_denied = 0;
  std::uint64_t fills = 0, maker_fills = 0, taker_fills = 0, done_filled = 0, done_canceled = 0, done_expired = 0, done_rejected = 0,
                cancel_rejected = 0;
  std::array<std::uint64_t, kRiskReasonCount> denials_by_reason{};
  std::vector<DenialRecord> denial_list;
  std::vector<FillRecord> fill_list;
  std::vector<OrderRecord> order_list;
  std::vector<PnlSample> pnl_series;
  std::vector<Lots> pnl_positions;
  std::uint64_t pnl_samples_dropped = 0;  // samples beyond the reserved capacity (never grows in the loop)
  double max_drawdown = 0, peak_pnl = 0;
  std::array<LatencyHistogram, kCbCount> cb_hist;
  LatencyHistogram t2o_hist;
};

class Engine {
 public:
  Engine(const EventFile& file, EngineOptions opts);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Loads the plugin and creates the strategy. False with a message naming the strategy.
  [[nodiscard]] bool add_strategy(StrategySetup s, std::string& error);
  void set_tape(TapeWriter* t) noexcept { tape_ = t; }

  [[nodiscard]] RunStatus run();

  // --- driving the engine one event at a time (sf-engine) ------------------------------------
  /// Switches the engine to stepping mode: no PnL series, a strategy fault no longer stops the
  /// engine (the slot is marked faulted and gets no more callbacks; see faults()). Call once
  /// before the first step().
  void begin_stepping();
  /// Processes one event exactly as run() does for a record of the file (due venue traffic and
  /// timers first, then the book, the venues and the callbacks). Events must be valid records
  /// for this file's instruments with non-decreasing recv_ts.
  void step(const Event& e);
  /// Warms every instance's next callback without calling it (sf-engine, before an event that
  /// ends an idle gap of the paced feed): reads one byte per cache line of the plugin's mapped
  /// segments (LoadedPlugin::warm), of the page holding the strategy's state and of the slot.
  /// Never writes, never calls the plugin, records nothing: the callbacks that follow are
  /// measured as every other one. Returns the cache lines read.
  std::size_t warm() const noexcept;
  /// Removes a slot between two events (destroy() is called, its paper orders are dropped with
  /// it: cancel them first with engage_kill() and let the cancels arrive if that matters).
  /// Later slots move down by one index.
  void remove_strategy(std::size_t slot);
  /// Marks a slot live (firm-wide limits apply to its orders, its position counts) or shadow.
  /// A live slot moves to the front of its instruments' subscriber lists: its callbacks run
  /// first in each event, so its tick-to-order does not include the shadows' callbacks.
  void set_live(std::size_t slot, bool live);
  /// Moves a slot out of this engine between two events (sf-engine: a shadow becoming live or
  /// a live slot becoming a shadow): nothing of the slot is destroyed or reset — its strategy
  /// state, gate, simulated venue with its resting orders, pending venue traffic and timers go
  /// with it. Later slots move down by one index. attach_slot() puts it into another engine.
  [[nodiscard]] std::unique_ptr<Slot> detach_slot(std::size_t slot);
  /// Adds a slot detached from another engine over the same file, which has processed exactly
  /// the same events (same now()): from the next step() on it runs here, with this engine's
  /// external venue (if any) once set_live() marks it live. Returns its index here.
  std::size_t attach_slot(std::unique_ptr<Slot> s);
  /// Copies the books (and bar references) of another engine over the same file that has
  /// processed the same events, and its event clock: a fresh shadow engine catching up with
  /// the live one (sf-engine), or one that missed events getting a correct book again.
  void copy_market_from(const Engine& other);
  /// Cancels every working order of a slot through its venue path (no kill switch).
  void cancel_working(std::size_t slot) { kill_cancel_all(*slots_.at(slot), now_); }
  /// The external live venue (sf-engine): live slots' orders go there from now on.
  void set_external_venue(ExternalVenue* v) noexcept { ext_ = v; }
  /// A report of the external venue for one of `slot`'s orders: delivered to the strategy (and
  /// its gate) at the next event, as a simulated venue's report would be.
  void external_report(std::size_t slot, const VenueReport& r);
  /// The external venue dropped the session (its orders are canceled there): every working
  /// order a slot routed there is reported canceled.
  void external_orders_lost(std::size_t slot);
  void set_firm_limits(FirmLimits f) { firm_ = std::move(f); }
  [[nodiscard]] const FirmLimits& firm_limits() const noexcept { return firm_; }
  /// Firm-wide net position of the live slots on `inst` (lots).
  [[nodiscard]] Lots firm_position(std::uint32_t inst) const noexcept;
  /// Firm-wide sum of |net position| x mid of the live slots (quote currency).
  [[nodiscard]] double firm_gross_notional() const noexcept;
  /// Strategy faults seen since begin_stepping() (stepping mode only).
  [[nodiscard]] std::uint64_t faults() const noexcept { return faults_; }
  [[nodiscard]] Nanos now() const noexcept { return now_; }
  [[nodiscard]] const TscClock& clock() const noexcept { return clock_; }
  [[nodiscard]] Slot& slot_mut(std::size_t i) noexcept { return *slots_[i]; }
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

  /// Engages (or releases) a slot's kill switch now: working orders are canceled through the
  /// venue path; new orders are denied KILL_SWITCH until release.
  void engage_kill(std::uint32_t slot, const char* context);
  void release_kill(std::uint32_t slot);

  [[nodiscard]] std::size_t slot_count() const noexcept { return slots_.size(); }
  [[nodiscard]] const Slot& slot(std::size_t i) const noexcept { return *slots_[i]; }
  [[nodiscard]] std::uint64_t events_processed() const noexcept { return events_done_; }
  [[nodiscard]] std::int64_t wall_ns() const noexcept { return wall_ns_; }
  [[nodiscard]] const Book& book(std::uint32_t inst) const noexcept { return books_[inst]; }
  [[nodiscard]] const EventFile& file() const noexcept { return file_; }
  [[nodiscard]] const EngineOptions& options() const noexcept { return opts_; }

  /// Writes the results document (docs/replay.md, "Results").
  void write_results(json::Writer& w, const std::string& config_path) const;

  // --- host side of sf_ctx (public for the C trampolines) -----------------------------------
  std::int32_t host_submit(Slot& s, const sf_order_request& r, std::uint64_t* out_id);
  std::int32_t host_cancel(Slot& s, std::uint64_t id);
  std::int32_t host_replace(Slot& s, std::uint64_t id, Ticks px, Lots qty);
  std::int32_t host_book_level(std::uint32_t inst, std::uint32_t side, std::uint32_t depth, std::int64_t* px, std::int64_t* qty) const;
  std::int32_t host_set_timer(Slot& s, Nanos at, std::uint64_t id);
  void host_fault(Slot& s, const char* msg);

 private:
  [[nodiscard]] Reference reference(std::uint32_t inst) const noexcept;
  void process_due(Slot& s, Nanos before);
  void deliver(Slot& s, const PendingReport& pr);
  void venue_action(Slot& s, const PendingAction& a);
  void drain_venue(Slot& s);
  void push_action(Slot& s, const PendingAction& a) {
    if (s.ext != nullptr && route_external(s, a)) [[unlikely]] return;
    s.actions.push(a);
    lower_due(s, a.ts);
  }
  void lower_due(Slot& s, Nanos t) noexcept {
    if (t < s.next_due) s.next_due = t;
    if (t < next_due_min_) next_due_min_ = t;
  }
  [[gnu::cold]] [[gnu::noinline]] void callback_failed(Slot& s, CallbackKind cb, Nanos now, std::int32_t rc);
  template <bool kMeasure>
  void notify_book(std::uint32_t inst, const Event& e);
  void notify_book_rt(std::uint32_t inst, const Event& e);
  [[nodiscard]] bool has_subscriber(std::uint32_t inst) const noexcept { return sole_sub_[inst] != nullptr || !subs_[inst].empty(); }
  template <class F>
  void each_subscriber(std::uint32_t inst, F&& f);
  void other_event(const Event& e, Slot* const* slots, std::size_t nslots);
  template <bool kMeasure>
  void notify_trade(const Event& e);
  void notify_bar(const Event& e);
  void after_mark(Slot& s, std::uint32_t inst, Ticks mark_x2, Nanos now);
  void kill_cancel_all(Slot& s, Nanos now);
  void sample_pnl(Nanos ts);
  // The PnL sampling rule's slow path, entered when now_ >= next_sample_ts_ (the loop's one
  // compare); `index` is the record about to be processed.
  [[gnu::noinline]] void sample_due(std::uint64_t index);
  [[nodiscard]] std::size_t pnl_sample_capacity() const noexcept;
  void record_denial(Slot& s, const RiskDecision& d, char op, std::uint64_t id);
  template <class F>
  void invoke(Slot& s, CallbackKind cb, Nanos now, F&& f);
  template <bool kMeasure, class F>
  void invoke_as(Slot& s, CallbackKind cb, Nanos now, F&& f);
  template <bool kMeasure>
  [[nodiscard]] RunStatus run_loop();
  template <bool kMeasure>
  void process_event(const Event& e, Slot* const* slots, std::size_t nslots, const std::uint32_t* resting_all);
  template <bool kMeasure>
  void step_as(const Event& e);
  template <bool kMeasure>
  void process_event_live_first(const Event& e, Slot& live);
  Slot* first_live_ = nullptr;  // stepping mode: the slot whose venue work and callbacks run first
  [[nodiscard]] bool firm_denies(Slot& s, std::uint32_t inst, Side side, Lots extra, RiskDecision& d) const noexcept;
  [[nodiscard]] double quote_per_ticklot(std::uint32_t inst) const noexcept;
  void refresh_slot_ptrs();
  bool route_external(Slot& s, const PendingAction& a);

  const EventFile& file_;
  EngineOptions opts_;
  std::vector<Book> books_;
  std::vector<Reference> bar_ref_;  // bar mode: last close per instrument
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> slot_ptrs_;
  std::vector<std::vector<Slot*>> subs_;  // instrument -> subscribed slots
  std::vector<Slot*> sole_sub_;           // instrument -> its only subscriber, nullptr for none or several
  std::vector<std::uint32_t> resting_all_;  // instrument -> active venue orders over all slots
  TapeWriter* tape_ = nullptr;
  TscClock clock_;
  std::uint64_t event_tsc_ = 0;
  Nanos now_ = 0;
  bool stop_ = false;
  std::string error_;
  std::uint64_t events_done_ = 0;
  std::int64_t wall_ns_ = 0;
  std::uint64_t batches_ = 0, end_of_batch_flags_ = 0;
  // PnL sampling: every sample_every_ records, or (sample_period_ > 0) at each period boundary.
  // Both rules trigger on one receive-time compare per event: next_sample_ts_ is the next
  // boundary, or the receive time of the next record due a sample.
  std::int64_t sample_every_ = 0;
  std::int64_t sample_period_ = 0;
  std::uint64_t next_sample_idx_ = 0;
  Nanos next_sample_ts_ = INT64_MAX;
  Nanos next_due_min_ = INT64_MAX;  // <= every slot's next_due: one compare per event for all slots
  bool stepping_ = false;
  std::uint64_t faults_ = 0;
  FirmLimits firm_;
  ExternalVenue* ext_ = nullptr;
};

}  // namespace sf
