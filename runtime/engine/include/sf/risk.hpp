// sf/risk.hpp — the pre-trade risk gate. Every order, replace and cancel of every strategy passes
// through RiskGate before any venue sees it; generated strategy code has no other path out.
//
// Design: one gate per strategy instance. The gate owns that strategy's account (positions,
// cash, fees, marks) and its table of working orders (fixed capacity = max_open_orders), so every
// control is decided from the gate's own state: nothing a strategy passes in can turn a check off.
// Limits are integers per instrument (lots, ticks, tick*lot notional as int128, price band in
// 1/100 bps), converted once from the human-unit JSON config (see config.hpp).
// Checks, in this precedence (the first failing one is the reason code):
//   INVALID_ORDER, INSTRUMENT_NOT_ALLOWED, KILL_SWITCH, MAX_LOSS, MAX_DRAWDOWN, RATE_LIMIT, MAX_OPEN_ORDERS,
//   MAX_ORDER_QTY, NO_REFERENCE / CROSSED_REFERENCE / STALE_REFERENCE, PRICE_BAND,
//   MAX_ORDER_NOTIONAL, MAX_POSITION (position + same-side working qty + this order),
//   SELF_TRADE (own working opposite order at a crossing price), DUPLICATE_ORDER.
// The message throttle is a token bucket on the event clock (never the wall clock): new orders
// and replaces need a token; cancels consume one when available but are never denied, since a
// cancel only reduces risk. A kill switch (manual, or automatic on MAX_LOSS / MAX_DRAWDOWN, and
// with kill_on_breach on a MAX_POSITION / MAX_OPEN_ORDERS / RATE_LIMIT denial) blocks new orders
// and replaces until release_kill(); the engine cancels all working orders when it engages.
// Drawdown (optional, RiskLimits::has_max_drawdown): the gate keeps the running peak of pnl()
// (starting at 0, the PnL before any fill), updated wherever the PnL is evaluated after it changed
// (check_loss() after fills and mark moves of an open position; check_new/check_replace), and
// trips the kill switch with MAX_DRAWDOWN when peak - pnl() > max_drawdown. Checked after
// MAX_LOSS in the precedence above. release_kill() does not reset the peak.
// Worst case per check: O(open orders) for the self-trade and duplicate scans (bounded by
// max_open_orders), O(instruments) for the loss / drawdown check when the PnL changed since the
// last one (cached otherwise); no allocation after construction.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sf/types.hpp"

