// GatewayClient against a real sf-venue process: logon, order -> ack -> fill, cancel, replace,
// rejects, STATUS, reconnect, heartbeat timeout and a killed client -> cancel-on-disconnect
// (journaled), protocol errors, SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sf/event_file.hpp"
#include "sf/gateway.hpp"
#include "sf/wire.hpp"
#include "sf_test.hpp"

using namespace std::chrono_literals;

// Allocation counter for the "no allocation per message" check (not under ASan, which owns
// operator new).
static std::atomic<bool> g_count_allocs{false};
static std::atomic<long> g_allocs{0};
#if !defined(__SANITIZE_ADDRESS__)
void* operator new(std::size_t n) {
  if (g_count_allocs.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#define SF_COUNTS_ALLOCS 1
#endif

namespace {

const std::string kTmp = SF_TEST_TMP;

// A small market of our own: TST0 (tick 0.01, lot 1), bid 99.90 x10 / ask 100.10 x10 at t=1us,
// a buy trade through 100.30 at t=12us, then the bid size flickering every 10us until 5 ms.
std::string write_data() {
  const std::string path = kTmp + "/gw_venue.sfe";
  sf::EventWriter w;
  std::string err;
  if (!w.open(path, {sf::make_instrument("TST0", 10'000'000, 1'000'000'000, 0)}, "gw-test", err)) return "";
  auto ev = [&](sf::Nanos t, sf::EventType type, sf::Side side, std::int64_t a, std::int64_t b, std::uint32_t flags) {
    sf::Event e{};
    e.exch_ts = t - 100;
    e.recv_ts = t;
    e.type = static_cast<std::uint8_t>(type);
    e.side = static_cast<std::uint8_t>(side);
    e.flags = flags;
    e.v[0] = a;
    e.v[1] = b;
    w.append(e);
  };
  ev(1000, sf::EventType::Clear, sf::Side::None, 0, 0, sf::kEvSnapshot);
  ev(1000, sf::EventType::Depth, sf::Side::Bid, 9990, 10, sf::kEvSnapshot);
  ev(1000, sf::EventType::Depth, sf::Side::Ask, 10010, 10, sf::kEvSnapshot | sf::kEvEndOfBatch);
  ev(12000, sf::EventType::Trade, sf::Side::Bid, 10030, 1, sf::kEvEndOfBatch);
  for (sf::Nanos t = 20000; t < 5'000'000; t += 10000) ev(t, sf::EventType::Depth, sf::Side::Bid, 9990, 10 + (t / 10000) % 2, sf::kEvEndOfBatch);
  if (!w.finish(err)) return "";
  return path;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

std::vector<std::string> lines_with(const std::string& path, std::initializer_list<const char*> subs) {
  std::vector<std::string> out;
  std::istringstream in(slurp(path));
  std::string line;
  while (std::getline(in, line)) {
    bool all = true;
    for (const char* s : subs) all = all && line.find(s) != std::string::npos;
    if (all) out.push_back(line);
  }
  return out;
}

struct Venue {
  pid_t pid = -1;
  std::uint16_t port = 0;
  std::string journal, port_file;
  explicit Venue(const std::string& name, int timeout_ms = 400) {
    const std::string data = write_data();
    journal = kTmp + "/" + name + ".journal.jsonl";
    port_file = kTmp + "/" + name + ".port";
    std::remove(journal.c_str());
    std::remove(port_file.c_str());
    const std::string to = std::to_string(timeout_ms);
    pid = fork();
    if (pid == 0) {
      execl(SF_VENUE_BIN, SF_VENUE_BIN, "--data", data.c_str(), "--port", "0", "--port-file", port_file.c_str(), "--journal",
            journal.c_str(), "--heartbeat-timeout-ms", to.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 1000 && port == 0; ++i) {
      std::ifstream in(port_file);
      unsigned p = 0;
      if (in >> p) port = static_cast<std::uint16_t>(p);
      else std::this_thread::sleep_for(10ms);
    }
  }
  int stop() {
    if (pid <= 0) return -1;
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  ~Venue() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

// Polls `c` until `n` reports arrived (or 3 s), appending them to `out`.
void collect(sf::GatewayClient& c, sf::Nanos ts, std::vector<sf::GatewayReport>& out, std::size_t n) {
  const auto end = std::chrono::steady_clock::now() + 3s;
  while (out.size() < n && std::chrono::steady_clock::now() < end) {
    c.poll(ts, [&](const sf::GatewayReport& r) { out.push_back(r); });
    std::this_thread::sleep_for(1ms);
  }
}

// Keeps `c` alive (heartbeats) for `d`.
void pump(sf::GatewayClient& c, sf::Nanos ts, std::chrono::milliseconds d, std::vector<sf::GatewayReport>* out = nullptr) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
    c.poll(ts, [&](const sf::GatewayReport& r) {
      if (out != nullptr) out->push_back(r);
    });
    std::this_thread::sleep_for(5ms);
  }
}

bool wait_for_line(const std::string& journal, std::initializer_list<const char*> subs, sf::GatewayClient* keep = nullptr) {
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < end) {
    if (!lines_with(journal, subs).empty()) return true;
    if (keep != nullptr) pump(*keep, 0, 10ms);
    else std::this_thread::sleep_for(10ms);
  }
  return false;
}

// A raw protocol client (what the doc describes), for STATUS and planted protocol errors.
struct Raw {
  int fd = -1;
  std::uint64_t seq = 0;
  explicit Raw(std::uint16_t port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      fd = -1;
    }
  }
  ~Raw() {
    if (fd >= 0) close(fd);
  }
  void send_frame(sf::wire::Frame f, std::uint64_t force_seq = 0) {
    f.h.seq = force_seq != 0 ? force_seq : ++seq;
    std::uint8_t b[sf::wire::kMaxFrame];
    const std::size_t n = sf::wire::encode(f, b, sizeof b);
    (void)::send(fd, b, n, MSG_NOSIGNAL);
  }
  void send_bytes(const std::uint8_t* b, std::size_t n) { (void)::send(fd, b, n, MSG_NOSIGNAL); }
  // Reads frames until EOF or 2 s of silence.
  std::vector<sf::wire::Frame> read_all(std::string* texts = nullptr, bool until_eof = true, std::size_t want = 0) {
    std::vector<sf::wire::Frame> out;
    std::vector<std::uint8_t> buf;
    std::uint8_t tmp[4096];
    while (true) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 2000) <= 0) break;
      const ssize_t r = recv(fd, tmp, sizeof tmp, 0);
      if (r <= 0) break;
      buf.insert(buf.end(), tmp, tmp + r);
      std::size_t off = 0, used = 0;
      sf::wire::Frame f;
      while (sf::wire::decode(buf.data() + off, buf.size() - off, f, used) == sf::wire::DecodeStatus::Ok) {
        if (texts != nullptr && !f.text.empty()) *texts += std::string(f.text);
        f.text = {};
        out.push_back(f);
        off += used;
      }
      buf.erase(buf.begin(), buf.begin() + static_cast<long>(off));
      if (!until_eof && out.size() >= want) break;
    }
    return out;
  }
};

sf::wire::Frame frame(sf::wire::MsgType t, sf::Nanos ts = 0) {
  sf::wire::Frame f;
  f.h.type = static_cast<std::uint8_t>(t);
  f.h.ts_ns = ts;
  return f;
}

sf::wire::Frame logon(const char* name, std::uint32_t hb) {
  auto f = frame(sf::wire::MsgType::Logon);
  sf::wire::set_text(f.logon.session, sf::wire::kSessionLen, name);
  f.logon.heartbeat_ms = hb;
  return f;
}

}  // namespace

SF_TEST(order_flow_ack_fill_cancel_replace_status_reconnect) {
  Venue v("flow");
  REQUIRE(v.port != 0);
  sf::GatewayClient c;
  std::string err;
  REQUIRE(c.connect("127.0.0.1", v.port, "t-main", 100, err));
  CHECK(c.connected());
  CHECK_EQ(c.heartbeat_timeout_ms(), 400u);

  // a crossing buy: ACK then a taker FILL at the ask
  std::vector<sf::GatewayReport> r;
  REQUIRE(c.new_order(5000, 1, 0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 10010, 2));
  collect(c, 5000, r, 2);
  REQUIRE(r.size() == 2);
  CHECK(r[0].kind == sf::GatewayReport::Ack);
  CHECK_EQ(r[0].client_id, 1u);
  CHECK(r[1].kind == sf::GatewayReport::Fill);
  CHECK_EQ(r[1].px, 10010);
  CHECK_EQ(r[1].qty, 2);
  CHECK_EQ(r[1].leaves, 0);
  CHECK(!r[1].maker);

  // a resting sell at 100.20; the buy trade through 100.30 at t=12us fills it (maker) once an
  // order stamped 15us moves the venue's replay past it
  r.clear();
  REQUIRE(c.new_order(6000, 2, 0, sf::Side::Ask, sf::OrdType::Limit, sf::Tif::Gtc, 10020, 3));
  collect(c, 6000, r, 1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].kind == sf::GatewayReport::Ack);
  CHECK_EQ(r[0].leaves, 3);
  r.clear();
  REQUIRE(c.new_order(15000, 3, 0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 9980, 1));
  collect(c, 15000, r, 2);
  REQUIRE(r.size() == 2);
  CHECK(r[0].kind == sf::GatewayReport::Fill);
  CHECK_EQ(r[0].client_id, 2u);
  CHECK_EQ(r[0].px, 10020);
  CHECK_EQ(r[0].qty, 3);
  CHECK(r[0].maker);
  CHECK_EQ(r[0].ts, 12000);
  CHECK(r[1].kind == sf::GatewayReport::Ack);
  CHECK_EQ(r[1].client_id, 3u);

  // cancel
  r.clear();
  REQUIRE(c.cancel(16000, 3));
  collect(c, 16000, r, 1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].kind == sf::GatewayReport::Canceled);
  CHECK_EQ(r[0].reason, static_cast<int>(sf::wire::CancelReason::Requested));
  CHECK_EQ(r[0].qty, 1);

  // replace: ACK with the new price and quantity
  r.clear();
  REQUIRE(c.new_order(17000, 4, 0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 9970, 1));
  REQUIRE(c.replace(18000, 4, 9975, 2));
  collect(c, 18000, r, 2);
  REQUIRE(r.size() == 2);
  CHECK(r[1].kind == sf::GatewayReport::Ack);
  CHECK_EQ(r[1].px, 9975);
  CHECK_EQ(r[1].leaves, 2);

  // rejects: unknown order, duplicate id, invalid quantity, unknown instrument
  r.clear();
  REQUIRE(c.cancel(19000, 99));
  REQUIRE(c.new_order(19000, 4, 0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 9960, 1));
  REQUIRE(c.new_order(19000, 5, 0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 9960, 0));
  REQUIRE(c.new_order(19000, 6, 3, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 9960, 1));
  collect(c, 19000, r, 4);
  REQUIRE(r.size() == 4);
  for (const auto& x : r) CHECK(x.kind == sf::GatewayReport::Reject);
  CHECK_EQ(r[0].reason, static_cast<int>(sf::wire::RejectReason::UnknownOrder));
  CHECK_EQ(r[1].reason, static_cast<int>(sf::wire::RejectReason::DuplicateOrderId));
  CHECK_EQ(r[2].reason, static_cast<int>(sf::wire::RejectReason::InvalidOrder));
  CHECK_EQ(r[3].reason, static_cast<int>(sf::wire::RejectReason::InvalidOrder));
  CHECK(c.connected());  // order-level rejects do not end the session

  // STATUS from an admin connection (no logon needed)
  {
    Raw admin(v.port);
    REQUIRE(admin.fd >= 0);
    admin.send_frame(frame(sf::wire::MsgType::Status));
    std::string text;
    auto fs = admin.read_all(&text, false, 1);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].type() == sf::wire::MsgType::StatusReply);
    CHECK_CONTAINS(text, "\"session\":\"t-main\"");
    CHECK_CONTAINS(text, "\"open_orders\":1");
  }

  // logout: the open order 4 is canceled on disconnect; the journal has the whole story
  c.close("test done");
  CHECK(!c.connected());
  CHECK(wait_for_line(v.journal, {"\"t\":\"cancel\"", "\"session\":\"t-main\"", "\"client_id\":4", "cancel_on_disconnect"}));
  CHECK(!lines_with(v.journal, {"\"t\":\"disconnect\"", "logout: test done"}).empty());
  CHECK(!lines_with(v.journal, {"\"t\":\"fill\"", "\"client_id\":2", "\"maker\":true"}).empty());
  CHECK(!lines_with(v.journal, {"\"t\":\"logon\"", "t-main"}).empty());
  CHECK_EQ(lines_with(v.journal, {"\"t\":\"reject\""}).size(), 4u);

  // reconnect with the same session name: a new session, sequence numbers from 1 again
  REQUIRE(c.connect("127.0.0.1", v.port, "t-main", 100, err));
  CHECK_EQ(c.frames_sent(), 1u);
  CHECK_EQ(c.frames_received(), 1u);
  r.clear();
  REQUIRE(c.new_order(30000, 1, 0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 9950, 1));
  collect(c, 30000, r, 1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].kind == sf::GatewayReport::Ack);
  c.close("bye");
  CHECK_EQ(v.stop(), 0);
}

