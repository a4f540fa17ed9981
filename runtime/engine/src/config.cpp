#include "sf/config.hpp"

#include <cmath>
#include <fstream>
#include <initializer_list>
#include <sstream>

namespace sf {

namespace {

class Checker {
 public:
  explicit Checker(std::vector<std::string>& errs) : errs_(errs) {}

  void error(const std::string& path, const std::string& msg) { errs_.push_back(path + " " + msg); }

  bool object(const json::Value* v, const std::string& path) {
    if (v == nullptr) return false;
    if (!v->is_object()) {
      error(path, std::string("must be an object, was ") + v->describe());
      return false;
    }
    return true;
  }
  void only(const json::Value& obj, const std::string& path, std::initializer_list<std::string_view> keys) {
    for (const auto& [k, v] : obj.members()) {
      bool ok = false;
      for (auto a : keys) ok = ok || a == k;
      if (!ok) {
        std::string allowed;
        for (auto a : keys) allowed += (allowed.empty() ? "" : ", ") + std::string(a);
        errs_.push_back(join(path, k) + " is not a known key (allowed: " + allowed + ")");
      }
    }
  }
  static std::string join(const std::string& path, std::string_view k) { return path.empty() ? std::string(k) : path + "." + std::string(k); }

  const json::Value* required(const json::Value& obj, const std::string& path, std::string_view key) {
    const json::Value* v = obj.get(key);
    if (v == nullptr) errs_.push_back(join(path, key) + " is required");
    return v;
  }
  bool number(const json::Value& obj, const std::string& path, std::string_view key, bool req, double& out, double min_excl,
              bool allow_eq_min = false) {
    const json::Value* v = req ? required(obj, path, key) : obj.get(key);
    if (v == nullptr) return false;
    if (!v->is_number()) {
      error(join(path, key), "must be a number, was " + v->describe());
      return false;
    }
    const double d = v->as_double();
    if (!std::isfinite(d) || (allow_eq_min ? d < min_excl : d <= min_excl)) {
      error(join(path, key), std::string("must be ") + (allow_eq_min ? ">= " : "> ") + fmt(min_excl) + ", was " + v->describe());
      return false;
    }
    out = d;
    return true;
  }
  bool any_number(const json::Value& obj, const std::string& path, std::string_view key, double& out) {
    const json::Value* v = obj.get(key);
    if (v == nullptr) return false;
    if (!v->is_number() || !std::isfinite(v->as_double())) {
      error(join(path, key), "must be a number, was " + v->describe());
      return false;
    }
    out = v->as_double();
    return true;
  }
  bool integer(const json::Value& obj, const std::string& path, std::string_view key, bool req, std::int64_t& out, std::int64_t min) {
    const json::Value* v = req ? required(obj, path, key) : obj.get(key);
    if (v == nullptr) return false;
    if (!v->is_number() || !v->is_integer()) {
      error(join(path, key), "must be an integer, was " + v->describe());
      return false;
    }
    if (v->as_int() < min) {
      error(join(path, key), "must be >= " + std::to_string(min) + ", was " + v->describe());
      return false;
    }
    out = v->as_int();
    return true;
  }
  bool boolean(const json::Value& obj, const std::string& path, std::string_view key, bool& out) {
    const json::Value* v = obj.get(key);
    if (v == nullptr) return false;
    if (!v->is_bool()) {
      error(join(path, key), "must be true or false, was " + v->describe());
      return false;
    }
    out = v->as_bool();
    return true;
  }
  bool string(const json::Value& obj, const std::string& path, std::string_view key, bool req, std::string& out) {
    const json::Value* v = req ? required(obj, path, key) : obj.get(key);
    if (v == nullptr) return false;
    if (!v->is_string() || v->as_string().empty()) {
      error(join(path, key), "must be a non-empty string, was " + v->describe());
      return false;
    }
    out = v->as_string();
    return true;
  }
  static std::string fmt(double d) {
    std::ostringstream o;
    o << d;
    return o.str();
  }

