#include "sf/tape.hpp"

#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstring>

#include "sf/json.hpp"

namespace sf {

namespace {
const char* side_str(std::uint32_t s) { return s == SF_SIDE_BUY ? "BUY" : (s == SF_SIDE_SELL ? "SELL" : "NONE"); }
const char* status_str(std::uint32_t s) {
  switch (s) {
    case SF_ORDER_ACCEPTED: return "ACCEPTED";
    case SF_ORDER_CANCELED: return "CANCELED";
    case SF_ORDER_REPLACED: return "REPLACED";
    case SF_ORDER_REJECTED: return "REJECTED";
    case SF_ORDER_FILLED: return "FILLED";
    case SF_ORDER_EXPIRED: return "EXPIRED";
    case SF_ORDER_CANCEL_REJECTED: return "CANCEL_REJECTED";
    default: return "UNKNOWN";
  }
}
// JSON-escaped copy of a short context string (strategy ids and contexts are engine-controlled,
// but escape anyway).
std::string esc(const char* s) {
  std::string out;
  json::Writer::escape_into(out, s ? s : "");
  return out;
}
}  // namespace

TapeWriter::~TapeWriter() {
  if (f_ != nullptr) {
    flush();
    std::fclose(f_);
  }
}

bool TapeWriter::open(const std::string& path, std::string& error) {
  path_ = path;
  tmp_ = path + ".partial";
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (f_ == nullptr) {
    error = "Condition failed: cannot create tape file '" + tmp_ + "': " + std::strerror(errno);
    return false;
  }
  return true;
}

void TapeWriter::flush() {
  if (n_ > 0 && f_ != nullptr) std::fwrite(buf_, 1, n_, f_);
  n_ = 0;
}

void TapeWriter::line(const char* fmt, ...) {
  if (f_ == nullptr) return;
  if (sizeof buf_ - n_ < 2048) flush();
  va_list ap;
  va_start(ap, fmt);
  const int w = std::vsnprintf(buf_ + n_, sizeof buf_ - n_ - 1, fmt, ap);
  va_end(ap);
  if (w < 0) return;
  n_ += std::min<std::size_t>(static_cast<std::size_t>(w), sizeof buf_ - n_ - 2);
  buf_[n_++] = '\n';
  ++lines_;
}

void TapeWriter::header(std::string_view fields) {
  line("{\"k\":\"header\",\"format\":\"sf-tape\",\"version\":1%s%.*s}", fields.empty() ? "" : ",", static_cast<int>(fields.size()),
       fields.data());
}

void TapeWriter::book(const char* s, const sf_book& b) {
  line("{\"k\":\"book\",\"s\":\"%s\",\"ts\":%" PRId64 ",\"exch_ts\":%" PRId64 ",\"i\":%u,\"bid_px\":%" PRId64 ",\"bid_qty\":%" PRId64
       ",\"ask_px\":%" PRId64 ",\"ask_qty\":%" PRId64 ",\"bid_levels\":%u,\"ask_levels\":%u,\"flags\":%u}",
       s, b.recv_ts, b.exch_ts, b.instrument, b.bid_px, b.bid_qty, b.ask_px, b.ask_qty, b.bid_levels, b.ask_levels, b.flags);
}
void TapeWriter::trade(const char* s, const sf_trade& t) {
  line("{\"k\":\"trade\",\"s\":\"%s\",\"ts\":%" PRId64 ",\"exch_ts\":%" PRId64 ",\"i\":%u,\"side\":\"%s\",\"px\":%" PRId64
       ",\"qty\":%" PRId64 ",\"trade_id\":%" PRId64 "}",
       s, t.recv_ts, t.exch_ts, t.instrument, side_str(t.side), t.px, t.qty, t.trade_id);
}
void TapeWriter::bar(const char* s, const sf_bar& b) {
  line("{\"k\":\"bar\",\"s\":\"%s\",\"ts\":%" PRId64 ",\"end_ts\":%" PRId64 ",\"i\":%u,\"open\":%" PRId64 ",\"high\":%" PRId64
       ",\"low\":%" PRId64 ",\"close\":%" PRId64 ",\"volume\":%" PRId64 "}",
       s, b.recv_ts, b.end_ts, b.instrument, b.open, b.high, b.low, b.close, b.volume);
}
void TapeWriter::fill(const char* s, const sf_fill& f) {
  line("{\"k\":\"fill\",\"s\":\"%s\",\"ts\":%" PRId64 ",\"order_id\":%" PRIu64 ",\"i\":%u,\"side\":\"%s\",\"liquidity\":\"%s\",\"px\":%" PRId64
       ",\"qty\":%" PRId64 ",\"leaves\":%" PRId64 ",\"position\":%" PRId64 ",\"fee\":%.17g}",
       s, f.ts, f.order_id, f.instrument, side_str(f.side), f.liquidity == SF_LIQ_MAKER ? "MAKER" : "TAKER", f.px, f.qty, f.leaves_qty,
       f.position, f.fee);
}
void TapeWriter::order_update(const char* s, const sf_order_update& u) {
  line("{\"k\":\"order_update\",\"s\":\"%s\",\"ts\":%" PRId64 ",\"order_id\":%" PRIu64 ",\"i\":%u,\"side\":\"%s\",\"status\":\"%s\",\"px\":%" PRId64
       ",\"qty\":%" PRId64 ",\"leaves\":%" PRId64 "}",
       s, u.ts, u.order_id, u.instrument, side_str(u.side), status_str(u.status), u.px, u.qty, u.leaves_qty);
}
void TapeWriter::timer(const char* s, std::int64_t ts, std::uint64_t id) {
  line("{\"k\":\"timer\",\"s\":\"%s\",\"ts\":%" PRId64 ",\"timer_id\":%" PRIu64 "}", s, ts, id);
}
void TapeWriter::submit(const char* s, std::int64_t ts, const sf_order_request& r, std::uint64_t order_id, const char* result,
                        const char* context) {
  line("{\"k\":\"submit\",\"s\":\"%s\",\"ts\":%" PRId64 ",\"i\":%u,\"side\":\"%s\",\"type\":\"%s\",\"tif\":\"%s\",\"px\":%" PRId64
       ",\"qty\":%" PRId64 ",\"tag\":%" PRIu64 ",\"result\":\"%s\",\"order_id\":%" PRIu64 ",\"context\":%s}",
       s, ts, r.instrument, side_str(r.side), r.type == SF_ORD_MARKET ? "MARKET" : (r.type == SF_ORD_LIMIT ? "LIMIT" : "INVALID"),
       r.tif == SF_TIF_IOC ? "IOC" : (r.tif == SF_TIF_GTC ? "GTC" : "INVALID"), r.px, r.qty, r.user_tag, result, order_id,
       esc(context).c_str());
}
void TapeWriter::cancel(const char* s, std::int64_t ts, std::uint64_t id, const char* result, const char* context) {
  line("{\"k\":\"cancel\",\"s\":\"%s\",\"ts\":%" PRId64 ",\"order_id\":%" PRIu64 ",\"result\":\"%s\",\"context\":%s}", s, ts, id, result,
       esc(context).c_str());
}
void TapeWriter::replace(const char* s, std::int64_t ts, std::uint64_t id, std::int64_t px, std::int64_t qty, const char* result,
                         const char* context) {
  line("{\"k\":\"replace\",\"s\":\"%s\",\"ts\":%" PRId64 ",\"order_id\":%" PRIu64 ",\"px\":%" PRId64 ",\"qty\":%" PRId64
       ",\"result\":\"%s\",\"context\":%s}",
       s, ts, id, px, qty, result, esc(context).c_str());
}
void TapeWriter::kill(const char* s, std::int64_t ts, const char* reason, const char* context) {
  line("{\"k\":\"kill\",\"s\":\"%s\",\"ts\":%" PRId64 ",\"reason\":\"%s\",\"context\":%s}", s, ts, reason, esc(context).c_str());
}

bool TapeWriter::finish(std::string& error) {
  if (f_ == nullptr) return true;
  flush();
  const bool ok = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!ok || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    error = "Condition failed: writing tape '" + path_ + "' failed: " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace sf