SF_TEST(second_logon_of_a_connected_session_is_refused) {
  Venue v("dup");
  REQUIRE(v.port != 0);
  sf::GatewayClient a, b;
  std::string err;
  REQUIRE(a.connect("127.0.0.1", v.port, "same", 100, err));
  CHECK(!b.connect("127.0.0.1", v.port, "same", 100, err));
  CHECK_CONTAINS(err, "SESSION_IN_USE");
  CHECK(!b.connect("127.0.0.1", v.port, "bad name!", 100, err));
  CHECK_CONTAINS(err, "BAD_LOGON");
  CHECK(!b.connect("127.0.0.1", v.port, "slow", 5000, err));  // heartbeat above the venue's timeout
  CHECK_CONTAINS(err, "heartbeat_ms must be in 1..399");
  CHECK(a.connected());
  CHECK(!b.connect("127.0.0.1", 1, "x", 100, err));
  CHECK_CONTAINS(err, "venue 127.0.0.1:1");
}

SF_TEST(heartbeat_timeout_cancels_the_silent_session_orders) {
  Venue v("hb");
  REQUIRE(v.port != 0);
  sf::GatewayClient live, silent;
  std::string err;
  REQUIRE(live.connect("127.0.0.1", v.port, "t-live", 100, err));
  REQUIRE(silent.connect("127.0.0.1", v.port, "t-silent", 100, err));
  std::vector<sf::GatewayReport> r;
  REQUIRE(silent.new_order(5000, 11, 0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 9980, 1));
  REQUIRE(live.new_order(5000, 21, 0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 9980, 1));
  collect(silent, 5000, r, 1);
  REQUIRE(r.size() == 1);
  // `silent` stops polling (no heartbeats); `live` keeps heartbeating past the 400 ms timeout
  pump(live, 5000, 900ms);
  CHECK(live.connected());
  CHECK(!lines_with(v.journal, {"\"t\":\"disconnect\"", "t-silent", "heartbeat timeout"}).empty());
  CHECK(!lines_with(v.journal, {"\"t\":\"cancel\"", "t-silent", "\"client_id\":11", "cancel_on_disconnect"}).empty());
  CHECK(lines_with(v.journal, {"\"t\":\"cancel\"", "t-live"}).empty());
  // the silent client reads the CANCELED(cancel-on-disconnect) and the LOGOUT the venue sent
  r.clear();
  silent.poll(6000, [&](const sf::GatewayReport& x) { r.push_back(x); });
  REQUIRE(r.size() == 1);
  CHECK(r[0].kind == sf::GatewayReport::Canceled);
  CHECK_EQ(r[0].reason, static_cast<int>(sf::wire::CancelReason::CancelOnDisconnect));
  CHECK(!silent.connected());
  CHECK_CONTAINS(silent.error(), "heartbeat timeout");
}