 private:
  std::vector<std::string>& errs_;
};

std::string resolve(const std::string& base, const std::string& p) {
  if (p.empty() || p.front() == '/' || base.empty() || p.rfind("builtin:", 0) == 0) return p;
  return base + "/" + p;
}

void latency(Checker& c, const json::Value& lat, const std::string& path, std::string_view key, LatencyModel& out) {
  const json::Value* v = c.required(lat, path, key);
  const std::string p = Checker::join(path, key);
  if (!c.object(v, p)) return;
  std::string model;
  if (!c.string(*v, p, "model", true, model)) return;
  if (model == "constant") {
    c.only(*v, p, {"model", "ns"});
    std::int64_t ns = 0;
    if (c.integer(*v, p, "ns", true, ns, 0)) out = LatencyModel::constant(ns);
  } else if (model == "lognormal") {
    c.only(*v, p, {"model", "median_ns", "p99_ns"});
    std::int64_t med = 0, p99 = 0;
    const bool a = c.integer(*v, p, "median_ns", true, med, 1);
    const bool b = c.integer(*v, p, "p99_ns", true, p99, 1);
    if (a && b) {
      if (p99 < med) c.error(p + ".p99_ns", "must be >= median_ns (" + std::to_string(med) + "), was " + std::to_string(p99));
      else out = LatencyModel::lognormal(med, p99);
    }
  } else {
    c.error(p + ".model", "must be \"constant\" or \"lognormal\", was \"" + model + "\"");
  }
}

const std::initializer_list<std::string_view> kRiskKeys = {
    "max_order_qty", "max_order_notional", "max_position",       "price_band_bps",       "max_open_orders",  "max_msgs_per_sec",
    "msg_burst",     "max_loss",           "kill_on_max_loss",   "max_reference_age_ms", "duplicate_window_ms", "instruments",
    "max_drawdown",  "kill_on_breach"};
const std::initializer_list<std::string_view> kRiskInstrumentKeys = {"max_order_qty", "max_order_notional", "max_position",
                                                                          "price_band_bps"};

}  // namespace

bool params_from_json(const json::Value& v, std::string& out, std::string& error) {
  out.clear();
  if (v.is_string()) {
    out = v.as_string();
    return true;
  }
  if (!v.is_object()) {
    error = "must be a string of name=value lines or an object, was " + v.describe();
    return false;
  }
  for (const auto& [k, m] : v.members()) {
    if (m.is_string()) {
      if (m.as_string().find('\n') != std::string::npos) {
        error = "." + k + " must not contain a newline";
        return false;
      }
      out += k + "=" + m.as_string() + "\n";
    } else if (m.is_number()) {
      out += k + "=" + m.describe() + "\n";
    } else if (m.is_bool()) {
      out += k + "=" + (m.as_bool() ? "true" : "false") + "\n";
    } else {
      error = "." + k + " must be a string, number or boolean, was " + m.describe();
      return false;
    }
  }
  return true;
}

bool parse_replay_config(std::string_view text, const std::string& base_dir, ReplayConfig& cfg, std::vector<std::string>& errors) {
  json::Value root;
  std::string perr;
  if (!json::parse(text, root, perr)) {
    errors.push_back("config is not valid JSON: " + perr);
    return false;
  }
  Checker c(errors);
  if (!root.is_object()) {
    errors.push_back("config must be a JSON object, was " + root.describe());
    return false;
  }
  c.only(root, "", {"data", "bar_mode", "book_capacity", "strategies", "risk", "venue", "output"});
  if (c.string(root, "", "data", false, cfg.data)) cfg.data = resolve(base_dir, cfg.data);
  c.boolean(root, "", "bar_mode", cfg.bar_mode);
  std::int64_t cap = cfg.book_capacity;
  if (c.integer(root, "", "book_capacity", false, cap, 1)) cfg.book_capacity = static_cast<std::uint32_t>(std::min<std::int64_t>(cap, 1 << 20));

  // strategies
  if (const json::Value* ss = c.required(root, "", "strategies")) {
    if (!ss->is_array() || ss->items().empty()) {
      c.error("strategies", "must be a non-empty array, was " + ss->describe());
    } else {
      for (std::size_t i = 0; i < ss->items().size(); ++i) {
        const json::Value& s = ss->items()[i];
        const std::string p = "strategies[" + std::to_string(i) + "]";
        if (!c.object(&s, p)) continue;
        c.only(s, p, {"id", "plugin", "params", "instruments", "risk"});
        StrategyConfig sc;
        c.string(s, p, "id", true, sc.id);
        if (c.string(s, p, "plugin", true, sc.plugin)) sc.plugin = resolve(base_dir, sc.plugin);
        if (const json::Value* pv = s.get("params")) {
          std::string err;
          if (!params_from_json(*pv, sc.params, err)) c.error(p + ".params", err);
        }
        if (const json::Value* iv = c.required(s, p, "instruments")) {
          if (iv->is_string()) {
            sc.instruments.push_back(iv->as_string());
          } else if (iv->is_array() && !iv->items().empty()) {
            for (const auto& x : iv->items()) {
              if (x.is_string()) sc.instruments.push_back(x.as_string());
              else c.error(p + ".instruments", "entries must be symbol strings, found " + x.describe());
            }
          } else {
            c.error(p + ".instruments", "must be a symbol or a non-empty array of symbols, was " + iv->describe());
          }
        }
        if (const json::Value* rv = s.get("risk")) {
          if (c.object(rv, p + ".risk")) {
            c.only(*rv, p + ".risk", kRiskKeys);
            sc.risk = *rv;
          }
        }
        for (const auto& other : cfg.strategies)
          if (!sc.id.empty() && other.id == sc.id) c.error(p + ".id", "must be unique, \"" + sc.id + "\" is used twice");
        cfg.strategies.push_back(std::move(sc));
      }
    }
  }

  // risk: shape checked here; converted per strategy once the file's instruments are known
  if (const json::Value* r = c.required(root, "", "risk")) {
    if (c.object(r, "risk")) {
      c.only(*r, "risk", kRiskKeys);
      cfg.risk = *r;
      if (const json::Value* ri = r->get("instruments")) {
        if (c.object(ri, "risk.instruments"))
          for (const auto& [sym, o] : ri->members())
            if (c.object(&o, "risk.instruments." + sym)) c.only(o, "risk.instruments." + sym, kRiskInstrumentKeys);
      }
    }
  }

  // venue
  if (const json::Value* v = c.required(root, "", "venue"); c.object(v, "venue")) {
    c.only(*v, "venue", {"latency", "queue_model", "fees", "seed"});
    if (const json::Value* lat = c.required(*v, "venue", "latency"); c.object(lat, "venue.latency")) {
      c.only(*lat, "venue.latency", {"feed", "entry", "response"});
      latency(c, *lat, "venue.latency", "feed", cfg.venue.feed);
      latency(c, *lat, "venue.latency", "entry", cfg.venue.entry);
      latency(c, *lat, "venue.latency", "response", cfg.venue.response);
    }
    std::string qm;
    if (c.string(*v, "venue", "queue_model", true, qm)) {
      if (qm == "risk_averse") cfg.venue.queue_model = QueueModel::RiskAverse;
      else if (qm == "decrease_advances") cfg.venue.queue_model = QueueModel::DecreaseAdvances;
      else c.error("venue.queue_model", "must be \"risk_averse\" or \"decrease_advances\", was \"" + qm + "\"");
    }
    if (const json::Value* f = c.required(*v, "venue", "fees"); c.object(f, "venue.fees")) {
      c.only(*f, "venue.fees", {"maker_bps", "taker_bps"});
      if (!c.any_number(*f, "venue.fees", "maker_bps", cfg.venue.fees.maker_bps) && !f->get("maker_bps"))
        c.error("venue.fees.maker_bps", "is required");
      if (!c.any_number(*f, "venue.fees", "taker_bps", cfg.venue.fees.taker_bps) && !f->get("taker_bps"))
        c.error("venue.fees.taker_bps", "is required");
    }
    std::int64_t seed = 1;
    if (c.integer(*v, "venue", "seed", false, seed, 0)) cfg.venue.seed = static_cast<std::uint64_t>(seed);
  }

  if (const json::Value* o = root.get("output"); o != nullptr && c.object(o, "output")) {
    c.only(*o, "output", {"results", "tape", "pnl_sample_every", "pnl_sample_period_ns", "orders_list", "max_fills_listed", "max_orders_listed", "max_denials_listed"});
    if (c.string(*o, "output", "results", false, cfg.output.results)) cfg.output.results = resolve(base_dir, cfg.output.results);
    if (c.string(*o, "output", "tape", false, cfg.output.tape)) cfg.output.tape = resolve(base_dir, cfg.output.tape);
    c.integer(*o, "output", "pnl_sample_every", false, cfg.output.pnl_sample_every, 0);
    c.integer(*o, "output", "pnl_sample_period_ns", false, cfg.output.pnl_sample_period_ns, 0);
    if (cfg.output.pnl_sample_every > 0 && cfg.output.pnl_sample_period_ns > 0)
      c.error("output.pnl_sample_period_ns", "cannot be combined with output.pnl_sample_every (one sampling rule per run), was " +
                                                 std::to_string(cfg.output.pnl_sample_period_ns));
    c.boolean(*o, "output", "orders_list", cfg.output.orders_list);
    std::int64_t n;
    if (c.integer(*o, "output", "max_fills_listed", false, n, 0)) cfg.output.max_fills_listed = static_cast<std::uint64_t>(n);
    if (c.integer(*o, "output", "max_orders_listed", false, n, 0)) cfg.output.max_orders_listed = static_cast<std::uint64_t>(n);
    if (c.integer(*o, "output", "max_denials_listed", false, n, 0)) cfg.output.max_denials_listed = static_cast<std::uint64_t>(n);
  }
  return errors.empty();
}

bool load_replay_config(const std::string& path, ReplayConfig& out, std::vector<std::string>& errors) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    errors.push_back("cannot read config file '" + path + "'");
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  const auto slash = path.find_last_of('/');
  const std::string base = slash == std::string::npos ? std::string() : path.substr(0, slash);
  return parse_replay_config(ss.str(), base, out, errors);
}

