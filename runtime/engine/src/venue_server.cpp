#include "sf/venue_server.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "sf/book.hpp"
#include "sf/crash.hpp"
#include "sf/event_file.hpp"
#include "sf/json.hpp"
#include "sf/latency_model.hpp"
#include "sf/venue.hpp"
#include "sf/wire.hpp"

namespace sf {

bool parse_venue_config_text(std::string_view text, VenueConfig& out, std::string& error) {
  // Wrap the object in a minimal replay config so the venue object gets exactly sf-replay's
  // validation (unknown keys, latency models, fees); only the venue's own errors are reported.
  json::Value v;
  std::string perr;
  if (!json::parse(text, v, perr)) {
    error = "--venue-config is not valid JSON: " + perr;
    return false;
  }
  if (!v.is_object()) {
    error = "--venue-config must be a JSON object, was " + v.describe();
    return false;
  }
  const std::string doc = R"({"strategies": [{"id": "v", "plugin": "builtin:noop", "instruments": "X"}], "risk": {}, "venue": )" +
                          std::string(text) + "}";
  ReplayConfig cfg;
  std::vector<std::string> errors;
  (void)parse_replay_config(doc, ".", cfg, errors);
  std::string msg;
  for (const auto& e : errors) {
    if (e.rfind("venue", 0) != 0) continue;
    if (!msg.empty()) msg += "; ";
    msg += e;
  }
  if (!msg.empty()) {
    error = "--venue-config: " + msg;
    return false;
  }
  out = cfg.venue;
  return true;
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxOutput = 4u << 20;  // per-session output cap before a slow reader is dropped

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Session {
  int fd = -1;
  std::uint32_t id = 0;
  std::string peer;
  std::string name;
  bool logged_on = false;
  bool dead = false;
  wire::SeqCheck in;
  std::uint64_t out_seq = 0;
  std::unique_ptr<std::uint8_t[]> rbuf{new std::uint8_t[wire::kMaxFrame]};
  std::size_t rlen = 0;
  std::vector<std::uint8_t> wbuf;
  std::size_t woff = 0;
  Clock::time_point last_rx{}, last_tx{};
  std::uint32_t heartbeat_ms = 0;
  // market
  std::unique_ptr<Book[]> books;
  std::uint64_t cursor = 0;
  Nanos now = 0;
  std::unique_ptr<SimVenue> venue;
  std::unordered_map<std::uint64_t, std::uint64_t> open;  // client id -> venue id
  std::int32_t cancel_reason = static_cast<std::int32_t>(wire::CancelReason::Requested);
  bool in_new_order = false;  // the ACK of a new order is sent before matching: skip SimVenue's ACCEPTED
  std::uint64_t frames_in = 0;
  std::unique_ptr<Rng> rng;
};

}  // namespace

struct VenueServer::Impl {
  VenueServerOptions o;
  EventFile file;
  std::vector<double> qptl;
  std::uint64_t valid_end = 0;
  int listen_fd = -1;
  std::uint16_t port = 0;
  std::FILE* journal = nullptr;
  std::vector<std::unique_ptr<Session>> sessions;
  std::uint32_t next_session_id = 1;
  std::uint64_t next_venue_id = 1;

  // --- journal --------------------------------------------------------------------------------
  void jline(json::Writer& w) {
    if (journal == nullptr) return;
    w.end_object();
    std::fputs(w.str().c_str(), journal);
    std::fputc('\n', journal);
    std::fflush(journal);
  }
  json::Writer jbegin(const char* t, const Session* s) {
    json::Writer w;
    w.begin_object().kv("t", t).kv("wall_ns", wall_ns());
    if (s != nullptr) {
      if (s->name.empty()) w.key("session").null();  // a connection that never logged on
      else w.kv("session", s->name);
      w.kv("conn", s->id).kv("ts", s->now);
    }
    return w;
  }