SF_TEST(killed_client_process_gets_its_orders_canceled) {
  Venue v("kill");
  REQUIRE(v.port != 0);
  int p[2];
  REQUIRE(pipe(p) == 0);
  const std::uint16_t port = v.port;
  const pid_t child = fork();
  if (child == 0) {
    close(p[0]);
    sf::GatewayClient c;
    std::string err;
    if (!c.connect("127.0.0.1", port, "t-child", 100, err)) _exit(3);
    std::vector<sf::GatewayReport> r;
    if (!c.new_order(5000, 7, 0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 9980, 2)) _exit(4);
    if (!c.new_order(5000, 8, 0, sf::Side::Ask, sf::OrdType::Limit, sf::Tif::Gtc, 10050, 1)) _exit(4);
    collect(c, 5000, r, 2);
    if (r.size() != 2) _exit(5);
    (void)!write(p[1], "R", 1);
    for (;;) pump(c, 5000, 1000ms);
  }
  close(p[1]);
  char ch = 0;
  REQUIRE(read(p[0], &ch, 1) == 1);
  close(p[0]);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  CHECK(wait_for_line(v.journal, {"\"t\":\"cancel\"", "t-child", "\"client_id\":7", "cancel_on_disconnect"}));
  CHECK(wait_for_line(v.journal, {"\"t\":\"cancel\"", "t-child", "\"client_id\":8", "cancel_on_disconnect"}));
  CHECK(!lines_with(v.journal, {"\"t\":\"disconnect\"", "t-child", "connection closed by peer", "\"open_orders\":2"}).empty());
}

