// Parity harness: loads a strategy plugin through the C ABI (sf/abi.h), replays a callback tape
// (the text form written by stratforge.runtime.twin.encode_tape_text) and prints every decision
// as one JSON object per line, with the keys and values of the Python RecordingContext.
//
// usage: parity_harness PLUGIN.so PARAMS.txt N SYMBOL TICK_E9 LOT_E9 [...] < tape.txt
#include <dlfcn.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "sf/abi.h"

namespace {

struct Host {
  std::int64_t seq = 0;
  std::vector<std::int64_t> pos;
  std::map<std::uint32_t, std::vector<std::pair<std::int64_t, std::int64_t>>> bids, asks;
  std::uint64_t next_id = 1;
  std::int64_t now = 0;
  std::string fault;
};

void head(const Host& h, const char* op) {
  std::printf("{\"op\":\"%s\",\"seq\":%" PRId64 ",\"t\":%" PRId64, op, h.seq, h.now);
}

std::int32_t submit(void* hp, const sf_order_request* r, std::uint64_t* id) {
  auto* h = static_cast<Host*>(hp);
  *id = h->next_id++;
  head(*h, "submit");
  std::printf(",\"inst\":%u,\"side\":%u,\"type\":%u,\"tif\":%u,\"px\":%" PRId64 ",\"qty\":%" PRId64 ",\"tag\":%" PRIu64
              ",\"id\":%" PRIu64 ",\"reason\":0}\n",
              r->instrument, r->side, r->type, r->tif, r->px, r->qty, r->user_tag, *id);
  return SF_ACCEPTED;
}
std::int32_t cancel(void* hp, std::uint64_t id) {
  auto* h = static_cast<Host*>(hp);
  head(*h, "cancel");
  std::printf(",\"id\":%" PRIu64 ",\"reason\":0}\n", id);
  return SF_ACCEPTED;
}
std::int32_t replace(void* hp, std::uint64_t id, std::int64_t px, std::int64_t qty) {
  auto* h = static_cast<Host*>(hp);
  head(*h, "replace");
  std::printf(",\"id\":%" PRIu64 ",\"px\":%" PRId64 ",\"qty\":%" PRId64 ",\"reason\":0}\n", id, px, qty);
  return SF_ACCEPTED;
}
std::int32_t book_level(void* hp, std::uint32_t inst, std::uint32_t side, std::uint32_t depth, std::int64_t* px, std::int64_t* qty) {
  auto* h = static_cast<Host*>(hp);
  auto& m = side == SF_SIDE_BUY ? h->bids : h->asks;
  auto it = m.find(inst);
  if (it == m.end() || depth >= it->second.size()) return 0;
  *px = it->second[depth].first;
  *qty = it->second[depth].second;
  return 1;
}
std::int64_t position(void* hp, std::uint32_t inst) {
  auto* h = static_cast<Host*>(hp);
  return inst < h->pos.size() ? h->pos[inst] : 0;
}
std::int32_t set_timer(void* hp, std::int64_t at, std::uint64_t id) {
  auto* h = static_cast<Host*>(hp);
  head(*h, "set_timer");
  std::printf(",\"at\":%" PRId64 ",\"timer\":%" PRIu64 ",\"ok\":true}\n", at, id);
  return 0;
}
void log_msg(void* hp, std::int32_t level, const char* msg) {
  auto* h = static_cast<Host*>(hp);
  head(*h, "log");
  std::string esc;
  for (const char* p = msg; *p; ++p) {
    if (*p == '"' || *p == '\\') esc += '\\';
    if (static_cast<unsigned char>(*p) >= 0x20) esc += *p;
  }
  std::printf(",\"level\":%d,\"msg\":\"%s\"}\n", level, esc.c_str());
}
void fault(void* hp, const char* msg) { static_cast<Host*>(hp)->fault = msg; }
const char* reason_name(std::int32_t code) { return code == 0 ? "ACCEPTED" : "REASON"; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s PLUGIN PARAMS N [SYMBOL TICK_E9 LOT_E9]...\n", argv[0]);
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return 2;
  }
  auto entry = reinterpret_cast<sf_plugin_entry_fn>(dlsym(lib, SF_ENTRY_SYMBOL_NAME));
  if (!entry) return 2;
  const sf_plugin_v1* pl = entry();
  if (pl->abi_version != SF_ABI_VERSION || pl->struct_size != sizeof(sf_plugin_v1)) return 2;
  std::ifstream pf(argv[2]);
  std::stringstream ps;
  ps << pf.rdbuf();
  const std::string params = ps.str();
  const int n = std::atoi(argv[3]);
  std::vector<sf_instrument> insts(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto& in = insts[static_cast<std::size_t>(i)];
    std::memset(&in, 0, sizeof in);
    in.id = static_cast<std::uint32_t>(i);
    std::snprintf(in.symbol, sizeof in.symbol, "%s", argv[4 + 3 * i]);
    in.tick_size_e9 = std::atoll(argv[5 + 3 * i]);
    in.lot_size_e9 = std::atoll(argv[6 + 3 * i]);
  }
  sf_create_args ca{SF_ABI_VERSION, sizeof(sf_create_args), "parity", params.c_str(), params.size(), insts.data(),
                    static_cast<std::uint32_t>(n), 0, 0};
  void* st = nullptr;
  char err[512] = {0};
  if (pl->create(&ca, &st, err, sizeof err) != SF_OK) {
    std::fprintf(stderr, "create failed: %s\n", err);
    return 3;
  }
  Host host;
  sf_ctx ctx{SF_ABI_VERSION, sizeof(sf_ctx), &host, 0, &submit, &cancel, &replace, &book_level, &position, &set_timer,
             &log_msg, &fault, &reason_name};
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    std::istringstream is(line);
    std::string cb;
    std::int64_t npos = 0;
    is >> cb >> host.now >> npos;
    host.pos.assign(static_cast<std::size_t>(npos), 0);
    for (auto& p : host.pos) is >> p;
    ctx.now_ns = host.now;
    std::int32_t rc = SF_OK;
    if (cb == "book") {
      sf_book b{};
      is >> b.exch_ts >> b.recv_ts >> b.instrument >> b.flags >> b.bid_px >> b.bid_qty >> b.ask_px >> b.ask_qty >> b.bid_levels >> b.ask_levels;
      std::int64_t nb = 0;
      is >> nb;
      if (nb >= 0) {
        auto& bv = host.bids[b.instrument];
        bv.assign(static_cast<std::size_t>(nb), {0, 0});
        for (auto& lv : bv) is >> lv.first >> lv.second;
        std::int64_t na = 0;
        is >> na;
        auto& av = host.asks[b.instrument];
        av.assign(static_cast<std::size_t>(na), {0, 0});
        for (auto& lv : av) is >> lv.first >> lv.second;
      }
      rc = pl->on_book(st, &ctx, &b);
    } else if (cb == "trade") {
      sf_trade t{};
      is >> t.exch_ts >> t.recv_ts >> t.instrument >> t.side >> t.px >> t.qty >> t.trade_id;
      rc = pl->on_trade(st, &ctx, &t);
    } else if (cb == "bar") {
      sf_bar b{};
      is >> b.end_ts >> b.recv_ts >> b.instrument >> b.open >> b.high >> b.low >> b.close >> b.volume;
      rc = pl->on_bar(st, &ctx, &b);
    } else if (cb == "fill") {
      sf_fill f{};
      is >> f.ts >> f.order_id >> f.instrument >> f.side >> f.liquidity >> f.px >> f.qty >> f.leaves_qty >> f.position >> f.fee;
      rc = pl->on_fill(st, &ctx, &f);
    } else if (cb == "order_update") {
      sf_order_update u{};
      is >> u.ts >> u.order_id >> u.instrument >> u.side >> u.status >> u.px >> u.qty >> u.leaves_qty;
      rc = pl->on_order_update(st, &ctx, &u);
    } else if (cb == "timer") {
      std::uint64_t id = 0;
      is >> id;
      rc = pl->on_timer(st, &ctx, id);
    } else {
      std::fprintf(stderr, "unknown callback %s\n", cb.c_str());
      return 2;
    }
    if (rc != SF_OK) {
      std::fprintf(stderr, "fault at seq %" PRId64 ": %s\n", host.seq, host.fault.c_str());
      return 4;
    }
    ++host.seq;
  }
  pl->destroy(st);
  return 0;
}
