// Results document writer (docs/replay.md, "Results"). Cold path: runs once after the replay.
#include <cstdio>
#include <string>

#include "sf/engine.hpp"

namespace sf {

namespace {

const char* status_name(std::uint32_t s) {
  switch (s) {
    case 0: return "WORKING";
    case SF_ORDER_CANCELED: return "CANCELED";
    case SF_ORDER_REJECTED: return "REJECTED";
    case SF_ORDER_FILLED: return "FILLED";
    case SF_ORDER_EXPIRED: return "EXPIRED";
    default: return "UNKNOWN";
  }
}

void histogram(json::Writer& w, const LatencyHistogram& h) {
  w.begin_object();
  w.kv("count", h.count());
  w.kv("min", h.min());
  w.kv("mean", h.mean());
  w.kv("p50", h.quantile(0.50));
  w.kv("p90", h.quantile(0.90));
  w.kv("p99", h.quantile(0.99));
  w.kv("p99_9", h.quantile(0.999));
  w.kv("max", h.max());
  // non-empty buckets as [lower_ns, upper_ns, count] (bounds converted from the raw clock unit)
  w.key("buckets").begin_array();
  for (std::uint32_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    const auto c = h.bucket_count(i);
    if (c == 0) continue;
    w.begin_array().value(h.to_ns(LatencyHistogram::lower(i))).value(h.to_ns(LatencyHistogram::upper(i))).value(c).end_array();
  }
  w.end_array();
  w.end_object();
}

void latency_model(json::Writer& w, const LatencyModel& m) {
  w.begin_object();
  if (m.kind == LatencyModel::Kind::Constant) {
    w.kv("model", "constant").kv("ns", m.constant_ns);
  } else {
    w.kv("model", "lognormal").kv("median_ns", m.median_ns).kv("p99_ns", m.p99_ns).kv("mu", m.mu).kv("sigma", m.sigma);
  }
  w.end_object();
}

}  // namespace

void Engine::write_results(json::Writer& w, const std::string& config_path) const {
  const auto* ins = file_.instruments();
  auto sym = [&](std::uint32_t i) { return std::string(ins[i].symbol_view()); };
  auto price = [&](std::uint32_t i, Ticks t) { return static_cast<double>(t) * static_cast<double>(ins[i].tick_size_e9) * 1e-9; };
  auto size = [&](std::uint32_t i, Lots l) { return static_cast<double>(l) * static_cast<double>(ins[i].lot_size_e9) * 1e-9; };

  w.begin_object();
  w.kv("format", "sf-replay-results");
  w.kv("version", 1);
  w.key("engine").begin_object().kv("abi_version", static_cast<std::uint64_t>(SF_ABI_VERSION)).kv("tsc_ns_per_tick", clock_.ns_per_tick()).end_object();
  w.kv("config", config_path);
  w.key("data").begin_object();
  w.kv("path", file_.path());
  w.kv("source", file_.source());
  w.kv("events", file_.event_count());
  w.kv("first_recv_ts", file_.header().first_recv_ts);
  w.kv("last_recv_ts", file_.header().last_recv_ts);
  w.key("instruments").begin_array();
  for (std::uint32_t i = 0; i < file_.instrument_count(); ++i)
    w.begin_object()
        .kv("id", i)
        .kv("symbol", sym(i))
        .kv("tick_size", static_cast<double>(ins[i].tick_size_e9) * 1e-9)
        .kv("lot_size", static_cast<double>(ins[i].lot_size_e9) * 1e-9)
        .kv("bar_interval_ns", ins[i].bar_interval_ns)
        .kv("book_overflow_levels", books_[i].overflow_count())
        .end_object();
  w.end_array();
  w.end_object();

  w.key("models").begin_object();
  w.kv("bar_mode", opts_.bar_mode);
  w.kv("fill_convention", opts_.bar_mode ? "next_bar_open" : "queue_position");
  w.key("latency").begin_object();
  w.key("feed");
  latency_model(w, opts_.venue.feed);
  w.key("entry");
  latency_model(w, opts_.venue.entry);
  w.key("response");
  latency_model(w, opts_.venue.response);
  w.kv("applied", !opts_.bar_mode);
  w.end_object();
  w.kv("queue_model", queue_model_name(opts_.venue.queue_model));
  w.key("fees").begin_object().kv("maker_bps", opts_.venue.fees.maker_bps).kv("taker_bps", opts_.venue.fees.taker_bps).end_object();
  w.kv("seed", opts_.venue.seed);
  w.kv("book_capacity", static_cast<std::uint64_t>(opts_.book_capacity));
  w.end_object();

  const double secs = static_cast<double>(wall_ns_) * 1e-9;
  w.key("run").begin_object();
  w.kv("events_processed", events_done_);
  w.kv("book_batches", batches_);
  w.kv("end_of_batch_flags", end_of_batch_flags_);
  w.kv("wall_time_s", secs);
  w.kv("events_per_s", secs > 0 ? static_cast<double>(events_done_) / secs : 0.0);
  w.kv("completed", !stop_);
  w.end_object();

  w.key("strategies").begin_array();
  for (const auto& sp : slots_) {
    const Slot& s = *sp;
    const RiskGate& g = s.gate;
    w.begin_object();
    w.kv("id", s.id);
    w.kv("plugin", s.plugin_path);
    w.kv("name", s.fn->name);
    w.kv("build_id", s.fn->build_id ? s.fn->build_id : "");
    w.kv("spec_hash", s.fn->spec_hash ? s.fn->spec_hash : "");
    w.key("instruments").begin_array();
    for (auto i : s.instruments) w.value(sym(i));
    w.end_array();
    if (s.faulted) w.key("fault").begin_object().kv("callback", s.fault_callback).kv("message", s.fault_message).end_object();

    // summary
    Lots volume = 0;
    double notional = 0;
    for (const auto& f : s.fill_list) notional += price(f.instrument, f.px) * size(f.instrument, f.qty);
    w.key("summary").begin_object();
    w.kv("pnl", g.pnl());
    w.kv("fees", g.fees());
    w.kv("gross_pnl", g.pnl() + g.fees());
    w.kv("max_drawdown", s.max_drawdown);
    w.kv("trades", s.fills);
    w.kv("maker_fills", s.maker_fills);
    w.kv("taker_fills", s.taker_fills);
    w.key("volume").begin_object();
    for (auto i : s.instruments) {
      volume += g.account(i).volume;
      w.kv(sym(i), size(i, g.account(i).volume));
    }
    w.end_object();
    w.kv("volume_lots", volume);
    w.kv("notional_listed_fills", notional);
    w.key("position").begin_object();
    for (auto i : s.instruments) w.kv(sym(i), size(i, g.account(i).position));
    w.end_object();
    w.key("position_lots").begin_object();
    for (auto i : s.instruments) w.kv(sym(i), g.account(i).position);
    w.end_object();
    w.key("max_abs_position").begin_object();
    for (auto i : s.instruments) w.kv(sym(i), size(i, g.account(i).max_abs_position));
    w.end_object();
    w.key("pnl_by_instrument").begin_object();
    for (auto i : s.instruments) w.kv(sym(i), g.pnl_instrument(i));
    w.end_object();
    w.kv("events_processed", events_done_);
    w.kv("wall_time_s", secs);
    w.kv("events_per_s", secs > 0 ? static_cast<double>(events_done_) / secs : 0.0);
    w.end_object();

    w.key("orders").begin_object();
    w.kv("submitted", s.submitted);
    w.kv("accepted", s.accepted);
    w.kv("denied", s.denied);
    w.kv("cancels", s.cancels);
    w.kv("cancels_denied", s.cancel_denied);
    w.kv("replaces", s.replaces);
    w.kv("replaces_denied", s.replace_denied);
    w.kv("filled", s.done_filled);
    w.kv("canceled", s.done_canceled);
    w.kv("expired", s.done_expired);
    w.kv("rejected", s.done_rejected);
    w.kv("cancel_rejected", s.cancel_rejected);
    w.kv("open_at_end", static_cast<std::uint64_t>(g.open_orders()));
    if (opts_.output.orders_list) {
      w.kv("list_truncated", s.submitted > s.order_list.size() && s.order_list.size() >= opts_.output.max_orders_listed);
      w.key("list").begin_array();
      for (const auto& o : s.order_list)
        w.begin_object()
            .kv("id", o.id)
            .kv("ts", o.ts)
            .kv("instrument", sym(o.instrument))
            .kv("side", side_name(o.side))
            .kv("type", ord_type_name(o.type))
            .kv("tif", tif_name(o.tif))
            .kv("px", o.px)
            .kv("qty", o.qty)
            .kv("filled", o.filled)
            .kv("status", status_name(o.final_status))
            .end_object();
      w.end_array();
    }
    w.end_object();

    w.key("risk").begin_object();
    w.kv("kill_switch_engaged", g.killed());
    w.kv("kill_reason", g.killed() ? risk_reason_name(g.kill_reason()) : "");
    w.kv("kill_context", g.kill_context());
    w.key("denials_by_reason").begin_object();
    for (std::size_t r = 1; r < kRiskReasonCount; ++r)
      if (s.denials_by_reason[r] != 0) w.kv(risk_reason_name(static_cast<RiskReason>(r)), s.denials_by_reason[r]);
    w.end_object();
    w.key("denials").begin_array();
    for (const auto& d : s.denial_list)
      w.begin_object()
          .kv("ts", d.ts)
          .kv("reason", risk_reason_name(d.reason))
          .kv("op", d.op == 'N' ? "new" : (d.op == 'R' ? "replace" : "cancel"))
          .kv("order_id", d.order_id)
          .kv("context", d.context)
          .end_object();
    w.end_array();
    w.end_object();

    w.kv("fills_truncated", s.fills > s.fill_list.size());
    w.key("fills").begin_array();
    for (const auto& f : s.fill_list)
      w.begin_object()
          .kv("ts", f.ts)
          .kv("order_id", f.order_id)
          .kv("instrument", sym(f.instrument))
          .kv("side", side_name(f.side))
          .kv("liquidity", f.maker ? "MAKER" : "TAKER")
          .kv("px", f.px)
          .kv("qty", f.qty)
          .kv("price", price(f.instrument, f.px))
          .kv("size", size(f.instrument, f.qty))
          .kv("fee", f.fee)
          .kv("position_lots", f.position)
          .end_object();
    w.end_array();

    w.key("pnl_series").begin_object();
    w.key("sampling").begin_object();
    if (opts_.output.pnl_sample_period_ns > 0) {
      w.kv("rule", "period").kv("period_ns", opts_.output.pnl_sample_period_ns);
    } else {
      w.kv("rule", "events").kv("every", sample_every_);
    }
    w.end_object();
    w.kv("samples_dropped", s.pnl_samples_dropped);
    w.key("instruments").begin_array();
    for (auto i : s.instruments) w.value(sym(i));
    w.end_array();
    w.key("ts").begin_array();
    for (const auto& p : s.pnl_series) w.value(p.ts);
    w.end_array();
    w.key("pnl").begin_array();
    for (const auto& p : s.pnl_series) w.value(p.pnl);
    w.end_array();
    w.key("fees").begin_array();
    for (const auto& p : s.pnl_series) w.value(p.fees);
    w.end_array();
    w.key("position_lots").begin_array();
    for (const auto& p : s.pnl_series) {
      w.begin_array();
      for (std::size_t k = 0; k < s.instruments.size(); ++k) w.value(s.pnl_positions[p.pos_offset + k]);
      w.end_array();
    }
    w.end_array();
    w.end_object();

    w.key("latency_ns").begin_object();
    for (std::uint32_t c = 0; c < kCbCount; ++c) {
      w.key(kCallbackNames[c]);
      histogram(w, s.cb_hist[c]);
    }
    w.key("tick_to_order");
    histogram(w, s.t2o_hist);
    w.end_object();
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

}  // namespace sf
