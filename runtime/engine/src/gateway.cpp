#include "sf/gateway.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sf {

namespace {
std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }
}  // namespace

GatewayClient::GatewayClient() : wbuf_(new std::uint8_t[kBufSize]), rbuf_(new std::uint8_t[kBufSize]) {}

GatewayClient::~GatewayClient() { close("client destroyed"); }

void GatewayClient::fail(const char* why) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  try {
    error_ = why;
  } catch (...) {
  }
  wlen_ = woff_ = rlen_ = roff_ = 0;
}

bool GatewayClient::connect(const std::string& host, std::uint16_t port, const std::string& session, int heartbeat_ms, std::string& err,
                            int timeout_ms) {
  close("reconnect");
  error_.clear();
  if (session.empty() || session.size() >= wire::kSessionLen) {
    err = "Condition failed: venue session name must be 1.." + std::to_string(wire::kSessionLen - 1) + " characters, was '" + session + "'";
    return false;
  }
  if (heartbeat_ms <= 0) {
    err = "Condition failed: heartbeat_ms must be > 0, was " + std::to_string(heartbeat_ms);
    return false;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port_s = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), port_s.c_str(), &hints, &res); rc != 0) {
    err = "venue " + host + ":" + port_s + ": cannot resolve host: " + ::gai_strerror(rc);
    return false;
  }
  int fd = -1;
  std::string last = "no address";
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    last = errno_text("connect");
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) {
    err = "venue " + host + ":" + port_s + ": " + last;
    return false;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fd_ = fd;
  in_.reset();
  out_seq_ = 0;
  wlen_ = woff_ = rlen_ = roff_ = 0;
  heartbeat_ms_ = heartbeat_ms;
  timeout_ms_ = 0;
  session_id_ = 0;

  wire::Frame f;
  f.h.type = static_cast<std::uint8_t>(wire::MsgType::Logon);
  wire::set_text(f.logon.session, wire::kSessionLen, session);
  f.logon.heartbeat_ms = static_cast<std::uint32_t>(heartbeat_ms);
  // blocking write of the LOGON (the socket is still blocking)
  f.h.seq = ++out_seq_;
  const std::size_t n = wire::encode(f, wbuf_.get(), kBufSize);
  if (::send(fd_, wbuf_.get(), n, MSG_NOSIGNAL) != static_cast<ssize_t>(n)) {
    err = "venue " + host + ":" + port_s + ": " + errno_text("send LOGON");
    fail(err);
    return false;
  }
  // wait for LOGON_ACK (or REJECT/LOGOUT) with a deadline
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    wire::Frame in;
    std::size_t used = 0;
    const wire::DecodeStatus st = wire::decode(rbuf_.get(), rlen_, in, used);
    if (st == wire::DecodeStatus::Ok) {
      const auto rem_len = rlen_ - used;
      if (in_.check(in.h.seq) != wire::SeqCheck::Result::Ok) {
        err = "venue " + host + ":" + port_s + ": logon reply has sequence " + std::to_string(in.h.seq) + ", expected 1";
        fail(err);
        return false;
      }
      if (in.type() == wire::MsgType::LogonAck) {
        timeout_ms_ = in.logon_ack.heartbeat_timeout_ms;
        session_id_ = in.logon_ack.session_id;
        std::memmove(rbuf_.get(), rbuf_.get() + used, rem_len);
        rlen_ = rem_len;
        break;
      }
      std::string why;
      if (in.type() == wire::MsgType::Reject)
        why = std::string(wire::reject_reason_name(in.reject.reason)) + ": " + std::string(wire::get_text(in.reject.text, wire::kTextLen));
      else if (in.type() == wire::MsgType::Logout)
        why = std::string(wire::get_text(in.logout.text, wire::kTextLen));
      else
        why = std::string("unexpected ") + wire::msg_type_name(in.h.type);
      err = "venue " + host + ":" + port_s + " refused logon of session '" + session + "': " + why;
      fail(err);
      return false;
    }
    if (st != wire::DecodeStatus::NeedMore) {
      err = "venue " + host + ":" + port_s + ": malformed logon reply (" + wire::decode_status_name(st) + ")";
      fail(err);
      return false;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      err = "venue " + host + ":" + port_s + ": no LOGON_ACK within " + std::to_string(timeout_ms) + " ms";
      fail(err);
      return false;
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
      err = errno_text("poll");
      fail(err);
      return false;
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    const ssize_t r = ::recv(fd_, rbuf_.get() + rlen_, kBufSize - rlen_, 0);
    if (r <= 0) {
      err = "venue " + host + ":" + port_s + ": connection closed during logon" + (r < 0 ? " (" + errno_text("recv") + ")" : "");
      fail(err);
      return false;
    }
    rlen_ += static_cast<std::size_t>(r);
  }
  const int flags = ::fcntl(fd_, F_GETFL, 0);
  ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  last_tx_ = last_rx_ = Clock::now();
  roff_ = 0;
  return true;
}

