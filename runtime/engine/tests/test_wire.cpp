// The venue wire protocol (sf/wire.hpp, docs/venue-protocol.md): byte layout, round trips,
// malformed frames and sequence checks.
#include <cstring>
#include <vector>

#include "sf/wire.hpp"
#include "sf_test.hpp"

using namespace sf::wire;

namespace {
Frame make(MsgType t, std::uint64_t seq, std::int64_t ts) {
  Frame f;
  f.h.type = static_cast<std::uint8_t>(t);
  f.h.seq = seq;
  f.h.ts_ns = ts;
  return f;
}
std::uint64_t le(const std::uint8_t* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
Frame roundtrip(const Frame& in, std::size_t expect_len) {
  std::uint8_t buf[kMaxFrame];
  const std::size_t n = encode(in, buf, sizeof buf);
  CHECK_EQ(n, expect_len);
  Frame out;
  std::size_t used = 0;
  CHECK(decode(buf, n, out, used) == DecodeStatus::Ok);
  CHECK_EQ(used, n);
  CHECK_EQ(out.h.length, n);
  CHECK_EQ(out.h.seq, in.h.seq);
  CHECK_EQ(out.h.ts_ns, in.h.ts_ns);
  CHECK_EQ(static_cast<int>(out.h.type), static_cast<int>(in.h.type));
  // every strict prefix is incomplete, never misread
  for (std::size_t k = 0; k < n; ++k) {
    Frame p;
    std::size_t u = 99;
    CHECK(decode(buf, k, p, u) == DecodeStatus::NeedMore);
    CHECK_EQ(u, 0u);
  }
  return out;
}
}  // namespace

SF_TEST(header_layout_is_explicit_little_endian) {
  Frame f = make(MsgType::NewOrder, 0x0102030405060708ull, -2);
  f.new_order = NewOrder{0x1112131415161718ull, 7, 2, 1, 2, -12345, 42};
  std::uint8_t b[64];
  REQUIRE(encode(f, b, sizeof b) == 56);
  CHECK_EQ(le(b + 0, 2), 56u);       // length
  CHECK_EQ(static_cast<int>(b[2]), 4);  // type NEW_ORDER
  CHECK_EQ(static_cast<int>(b[3]), 1);  // version
  CHECK_EQ(le(b + 4, 4), 0u);        // reserved
  CHECK_EQ(le(b + 8, 8), 0x0102030405060708ull);
  CHECK_EQ(static_cast<std::int64_t>(le(b + 16, 8)), -2);
  CHECK_EQ(le(b + 24, 8), 0x1112131415161718ull);  // client_id
  CHECK_EQ(le(b + 32, 4), 7u);                      // instrument
  CHECK_EQ(static_cast<int>(b[36]), 2);             // side
  CHECK_EQ(static_cast<int>(b[37]), 1);             // type
  CHECK_EQ(static_cast<int>(b[38]), 2);             // tif
  CHECK_EQ(static_cast<int>(b[39]), 0);             // pad
  CHECK_EQ(static_cast<std::int64_t>(le(b + 40, 8)), -12345);
  CHECK_EQ(static_cast<std::int64_t>(le(b + 48, 8)), 42);
}

SF_TEST(fixed_sizes_match_the_document) {
  const std::pair<MsgType, std::size_t> sizes[] = {
      {MsgType::Logon, 64}, {MsgType::LogonAck, 32}, {MsgType::Heartbeat, 24}, {MsgType::NewOrder, 56},
      {MsgType::Cancel, 32}, {MsgType::Replace, 48}, {MsgType::Ack, 56},     {MsgType::Reject, 88},
      {MsgType::Fill, 72},   {MsgType::Canceled, 48}, {MsgType::Logout, 80}, {MsgType::Status, 24}};
  for (auto [t, n] : sizes) CHECK_EQ(frame_size(static_cast<std::uint8_t>(t)), n);
  CHECK_EQ(frame_size(0), 0u);
  CHECK_EQ(frame_size(14), 0u);
}

SF_TEST(every_type_round_trips) {
  {
    Frame f = make(MsgType::Logon, 1, 5);
    set_text(f.logon.session, kSessionLen, "engine-1");
    f.logon.heartbeat_ms = 250;
    Frame g = roundtrip(f, 64);
    CHECK(get_text(g.logon.session, kSessionLen) == "engine-1");
    CHECK_EQ(g.logon.heartbeat_ms, 250u);
  }
  {
    Frame f = make(MsgType::LogonAck, 1, 0);
    f.logon_ack = LogonAck{1500, 9};
    Frame g = roundtrip(f, 32);
    CHECK_EQ(g.logon_ack.heartbeat_timeout_ms, 1500u);
    CHECK_EQ(g.logon_ack.session_id, 9u);
  }
  roundtrip(make(MsgType::Heartbeat, 3, 77), 24);
  roundtrip(make(MsgType::Status, 4, 0), 24);
  {
    Frame f = make(MsgType::NewOrder, 2, 1000);
    f.new_order = NewOrder{77, 3, 1, 2, 2, 0, 5};
    Frame g = roundtrip(f, 56);
    CHECK_EQ(g.new_order.client_id, 77u);
    CHECK_EQ(g.new_order.instrument, 3u);
    CHECK_EQ(static_cast<int>(g.new_order.side), 1);
    CHECK_EQ(static_cast<int>(g.new_order.type), 2);
    CHECK_EQ(static_cast<int>(g.new_order.tif), 2);
    CHECK_EQ(g.new_order.qty, 5);
  }
  {
    Frame f = make(MsgType::Cancel, 9, 1);
    f.cancel.client_id = 123456789012345ull;
    CHECK_EQ(roundtrip(f, 32).cancel.client_id, 123456789012345ull);
  }
  {
    Frame f = make(MsgType::Replace, 9, 1);
    f.replace = Replace{5, -7, 9};
    Frame g = roundtrip(f, 48);
    CHECK_EQ(g.replace.px, -7);
    CHECK_EQ(g.replace.qty, 9);
  }
  {
    Frame f = make(MsgType::Ack, 9, 1);
    f.ack = Ack{5, 6, 10010, 4};
    Frame g = roundtrip(f, 56);
    CHECK_EQ(g.ack.venue_id, 6u);
    CHECK_EQ(g.ack.px, 10010);
    CHECK_EQ(g.ack.leaves, 4);
  }
  {
    Frame f = make(MsgType::Reject, 9, 1);
    f.reject.client_id = 5;
    f.reject.reason = static_cast<std::int32_t>(RejectReason::DuplicateOrderId);
    f.reject.ref_seq = 8;
    set_text(f.reject.text, kTextLen, std::string(100, 'x'));  // truncated to 47 chars + NUL
    Frame g = roundtrip(f, 88);
    CHECK_EQ(g.reject.reason, 10);
    CHECK_EQ(g.reject.ref_seq, 8u);
    CHECK_EQ(get_text(g.reject.text, kTextLen).size(), kTextLen - 1);
  }
  {
    Frame f = make(MsgType::Fill, 9, 1);
    f.fill = Fill{5, 10010, 2, 1, 1, -0.125};
    Frame g = roundtrip(f, 72);
    CHECK_EQ(g.fill.px, 10010);
    CHECK_EQ(g.fill.qty, 2);
    CHECK_EQ(g.fill.leaves, 1);
    CHECK_EQ(static_cast<int>(g.fill.maker), 1);
    CHECK_EQ(g.fill.fee, -0.125);
  }
  {
    Frame f = make(MsgType::Canceled, 9, 1);
    f.canceled = Canceled{5, static_cast<std::int32_t>(CancelReason::CancelOnDisconnect), 3};
    Frame g = roundtrip(f, 48);
    CHECK_EQ(g.canceled.reason, 1);
    CHECK_EQ(g.canceled.leaves, 3);
  }
  {
    Frame f = make(MsgType::Logout, 9, 1);
    f.logout.reason = 1;
    set_text(f.logout.text, kTextLen, "bye");
    Frame g = roundtrip(f, 80);
    CHECK(get_text(g.logout.text, kTextLen) == "bye");
  }
  {
    Frame f = make(MsgType::StatusReply, 9, 1);
    f.text = R"({"sessions": []})";
    Frame g = roundtrip(f, 24 + f.text.size());
    CHECK(g.text == f.text);
  }
}

SF_TEST(two_frames_back_to_back_decode_one_at_a_time) {
  std::uint8_t buf[256];
  Frame a = make(MsgType::Heartbeat, 1, 10);
  Frame b = make(MsgType::Cancel, 2, 20);
  b.cancel.client_id = 4;
  std::size_t n = encode(a, buf, sizeof buf);
  n += encode(b, buf + n, sizeof buf - n);
  Frame f;
  std::size_t used = 0;
  REQUIRE(decode(buf, n, f, used) == DecodeStatus::Ok);
  CHECK_EQ(used, 24u);
  REQUIRE(decode(buf + used, n - used, f, used) == DecodeStatus::Ok);
  CHECK_EQ(f.cancel.client_id, 4u);
  CHECK_EQ(f.h.seq, 2u);
}

SF_TEST(malformed_frames_are_refused_from_the_first_four_bytes) {
  std::uint8_t buf[128];
  Frame f = make(MsgType::Heartbeat, 1, 0);
  REQUIRE(encode(f, buf, sizeof buf) == 24);
  Frame out;
  std::size_t used = 0;
  // a heartbeat claiming 1000 bytes: refused at once, not waited for
  buf[0] = 0xe8;
  buf[1] = 0x03;
  CHECK(decode(buf, 4, out, used) == DecodeStatus::BadLength);
  // shorter than a header
  buf[0] = 10;
  buf[1] = 0;
  CHECK(decode(buf, 24, out, used) == DecodeStatus::BadLength);
  // a NEW_ORDER one byte short
  Frame o = make(MsgType::NewOrder, 1, 0);
  REQUIRE(encode(o, buf, sizeof buf) == 56);
  buf[0] = 55;
  CHECK(decode(buf, 56, out, used) == DecodeStatus::BadLength);
  // unknown type, wrong version
  REQUIRE(encode(f, buf, sizeof buf) == 24);
  buf[2] = 99;
  CHECK(decode(buf, 24, out, used) == DecodeStatus::BadType);
  buf[2] = 0;
  CHECK(decode(buf, 24, out, used) == DecodeStatus::BadType);
  REQUIRE(encode(f, buf, sizeof buf) == 24);
  buf[3] = 2;
  CHECK(decode(buf, 24, out, used) == DecodeStatus::BadVersion);
  CHECK_EQ(used, 0u);
  // a STATUS_REPLY shorter than its header
  Frame s = make(MsgType::StatusReply, 1, 0);
  REQUIRE(encode(s, buf, sizeof buf) == 24);
  buf[0] = 20;
  CHECK(decode(buf, 24, out, used) == DecodeStatus::BadLength);
}

SF_TEST(encode_refuses_a_buffer_too_small) {
  std::uint8_t buf[40];
  Frame f = make(MsgType::Fill, 1, 0);
  CHECK_EQ(encode(f, buf, sizeof buf), 0u);
  CHECK_EQ(encode(make(MsgType::Heartbeat, 1, 0), buf, 23), 0u);
  Frame bad;
  bad.h.type = 77;
  CHECK_EQ(encode(bad, buf, sizeof buf), 0u);
}

SF_TEST(sequence_gaps_and_repeats_are_caught) {
  SeqCheck c;
  CHECK(c.check(1) == SeqCheck::Result::Ok);
  CHECK(c.check(2) == SeqCheck::Result::Ok);
  CHECK(c.check(2) == SeqCheck::Result::Repeat);
  CHECK(c.check(1) == SeqCheck::Result::Repeat);
  CHECK(c.check(4) == SeqCheck::Result::Gap);
  CHECK_EQ(c.expected, 3u);  // a refused frame does not move the expectation
  CHECK(c.check(3) == SeqCheck::Result::Ok);
  c.reset();
  CHECK(c.check(1) == SeqCheck::Result::Ok);
  SeqCheck z;
  CHECK(z.check(0) == SeqCheck::Result::Repeat);  // numbering starts at 1
}

SF_TEST(reason_names_are_stable) {
  CHECK(std::strcmp(reject_reason_name(1), "SEQ_GAP") == 0);
  CHECK(std::strcmp(reject_reason_name(3), "BAD_LENGTH") == 0);
  CHECK(std::strcmp(cancel_reason_name(1), "cancel_on_disconnect") == 0);
  CHECK(std::strcmp(cancel_reason_name(2), "expired") == 0);
  CHECK(std::strcmp(msg_type_name(13), "STATUS_REPLY") == 0);
}

SF_TEST_MAIN()
