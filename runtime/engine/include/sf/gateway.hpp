// sf/gateway.hpp — GatewayClient: the engine's side of the sf-venue wire protocol
// (docs/venue-protocol.md, sf/wire.hpp).
//
// Design: one TCP session to sf-venue. connect() is blocking (TCP connect + LOGON, waits for
// LOGON_ACK with a timeout); afterwards the socket is non-blocking and nothing blocks: the order
// calls encode one frame into a fixed send buffer and try to write it at once (what the kernel
// does not take stays buffered and goes out on the next call or poll()); poll() reads what
// arrived into a fixed receive buffer, decodes whole frames, checks the venue's sequence numbers,
// answers nothing but sends a HEARTBEAT when nothing was sent for heartbeat_ms of wall clock,
// and declares the venue dead when nothing arrived for its heartbeat timeout (LOGON_ACK).
// Any protocol error (sequence gap/repeat, bad frame, LOGOUT from the venue) ends the session:
// connected() turns false, error() says why, and the venue cancels every open order of the
// session (cancel-on-disconnect). Reconnect-safe: a new connect() starts a new session whose
// sequence numbers start again at 1 in both directions.
// Not thread-safe: one thread owns a GatewayClient.
// Worst case: an order call is O(frame size) plus one send(2); poll() is O(bytes received) plus
// one recv(2) per 64 KiB. The buffers are allocated at construction; no allocation per message
// (only the error text, when a session ends).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "sf/types.hpp"
#include "sf/wire.hpp"

namespace sf {

struct GatewayReport {
  enum Kind : std::uint8_t { Ack, Reject, Fill, Canceled } kind;
  std::uint64_t client_id;
  std::int32_t reason;  // Reject: wire::RejectReason, Canceled: wire::CancelReason, else 0
  Ticks px;             // Ack: order price, Fill: fill price
  Lots qty;             // Fill: fill quantity, Canceled: canceled quantity
  Lots leaves;          // open quantity after this report
  bool maker;
  double fee;
  Nanos ts;  // the venue's engine-time clock when it produced the report
};

class GatewayClient {
 public:
  static constexpr std::size_t kBufSize = 1u << 16;

  GatewayClient();
  ~GatewayClient();
  GatewayClient(const GatewayClient&) = delete;
  GatewayClient& operator=(const GatewayClient&) = delete;

  /// Blocking: TCP connect, LOGON(session, heartbeat_ms), wait for LOGON_ACK (at most
  /// `timeout_ms`). On failure returns false with `err` naming the problem (connection refused,
  /// venue rejected the logon and why, timeout). Closes a previous session first.
  [[nodiscard]] bool connect(const std::string& host, std::uint16_t port, const std::string& session, int heartbeat_ms,
                             std::string& err, int timeout_ms = 2000);
  [[nodiscard]] bool connected() const noexcept { return fd_ >= 0; }

  // Non-blocking sends: false when the session is down or the send buffer is full (the frame
  // was then not sent and used no sequence number).
  bool new_order(Nanos ts, std::uint64_t client_id, std::uint32_t instrument, Side side, OrdType type, Tif tif, Ticks px,
                               Lots qty) noexcept;
  bool cancel(Nanos ts, std::uint64_t client_id) noexcept;
  bool replace(Nanos ts, std::uint64_t client_id, Ticks px, Lots qty) noexcept;

  /// Non-blocking: flushes pending output, reads what arrived, sends a heartbeat (stamped
  /// `engine_ts`) when due, and calls f(const GatewayReport&) once per report in arrival order.
  template <class F>
  void poll(Nanos engine_ts, F&& f) {
    service(engine_ts);
    GatewayReport r;
    while (next_report(r)) f(static_cast<const GatewayReport&>(r));
  }

  /// Sends LOGOUT(reason) (best effort) and closes. Safe to call when not connected.
  void close(const char* reason) noexcept;

  /// Why the last session ended or failed (empty while connected and healthy).
  [[nodiscard]] const std::string& error() const noexcept { return error_; }
  [[nodiscard]] std::uint64_t frames_sent() const noexcept { return out_seq_; }
  [[nodiscard]] std::uint64_t frames_received() const noexcept { return in_.expected - 1; }
  [[nodiscard]] std::uint32_t heartbeat_timeout_ms() const noexcept { return timeout_ms_; }
  [[nodiscard]] std::uint32_t session_id() const noexcept { return session_id_; }
  [[nodiscard]] std::size_t pending_output() const noexcept { return wlen_ - woff_; }

 private:
  using Clock = std::chrono::steady_clock;
  void service(Nanos engine_ts) noexcept;
  [[nodiscard]] bool next_report(GatewayReport& r) noexcept;
  [[nodiscard]] bool send(wire::Frame& f) noexcept;
  void flush() noexcept;
  void fail(const char* why) noexcept;
  void fail(const std::string& why) noexcept { fail(why.c_str()); }

  int fd_ = -1;
  std::unique_ptr<std::uint8_t[]> wbuf_, rbuf_;
  std::size_t wlen_ = 0, woff_ = 0, rlen_ = 0, roff_ = 0;
  wire::SeqCheck in_;
  std::uint64_t out_seq_ = 0;
  int heartbeat_ms_ = 0;
  std::uint32_t timeout_ms_ = 0;
  std::uint32_t session_id_ = 0;
  Clock::time_point last_tx_{}, last_rx_{};
  std::string error_;
};

}  // namespace sf
