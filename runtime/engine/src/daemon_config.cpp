// sf-engine's engine.json (docs/runtime.md, "Config"). The sim_venue and risk objects are the
// same as sf-replay's "venue" and "risk": they are validated by sf-replay's own parser (through a
// probe replay document) so both programs accept exactly the same keys and values.
#include <sched.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "sf/daemon.hpp"
#include "sf/daemon_util.hpp"

namespace sf {

void write_json_value(json::Writer& w, const json::Value& v) {
  switch (v.type()) {
    case json::Value::Type::Null: w.null(); break;
    case json::Value::Type::Bool: w.value(v.as_bool()); break;
    case json::Value::Type::Number:
      if (v.is_integer()) w.value(v.as_int());
      else w.value(v.as_double());
      break;
    case json::Value::Type::String: w.value(v.as_string()); break;
    case json::Value::Type::Array:
      w.begin_array();
      for (const auto& x : v.items()) write_json_value(w, x);
      w.end_array();
      break;
    case json::Value::Type::Object:
      w.begin_object();
      for (const auto& [k, x] : v.members()) {
        w.key(k);
        write_json_value(w, x);
      }
      w.end_object();
      break;
  }
}

bool probe_replay_config(const json::Value& risk, const json::Value& venue, const json::Value* overrides, ReplayConfig& out,
                         std::vector<std::string>& errors) {
  json::Writer w;
  w.begin_object().kv("data", "probe");
  w.key("strategies").begin_array().begin_object().kv("id", "probe").kv("plugin", "builtin:noop").kv("instruments", "PROBE");
  if (overrides != nullptr) {
    w.key("risk");
    write_json_value(w, *overrides);
  }
  w.end_object().end_array();
  w.key("risk");
  write_json_value(w, risk);
  w.key("venue");
  write_json_value(w, venue);
  w.end_object();
  return parse_replay_config(w.str(), ".", out, errors);
}

namespace {

std::string dir_of(const std::string& p) {
  const auto k = p.rfind('/');
  return k == std::string::npos ? "." : p.substr(0, k);
}
std::string resolve(const std::string& base, const std::string& p) { return p.empty() || p[0] == '/' ? p : base + "/" + p; }

}  // namespace

bool load_daemon_config(const std::string& path, DaemonConfig& cfg, std::vector<std::string>& errors) {
  std::ifstream f(path);
  if (!f) {
    errors.push_back("cannot read config '" + path + "'");
    return false;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  json::Value root;
  std::string perr;
  if (!json::parse(ss.str(), root, perr)) {
    errors.push_back("config is not valid JSON: " + perr);
    return false;
  }
  if (!root.is_object()) {
    errors.push_back("config must be a JSON object, was " + root.describe());
    return false;
  }
  cfg.path = path;
  const std::string base = dir_of(path);
  auto err = [&](const std::string& m) { errors.push_back(m); };
  for (const auto& [k, v] : root.members()) {
    (void)v;
    static constexpr std::string_view kKeys[] = {"control_socket", "feed", "venue", "firm", "latency_window_events", "sim_venue", "risk",
                                                 "shadow_thread", "shadow_ring_events", "shadow_cpu", "shadow_full"};
    bool ok = false;
    for (auto a : kKeys) ok = ok || a == k;
    if (!ok)
      err(k + " is not a known key (allowed: control_socket, feed, venue, firm, latency_window_events, sim_venue, risk, shadow_thread, "
              "shadow_ring_events, shadow_cpu, shadow_full)");
  }
  const json::Value* cs = root.get("control_socket");
  if (cs == nullptr) err("control_socket is required");
  else if (!cs->is_string() || cs->as_string().empty()) err("control_socket must be a non-empty path string, was " + cs->describe());
  else cfg.control_socket = resolve(base, cs->as_string());

  const json::Value* feed = root.get("feed");
  if (feed == nullptr) {
    err("feed is required");
  } else if (!feed->is_object()) {
    err("feed must be an object, was " + feed->describe());
  } else {
    const json::Value* kind = feed->get("kind");
    if (kind == nullptr || !kind->is_string() || (kind->as_string() != "replay" && kind->as_string() != "synth")) {
      err("feed.kind must be \"replay\" or \"synth\", was " + (kind ? kind->describe() : std::string("missing")));
    } else {
      cfg.feed_kind = kind->as_string();
      const bool replay = cfg.feed_kind == "replay";
      cfg.speed = replay ? 0.0 : 1.0;
      for (const auto& [k, v] : feed->members()) {
        (void)v;
        const bool ok = k == "kind" || k == "speed" || k == "loop" ||
                        (replay ? (k == "path" || k == "bar_mode") : (k == "seed" || k == "events" || k == "instruments"));
        if (!ok)
          err("feed." + k + " is not a known key for feed.kind \"" + cfg.feed_kind + "\" (allowed: kind, speed, loop, " +
              (replay ? "path, bar_mode)" : "seed, events, instruments)"));
      }
      if (replay) {
        const json::Value* p = feed->get("path");
        if (p == nullptr || !p->is_string() || p->as_string().empty())
          err("feed.path must be the event file path, was " + (p ? p->describe() : std::string("missing")));
        else cfg.feed_path = resolve(base, p->as_string());
      } else {
        auto uint_field = [&](const char* k, std::uint64_t& out, std::uint64_t lo, std::uint64_t hi) {
          const json::Value* v = feed->get(k);
          if (v == nullptr) return;
          if (!v->is_integer() || v->as_int() < static_cast<std::int64_t>(lo) || v->as_int() > static_cast<std::int64_t>(hi))
            err(std::string("feed.") + k + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + ", was " +
                v->describe());
          else out = static_cast<std::uint64_t>(v->as_int());
        };
        uint_field("seed", cfg.synth_seed, 0, INT64_MAX);
        uint_field("events", cfg.synth_events, 1, 200'000'000);  // 64 bytes per record on disk
        std::uint64_t ni = cfg.synth_instruments;
        uint_field("instruments", ni, 1, 1000);
        cfg.synth_instruments = static_cast<std::uint32_t>(ni);
      }
      if (const json::Value* sp = feed->get("speed")) {
        if (!sp->is_number() || !std::isfinite(sp->as_double()) || sp->as_double() < 0)
          err("feed.speed must be a number >= 0 (0 = as fast as possible), was " + sp->describe());
        else cfg.speed = sp->as_double();
      }
      if (const json::Value* lp = feed->get("loop")) {
        if (!lp->is_bool()) err("feed.loop must be true or false, was " + lp->describe());
        else cfg.loop = lp->as_bool();
      }
      if (const json::Value* bm = feed->get("bar_mode")) {
        if (!bm->is_bool()) err("feed.bar_mode must be true or false, was " + bm->describe());
        else cfg.bar_mode = bm->as_bool();
      }
    }
  }
  if (const json::Value* v = root.get("venue"); v != nullptr && !v->is_null()) {
    if (!v->is_object()) {
      err("venue must be null (paper live) or an object {host, port, session, heartbeat_ms}, was " + v->describe());
    } else {
      cfg.has_venue = true;
      for (const auto& [k, x] : v->members()) {
        if (k == "host") {
          if (!x.is_string() || x.as_string().empty()) err("venue.host must be a non-empty string, was " + x.describe());
          else cfg.venue_host = x.as_string();
        } else if (k == "port") {
          if (!x.is_integer() || x.as_int() < 1 || x.as_int() > 65535) err("venue.port must be an integer in 1..65535, was " + x.describe());
          else cfg.venue_port = static_cast<std::uint16_t>(x.as_int());
        } else if (k == "session") {
          if (!x.is_string() || x.as_string().empty() || x.as_string().size() > 31)
            err("venue.session must be a string of 1..31 characters, was " + x.describe());
          else cfg.venue_session = x.as_string();
        } else if (k == "heartbeat_ms") {
          if (!x.is_integer() || x.as_int() < 1 || x.as_int() > 60000) err("venue.heartbeat_ms must be an integer in 1..60000, was " + x.describe());
          else cfg.heartbeat_ms = static_cast<int>(x.as_int());
        } else {
          err("venue." + k + " is not a known key (allowed: host, port, session, heartbeat_ms)");
        }
      }
      if (v->get("port") == nullptr) err("venue.port is required");
      if (v->get("session") == nullptr) err("venue.session is required");
    }
  }
  if (const json::Value* fm = root.get("firm"); fm != nullptr && !fm->is_null()) {
    if (!fm->is_object()) {
      err("firm must be an object, was " + fm->describe());
    } else {
      for (const auto& [k, v] : fm->members()) {
        if (k == "max_position") {
          if (!v.is_object()) err("firm.max_position must be an object {SYMBOL: lots}, was " + v.describe());
          else
            for (const auto& [sym, q] : v.members())
              if (!q.is_integer() || q.as_int() < 0) err("firm.max_position." + sym + " must be an integer >= 0 (lots), was " + q.describe());
        } else if (k == "max_gross_notional") {
          if (!v.is_number() || !(v.as_double() > 0)) err("firm.max_gross_notional must be a number > 0, was " + v.describe());
        } else {
          err("firm." + k + " is not a known key (allowed: max_position, max_gross_notional)");
        }
      }
      cfg.firm = *fm;
    }
  }
  if (const json::Value* lw = root.get("latency_window_events")) {
    if (!lw->is_integer() || lw->as_int() < 1) err("latency_window_events must be an integer >= 1, was " + lw->describe());
    else cfg.latency_window_events = lw->as_int();
  }
  if (const json::Value* v = root.get("shadow_thread")) {
    if (!v->is_bool()) err("shadow_thread must be true or false, was " + v->describe());
    else cfg.shadow_thread = v->as_bool();
  }
  if (const json::Value* v = root.get("shadow_ring_events")) {
    const bool pow2 = v->is_integer() && v->as_int() >= 2 && v->as_int() <= (std::int64_t{1} << 24) && (v->as_int() & (v->as_int() - 1)) == 0;
    if (!pow2) err("shadow_ring_events must be a power of two in 2..16777216, was " + v->describe());
    else cfg.shadow_ring_events = static_cast<std::size_t>(v->as_int());
  }
  if (const json::Value* v = root.get("shadow_cpu"); v != nullptr && !v->is_null()) {
    if (!v->is_integer() || v->as_int() < 0 || v->as_int() >= CPU_SETSIZE)
      err("shadow_cpu must be null or a CPU number in 0.." + std::to_string(CPU_SETSIZE - 1) + ", was " + v->describe());
    else cfg.shadow_cpu = static_cast<int>(v->as_int());
  }
  if (const json::Value* v = root.get("shadow_full"); v != nullptr && !v->is_null()) {
    if (!v->is_string() || (v->as_string() != "drop" && v->as_string() != "wait"))
      err("shadow_full must be \"drop\" or \"wait\" (what the engine thread does when the shadow thread's ring is full), was " +
          v->describe());
    else cfg.shadow_full = v->as_string();
  }
  if (cfg.shadow_full.empty()) cfg.shadow_full = cfg.speed > 0 ? "drop" : "wait";
  // "drop": room for the feed's bursts; "wait": only a scheduling buffer, and small, because a
  // command waits for the shadow thread to apply what is queued (quiesce)
  if (cfg.shadow_ring_events == 0) cfg.shadow_ring_events = cfg.shadow_full == "drop" ? std::size_t{1} << 16 : std::size_t{1} << 10;
  // sim_venue / risk: sf-replay's own parser, through a probe document
  json::Value dflt_venue;
  (void)json::parse(R"({"latency": {"feed": {"model": "constant", "ns": 0}, "entry": {"model": "constant", "ns": 0},
                        "response": {"model": "constant", "ns": 0}},
                        "queue_model": "risk_averse", "fees": {"maker_bps": 0, "taker_bps": 0}})",
                    dflt_venue, perr);
  const json::Value* sv = root.get("sim_venue");
  cfg.sim_venue_json = sv != nullptr ? *sv : dflt_venue;
  const json::Value* rk = root.get("risk");
  if (rk == nullptr) err("risk is required (sf-replay's risk object: the defaults for every loaded instance)");
  else cfg.risk = *rk;
  if (rk != nullptr) {
    ReplayConfig probe;
    std::vector<std::string> perrs;
    if (!probe_replay_config(cfg.risk, cfg.sim_venue_json, nullptr, probe, perrs)) {
      for (auto& e : perrs) {
        if (e.rfind("venue", 0) == 0) e = "sim_venue" + e.substr(5);
        errors.push_back(e);
      }
    } else {
      cfg.sim_venue = probe.venue;
    }
  }
  return errors.empty();
}

}  // namespace sf