SF_TEST(protocol_errors_are_refused_and_the_venue_lives_on) {
  Venue v("proto");
  REQUIRE(v.port != 0);
  {  // a sequence gap: REJECT(SEQ_GAP) + LOGOUT, then the venue closes the session
    Raw c(v.port);
    c.send_frame(logon("t-gap", 100));
    c.send_frame(frame(sf::wire::MsgType::Heartbeat, 2000), 3);
    auto fs = c.read_all();
    REQUIRE(fs.size() == 3);
    CHECK(fs[0].type() == sf::wire::MsgType::LogonAck);
    CHECK(fs[1].type() == sf::wire::MsgType::Reject);
    CHECK_EQ(fs[1].reject.reason, static_cast<int>(sf::wire::RejectReason::SeqGap));
    CHECK(fs[2].type() == sf::wire::MsgType::Logout);
  }
  {  // a frame with a bad length
    Raw c(v.port);
    c.send_frame(logon("t-len", 100));
    std::uint8_t b[24];
    auto hb = frame(sf::wire::MsgType::Heartbeat);
    hb.h.seq = 2;
    REQUIRE(sf::wire::encode(hb, b, sizeof b) == 24);
    b[0] = 200;  // claims 200 bytes
    c.send_bytes(b, sizeof b);
    auto fs = c.read_all();
    REQUIRE(fs.size() == 3);
    CHECK_EQ(fs[1].reject.reason, static_cast<int>(sf::wire::RejectReason::BadLength));
  }
  {  // an order before LOGON
    Raw c(v.port);
    auto o = frame(sf::wire::MsgType::NewOrder);
    o.new_order = sf::wire::NewOrder{1, 0, 1, 1, 1, 9980, 1};
    c.send_frame(o);
    auto fs = c.read_all();
    REQUIRE(fs.size() == 2);
    CHECK_EQ(fs[0].reject.reason, static_cast<int>(sf::wire::RejectReason::NotLoggedOn));
  }
  CHECK(wait_for_line(v.journal, {"\"t\":\"disconnect\"", "t-len", "BAD_LENGTH"}));
  CHECK(!lines_with(v.journal, {"\"t\":\"disconnect\"", "t-gap", "SEQ_GAP", "seq 3, expected 2"}).empty());
  // still serving
  sf::GatewayClient ok;
  std::string err;
  CHECK(ok.connect("127.0.0.1", v.port, "t-after", 100, err));
}

