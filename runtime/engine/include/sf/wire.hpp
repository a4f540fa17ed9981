// sf/wire.hpp — the sf-venue wire protocol, version 1 (docs/venue-protocol.md).
//
// Design: every frame is a fixed 24-byte header {u16 length (whole frame), u8 type, u8 version,
// u32 reserved, u64 seq, i64 ts_ns} followed by a fixed-size body per type (only STATUS_REPLY
// carries a variable-length JSON text). The in-memory structs below are NOT the wire image:
// encode()/decode() write and read every field byte by byte in explicit little-endian order at
// the documented offsets (kOff* constants, pinned by tests), so the format does not depend on the
// compiler's struct layout or the host byte order. decode() validates length, type and version
// from the first 4 bytes on, so a bad length is refused before the receiver waits for bytes
// that will never come. Sequence numbers are checked per direction by SeqCheck (from 1, +1 per
// frame; a gap or a repeat is a protocol error the receiver answers with REJECT + LOGOUT and a
// close).
// Worst case: encode/decode are O(frame size) (<= 88 bytes except STATUS_REPLY); nothing here
// allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sf/events.hpp"

namespace sf::wire {

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 24;
inline constexpr std::size_t kMaxFrame = 65535;  // u16 length
inline constexpr std::size_t kSessionLen = 32;   // LOGON session name, NUL-padded
inline constexpr std::size_t kTextLen = 48;      // REJECT / LOGOUT text, NUL-padded

enum class MsgType : std::uint8_t {
  Logon = 1,        // client -> venue
  LogonAck = 2,     // venue -> client
  Heartbeat = 3,    // both
  NewOrder = 4,     // client -> venue
  Cancel = 5,       // client -> venue
  Replace = 6,      // client -> venue
  Ack = 7,          // venue -> client (new order resting / replace done)
  Reject = 8,       // venue -> client
  Fill = 9,         // venue -> client
  Canceled = 10,    // venue -> client
  Logout = 11,      // both
  Status = 12,      // client -> venue (admin; allowed before LOGON)
  StatusReply = 13  // venue -> client: body is JSON text (variable length)
};
[[nodiscard]] const char* msg_type_name(std::uint8_t t) noexcept;

/// Fixed frame size of a type (header + body); 0 for an unknown type; for StatusReply the
/// minimum (the header alone).
[[nodiscard]] std::size_t frame_size(std::uint8_t type) noexcept;

/// REJECT reason codes (stable; docs/venue-protocol.md). 1..5 are protocol errors: the venue
/// closes the session after sending them.
enum class RejectReason : std::int32_t {
  None = 0,
  SeqGap = 1,
  SeqRepeat = 2,
  BadLength = 3,
  BadType = 4,
  BadVersion = 5,
  NotLoggedOn = 6,
  SessionInUse = 7,
  BadLogon = 8,
  UnknownOrder = 9,      // cancel/replace of an order that is not open (never sent, or already done)
  DuplicateOrderId = 10, // new order with the client id of an open order
  InvalidOrder = 11,     // side/type/tif/instrument/qty/px out of range
  VenueFull = 12,        // the session's order capacity is exhausted
};
[[nodiscard]] const char* reject_reason_name(std::int32_t r) noexcept;

/// CANCELED reason codes (stable).
enum class CancelReason : std::int32_t { Requested = 0, CancelOnDisconnect = 1, Expired = 2, VenueShutdown = 3 };
[[nodiscard]] const char* cancel_reason_name(std::int32_t r) noexcept;

struct Header {
  std::uint16_t length = 0;
  std::uint8_t type = 0;
  std::uint8_t version = kVersion;
  std::uint32_t reserved = 0;
  std::uint64_t seq = 0;
  std::int64_t ts_ns = 0;
};

struct Logon {
  char session[kSessionLen];  // NUL-padded; 1..31 printable chars
  std::uint32_t heartbeat_ms;
};
struct LogonAck {
  std::uint32_t heartbeat_timeout_ms;  // the venue disconnects after this long without a frame
  std::uint32_t session_id;            // venue-assigned connection number (journal)
};
struct NewOrder {
  std::uint64_t client_id;
  std::uint32_t instrument;
  std::uint8_t side;  // 1 buy, 2 sell
  std::uint8_t type;  // 1 limit, 2 market
  std::uint8_t tif;   // 1 GTC, 2 IOC
  Ticks px;           // limit price; market: protection price (0 = none)
  Lots qty;
};
struct Cancel {
  std::uint64_t client_id;
};
struct Replace {
  std::uint64_t client_id;
  Ticks px;
  Lots qty;
};
struct Ack {
  std::uint64_t client_id;
  std::uint64_t venue_id;
  Ticks px;
  Lots leaves;
};
struct Reject {
  std::uint64_t client_id;  // 0 for a session-level reject
  std::int32_t reason;      // RejectReason
  std::uint32_t ref_seq;    // low 32 bits of the seq of the refused frame (0 if unknown)
  char text[kTextLen];
};
struct Fill {
  std::uint64_t client_id;
  Ticks px;
  Lots qty;
  Lots leaves;
  std::uint8_t maker;
  double fee;  // quote currency; negative = rebate
};
struct Canceled {
  std::uint64_t client_id;
  std::int32_t reason;  // CancelReason
  Lots leaves;          // quantity that was still open
};
struct Logout {
  std::int32_t reason;  // RejectReason of a protocol error, or 0
  char text[kTextLen];
};

/// One decoded frame. For StatusReply `text` points into the decoder's input buffer.
struct Frame {
  Header h;
  union {
    Logon logon;
    LogonAck logon_ack;
    NewOrder new_order;
    Cancel cancel;
    Replace replace;
    Ack ack;
    Reject reject;
    Fill fill;
    Canceled canceled;
    Logout logout;
  };
  std::string_view text;
  Frame() noexcept : h{}, logout{} {}
  [[nodiscard]] MsgType type() const noexcept { return static_cast<MsgType>(h.type); }
};

enum class DecodeStatus : std::uint8_t { Ok, NeedMore, BadLength, BadType, BadVersion };
[[nodiscard]] const char* decode_status_name(DecodeStatus s) noexcept;

/// Decodes the frame at the start of `p[0, n)`. Ok: `out` holds it and `consumed` = its length.
/// NeedMore: fewer bytes than the frame needs (nothing consumed). Bad*: the bytes are not a
/// valid v1 frame (checked from the first 4 bytes on); `consumed` = 0, the stream is unusable.
[[nodiscard]] DecodeStatus decode(const std::uint8_t* p, std::size_t n, Frame& out, std::size_t& consumed) noexcept;

/// Encodes `f` (its h.type selects the body; h.length and h.version are set here) into
/// `buf[0, cap)`. Returns the frame length, or 0 when `cap` is too small. StatusReply: the body
/// is `f.text` (truncated to fit kMaxFrame).
[[nodiscard]] std::size_t encode(const Frame& f, std::uint8_t* buf, std::size_t cap) noexcept;

/// Copies `s` into a NUL-padded fixed field (truncated to n-1 chars).
void set_text(char* dst, std::size_t n, std::string_view s) noexcept;
/// The text of a NUL-padded fixed field.
[[nodiscard]] std::string_view get_text(const char* src, std::size_t n) noexcept;

/// Per-direction sequence check: frames are numbered from 1, +1 each.
struct SeqCheck {
  enum class Result : std::uint8_t { Ok, Gap, Repeat };
  std::uint64_t expected = 1;
  [[nodiscard]] Result check(std::uint64_t seq) noexcept {
    if (seq == expected) {
      ++expected;
      return Result::Ok;
    }
    return seq > expected ? Result::Gap : Result::Repeat;
  }
  void reset() noexcept { expected = 1; }
};

// --- field offsets (docs/venue-protocol.md; pinned by tests/test_wire.cpp) ----------------------
inline constexpr std::size_t kOffLength = 0, kOffType = 2, kOffVersion = 3, kOffReserved = 4, kOffSeq = 8, kOffTs = 16;

}  // namespace sf::wire