  // --- output ---------------------------------------------------------------------------------
  void send(Session& s, wire::Frame& f) {
    if (s.fd < 0) return;
    f.h.seq = ++s.out_seq;
    if (f.h.ts_ns == 0) f.h.ts_ns = s.now;
    const std::size_t need = static_cast<std::size_t>(f.type() == wire::MsgType::StatusReply ? wire::kMaxFrame : 128);
    const std::size_t at = s.wbuf.size();
    s.wbuf.resize(at + need);
    const std::size_t n = wire::encode(f, s.wbuf.data() + at, need);
    s.wbuf.resize(at + n);
    s.last_tx = Clock::now();
  }
  void flush(Session& s) {
    while (s.fd >= 0 && s.woff < s.wbuf.size()) {
      const ssize_t r = ::send(s.fd, s.wbuf.data() + s.woff, s.wbuf.size() - s.woff, MSG_NOSIGNAL);
      if (r > 0) {
        s.woff += static_cast<std::size_t>(r);
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      close_session(s, std::string("send failed: ") + (r < 0 ? std::strerror(errno) : "0 bytes"), false);
      return;
    }
    if (s.woff == s.wbuf.size()) {
      s.wbuf.clear();
      s.woff = 0;
    } else if (s.wbuf.size() - s.woff > kMaxOutput) {
      close_session(s, "slow consumer: more than " + std::to_string(kMaxOutput) + " bytes unread", false);
    }
  }

  wire::Frame frame(wire::MsgType t) {
    wire::Frame f;
    f.h.type = static_cast<std::uint8_t>(t);
    return f;
  }

  // --- market replay ----------------------------------------------------------------------------
  void apply_event(Session& s, const Event& e) {
    const std::uint32_t inst = e.instrument;
    Book& book = s.books[inst];
    SimVenue& v = *s.venue;
    const Nanos t = e.recv_ts;
    switch (static_cast<EventType>(e.type)) {
      case EventType::Depth: {
        const Lots old = book.apply_depth(e);
        if (v.resting(inst) != 0) v.on_level(t, inst, static_cast<Side>(e.side), e.v[0], old, e.v[1] > 0 ? e.v[1] : 0);
        break;
      }
      case EventType::Quote: {
        const Ticks pb = book.best_bid(), pa = book.best_ask();
        const Lots pbq = book.best_bid_qty(), paq = book.best_ask_qty();
        book.apply(e);
        if (v.resting(inst) == 0) break;
        const Ticks nb = book.best_bid(), na = book.best_ask();
        const Lots nbq = book.best_bid_qty(), naq = book.best_ask_qty();
        auto level = [&](Side side, Ticks p0, Lots q0, Ticks p1, Lots q1, Ticks empty) {
          if (p0 == p1) {
            if (p1 != empty) v.on_level(t, inst, side, p1, q0, q1);
          } else {
            if (p0 != empty) v.on_level(t, inst, side, p0, q0, 0);
            if (p1 != empty) v.on_level(t, inst, side, p1, 0, q1);
          }
        };
        level(Side::Bid, pb, pbq, nb, nbq, kNoBid);
        level(Side::Ask, pa, paq, na, naq, kNoAsk);
        break;
      }
      case EventType::Clear:
        book.apply(e);
        break;
      case EventType::Trade:
        if (v.resting(inst) != 0) v.on_trade(t, inst, static_cast<Side>(e.side), e.v[0], e.v[1]);
        break;
      case EventType::Bar:
        if (o.bar_mode && v.resting(inst) != 0) v.on_bar(t, inst, e.v[0], e.v[1], e.v[2]);
        break;
    }
    if (v.has_reports()) emit_reports(s);
  }

  void advance(Session& s, Nanos t) {
    const Event* ev = file.events();
    if (t < s.now && s.cursor >= valid_end && valid_end > 0 && t >= ev[0].recv_ts) {
      // the client's feed restarted (a looping replay): replay the data again from the start
      for (std::uint32_t i = 0; i < file.instrument_count(); ++i) s.books[i].clear();
      s.cursor = 0;
      auto w = jbegin("rewind", &s);
      w.kv("to_ts", t);
      jline(w);
      s.now = t;
    }
    while (s.cursor < valid_end && ev[s.cursor].recv_ts <= t) {
      s.now = std::max(s.now, ev[s.cursor].recv_ts);
      apply_event(s, ev[s.cursor]);
      ++s.cursor;
    }
    s.now = std::max(s.now, t);
  }

  void emit_reports(Session& s) {
    for (const VenueReport& r : s.venue->reports()) {
      if (r.kind == VenueReport::Kind::Fill) {
        auto f = frame(wire::MsgType::Fill);
        f.h.ts_ns = r.ts;
        f.fill = wire::Fill{r.id, r.px, r.qty, r.leaves, static_cast<std::uint8_t>(r.maker ? 1 : 0), r.fee};
        send(s, f);
        auto w = jbegin("fill", &s);
        w.kv("client_id", r.id).kv("px", r.px).kv("qty", r.qty).kv("leaves", r.leaves).kv("maker", r.maker).kv("fee", r.fee);
        jline(w);
        continue;
      }
      switch (r.status) {
        case SF_ORDER_ACCEPTED:
          if (s.in_new_order) break;
          [[fallthrough]];
        case SF_ORDER_REPLACED: {
          auto f = frame(wire::MsgType::Ack);
          f.h.ts_ns = r.ts;
          const auto it = s.open.find(r.id);
          f.ack = wire::Ack{r.id, it != s.open.end() ? it->second : 0, r.px, r.leaves};
          send(s, f);
          auto w = jbegin("ack", &s);
          w.kv("client_id", r.id).kv("venue_id", f.ack.venue_id).kv("px", r.px).kv("leaves", r.leaves);
          if (r.status == SF_ORDER_REPLACED) w.kv("replace", true);
          jline(w);
          break;
        }
        case SF_ORDER_CANCELED:
        case SF_ORDER_EXPIRED: {
          const std::int32_t reason =
              r.status == SF_ORDER_EXPIRED ? static_cast<std::int32_t>(wire::CancelReason::Expired) : s.cancel_reason;
          auto f = frame(wire::MsgType::Canceled);
          f.h.ts_ns = r.ts;
          f.canceled = wire::Canceled{r.id, reason, r.qty};
          send(s, f);
          s.open.erase(r.id);
          auto w = jbegin("cancel", &s);
          w.kv("client_id", r.id).kv("leaves", r.qty).kv("reason", wire::cancel_reason_name(reason));
          jline(w);
          break;
        }
        case SF_ORDER_FILLED:
          s.open.erase(r.id);
          break;
        case SF_ORDER_REJECTED:
          s.open.erase(r.id);
          reject(s, r.id, wire::RejectReason::VenueFull, 0, "session order capacity exhausted");
          break;
        case SF_ORDER_CANCEL_REJECTED:
          reject(s, r.id, wire::RejectReason::UnknownOrder, 0, "order is not open");
          break;
        default:
          break;
      }
    }
    s.venue->clear_reports();
  }

  void reject(Session& s, std::uint64_t client_id, wire::RejectReason why, std::uint64_t ref_seq, const std::string& text) {
    auto f = frame(wire::MsgType::Reject);
    f.reject.client_id = client_id;
    f.reject.reason = static_cast<std::int32_t>(why);
    f.reject.ref_seq = static_cast<std::uint32_t>(ref_seq);
    wire::set_text(f.reject.text, wire::kTextLen, text);
    send(s, f);
    auto w = jbegin("reject", &s);
    w.kv("client_id", client_id).kv("code", static_cast<std::int64_t>(why)).kv("reason", wire::reject_reason_name(static_cast<std::int32_t>(why)));
    w.kv("text", text).kv("ref_seq", ref_seq);
    jline(w);
  }

  /// A protocol error: REJECT, the CANCELED of every open order, LOGOUT (each with the reason),
  /// then close.
  void protocol_error(Session& s, wire::RejectReason why, std::uint64_t ref_seq, const std::string& text) {
    reject(s, 0, why, ref_seq, text);
    close_session(s, std::string("protocol error ") + wire::reject_reason_name(static_cast<std::int32_t>(why)) + ": " + text, true,
                  wire::CancelReason::CancelOnDisconnect, text.c_str(), static_cast<std::int32_t>(why));
  }

  /// Closes the connection; a logged-on session's open orders are canceled (cancel-on-disconnect).
  void close_session(Session& s, const std::string& why, bool try_flush,
                     wire::CancelReason cancel_why = wire::CancelReason::CancelOnDisconnect, const char* logout_text = nullptr,
                     std::int32_t logout_reason = 0) {
    if (s.dead) return;
    s.dead = true;
    auto w = jbegin("disconnect", &s);
    w.kv("reason", why).kv("open_orders", static_cast<std::uint64_t>(s.open.size()));
    jline(w);
    if (s.logged_on && s.venue) {
      s.cancel_reason = static_cast<std::int32_t>(cancel_why);
      s.venue->cancel_all(s.now);
      emit_reports(s);  // journaled; sent when the socket still takes them
      s.cancel_reason = static_cast<std::int32_t>(wire::CancelReason::Requested);
    }
    if (logout_text != nullptr) {
      auto f = frame(wire::MsgType::Logout);
      f.logout.reason = logout_reason;
      wire::set_text(f.logout.text, wire::kTextLen, logout_text);
      send(s, f);
    }
    if (s.fd >= 0) {
      if (try_flush && s.woff < s.wbuf.size()) {
        (void)::send(s.fd, s.wbuf.data() + s.woff, s.wbuf.size() - s.woff, MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      ::close(s.fd);
      s.fd = -1;
    }
  }

  // --- frames -------------------------------------------------------------------------------------
  static bool valid_session_name(std::string_view n) {
    if (n.empty()) return false;
    for (char c : n)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':')) return false;
    return true;
  }

  void on_logon(Session& s, const wire::Frame& f) {
    const std::string_view name = wire::get_text(f.logon.session, wire::kSessionLen);
    if (s.logged_on) return protocol_error(s, wire::RejectReason::BadLogon, f.h.seq, "already logged on");
    if (!valid_session_name(name))
      return protocol_error(s, wire::RejectReason::BadLogon, f.h.seq, "session name must be 1-31 chars of [A-Za-z0-9._:-]");
    if (f.logon.heartbeat_ms == 0 || f.logon.heartbeat_ms >= static_cast<std::uint32_t>(o.heartbeat_timeout_ms))
      return protocol_error(s, wire::RejectReason::BadLogon, f.h.seq,
                            "heartbeat_ms must be in 1.." + std::to_string(o.heartbeat_timeout_ms - 1));
    for (const auto& other : sessions)
      if (other.get() != &s && !other->dead && other->logged_on && other->name == name)
        return protocol_error(s, wire::RejectReason::SessionInUse, f.h.seq, "session '" + std::string(name) + "' is connected");
    s.name = std::string(name);
    s.heartbeat_ms = f.logon.heartbeat_ms;
    s.logged_on = true;
    const std::uint32_t n = file.instrument_count();
    s.books.reset(new Book[n]);
    s.venue = std::make_unique<SimVenue>(qptl, o.max_orders, o.venue.queue_model, o.venue.fees, o.bar_mode);
    s.rng = std::make_unique<Rng>(o.venue.seed);
    s.now = file.event_count() > 0 ? file.events()[0].recv_ts : 0;
    advance(s, f.h.ts_ns);
    auto w = jbegin("logon", &s);
    w.kv("heartbeat_ms", s.heartbeat_ms).kv("peer", s.peer);
    jline(w);
    auto a = frame(wire::MsgType::LogonAck);
    a.logon_ack.heartbeat_timeout_ms = static_cast<std::uint32_t>(o.heartbeat_timeout_ms);
    a.logon_ack.session_id = s.id;
    send(s, a);
  }

  Nanos arrival(Session& s, Nanos ts) { return ts + o.venue.entry.sample(*s.rng); }

  void on_new_order(Session& s, const wire::Frame& f) {
    const wire::NewOrder& n = f.new_order;
    advance(s, arrival(s, f.h.ts_ns));
    {
      auto w = jbegin("order", &s);
      w.kv("client_id", n.client_id).kv("instrument", n.instrument).kv("side", static_cast<unsigned>(n.side));
      w.kv("type", static_cast<unsigned>(n.type)).kv("tif", static_cast<unsigned>(n.tif)).kv("px", n.px).kv("qty", n.qty);
      w.kv("engine_ts", f.h.ts_ns);
      jline(w);
    }
    std::string bad;
    if (n.client_id == 0) bad = "client_id 0 is reserved";
    else if (n.instrument >= file.instrument_count()) bad = "instrument " + std::to_string(n.instrument) + " not in the venue's data";
    else if (n.side != 1 && n.side != 2) bad = "side must be 1 or 2, was " + std::to_string(n.side);
    else if (n.type != 1 && n.type != 2) bad = "type must be 1 or 2, was " + std::to_string(n.type);
    else if (n.tif != 1 && n.tif != 2) bad = "tif must be 1 or 2, was " + std::to_string(n.tif);
    else if (n.qty <= 0) bad = "qty must be > 0, was " + std::to_string(n.qty);
    else if (n.type == 1 && (n.px == kNoBid || n.px == kNoAsk)) bad = "limit px is a sentinel";
    if (!bad.empty()) return reject(s, n.client_id, wire::RejectReason::InvalidOrder, f.h.seq, bad);
    if (s.open.count(n.client_id) != 0)
      return reject(s, n.client_id, wire::RejectReason::DuplicateOrderId, f.h.seq, "client_id " + std::to_string(n.client_id) + " is open");
    if (s.venue->active_orders() >= o.max_orders)
      return reject(s, n.client_id, wire::RejectReason::VenueFull, f.h.seq, "session has " + std::to_string(o.max_orders) + " open orders");
    VenueOrder vo;
    vo.id = n.client_id;
    vo.instrument = n.instrument;
    vo.side = static_cast<Side>(n.side);
    vo.type = static_cast<OrdType>(n.type);
    vo.tif = vo.type == OrdType::Market ? Tif::Ioc : static_cast<Tif>(n.tif);
    vo.px = n.px;
    if (vo.type == OrdType::Market && n.px == 0) vo.px = vo.side == Side::Bid ? kNoAsk - 1 : kNoBid + 1;
    vo.leaves = n.qty;
    const std::uint64_t venue_id = next_venue_id++;
    s.open[n.client_id] = venue_id;
    // every accepted order is acknowledged first; fills / CANCELED(expired) follow
    auto a = frame(wire::MsgType::Ack);
    a.h.ts_ns = s.now;
    a.ack = wire::Ack{n.client_id, venue_id, vo.px, n.qty};
    send(s, a);
    auto w = jbegin("ack", &s);
    w.kv("client_id", n.client_id).kv("venue_id", venue_id).kv("px", vo.px).kv("leaves", n.qty);
    jline(w);
    s.in_new_order = true;
    s.venue->new_order(s.now, vo, s.books[n.instrument]);
    emit_reports(s);
    s.in_new_order = false;
  }

  void on_cancel(Session& s, const wire::Frame& f) {
    advance(s, arrival(s, f.h.ts_ns));
    auto w = jbegin("cancel_request", &s);
    w.kv("client_id", f.cancel.client_id).kv("engine_ts", f.h.ts_ns);
    jline(w);
    if (s.open.count(f.cancel.client_id) == 0)
      return reject(s, f.cancel.client_id, wire::RejectReason::UnknownOrder, f.h.seq, "order is not open");
    s.venue->cancel(s.now, f.cancel.client_id);
    emit_reports(s);
  }

  void on_replace(Session& s, const wire::Frame& f) {
    const wire::Replace& r = f.replace;
    advance(s, arrival(s, f.h.ts_ns));
    auto w = jbegin("replace", &s);
    w.kv("client_id", r.client_id).kv("px", r.px).kv("qty", r.qty).kv("engine_ts", f.h.ts_ns);
    jline(w);
    if (r.qty <= 0) return reject(s, r.client_id, wire::RejectReason::InvalidOrder, f.h.seq, "qty must be > 0, was " + std::to_string(r.qty));
    const VenueOrder* vo = s.venue->find(r.client_id);
    if (s.open.count(r.client_id) == 0 || vo == nullptr)
      return reject(s, r.client_id, wire::RejectReason::UnknownOrder, f.h.seq, "order is not open");
    s.venue->replace(s.now, vo, r.client_id, r.px, r.qty, s.books[vo->instrument]);
    emit_reports(s);
  }

  std::string status_json() {
    json::Writer w;
    w.begin_object().kv("port", static_cast<unsigned>(port)).kv("data", o.synth ? std::string("synth") : o.data);
    w.kv("events", file.event_count()).kv("heartbeat_timeout_ms", o.heartbeat_timeout_ms);
    w.key("sessions").begin_array();
    for (const auto& sp : sessions) {
      const Session& x = *sp;
      if (x.dead) continue;
      w.begin_object().kv("conn", x.id).kv("session", x.name).kv("logged_on", x.logged_on).kv("peer", x.peer);
      w.kv("open_orders", static_cast<std::uint64_t>(x.open.size())).kv("ts_ns", x.now).kv("events_replayed", x.cursor);
      w.kv("frames_in", x.frames_in).kv("frames_out", x.out_seq);
      w.end_object();
    }
    w.end_array().end_object();
    return w.str();
  }

  void on_frame(Session& s, const wire::Frame& f) {
    ++s.frames_in;
    if (const auto r = s.in.check(f.h.seq); r != wire::SeqCheck::Result::Ok) {
      const bool gap = r == wire::SeqCheck::Result::Gap;
      return protocol_error(s, gap ? wire::RejectReason::SeqGap : wire::RejectReason::SeqRepeat, f.h.seq,
                            "seq " + std::to_string(f.h.seq) + ", expected " + std::to_string(s.in.expected));
    }
    const wire::MsgType t = f.type();
    if (!s.logged_on && t != wire::MsgType::Logon && t != wire::MsgType::Status && t != wire::MsgType::Heartbeat &&
        t != wire::MsgType::Logout)
      return protocol_error(s, wire::RejectReason::NotLoggedOn, f.h.seq, std::string(wire::msg_type_name(f.h.type)) + " before LOGON");
    switch (t) {
      case wire::MsgType::Logon: return on_logon(s, f);
      case wire::MsgType::Heartbeat:
        if (s.logged_on) advance(s, f.h.ts_ns);
        return;
      case wire::MsgType::NewOrder: return on_new_order(s, f);
      case wire::MsgType::Cancel: return on_cancel(s, f);
      case wire::MsgType::Replace: return on_replace(s, f);
      case wire::MsgType::Logout: {
        const std::string text(wire::get_text(f.logout.text, wire::kTextLen));
        auto lo = frame(wire::MsgType::Logout);
        wire::set_text(lo.logout.text, wire::kTextLen, "logout acknowledged");
        send(s, lo);
        return close_session(s, "logout: " + text, true);
      }
      case wire::MsgType::Status: {
        const std::string js = status_json();
        auto r = frame(wire::MsgType::StatusReply);
        r.text = js;
        return send(s, r);
      }
      default:
        return protocol_error(s, wire::RejectReason::BadType, f.h.seq,
                              std::string(wire::msg_type_name(f.h.type)) + " is a venue-to-client frame");
    }
  }

  void on_readable(Session& s) {
    while (!s.dead) {
      const ssize_t r = ::recv(s.fd, s.rbuf.get() + s.rlen, wire::kMaxFrame - s.rlen, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (r <= 0) {
        std::string why = r == 0 ? "connection closed by peer" : std::string("connection error: ") + std::strerror(errno);
        if (s.rlen > 0) why += "; truncated frame: " + std::to_string(s.rlen) + " bytes of an incomplete frame discarded";
        close_session(s, why, false);
        return;
      }
      s.last_rx = Clock::now();
      s.rlen += static_cast<std::size_t>(r);
      std::size_t off = 0;
      while (!s.dead) {
        wire::Frame f;
        std::size_t used = 0;
        const wire::DecodeStatus st = wire::decode(s.rbuf.get() + off, s.rlen - off, f, used);
        if (st == wire::DecodeStatus::NeedMore) break;
        if (st != wire::DecodeStatus::Ok) {
          const std::uint8_t* p = s.rbuf.get() + off;
          const unsigned len = static_cast<unsigned>(p[0] | (p[1] << 8));
          const wire::RejectReason why = st == wire::DecodeStatus::BadLength ? wire::RejectReason::BadLength
                                         : st == wire::DecodeStatus::BadType ? wire::RejectReason::BadType
                                                                             : wire::RejectReason::BadVersion;
          // short enough for the 47-char text field
          std::string text;
          if (st == wire::DecodeStatus::BadType) text = "unknown frame type " + std::to_string(p[2]);
          else if (st == wire::DecodeStatus::BadVersion) text = "unsupported version " + std::to_string(p[3]);
          else if (p[2] == static_cast<std::uint8_t>(wire::MsgType::StatusReply)) text = "bad length " + std::to_string(len) + " < 24";
          else text = "bad length " + std::to_string(len) + ": " + wire::msg_type_name(p[2]) + " is " + std::to_string(wire::frame_size(p[2]));
          protocol_error(s, why, 0, text);
          return;
        }
        off += used;
        on_frame(s, f);
      }
      if (s.dead) return;
      std::memmove(s.rbuf.get(), s.rbuf.get() + off, s.rlen - off);
      s.rlen -= off;
    }
  }

  void accept_all() {
    while (true) {
      sockaddr_in a{};
      socklen_t al = sizeof a;
      const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&a), &al, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      char ip[INET_ADDRSTRLEN] = "?";
      ::inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
      const std::string peer = std::string(ip) + ":" + std::to_string(ntohs(a.sin_port));
      std::size_t live = 0;
      for (const auto& x : sessions) live += x->dead ? 0 : 1;
      if (live >= o.max_sessions) {
        auto w = jbegin("refused", nullptr);
        w.kv("peer", peer).kv("reason", "too many sessions (" + std::to_string(o.max_sessions) + ")");
        jline(w);
        ::close(fd);
        continue;
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto s = std::make_unique<Session>();
      s->fd = fd;
      s->id = next_session_id++;
      s->peer = peer;
      s->last_rx = s->last_tx = Clock::now();
      auto w = jbegin("connect", nullptr);
      w.kv("conn", s->id).kv("peer", peer);
      jline(w);
      sessions.push_back(std::move(s));
    }
  }

  void timers() {
    const auto now = Clock::now();
    for (auto& sp : sessions) {
      Session& s = *sp;
      if (s.dead) continue;
      const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - s.last_rx).count();
      if (silent > o.heartbeat_timeout_ms) {
        close_session(s, "heartbeat timeout: no frame for " + std::to_string(silent) + " ms (limit " + std::to_string(o.heartbeat_timeout_ms) + ")",
                      true, wire::CancelReason::CancelOnDisconnect, "heartbeat timeout");
        continue;
      }
      if (s.logged_on && now - s.last_tx >= std::chrono::milliseconds(s.heartbeat_ms)) {
        auto f = frame(wire::MsgType::Heartbeat);
        send(s, f);
      }
    }
  }
};

VenueServer::VenueServer(VenueServerOptions o) : impl_(std::make_unique<Impl>()) { impl_->o = std::move(o); }

VenueServer::~VenueServer() {
  for (auto& s : impl_->sessions)
    if (s->fd >= 0) ::close(s->fd);
  if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
  if (impl_->journal != nullptr) std::fclose(impl_->journal);
}

std::uint16_t VenueServer::port() const noexcept { return impl_->port; }

bool VenueServer::start(std::string& error, int& exit_code) {
  Impl& m = *impl_;
  VenueServerOptions& o = m.o;
  if (o.heartbeat_timeout_ms < 2) {
    error = "--heartbeat-timeout-ms must be >= 2, was " + std::to_string(o.heartbeat_timeout_ms);
    exit_code = kExitUsage;
    return false;
  }
  // data
  exit_code = kExitData;
  if (o.synth) {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") + "/sf-venue-synth-XXXXXX";
    std::vector<char> path(tmpl.begin(), tmpl.end());
    path.push_back('\0');
    const int fd = ::mkstemp(path.data());
    if (fd < 0) {
      error = "cannot create a temporary file for the synthetic data in '" + tmpl + "': " + std::strerror(errno);
      return false;
    }
    ::close(fd);
    const std::string p(path.data());
    const bool ok = write_synthetic(p, o.synth_options, error) && m.file.open(p, error, Residency::Memory);
    ::unlink(p.c_str());
    if (!ok) return false;
  } else if (!m.file.open(o.data, error)) {
    return false;
  }
  m.valid_end = std::min(m.file.event_count(), m.file.first_invalid_record());
  if (m.valid_end < m.file.event_count())
    std::fprintf(stderr, "sf-venue: warning: '%s' record %llu is invalid; the venue replays the %llu records before it\n", m.file.path().c_str(),
                 static_cast<unsigned long long>(m.valid_end), static_cast<unsigned long long>(m.valid_end));
  m.qptl.resize(m.file.instrument_count());
  for (std::uint32_t i = 0; i < m.file.instrument_count(); ++i)
    m.qptl[i] = static_cast<double>(m.file.instruments()[i].tick_size_e9) * 1e-9 * static_cast<double>(m.file.instruments()[i].lot_size_e9) * 1e-9;
  // journal
  exit_code = kExitOutput;
  if (!o.journal.empty()) {
    m.journal = std::fopen(o.journal.c_str(), "a");
    if (m.journal == nullptr) {
      error = "cannot open journal '" + o.journal + "': " + std::strerror(errno);
      return false;
    }
  }
  // socket
  exit_code = kExitConfig;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(o.port);
  if (::inet_pton(AF_INET, o.bind.c_str(), &a.sin_addr) != 1) {
    error = "--bind '" + o.bind + "' is not an IPv4 address";
    return false;
  }
  m.listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(m.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (m.listen_fd < 0 || ::bind(m.listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(m.listen_fd, 64) != 0) {
    error = "cannot listen on " + o.bind + ":" + std::to_string(o.port) + ": " + std::strerror(errno);
    return false;
  }
  socklen_t al = sizeof a;
  ::getsockname(m.listen_fd, reinterpret_cast<sockaddr*>(&a), &al);
  m.port = ntohs(a.sin_port);
  exit_code = kExitOutput;
  if (!o.port_file.empty()) {
    const std::string tmp = o.port_file + ".tmp." + std::to_string(::getpid());
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    const bool ok = f != nullptr && std::fprintf(f, "%u\n", static_cast<unsigned>(m.port)) > 0 && std::fclose(f) == 0;
    if (!ok || std::rename(tmp.c_str(), o.port_file.c_str()) != 0) {
      error = "cannot write port file '" + o.port_file + "': " + std::strerror(errno);
      ::unlink(tmp.c_str());
      return false;
    }
  }
  auto w = m.jbegin("start", nullptr);
  w.kv("port", static_cast<unsigned>(m.port)).kv("bind", o.bind).kv("data", o.synth ? std::string("synth") : o.data);
  w.kv("events", m.file.event_count()).kv("heartbeat_timeout_ms", o.heartbeat_timeout_ms).kv("pid", static_cast<std::int64_t>(::getpid()));
  m.jline(w);
  exit_code = kExitOk;
  return true;
}

int VenueServer::run(const volatile std::sig_atomic_t& stop) {
  Impl& m = *impl_;
  std::vector<pollfd> pfds;
  while (stop == 0) {
    pfds.clear();
    pfds.push_back(pollfd{m.listen_fd, POLLIN, 0});
    for (auto& s : m.sessions) {
      short ev = POLLIN;
      if (s->woff < s->wbuf.size()) ev |= POLLOUT;
      pfds.push_back(pollfd{s->fd, ev, 0});
    }
    const int rc = ::poll(pfds.data(), pfds.size(), 20);
    if (rc < 0 && errno != EINTR) {
      std::fprintf(stderr, "sf-venue: poll: %s\n", std::strerror(errno));
      break;
    }
    if (stop != 0) break;
    if (rc > 0) {
      const std::size_t n = m.sessions.size();  // sessions accepted below are polled next round
      for (std::size_t k = 0; k < n; ++k) {
        Session& s = *m.sessions[k];
        const short re = pfds[k + 1].revents;
        if (s.dead || re == 0) continue;
        if (re & (POLLIN | POLLHUP | POLLERR)) m.on_readable(s);
      }
      if (pfds[0].revents & POLLIN) m.accept_all();
    }
    m.timers();
    for (auto& s : m.sessions)
      if (!s->dead) m.flush(*s);
    std::erase_if(m.sessions, [](const std::unique_ptr<Session>& s) { return s->dead; });
  }
  // shutdown: every open order canceled (venue_shutdown), every session logged out
  for (auto& sp : m.sessions) {
    Session& s = *sp;
    if (s.dead) continue;
    m.close_session(s, "venue shutdown", true, wire::CancelReason::VenueShutdown, "venue shutting down");
  }
  auto w = m.jbegin("stop", nullptr);
  m.jline(w);
  if (m.journal != nullptr) std::fclose(m.journal);
  m.journal = nullptr;
  return kExitOk;
}

}  // namespace sf
