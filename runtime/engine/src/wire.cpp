#include "sf/wire.hpp"

#include <cstring>

namespace sf::wire {

namespace {
// Explicit little-endian field access (independent of host order and struct layout).
inline void put8(std::uint8_t* p, std::uint8_t v) noexcept { p[0] = v; }
inline void put16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
inline void put32(std::uint8_t* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline void put64(std::uint8_t* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline void puti32(std::uint8_t* p, std::int32_t v) noexcept { put32(p, static_cast<std::uint32_t>(v)); }
inline void puti64(std::uint8_t* p, std::int64_t v) noexcept { put64(p, static_cast<std::uint64_t>(v)); }
inline void putf64(std::uint8_t* p, double v) noexcept {
  std::uint64_t u;
  std::memcpy(&u, &v, 8);
  put64(p, u);
}
inline std::uint16_t get16(const std::uint8_t* p) noexcept { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
inline std::uint32_t get32(const std::uint8_t* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline std::uint64_t get64(const std::uint8_t* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline std::int32_t geti32(const std::uint8_t* p) noexcept { return static_cast<std::int32_t>(get32(p)); }
inline std::int64_t geti64(const std::uint8_t* p) noexcept { return static_cast<std::int64_t>(get64(p)); }
inline double getf64(const std::uint8_t* p) noexcept {
  const std::uint64_t u = get64(p);
  double v;
  std::memcpy(&v, &u, 8);
  return v;
}
}  // namespace

const char* msg_type_name(std::uint8_t t) noexcept {
  switch (static_cast<MsgType>(t)) {
    case MsgType::Logon: return "LOGON";
    case MsgType::LogonAck: return "LOGON_ACK";
    case MsgType::Heartbeat: return "HEARTBEAT";
    case MsgType::NewOrder: return "NEW_ORDER";
    case MsgType::Cancel: return "CANCEL";
    case MsgType::Replace: return "REPLACE";
    case MsgType::Ack: return "ACK";
    case MsgType::Reject: return "REJECT";
    case MsgType::Fill: return "FILL";
    case MsgType::Canceled: return "CANCELED";
    case MsgType::Logout: return "LOGOUT";
    case MsgType::Status: return "STATUS";
    case MsgType::StatusReply: return "STATUS_REPLY";
  }
  return "UNKNOWN";
}

std::size_t frame_size(std::uint8_t type) noexcept {
  switch (static_cast<MsgType>(type)) {
    case MsgType::Logon: return 64;
    case MsgType::LogonAck: return 32;
    case MsgType::Heartbeat: return 24;
    case MsgType::NewOrder: return 56;
    case MsgType::Cancel: return 32;
    case MsgType::Replace: return 48;
    case MsgType::Ack: return 56;
    case MsgType::Reject: return 88;
    case MsgType::Fill: return 72;
    case MsgType::Canceled: return 48;
    case MsgType::Logout: return 80;
    case MsgType::Status: return 24;
    case MsgType::StatusReply: return 24;
  }
  return 0;
}

const char* reject_reason_name(std::int32_t r) noexcept {
  switch (static_cast<RejectReason>(r)) {
    case RejectReason::None: return "NONE";
    case RejectReason::SeqGap: return "SEQ_GAP";
    case RejectReason::SeqRepeat: return "SEQ_REPEAT";
    case RejectReason::BadLength: return "BAD_LENGTH";
    case RejectReason::BadType: return "BAD_TYPE";
    case RejectReason::BadVersion: return "BAD_VERSION";
    case RejectReason::NotLoggedOn: return "NOT_LOGGED_ON";
    case RejectReason::SessionInUse: return "SESSION_IN_USE";
    case RejectReason::BadLogon: return "BAD_LOGON";
    case RejectReason::UnknownOrder: return "UNKNOWN_ORDER";
    case RejectReason::DuplicateOrderId: return "DUPLICATE_ORDER_ID";
    case RejectReason::InvalidOrder: return "INVALID_ORDER";
    case RejectReason::VenueFull: return "VENUE_FULL";
  }
  return "UNKNOWN";
}

const char* cancel_reason_name(std::int32_t r) noexcept {
  switch (static_cast<CancelReason>(r)) {
    case CancelReason::Requested: return "requested";
    case CancelReason::CancelOnDisconnect: return "cancel_on_disconnect";
    case CancelReason::Expired: return "expired";
    case CancelReason::VenueShutdown: return "venue_shutdown";
  }
  return "unknown";
}

const char* decode_status_name(DecodeStatus s) noexcept {
  switch (s) {
    case DecodeStatus::Ok: return "ok";
    case DecodeStatus::NeedMore: return "need more bytes";
    case DecodeStatus::BadLength: return "bad length";
    case DecodeStatus::BadType: return "unknown type";
    case DecodeStatus::BadVersion: return "unsupported version";
  }
  return "?";
}

void set_text(char* dst, std::size_t n, std::string_view s) noexcept {
  std::memset(dst, 0, n);
  std::memcpy(dst, s.data(), s.size() < n ? s.size() : n - 1);
}

std::string_view get_text(const char* src, std::size_t n) noexcept { return {src, ::strnlen(src, n)}; }

DecodeStatus decode(const std::uint8_t* p, std::size_t n, Frame& f, std::size_t& consumed) noexcept {
  consumed = 0;
  if (n < 4) return DecodeStatus::NeedMore;
  const std::uint16_t len = get16(p + kOffLength);
  const std::uint8_t type = p[kOffType];
  const std::size_t fixed = frame_size(type);
  if (fixed == 0) return DecodeStatus::BadType;
  if (p[kOffVersion] != kVersion) return DecodeStatus::BadVersion;
  if (static_cast<MsgType>(type) == MsgType::StatusReply ? len < kHeaderSize : len != fixed) return DecodeStatus::BadLength;
  if (n < len) return DecodeStatus::NeedMore;
  f.h.length = len;
  f.h.type = type;
  f.h.version = p[kOffVersion];
  f.h.reserved = get32(p + kOffReserved);
  f.h.seq = get64(p + kOffSeq);
  f.h.ts_ns = geti64(p + kOffTs);
  f.text = {};
  const std::uint8_t* b = p + kHeaderSize;
  switch (static_cast<MsgType>(type)) {
    case MsgType::Logon:
      std::memcpy(f.logon.session, b, kSessionLen);
      f.logon.heartbeat_ms = get32(b + 32);
      break;
    case MsgType::LogonAck:
      f.logon_ack.heartbeat_timeout_ms = get32(b);
      f.logon_ack.session_id = get32(b + 4);
      break;
    case MsgType::NewOrder:
      f.new_order.client_id = get64(b);
      f.new_order.instrument = get32(b + 8);
      f.new_order.side = b[12];
      f.new_order.type = b[13];
      f.new_order.tif = b[14];
      f.new_order.px = geti64(b + 16);
      f.new_order.qty = geti64(b + 24);
      break;
    case MsgType::Cancel:
      f.cancel.client_id = get64(b);
      break;
    case MsgType::Replace:
      f.replace.client_id = get64(b);
      f.replace.px = geti64(b + 8);
      f.replace.qty = geti64(b + 16);
      break;
    case MsgType::Ack:
      f.ack.client_id = get64(b);
      f.ack.venue_id = get64(b + 8);
      f.ack.px = geti64(b + 16);
      f.ack.leaves = geti64(b + 24);
      break;
    case MsgType::Reject:
      f.reject.client_id = get64(b);
      f.reject.reason = geti32(b + 8);
      f.reject.ref_seq = get32(b + 12);
      std::memcpy(f.reject.text, b + 16, kTextLen);
      break;
    case MsgType::Fill:
      f.fill.client_id = get64(b);
      f.fill.px = geti64(b + 8);
      f.fill.qty = geti64(b + 16);
      f.fill.leaves = geti64(b + 24);
      f.fill.maker = b[32];
      f.fill.fee = getf64(b + 40);
      break;
    case MsgType::Canceled:
      f.canceled.client_id = get64(b);
      f.canceled.reason = geti32(b + 8);
      f.canceled.leaves = geti64(b + 16);
      break;
    case MsgType::Logout:
      f.logout.reason = geti32(b);
      std::memcpy(f.logout.text, b + 8, kTextLen);
      break;
    case MsgType::StatusReply:
      f.text = std::string_view(reinterpret_cast<const char*>(b), len - kHeaderSize);
      break;
    case MsgType::Heartbeat:
    case MsgType::Status:
      break;
  }
  consumed = len;
  return DecodeStatus::Ok;
}

std::size_t encode(const Frame& f, std::uint8_t* buf, std::size_t cap) noexcept {
  std::size_t len = frame_size(f.h.type);
  if (len == 0) return 0;
  const bool status_reply = static_cast<MsgType>(f.h.type) == MsgType::StatusReply;
  std::size_t text_len = 0;
  if (status_reply) {
    text_len = f.text.size() < kMaxFrame - kHeaderSize ? f.text.size() : kMaxFrame - kHeaderSize;
    len = kHeaderSize + text_len;
  }
  if (cap < len) return 0;
  std::memset(buf, 0, len);
  put16(buf + kOffLength, static_cast<std::uint16_t>(len));
  put8(buf + kOffType, f.h.type);
  put8(buf + kOffVersion, kVersion);
  put32(buf + kOffReserved, 0);
  put64(buf + kOffSeq, f.h.seq);
  puti64(buf + kOffTs, f.h.ts_ns);
  std::uint8_t* b = buf + kHeaderSize;
  switch (static_cast<MsgType>(f.h.type)) {
    case MsgType::Logon:
      std::memcpy(b, f.logon.session, kSessionLen);
      put32(b + 32, f.logon.heartbeat_ms);
      break;
    case MsgType::LogonAck:
      put32(b, f.logon_ack.heartbeat_timeout_ms);
      put32(b + 4, f.logon_ack.session_id);
      break;
    case MsgType::NewOrder:
      put64(b, f.new_order.client_id);
      put32(b + 8, f.new_order.instrument);
      b[12] = f.new_order.side;
      b[13] = f.new_order.type;
      b[14] = f.new_order.tif;
      puti64(b + 16, f.new_order.px);
      puti64(b + 24, f.new_order.qty);
      break;
    case MsgType::Cancel:
      put64(b, f.cancel.client_id);
      break;
    case MsgType::Replace:
      put64(b, f.replace.client_id);
      puti64(b + 8, f.replace.px);
      puti64(b + 16, f.replace.qty);
      break;
    case MsgType::Ack:
      put64(b, f.ack.client_id);
      put64(b + 8, f.ack.venue_id);
      puti64(b + 16, f.ack.px);
      puti64(b + 24, f.ack.leaves);
      break;
    case MsgType::Reject:
      put64(b, f.reject.client_id);
      puti32(b + 8, f.reject.reason);
      put32(b + 12, f.reject.ref_seq);
      std::memcpy(b + 16, f.reject.text, kTextLen);
      break;
    case MsgType::Fill:
      put64(b, f.fill.client_id);
      puti64(b + 8, f.fill.px);
      puti64(b + 16, f.fill.qty);
      puti64(b + 24, f.fill.leaves);
      b[32] = f.fill.maker;
      putf64(b + 40, f.fill.fee);
      break;
    case MsgType::Canceled:
      put64(b, f.canceled.client_id);
      puti32(b + 8, f.canceled.reason);
      puti64(b + 16, f.canceled.leaves);
      break;
    case MsgType::Logout:
      puti32(b, f.logout.reason);
      std::memcpy(b + 8, f.logout.text, kTextLen);
      break;
    case MsgType::StatusReply:
      if (text_len > 0) std::memcpy(b, f.text.data(), text_len);
      break;
    case MsgType::Heartbeat:
    case MsgType::Status:
      break;
  }
  return len;
}

}  // namespace sf::wire