SF_TEST(sigterm_cancels_open_orders_and_closes_the_journal) {
  Venue v("term");
  REQUIRE(v.port != 0);
  sf::GatewayClient c;
  std::string err;
  REQUIRE(c.connect("127.0.0.1", v.port, "t-term", 100, err));
  std::vector<sf::GatewayReport> r;
  REQUIRE(c.new_order(5000, 1, 0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 9980, 1));
  collect(c, 5000, r, 1);
  REQUIRE(r.size() == 1);
  CHECK_EQ(v.stop(), 0);
  CHECK(!lines_with(v.journal, {"\"t\":\"cancel\"", "t-term", "venue_shutdown"}).empty());
  const std::string j = slurp(v.journal);
  CHECK(j.size() > 10 && j.rfind("{\"t\":\"stop\"") == j.rfind('\n', j.size() - 2) + 1);
  r.clear();
  pump(c, 6000, 100ms, &r);
  REQUIRE(r.size() == 1);
  CHECK_EQ(r[0].reason, static_cast<int>(sf::wire::CancelReason::VenueShutdown));
  CHECK(!c.connected());
}

// An engine whose replay loops sends frames stamped earlier than the venue's clock once the
// venue's replay has reached the end: the venue replays its data again from the start.
SF_TEST(a_looping_client_replay_rewinds_the_venue_replay) {
  Venue v("rewind");
  REQUIRE(v.port != 0);
  sf::GatewayClient c;
  std::string err;
  REQUIRE(c.connect("127.0.0.1", v.port, "t-loop", 100, err));
  std::vector<sf::GatewayReport> r;
  REQUIRE(c.new_order(6'000'000, 9, 0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 9000, 1));  // past the data's end
  collect(c, 6'000'000, r, 1);
  r.clear();
  REQUIRE(c.new_order(6000, 1, 0, sf::Side::Ask, sf::OrdType::Limit, sf::Tif::Gtc, 10020, 1));  // the loop's second pass
  REQUIRE(c.new_order(15000, 2, 0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 9980, 1));
  collect(c, 15000, r, 3);
  REQUIRE(r.size() == 3);
  CHECK(r[0].kind == sf::GatewayReport::Ack);
  CHECK(r[1].kind == sf::GatewayReport::Fill);  // the trade at 12 us, replayed again
  CHECK_EQ(r[1].client_id, 1u);
  CHECK_EQ(r[1].ts, 12000);
  CHECK_EQ(lines_with(v.journal, {"\"t\":\"rewind\"", "t-loop"}).size(), 1u);
}