namespace sf {

/// Stable denial reason codes. Values are part of the plugin ABI (returned by ctx->submit).
enum class RiskReason : std::int32_t {
  Accepted = 0,
  InvalidOrder = 1,
  InstrumentNotAllowed = 2,
  KillSwitch = 3,
  MaxLoss = 4,
  RateLimit = 5,
  MaxOpenOrders = 6,
  MaxOrderQty = 7,
  NoReference = 8,
  CrossedReference = 9,
  StaleReference = 10,
  PriceBand = 11,
  MaxOrderNotional = 12,
  MaxPosition = 13,
  SelfTrade = 14,
  DuplicateOrder = 15,
  UnknownOrder = 16,
  VenueBackpressure = 17,
  NotInCallback = 18,
  MaxDrawdown = 19,  // kill switch tripped by the fall from the running PnL peak
  FirmLimit = 20,    // sf-engine: the order would take the firm (all live instances) over a firm-wide limit
};
inline constexpr std::size_t kRiskReasonCount = 21;

/// SCREAMING_SNAKE name of a reason code (stable; dashboards group by it).
[[nodiscard]] const char* risk_reason_name(RiskReason r) noexcept;
[[nodiscard]] const char* risk_reason_name_c(std::int32_t code) noexcept;

struct InstrumentLimits {
  bool allowed = false;
  std::string symbol;
  Lots max_order_qty = 0;
  i128 max_order_notional = 0;  // in tick*lot units
  Lots max_position = 0;
  std::int64_t price_band_cbps = 0;  // 1/100 basis points
  double quote_per_ticklot = 0.0;    // tick_size * lot_size in quote currency
};

struct RiskLimits {
  std::vector<InstrumentLimits> instruments;  // indexed by file instrument id
  std::uint32_t max_open_orders = 0;
  std::int64_t max_msgs_per_sec = 0;
  std::int64_t msg_burst = 0;
  double max_loss = 0.0;  // quote currency, > 0
  bool kill_on_max_loss = true;
  bool has_max_drawdown = false;  // false: no drawdown control (config key absent)
  double max_drawdown = 0.0;      // quote currency, > 0 when has_max_drawdown
  bool kill_on_breach = false;    // MAX_POSITION / MAX_OPEN_ORDERS / RATE_LIMIT denials also trip the kill switch
  Nanos max_reference_age_ns = 0;
  Nanos duplicate_window_ns = 0;
};

struct RiskDecision {
  RiskReason reason = RiskReason::Accepted;
  Ticks protect_px = 0;  // for accepted market orders: the worst price the venue may fill at
  // This decision engaged the kill switch (MAX_DRAWDOWN, or a kill_on_breach denial): the caller
  // cancels all working orders. (Not set for MAX_LOSS, whose kill the gate has engaged this way
  // since before this flag existed.)
  bool kill_engaged = false;
  char context[192] = {0};
  [[nodiscard]] bool accepted() const noexcept { return reason == RiskReason::Accepted; }
};

struct GateOrder {
  std::uint64_t id = 0;
  std::uint32_t instrument = 0;
  Side side = Side::None;
  OrdType type = OrdType::Limit;
  Ticks px = 0;
  Lots leaves = 0;  // open quantity, worst case (reduced by fills, removed when done)
  Nanos submit_ts = 0;
};

struct InstrumentAccount {
  Lots position = 0;
  Lots working_buy = 0;
  Lots working_sell = 0;
  i128 cash = 0;          // tick*lot units: + sells, - buys
  Ticks mark_x2 = kNoPrice;  // 2 x mark price (mid), kNoPrice until first mark
  double fees = 0.0;      // quote currency
  Lots max_abs_position = 0;
  Lots volume = 0;
};

class RiskGate {
 public:
  explicit RiskGate(RiskLimits limits);
  RiskGate(const RiskGate&) = delete;
  RiskGate& operator=(const RiskGate&) = delete;
  RiskGate(RiskGate&&) noexcept = default;

  /// Checks a new order; on acceptance records it as working under `id` and consumes a token.
  [[nodiscard]] RiskDecision check_new(std::uint64_t id, const OrderIntent& o, const Reference& ref, Nanos now);
  /// Checks a replace (new price, new open qty); on acceptance updates the working order.
  [[nodiscard]] RiskDecision check_replace(std::uint64_t id, Ticks px, Lots qty, const Reference& ref, Nanos now);
  /// The same, for a caller that already looked the order up: `found` must be find(id).
  [[nodiscard]] RiskDecision check_replace(const GateOrder* found, std::uint64_t id, Ticks px, Lots qty, const Reference& ref, Nanos now);
  /// Cancels are never denied for risk; UNKNOWN_ORDER when `id` is not working.
  [[nodiscard]] RiskDecision check_cancel(std::uint64_t id, Nanos now);

  /// A fill the strategy is told about: position, cash, fees, working qty.
  void on_fill(std::uint64_t id, Side side, std::uint32_t instrument, Ticks px, Lots qty, double fee) noexcept;
  /// The order is done (filled, canceled, expired, rejected): no longer working.
  void on_done(std::uint64_t id) noexcept;
  /// New mark (2 x mid) for an instrument.
  /// True when the current marks are known to satisfy pnl() >= -max_loss without evaluating
  /// it. Single-instrument gates only: with cash, position and fees fixed (no fill since the
  /// last evaluation that passed), pnl() is a monotone function of the one mark in floating point
  /// (the exact integer 2*cash + position*mark, a correctly rounded conversion, then
  /// multiplications by non-negative constants and a subtraction all preserve order), so a mark
  /// at or beyond a mark that passed, on the position's favourable side, passes too.
  [[nodiscard]] bool loss_known_ok() const noexcept {
    if (!loss_ok_valid_) return false;
    const InstrumentAccount& a = acct_[0];
    if (a.position == 0) return true;  // the mark does not enter pnl() at all
    if (a.mark_x2 == kNoPrice) return false;
    return a.position > 0 ? a.mark_x2 >= loss_ok_mark_ : a.mark_x2 <= loss_ok_mark_;
  }