void GatewayClient::flush() noexcept {
  while (fd_ >= 0 && woff_ < wlen_) {
    const ssize_t r = ::send(fd_, wbuf_.get() + woff_, wlen_ - woff_, MSG_NOSIGNAL);
    if (r > 0) {
      woff_ += static_cast<std::size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    fail(std::string("venue connection lost: ") + (r < 0 ? std::strerror(errno) : "send returned 0"));
    return;
  }
  if (woff_ == wlen_) woff_ = wlen_ = 0;
}

bool GatewayClient::send(wire::Frame& f) noexcept {
  if (fd_ < 0) return false;
  if (woff_ > 0 && wlen_ + wire::kHeaderSize + 128 > kBufSize) {  // compact before giving up
    std::memmove(wbuf_.get(), wbuf_.get() + woff_, wlen_ - woff_);
    wlen_ -= woff_;
    woff_ = 0;
  }
  f.h.seq = out_seq_ + 1;
  const std::size_t n = wire::encode(f, wbuf_.get() + wlen_, kBufSize - wlen_);
  if (n == 0) return false;  // buffer full: the frame was not queued (and its seq not used)
  ++out_seq_;
  wlen_ += n;
  last_tx_ = Clock::now();
  flush();
  return fd_ >= 0;
}

bool GatewayClient::new_order(Nanos ts, std::uint64_t client_id, std::uint32_t instrument, Side side, OrdType type, Tif tif, Ticks px,
                              Lots qty) noexcept {
  wire::Frame f;
  f.h.type = static_cast<std::uint8_t>(wire::MsgType::NewOrder);
  f.h.ts_ns = ts;
  f.new_order = wire::NewOrder{client_id, instrument, static_cast<std::uint8_t>(side), static_cast<std::uint8_t>(type),
                               static_cast<std::uint8_t>(tif), px, qty};
  return send(f);
}

bool GatewayClient::cancel(Nanos ts, std::uint64_t client_id) noexcept {
  wire::Frame f;
  f.h.type = static_cast<std::uint8_t>(wire::MsgType::Cancel);
  f.h.ts_ns = ts;
  f.cancel.client_id = client_id;
  return send(f);
}

bool GatewayClient::replace(Nanos ts, std::uint64_t client_id, Ticks px, Lots qty) noexcept {
  wire::Frame f;
  f.h.type = static_cast<std::uint8_t>(wire::MsgType::Replace);
  f.h.ts_ns = ts;
  f.replace = wire::Replace{client_id, px, qty};
  return send(f);
}

void GatewayClient::close(const char* reason) noexcept {
  if (fd_ < 0) return;
  wire::Frame f;
  f.h.type = static_cast<std::uint8_t>(wire::MsgType::Logout);
  f.logout.reason = 0;
  wire::set_text(f.logout.text, wire::kTextLen, reason != nullptr ? reason : "");
  if (send(f)) {
    // best effort: give the kernel the rest of the buffer with a short blocking wait
    const int flags = ::fcntl(fd_, F_GETFL, 0);
    ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
    timeval tv{0, 200000};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    flush();
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  wlen_ = woff_ = rlen_ = roff_ = 0;
}

void GatewayClient::service(Nanos engine_ts) noexcept {
  if (fd_ < 0) return;
  flush();
  if (fd_ < 0) return;
  // read what arrived (compacting consumed bytes first)
  if (roff_ > 0) {
    std::memmove(rbuf_.get(), rbuf_.get() + roff_, rlen_ - roff_);
    rlen_ -= roff_;
    roff_ = 0;
  }
  const auto now = Clock::now();
  while (rlen_ < kBufSize) {
    const ssize_t r = ::recv(fd_, rbuf_.get() + rlen_, kBufSize - rlen_, 0);
    if (r > 0) {
      rlen_ += static_cast<std::size_t>(r);
      last_rx_ = now;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    // EOF or error: keep the bytes already received (they are decoded below), then mark down
    const std::string why = r == 0 ? "venue closed the connection" : std::string("venue connection lost: ") + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    try {
      error_ = why;
    } catch (...) {
    }
    return;
  }
  if (timeout_ms_ > 0 && now - last_rx_ > std::chrono::milliseconds(timeout_ms_)) {
    fail("venue silent for more than " + std::to_string(timeout_ms_) + " ms (heartbeat timeout)");
    return;
  }
  if (now - last_tx_ >= std::chrono::milliseconds(heartbeat_ms_)) {
    wire::Frame f;
    f.h.type = static_cast<std::uint8_t>(wire::MsgType::Heartbeat);
    f.h.ts_ns = engine_ts;
    (void)send(f);
  }
}

bool GatewayClient::next_report(GatewayReport& r) noexcept {
  while (roff_ < rlen_) {
    wire::Frame f;
    std::size_t used = 0;
    const wire::DecodeStatus st = wire::decode(rbuf_.get() + roff_, rlen_ - roff_, f, used);
    if (st == wire::DecodeStatus::NeedMore) {
      if (fd_ < 0 && error_.empty()) error_ = "venue connection closed mid-frame";
      return false;
    }
    if (st != wire::DecodeStatus::Ok) {
      fail(std::string("malformed frame from venue: ") + wire::decode_status_name(st));
      return false;
    }
    roff_ += used;
    if (const auto sr = in_.check(f.h.seq); sr != wire::SeqCheck::Result::Ok) {
      fail(std::string("venue sequence ") + (sr == wire::SeqCheck::Result::Gap ? "gap" : "repeat") + ": got " + std::to_string(f.h.seq) +
           ", expected " + std::to_string(in_.expected));
      return false;
    }
    r = GatewayReport{GatewayReport::Ack, 0, 0, 0, 0, 0, false, 0.0, f.h.ts_ns};
    switch (f.type()) {
      case wire::MsgType::Ack:
        r.kind = GatewayReport::Ack;
        r.client_id = f.ack.client_id;
        r.px = f.ack.px;
        r.leaves = f.ack.leaves;
        return true;
      case wire::MsgType::Reject:
        r.kind = GatewayReport::Reject;
        r.client_id = f.reject.client_id;
        r.reason = f.reject.reason;
        return true;
      case wire::MsgType::Fill:
        r.kind = GatewayReport::Fill;
        r.client_id = f.fill.client_id;
        r.px = f.fill.px;
        r.qty = f.fill.qty;
        r.leaves = f.fill.leaves;
        r.maker = f.fill.maker != 0;
        r.fee = f.fill.fee;
        return true;
      case wire::MsgType::Canceled:
        r.kind = GatewayReport::Canceled;
        r.client_id = f.canceled.client_id;
        r.reason = f.canceled.reason;
        r.qty = f.canceled.leaves;
        return true;
      case wire::MsgType::Logout:
        fail("venue logged out: " + std::string(wire::get_text(f.logout.text, wire::kTextLen)));
        return false;
      case wire::MsgType::Heartbeat:
      case wire::MsgType::StatusReply:
        continue;
      default:
        fail(std::string("unexpected ") + wire::msg_type_name(f.h.type) + " frame from venue");
        return false;
    }
  }
  return false;
}

}  // namespace sf