SF_TEST(no_allocation_per_message_in_the_client) {
  Venue v("alloc", 2000);
  REQUIRE(v.port != 0);
  sf::GatewayClient c;
  std::string err;
  REQUIRE(c.connect("127.0.0.1", v.port, "t-alloc", 100, err));
  std::vector<sf::GatewayReport> r;
  r.reserve(1000);
  g_allocs = 0;
  g_count_allocs = true;
  for (std::uint64_t id = 1; id <= 200; ++id) {
    if (!c.new_order(5000 + static_cast<sf::Nanos>(id), id, 0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 9900 + static_cast<sf::Ticks>(id % 50), 1)) break;
    if (id % 2 == 0 && !c.cancel(5000 + static_cast<sf::Nanos>(id), id - 1)) break;
    c.poll(5000, [&](const sf::GatewayReport& x) { r.push_back(x); });
  }
  const auto end = std::chrono::steady_clock::now() + 3s;
  while (r.size() < 300 && std::chrono::steady_clock::now() < end) c.poll(6000, [&](const sf::GatewayReport& x) { r.push_back(x); });
  g_count_allocs = false;
  CHECK_EQ(r.size(), 300u);  // 200 ACKs + 100 CANCELED
  CHECK(c.connected());
#ifdef SF_COUNTS_ALLOCS
  CHECK_EQ(g_allocs.load(), 0L);
#endif
}