  /// While the instrument is flat the mark does not enter the PnL: stores it and returns true.
  /// False (nothing stored) when a position is open: use mark() and the loss check.
  bool mark_if_flat(std::uint32_t instrument, Ticks mid_x2) noexcept {
    InstrumentAccount& a = acct_[instrument];
    if (a.position != 0) return false;
    a.mark_x2 = mid_x2;
    return true;
  }

  void mark(std::uint32_t instrument, Ticks mid_x2) noexcept {
    if (mid_x2 == kNoPrice) return;
    InstrumentAccount& a = acct_[instrument];
    // the mark only enters the PnL through position * mark, so a flat instrument keeps the cache
    if (a.position != 0 && a.mark_x2 != mid_x2) pnl_valid_ = false;
    a.mark_x2 = mid_x2;
  }

  /// Net PnL (realised + unrealised marked to mid, minus fees) in quote currency. Cached: the
  /// same sum is recomputed only after a fill or a mark change of an open position, so repeated
  /// gate checks between those events (every new order / replace) cost one load.
  [[nodiscard]] double pnl() const noexcept {
    if (pnl_valid_) return pnl_cache_;
    return recompute_pnl();
  }
  [[nodiscard]] double fees() const noexcept;
  [[nodiscard]] double pnl_instrument(std::uint32_t instrument) const noexcept;
  /// Evaluates the loss limit and, when configured, updates the drawdown peak and evaluates the
  /// drawdown limit; engages the kill switch on a breach (loss: when configured; drawdown:
  /// always). Call after every PnL change (fill, mark move of an open position). Returns true
  /// when the kill switch was engaged by this call.
  bool check_loss(Nanos now) noexcept {
    (void)now;
    if (lim_.has_max_drawdown) [[unlikely]] return check_loss_drawdown();
    if (killed_ || !lim_.kill_on_max_loss) return false;
    if (loss_known_ok()) return false;
    return check_loss_slow();
  }
  /// Running peak of pnl() as tracked for the drawdown limit (0 until a higher PnL was seen;
  /// not tracked when the limit is off).
  [[nodiscard]] double peak_pnl() const noexcept { return peak_pnl_; }

  void engage_kill(RiskReason why, const char* context) noexcept;
  void release_kill() noexcept;
  [[nodiscard]] bool killed() const noexcept { return killed_; }
  [[nodiscard]] RiskReason kill_reason() const noexcept { return kill_reason_; }
  [[nodiscard]] const char* kill_context() const noexcept { return kill_context_; }

  [[nodiscard]] const InstrumentAccount& account(std::uint32_t instrument) const noexcept { return acct_[instrument]; }
  [[nodiscard]] std::uint32_t open_orders() const noexcept { return n_open_; }
  [[nodiscard]] const GateOrder* open_order_data() const noexcept { return orders_.data(); }
  [[nodiscard]] const GateOrder* find(std::uint64_t id) const noexcept;
  [[nodiscard]] const RiskLimits& limits() const noexcept { return lim_; }
  [[nodiscard]] std::uint32_t instrument_count() const noexcept { return n_inst_; }

