#include "sf/risk.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

namespace sf {

namespace {
constexpr const char* kReasonNames[kRiskReasonCount] = {
    "ACCEPTED",           "INVALID_ORDER",   "INSTRUMENT_NOT_ALLOWED", "KILL_SWITCH",      "MAX_LOSS",
    "RATE_LIMIT",         "MAX_OPEN_ORDERS", "MAX_ORDER_QTY",          "NO_REFERENCE",     "CROSSED_REFERENCE",
    "STALE_REFERENCE",    "PRICE_BAND",      "MAX_ORDER_NOTIONAL",     "MAX_POSITION",     "SELF_TRADE",
    "DUPLICATE_ORDER",    "UNKNOWN_ORDER",   "VENUE_BACKPRESSURE",     "NOT_IN_CALLBACK",  "MAX_DRAWDOWN",     "FIRM_LIMIT",
};
constexpr std::int64_t kTokenScale = 1'000'000'000;

// Exact i128 -> double: values that fit in 64 bits take the single-instruction int64 conversion
// (both conversions round the same integer to nearest, so the result is bit-identical); only
// wider values pay the libgcc __floattidf call.
inline double to_double(i128 v) noexcept {
  const auto n = static_cast<std::int64_t>(v);
  if (static_cast<i128>(n) == v) [[likely]] return static_cast<double>(n);
  return static_cast<double>(v);
}

RiskDecision deny(RiskReason r) noexcept {
  RiskDecision d;
  d.reason = r;
  return d;
}
}  // namespace

// A MAX_POSITION / MAX_OPEN_ORDERS / RATE_LIMIT denial: with kill_on_breach it also trips the
// kill switch, named after the breach (the caller cancels all working orders).
void RiskGate::breach(RiskDecision& d) noexcept {
  if (lim_.kill_on_breach) [[unlikely]] {
    engage_kill(d.reason, d.context);
    d.kill_engaged = true;
  }
}

const char* risk_reason_name(RiskReason r) noexcept { return risk_reason_name_c(static_cast<std::int32_t>(r)); }
const char* risk_reason_name_c(std::int32_t code) noexcept {
  if (code < 0 || static_cast<std::size_t>(code) >= kRiskReasonCount) return "UNKNOWN_REASON";
  return kReasonNames[code];
}

RiskGate::RiskGate(RiskLimits limits) : lim_(std::move(limits)), acct_(lim_.instruments.size()), orders_(lim_.max_open_orders) {
  n_inst_ = static_cast<std::uint32_t>(acct_.size());
  token_cap_ = lim_.msg_burst * kTokenScale;
  tokens_ = token_cap_;
}

const GateOrder* RiskGate::find(std::uint64_t id) const noexcept {
  for (std::uint32_t i = 0; i < n_open_; ++i)
    if (orders_[i].id == id) return &orders_[i];
  return nullptr;
}
GateOrder* RiskGate::find_mut(std::uint64_t id) noexcept { return const_cast<GateOrder*>(find(id)); }

void RiskGate::remove_at(std::uint32_t idx) noexcept {
  orders_[idx] = orders_[n_open_ - 1];
  --n_open_;
}

bool RiskGate::take_token(Nanos now, bool force) noexcept {
  if (!token_init_) {
    token_init_ = true;
    token_ts_ = now;
  }
  if (now > token_ts_) {
    const Nanos dt = now - token_ts_;
    const std::int64_t rate = lim_.max_msgs_per_sec;  // scaled tokens per ns == msgs per second
    if (dt >= (token_cap_ - tokens_) / rate + 1) {
      tokens_ = token_cap_;
    } else {
      tokens_ += dt * rate;
      if (tokens_ > token_cap_) tokens_ = token_cap_;
    }
    token_ts_ = now;
  }
  if (tokens_ >= kTokenScale) {
    tokens_ -= kTokenScale;
    return true;
  }
  if (force && tokens_ > 0) tokens_ = 0;  // a cancel drains what is left but is not denied
  return force;
}

bool RiskGate::check_reference(const Reference& ref, Nanos now, const InstrumentLimits& il, RiskDecision& d) const noexcept {
  if (!ref.two_sided()) {
    d.reason = RiskReason::NoReference;
    std::snprintf(d.context, sizeof d.context, "instrument=%s bid=%s ask=%s", il.symbol.c_str(),
                  ref.bid == kNoBid ? "EMPTY" : "present", ref.ask == kNoAsk ? "EMPTY" : "present");
    return false;
  }
  if (ref.bid <= 0 || ref.ask <= 0) {
    d.reason = RiskReason::NoReference;
    std::snprintf(d.context, sizeof d.context, "instrument=%s bid=%" PRId64 " ask=%" PRId64 " reason=non_positive_price",
                  il.symbol.c_str(), ref.bid, ref.ask);
    return false;
  }
  if (!ref.price_only && ref.bid >= ref.ask) {
    d.reason = RiskReason::CrossedReference;
    std::snprintf(d.context, sizeof d.context, "instrument=%s bid=%" PRId64 " ask=%" PRId64, il.symbol.c_str(), ref.bid, ref.ask);
    return false;
  }
  if (now - ref.ts > lim_.max_reference_age_ns) {
    d.reason = RiskReason::StaleReference;
    std::snprintf(d.context, sizeof d.context, "instrument=%s age_ns=%" PRId64 " max_age_ns=%" PRId64, il.symbol.c_str(),
                  now - ref.ts, lim_.max_reference_age_ns);
    return false;
  }
  return true;
}

bool RiskGate::check_band(Ticks px, Ticks mid_x2, const InstrumentLimits& il, RiskDecision& d) const noexcept {
  // |px - mid| / mid <= band  <=>  |2px - mid_x2| * 1e6 <= band_cbps * mid_x2   (1 cbps = 1e-6)
  {
    // 64-bit fast accept: when no step overflows, the int64 comparison is the i128 one
    std::int64_t px2, dev, lhs, rhs;
    if (!__builtin_mul_overflow(px, std::int64_t{2}, &px2) && !__builtin_sub_overflow(px2, mid_x2, &dev) &&
        dev != std::numeric_limits<std::int64_t>::min() && !__builtin_mul_overflow(dev < 0 ? -dev : dev, std::int64_t{1'000'000}, &lhs) &&
        !__builtin_mul_overflow(il.price_band_cbps, mid_x2, &rhs) && lhs <= rhs) [[likely]]
      return true;
  }
  const i128 dev = static_cast<i128>(2) * px - mid_x2;
  const i128 lhs = (dev < 0 ? -dev : dev) * 1'000'000;
  const i128 rhs = static_cast<i128>(il.price_band_cbps) * mid_x2;
  if (lhs > rhs) {
    d.reason = RiskReason::PriceBand;
    const double bps = static_cast<double>(dev) * 1e4 / static_cast<double>(mid_x2);
    std::snprintf(d.context, sizeof d.context, "instrument=%s px=%" PRId64 " mid=%.1f deviation_bps=%.2f band_bps=%.2f",
                  il.symbol.c_str(), px, static_cast<double>(mid_x2) / 2.0, bps, static_cast<double>(il.price_band_cbps) / 100.0);
    return false;
  }
  return true;
}

bool RiskGate::peek_token(Nanos now, std::int64_t& tokens_after, Nanos& ts_after) noexcept {
  // The bucket state after taking the token is returned and committed only on acceptance (the
  // same state a second take_token(now) from the restored state would produce). When no token
  // is left, the refilled state stays, as a denial leaves it.
  const std::int64_t saved_tokens = tokens_;
  const Nanos saved_ts = token_ts_;
  const bool saved_init = token_init_;
  if (!take_token(now, false)) return false;
  tokens_after = tokens_;
  ts_after = token_ts_;
  tokens_ = saved_tokens;
  token_ts_ = saved_ts;
  token_init_ = saved_init;
  return true;
}

bool RiskGate::deny_on_loss(RiskDecision& d, const char* op) noexcept {
  if (!loss_known_ok()) {
    const double p = pnl();
    if (p < -lim_.max_loss) {
      d = deny(RiskReason::MaxLoss);
      std::snprintf(d.context, sizeof d.context, "pnl=%.6f max_loss=%.6f%s", p, lim_.max_loss, op);
      if (lim_.kill_on_max_loss) {
        engage_kill(RiskReason::MaxLoss, d.context);
        d.kill_engaged = true;  // the engine cancels every working order
      }
      return true;
    }
    if (p >= -lim_.max_loss) note_loss_ok();  // not for NaN
  }
  if (lim_.has_max_drawdown && !dd_known_ok()) [[unlikely]] {
    const double p = pnl();
    if (track_drawdown(p)) {
      d = deny(RiskReason::MaxDrawdown);
      drawdown_context(p, d.context, sizeof d.context);
      engage_kill(RiskReason::MaxDrawdown, d.context);
      std::strncat(d.context, op, sizeof d.context - std::strlen(d.context) - 1);
      d.kill_engaged = true;
      return true;
    }
  }
  return false;
}

RiskDecision RiskGate::check_new(std::uint64_t id, const OrderIntent& o, const Reference& ref, Nanos now) {
  RiskDecision d;
  if ((o.side != Side::Bid && o.side != Side::Ask) || (o.type != OrdType::Limit && o.type != OrdType::Market) ||
      (o.tif != Tif::Gtc && o.tif != Tif::Ioc) || o.qty <= 0 || (o.type == OrdType::Limit && o.px <= 0)) {
    d = deny(RiskReason::InvalidOrder);
    std::snprintf(d.context, sizeof d.context, "side=%u type=%u tif=%u px=%" PRId64 " qty=%" PRId64,
                  static_cast<unsigned>(o.side), static_cast<unsigned>(o.type), static_cast<unsigned>(o.tif), o.px, o.qty);
    return d;
  }
  if (o.instrument >= lim_.instruments.size() || !lim_.instruments[o.instrument].allowed) {
    d = deny(RiskReason::InstrumentNotAllowed);
    std::snprintf(d.context, sizeof d.context, "instrument_id=%u", o.instrument);
    return d;
  }
  const InstrumentLimits& il = lim_.instruments[o.instrument];
  if (killed_) {
    d = deny(RiskReason::KillSwitch);
    std::snprintf(d.context, sizeof d.context, "kill_reason=%s %s", risk_reason_name(kill_reason_), kill_context_);
    return d;
  }
  if (deny_on_loss(d, "")) return d;
  // Peek the bucket without consuming: a denied order must not use a token (see peek_token).
  std::int64_t taken_tokens;
  Nanos taken_ts;
  if (!peek_token(now, taken_tokens, taken_ts)) {
    d = deny(RiskReason::RateLimit);
    std::snprintf(d.context, sizeof d.context, "max_msgs_per_sec=%" PRId64 " burst=%" PRId64, lim_.max_msgs_per_sec, lim_.msg_burst);
    breach(d);
    return d;
  }
  if (n_open_ >= lim_.max_open_orders) {
    d = deny(RiskReason::MaxOpenOrders);
    std::snprintf(d.context, sizeof d.context, "open_orders=%u max=%u", n_open_, lim_.max_open_orders);
    breach(d);
    return d;
  }
  if (o.qty > il.max_order_qty) {
    d = deny(RiskReason::MaxOrderQty);
    std::snprintf(d.context, sizeof d.context, "instrument=%s qty=%" PRId64 " max=%" PRId64, il.symbol.c_str(), o.qty, il.max_order_qty);
    return d;
  }
  if (!check_reference(ref, now, il, d)) return d;
  const Ticks mid_x2 = ref.mid_x2();
  Ticks px = o.px;
  if (o.type == OrdType::Market) {
    // protection price: the far edge of the band around mid
    const i128 off = static_cast<i128>(il.price_band_cbps) * mid_x2;  // = |2px - mid_x2| * 1e6 at the edge
    px = o.side == Side::Bid ? static_cast<Ticks>((static_cast<i128>(mid_x2) * 1'000'000 + off) / 2'000'000)
                             : static_cast<Ticks>((static_cast<i128>(mid_x2) * 1'000'000 - off + 1'999'999) / 2'000'000);
    if (px <= 0) px = 1;
    d.protect_px = px;
  } else if (!check_band(px, mid_x2, il, d)) {
    return d;
  }
  const i128 notional = static_cast<i128>(px) * o.qty;
  if (notional > il.max_order_notional) {
    d.reason = RiskReason::MaxOrderNotional;
    std::snprintf(d.context, sizeof d.context, "instrument=%s notional=%.6f max=%.6f", il.symbol.c_str(),
                  static_cast<double>(notional) * il.quote_per_ticklot, static_cast<double>(il.max_order_notional) * il.quote_per_ticklot);
    return d;
  }
  const InstrumentAccount& a = acct_[o.instrument];
  const Lots worst = o.side == Side::Bid ? a.position + a.working_buy + o.qty : -(a.position - a.working_sell - o.qty);
  if (worst > il.max_position) {
    d.reason = RiskReason::MaxPosition;
    std::snprintf(d.context, sizeof d.context, "instrument=%s position=%" PRId64 " working_same_side=%" PRId64 " qty=%" PRId64 " max=%" PRId64,
                  il.symbol.c_str(), a.position, o.side == Side::Bid ? a.working_buy : a.working_sell, o.qty, il.max_position);
    breach(d);
    return d;
  }
  for (std::uint32_t i = 0; i < n_open_; ++i) {
    const GateOrder& w = orders_[i];
    if (w.instrument != o.instrument || w.side == o.side) continue;
    const bool crosses = o.type == OrdType::Market || w.type == OrdType::Market ||
                         (o.side == Side::Bid ? px >= w.px : px <= w.px);
    if (crosses) {
      d.reason = RiskReason::SelfTrade;
      std::snprintf(d.context, sizeof d.context, "instrument=%s side=%s px=%" PRId64 " resting_order_id=%" PRIu64 " resting_px=%" PRId64,
                    il.symbol.c_str(), side_name(o.side), px, w.id, w.px);
      return d;
    }
  }
  for (std::uint32_t i = 0; i < n_open_; ++i) {
    const GateOrder& w = orders_[i];
    if (w.instrument == o.instrument && w.side == o.side && w.type == o.type && w.px == px && w.leaves == o.qty &&
        now - w.submit_ts <= lim_.duplicate_window_ns) {
      d.reason = RiskReason::DuplicateOrder;
      std::snprintf(d.context, sizeof d.context, "instrument=%s side=%s px=%" PRId64 " qty=%" PRId64 " same_as_order_id=%" PRIu64,
                    il.symbol.c_str(), side_name(o.side), px, o.qty, w.id);
      return d;
    }
  }
  tokens_ = taken_tokens;
  token_ts_ = taken_ts;
  token_init_ = true;
  GateOrder& g = orders_[n_open_++];
  g = GateOrder{id, o.instrument, o.side, o.type, px, o.qty, now};
  InstrumentAccount& am = acct_[o.instrument];
  (o.side == Side::Bid ? am.working_buy : am.working_sell) += o.qty;
  d.reason = RiskReason::Accepted;
  return d;
}

RiskDecision RiskGate::check_replace(std::uint64_t id, Ticks px, Lots qty, const Reference& ref, Nanos now) {
  return check_replace(find(id), id, px, qty, ref, now);
}

RiskDecision RiskGate::check_replace(const GateOrder* found, std::uint64_t id, Ticks px, Lots qty, const Reference& ref, Nanos now) {
  RiskDecision d;
  GateOrder* w = const_cast<GateOrder*>(found);  // points into orders_ (find() of this gate)
  if (w == nullptr) {
    d = deny(RiskReason::UnknownOrder);
    std::snprintf(d.context, sizeof d.context, "order_id=%" PRIu64 " op=replace", id);
    return d;
  }
  const InstrumentLimits& il = lim_.instruments[w->instrument];
  if (qty <= 0 || px <= 0 || w->type != OrdType::Limit) {
    d = deny(RiskReason::InvalidOrder);
    std::snprintf(d.context, sizeof d.context, "order_id=%" PRIu64 " op=replace px=%" PRId64 " qty=%" PRId64, id, px, qty);
    return d;
  }
  if (killed_) {
    d = deny(RiskReason::KillSwitch);
    std::snprintf(d.context, sizeof d.context, "kill_reason=%s op=replace", risk_reason_name(kill_reason_));
    return d;
  }
  if (deny_on_loss(d, " op=replace")) return d;
  std::int64_t taken_tokens;
  Nanos taken_ts;
  if (!peek_token(now, taken_tokens, taken_ts)) {
    d = deny(RiskReason::RateLimit);
    std::snprintf(d.context, sizeof d.context, "max_msgs_per_sec=%" PRId64 " burst=%" PRId64 " op=replace", lim_.max_msgs_per_sec,
                  lim_.msg_burst);
    breach(d);
    return d;
  }
  if (qty > il.max_order_qty) {
    d = deny(RiskReason::MaxOrderQty);
    std::snprintf(d.context, sizeof d.context, "instrument=%s qty=%" PRId64 " max=%" PRId64 " op=replace", il.symbol.c_str(), qty,
                  il.max_order_qty);
    return d;
  }
  if (!check_reference(ref, now, il, d)) return d;
  if (!check_band(px, ref.mid_x2(), il, d)) return d;
  const i128 notional = static_cast<i128>(px) * qty;
  if (notional > il.max_order_notional) {
    d.reason = RiskReason::MaxOrderNotional;
    std::snprintf(d.context, sizeof d.context, "instrument=%s notional=%.6f max=%.6f op=replace", il.symbol.c_str(),
                  static_cast<double>(notional) * il.quote_per_ticklot, static_cast<double>(il.max_order_notional) * il.quote_per_ticklot);
    return d;
  }
  const InstrumentAccount& a = acct_[w->instrument];
  const Lots worst = w->side == Side::Bid ? a.position + a.working_buy - w->leaves + qty : -(a.position - (a.working_sell - w->leaves) - qty);
  if (worst > il.max_position) {
    d.reason = RiskReason::MaxPosition;
    std::snprintf(d.context, sizeof d.context, "instrument=%s position=%" PRId64 " qty=%" PRId64 " max=%" PRId64 " op=replace",
                  il.symbol.c_str(), a.position, qty, il.max_position);
    breach(d);
    return d;
  }
  for (std::uint32_t i = 0; i < n_open_; ++i) {
    const GateOrder& o = orders_[i];
    if (o.id == id || o.instrument != w->instrument || o.side == w->side) continue;
    if (o.type == OrdType::Market || (w->side == Side::Bid ? px >= o.px : px <= o.px)) {
      d.reason = RiskReason::SelfTrade;
      std::snprintf(d.context, sizeof d.context, "instrument=%s px=%" PRId64 " resting_order_id=%" PRIu64 " resting_px=%" PRId64 " op=replace",
                    il.symbol.c_str(), px, o.id, o.px);
      return d;
    }
  }
  tokens_ = taken_tokens;
  token_ts_ = taken_ts;
  token_init_ = true;
  InstrumentAccount& am = acct_[w->instrument];
  (w->side == Side::Bid ? am.working_buy : am.working_sell) += qty - w->leaves;
  w->px = px;
  w->leaves = qty;
  d.reason = RiskReason::Accepted;
  return d;
}

RiskDecision RiskGate::check_cancel(std::uint64_t id, Nanos now) {
  RiskDecision d;
  if (find(id) == nullptr) {
    d = deny(RiskReason::UnknownOrder);
    std::snprintf(d.context, sizeof d.context, "order_id=%" PRIu64 " op=cancel", id);
    return d;
  }
  (void)take_token(now, true);
  return d;
}

void RiskGate::on_fill(std::uint64_t id, Side side, std::uint32_t instrument, Ticks px, Lots qty, double fee) noexcept {
  InstrumentAccount& a = acct_[instrument];
  if (side == Side::Bid) {
    a.position += qty;
    a.cash -= static_cast<i128>(px) * qty;
  } else {
    a.position -= qty;
    a.cash += static_cast<i128>(px) * qty;
  }
  a.fees += fee;
  a.volume += qty;
  pnl_valid_ = false;
  loss_ok_valid_ = false;
  dd_valid_ = false;
  if (a.mark_x2 == kNoPrice) a.mark_x2 = 2 * px;
  const Lots ap = a.position < 0 ? -a.position : a.position;
  if (ap > a.max_abs_position) a.max_abs_position = ap;
  if (GateOrder* w = find_mut(id)) {
    const Lots q = qty < w->leaves ? qty : w->leaves;
    w->leaves -= q;
    (side == Side::Bid ? a.working_buy : a.working_sell) -= q;
  }
}

void RiskGate::on_done(std::uint64_t id) noexcept {
  for (std::uint32_t i = 0; i < n_open_; ++i) {
    if (orders_[i].id != id) continue;
    InstrumentAccount& a = acct_[orders_[i].instrument];
    (orders_[i].side == Side::Bid ? a.working_buy : a.working_sell) -= orders_[i].leaves;
    remove_at(i);
    return;
  }
}

double RiskGate::pnl_instrument(std::uint32_t i) const noexcept {
  const InstrumentAccount& a = acct_[i];
  const i128 x2 = 2 * a.cash + (a.mark_x2 == kNoPrice ? 0 : static_cast<i128>(a.position) * a.mark_x2);
  return to_double(x2) * 0.5 * lim_.instruments[i].quote_per_ticklot - a.fees;
}

double RiskGate::recompute_pnl() const noexcept {
  double p = 0;
  for (std::uint32_t i = 0; i < n_inst_; ++i)
    if (acct_[i].cash != 0 || acct_[i].position != 0 || acct_[i].fees != 0.0) p += pnl_instrument(i);
  pnl_cache_ = p;
  pnl_valid_ = true;
  return p;
}

double RiskGate::fees() const noexcept {
  double f = 0;
  for (const auto& a : acct_) f += a.fees;
  return f;
}

bool RiskGate::check_loss_slow() noexcept {
  const double p = pnl();
  if (p >= -lim_.max_loss) {
    note_loss_ok();
    return false;
  }
  char ctx[160];
  std::snprintf(ctx, sizeof ctx, "pnl=%.6f max_loss=%.6f", p, lim_.max_loss);
  engage_kill(RiskReason::MaxLoss, ctx);
  return true;
}

bool RiskGate::check_loss_drawdown() noexcept {
  const bool loss_ok = killed_ || !lim_.kill_on_max_loss || loss_known_ok();
  const bool dd_ok = dd_known_ok();
  if (loss_ok && dd_ok) return false;
  const double p = pnl();
  // the peak is tracked even while killed, so a released gate measures from the true peak
  const bool dd_breach = !dd_ok && track_drawdown(p);
  if (killed_) return false;
  char ctx[160];
  if (!loss_ok) {
    if (p < -lim_.max_loss) {
      std::snprintf(ctx, sizeof ctx, "pnl=%.6f max_loss=%.6f", p, lim_.max_loss);
      engage_kill(RiskReason::MaxLoss, ctx);
      return true;
    }
    if (p >= -lim_.max_loss) note_loss_ok();  // not for NaN
  }
  if (!dd_breach) return false;
  drawdown_context(p, ctx, sizeof ctx);
  engage_kill(RiskReason::MaxDrawdown, ctx);
  return true;
}

bool RiskGate::track_drawdown(double p) noexcept {
  const bool new_peak = p > peak_pnl_;
  if (new_peak) peak_pnl_ = p;
  const double fall = peak_pnl_ - p;
  if (fall > lim_.max_drawdown) {
    dd_valid_ = false;
    return true;
  }
  if (!(fall <= lim_.max_drawdown)) {  // NaN PnL: nothing known, re-evaluate next time
    dd_valid_ = false;
    return false;
  }
  // p <= peak_pnl_ and the fall is within the limit at the current mark: widen the known range
  if (n_inst_ != 1) return false;
  const InstrumentAccount& a = acct_[0];
  if (a.position != 0 && a.mark_x2 == kNoPrice) {
    dd_valid_ = false;
    return false;
  }
  const Ticks m = a.mark_x2;
  if (!dd_valid_ || new_peak || a.position == 0) {
    dd_ok_mark_ = m;
    dd_top_mark_ = m;
  } else if (a.position > 0) {
    if (m < dd_ok_mark_) dd_ok_mark_ = m;
    if (m > dd_top_mark_) dd_top_mark_ = m;
  } else {
    if (m > dd_ok_mark_) dd_ok_mark_ = m;
    if (m < dd_top_mark_) dd_top_mark_ = m;
  }
  dd_valid_ = true;
  return false;
}

void RiskGate::drawdown_context(double p, char* out, std::size_t n) const noexcept {
  std::snprintf(out, n, "pnl=%.6f peak=%.6f drawdown=%.6f max_drawdown=%.6f", p, peak_pnl_, peak_pnl_ - p, lim_.max_drawdown);
}

void RiskGate::engage_kill(RiskReason why, const char* context) noexcept {
  killed_ = true;
  kill_reason_ = why;
  std::snprintf(kill_context_, sizeof kill_context_, "%s", context ? context : "");
}

void RiskGate::release_kill() noexcept {
  killed_ = false;
  kill_reason_ = RiskReason::Accepted;
  kill_context_[0] = '\0';
}

}  // namespace sf