bool build_risk_limits(const json::Value& risk, const json::Value& overrides, const EventFile& file,
                       const std::vector<std::uint32_t>& allowed, RiskLimits& out, std::vector<std::string>& errors, const std::string& where) {
  return build_risk_limits(risk, overrides, file.instruments(), file.instrument_count(), allowed, out, errors, where);
}

bool build_risk_limits(const json::Value& risk, const json::Value& overrides, const InstrumentEntry* instruments,
                       std::uint32_t instrument_count, const std::vector<std::uint32_t>& allowed, RiskLimits& out,
                       std::vector<std::string>& errors, const std::string& where) {
  const std::size_t n_err = errors.size();
  Checker c(errors);
  // strategy-level keys win over the global ones
  auto pick = [&](std::string_view key) -> std::pair<const json::Value*, std::string> {
    if (overrides.is_object())
      if (overrides.get(key) != nullptr) return {&overrides, where + ".risk"};
    return {&risk, "risk"};
  };
  auto num = [&](std::string_view key, bool req, double& v, double min_excl) {
    auto [obj, path] = pick(key);
    if (!obj->is_object()) {
      if (req) c.error(Checker::join("risk", key), "is required");
      return false;
    }
    return c.number(*obj, path, key, req, v, min_excl);
  };
  auto integer = [&](std::string_view key, bool req, std::int64_t& v, std::int64_t min) {
    auto [obj, path] = pick(key);
    if (!obj->is_object()) {
      if (req) c.error(Checker::join("risk", key), "is required");
      return false;
    }
    return c.integer(*obj, path, key, req, v, min);
  };
  double max_qty = 0, max_notional = 0, max_pos = 0, band_bps = 0, max_loss = 0, ref_age_ms = 5000, dup_ms = 1000, max_dd = 0;
  std::int64_t max_open = 0, mps = 0, burst = 0;
  num("max_order_qty", true, max_qty, 0);
  num("max_order_notional", true, max_notional, 0);
  num("max_position", true, max_pos, 0);
  num("price_band_bps", true, band_bps, 0);
  num("max_loss", true, max_loss, 0);
  const bool has_dd = num("max_drawdown", false, max_dd, 0);  // absent: no drawdown control
  integer("max_open_orders", true, max_open, 1);
  integer("max_msgs_per_sec", true, mps, 1);
  num("max_reference_age_ms", false, ref_age_ms, 0);
  {
    auto [obj, path] = pick("duplicate_window_ms");
    if (obj->is_object()) c.number(*obj, path, "duplicate_window_ms", false, dup_ms, 0, true);
  }
  burst = mps;
  integer("msg_burst", false, burst, 1);
  bool kill = true;
  {
    auto [obj, path] = pick("kill_on_max_loss");
    if (obj->is_object()) c.boolean(*obj, path, "kill_on_max_loss", kill);
  }
  bool kill_on_breach = false;
  {
    auto [obj, path] = pick("kill_on_breach");
    if (obj->is_object()) c.boolean(*obj, path, "kill_on_breach", kill_on_breach);
  }
  if (max_open > 100000) c.error("risk.max_open_orders", "must be <= 100000, was " + std::to_string(max_open));
  if (mps > 1'000'000'000) c.error("risk.max_msgs_per_sec", "must be <= 1e9, was " + std::to_string(mps));
  if (errors.size() != n_err) return false;

  out = RiskLimits{};
  out.max_open_orders = static_cast<std::uint32_t>(max_open);
  out.max_msgs_per_sec = mps;
  out.msg_burst = burst;
  out.max_loss = max_loss;
  out.kill_on_max_loss = kill;
  out.has_max_drawdown = has_dd;
  out.max_drawdown = has_dd ? max_dd : 0.0;
  out.kill_on_breach = kill_on_breach;
  out.max_reference_age_ns = static_cast<Nanos>(std::llround(ref_age_ms * 1e6));
  out.duplicate_window_ns = static_cast<Nanos>(std::llround(dup_ms * 1e6));
  out.instruments.resize(instrument_count);

  const json::Value* per = nullptr;
  if (risk.is_object()) per = risk.get("instruments");
  for (std::uint32_t i = 0; i < instrument_count; ++i) {
    const InstrumentEntry& in = instruments[i];
    InstrumentLimits& il = out.instruments[i];
    il.symbol = std::string(in.symbol_view());
    il.quote_per_ticklot = static_cast<double>(in.tick_size_e9) * 1e-9 * static_cast<double>(in.lot_size_e9) * 1e-9;
    for (auto a : allowed) il.allowed = il.allowed || a == i;
    double q = max_qty, nt = max_notional, mp = max_pos, bb = band_bps;
    if (per != nullptr && per->is_object()) {
      if (const json::Value* o = per->get(il.symbol); o != nullptr && o->is_object()) {
        const std::string p = "risk.instruments." + il.symbol;
        c.number(*o, p, "max_order_qty", false, q, 0);
        c.number(*o, p, "max_order_notional", false, nt, 0);
        c.number(*o, p, "max_position", false, mp, 0);
        c.number(*o, p, "price_band_bps", false, bb, 0);
      }
    }
    const long double lot = static_cast<long double>(in.lot_size_e9) / 1e9L;
    const long double ticklot = (static_cast<long double>(in.tick_size_e9) / 1e9L) * lot;
    const long double lots_q = std::floor(static_cast<long double>(q) / lot + 1e-9L);
    const long double lots_p = std::floor(static_cast<long double>(mp) / lot + 1e-9L);
    const long double tl_n = std::floor(static_cast<long double>(nt) / ticklot + 1e-9L);
    if (il.allowed && lots_q < 1)
      c.error("risk.max_order_qty", "is " + Checker::fmt(q) + ", below one lot (" + Checker::fmt(static_cast<double>(lot)) + ") of " + il.symbol);
    if (il.allowed && lots_p < 1)
      c.error("risk.max_position", "is " + Checker::fmt(mp) + ", below one lot (" + Checker::fmt(static_cast<double>(lot)) + ") of " + il.symbol);
    il.max_order_qty = lots_q > 9e18L ? INT64_MAX : static_cast<Lots>(lots_q);
    il.max_position = lots_p > 9e18L ? INT64_MAX : static_cast<Lots>(lots_p);
    il.max_order_notional = tl_n > 1e36L ? static_cast<i128>(1e36L) : static_cast<i128>(tl_n);
    il.price_band_cbps = static_cast<std::int64_t>(std::llround(bb * 100.0));
    if (il.price_band_cbps < 1) il.price_band_cbps = 1;
  }
  if (per != nullptr && per->is_object())
    for (const auto& [sym, o] : per->members()) {
      bool found = false;
      for (std::uint32_t i = 0; i < instrument_count; ++i) found = found || instruments[i].symbol_view() == sym;
      if (!found) c.error("risk.instruments." + sym, "names an instrument that is not in the data file");
    }
  return errors.size() == n_err;
}

}  // namespace sf