 private:
  [[nodiscard]] bool take_token(Nanos now, bool force) noexcept;
  /// take_token without consuming: true and the bucket state a take would leave, or false.
  [[nodiscard]] bool peek_token(Nanos now, std::int64_t& tokens_after, Nanos& ts_after) noexcept;
  [[nodiscard]] bool check_reference(const Reference& ref, Nanos now, const InstrumentLimits& il, RiskDecision& d) const noexcept;
  [[nodiscard]] bool check_band(Ticks px, Ticks mid_x2, const InstrumentLimits& il, RiskDecision& d) const noexcept;
  GateOrder* find_mut(std::uint64_t id) noexcept;
  [[nodiscard]] double recompute_pnl() const noexcept;
  /// Records that pnl() passed the loss limit at the current marks (see loss_known_ok()).
  void note_loss_ok() const noexcept {
    if (n_inst_ != 1) return;
    const InstrumentAccount& a = acct_[0];
    if (a.position != 0 && a.mark_x2 == kNoPrice) return;
    loss_ok_valid_ = true;
    loss_ok_mark_ = a.mark_x2;
  }
  void remove_at(std::uint32_t idx) noexcept;
  bool check_loss_slow() noexcept;
  void breach(RiskDecision& d) noexcept;
  bool check_loss_drawdown() noexcept;
  /// True when the current marks are known to give neither a new peak nor a drawdown breach
  /// without evaluating pnl(). Single-instrument gates, as loss_known_ok(): with no fill since
  /// the marks in [dd_ok_mark_, dd_top_mark_] (ordered by the position's favourable side) were
  /// evaluated and the peak unchanged since, pnl() at a mark in that range lies between the two
  /// evaluated values, so it is <= peak (no new peak) and peak - pnl() <= max_drawdown.
  [[nodiscard]] bool dd_known_ok() const noexcept {
    if (!dd_valid_) return false;
    const InstrumentAccount& a = acct_[0];
    if (a.position == 0) return true;  // the mark does not enter pnl() at all
    if (a.mark_x2 == kNoPrice) return false;
    return a.position > 0 ? a.mark_x2 >= dd_ok_mark_ && a.mark_x2 <= dd_top_mark_
                          : a.mark_x2 <= dd_ok_mark_ && a.mark_x2 >= dd_top_mark_;
  }
  /// Updates the peak with the freshly evaluated pnl() `p`; true when peak - p > max_drawdown.
  bool track_drawdown(double p) noexcept;
  /// The max-loss and drawdown checks shared by new orders and replaces: true, with `d` filled
  /// (and the kill switch engaged where the limit says so), when the request must be denied.
  /// `op` is appended to the denial's context ("" for new orders, " op=replace").
  [[nodiscard]] bool deny_on_loss(RiskDecision& d, const char* op) noexcept;
  void drawdown_context(double p, char* out, std::size_t n) const noexcept;

  RiskLimits lim_;
  std::vector<InstrumentAccount> acct_;
  std::uint32_t n_inst_ = 0;  // acct_.size(), fixed at construction
  std::vector<GateOrder> orders_;  // [0, n_open_) are working; capacity max_open_orders
  std::uint32_t n_open_ = 0;
  std::int64_t tokens_ = 0;  // scaled by 1e9
  std::int64_t token_cap_ = 0;
  Nanos token_ts_ = 0;
  bool token_init_ = false;
  bool killed_ = false;
  RiskReason kill_reason_ = RiskReason::Accepted;
  char kill_context_[160] = {0};
  mutable double pnl_cache_ = 0.0;  // == the full pnl() sum whenever pnl_valid_
  mutable bool pnl_valid_ = false;
  mutable bool loss_ok_valid_ = false;  // see loss_known_ok(); cleared by every fill
  mutable Ticks loss_ok_mark_ = kNoPrice;
  double peak_pnl_ = 0.0;         // running peak of pnl() (drawdown limit only)
  bool dd_valid_ = false;         // see dd_known_ok(); cleared by every fill
  Ticks dd_ok_mark_ = kNoPrice;   // least favourable mark known to pass the drawdown limit
  Ticks dd_top_mark_ = kNoPrice;  // most favourable mark known not to exceed the peak
};

}  // namespace sf