// A fake venue (a plain listening socket in this process) that answers the logon and then sends
// a frame with a wrong sequence number: the client must end the session, naming the gap.
SF_TEST(client_catches_a_venue_sequence_gap_and_a_dead_venue) {
  const int ls = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(ls, 4) == 0);
  socklen_t al = sizeof a;
  getsockname(ls, reinterpret_cast<sockaddr*>(&a), &al);
  const std::uint16_t port = ntohs(a.sin_port);
  auto fake = [ls](std::uint64_t second_seq, bool hang_up) {
    const int fd = accept(ls, nullptr, nullptr);
    std::uint8_t b[128];
    (void)recv(fd, b, 64, MSG_WAITALL);  // the LOGON
    auto ack = frame(sf::wire::MsgType::LogonAck);
    ack.h.seq = 1;
    ack.logon_ack = sf::wire::LogonAck{1000, 1};
    std::size_t n = sf::wire::encode(ack, b, sizeof b);
    (void)send(fd, b, n, MSG_NOSIGNAL);
    if (second_seq != 0) {
      auto fill = frame(sf::wire::MsgType::Fill, 7);
      fill.h.seq = second_seq;
      fill.fill = sf::wire::Fill{1, 100, 1, 0, 0, 0.0};
      n = sf::wire::encode(fill, b, sizeof b);
      (void)send(fd, b, n, MSG_NOSIGNAL);
    }
    if (hang_up) {
      close(fd);
      return -1;
    }
    return fd;
  };
  {
    sf::GatewayClient c;
    std::string err;
    std::thread t([&] { fake(3, false); });
    REQUIRE(c.connect("127.0.0.1", port, "t-fake", 100, err));
    t.join();
    std::vector<sf::GatewayReport> r;
    pump(c, 0, 200ms, &r);
    CHECK(r.empty());
    CHECK(!c.connected());
    CHECK_CONTAINS(c.error(), "venue sequence gap: got 3, expected 2");
  }
  {
    sf::GatewayClient c;
    std::string err;
    std::thread t([&] { fake(2, true); });  // a good fill, then the venue dies
    REQUIRE(c.connect("127.0.0.1", port, "t-fake", 100, err));
    t.join();
    std::vector<sf::GatewayReport> r;
    pump(c, 0, 200ms, &r);
    REQUIRE(r.size() == 1);  // the fill that arrived before the close is still delivered
    CHECK(r[0].kind == sf::GatewayReport::Fill);
    CHECK(!c.connected());
    CHECK_CONTAINS(c.error(), "venue closed the connection");
    CHECK(!c.new_order(1, 2, 0, sf::Side::Bid, sf::OrdType::Limit, sf::Tif::Gtc, 1, 1));  // down: refused, not queued
  }
  {  // a venue that accepts the connection but never answers the logon
    sf::GatewayClient c;
    std::string err;
    int held = -1;
    std::thread t([&] { held = accept(ls, nullptr, nullptr); });
    CHECK(!c.connect("127.0.0.1", port, "t-mute", 100, err, 300));
    t.join();
    CHECK_CONTAINS(err, "no LOGON_ACK within 300 ms");
    if (held >= 0) close(held);
  }
  close(ls);
}

SF_TEST_MAIN()
