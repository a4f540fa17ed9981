#include "sf/synth.hpp"

#include <vector>

#include "sf/book.hpp"
#include "sf/event_file.hpp"
#include "sf/latency_model.hpp"

namespace sf {

namespace {

struct Gen {
  EventWriter& w;
  Rng rng;
  Nanos ts = 1'700'000'000'000'000'000;
  std::int64_t trade_id = 1;
  std::vector<Book> books;
  std::uint32_t depth;
  std::vector<Event> batch;

  void depth_rec(std::uint32_t inst, Side side, Ticks px, Lots qty, std::uint32_t flags = 0) {
    Event e{};
    e.type = static_cast<std::uint8_t>(EventType::Depth);
    e.side = static_cast<std::uint8_t>(side);
    e.instrument = static_cast<std::uint16_t>(inst);
    e.flags = flags;
    e.v[0] = px;
    e.v[1] = qty;
    books[inst].set_level(side, px, qty);
    batch.push_back(e);
  }
  void trade_rec(std::uint32_t inst, Side aggressor, Ticks px, Lots qty) {
    Event e{};
    e.type = static_cast<std::uint8_t>(EventType::Trade);
    e.side = static_cast<std::uint8_t>(aggressor);
    e.instrument = static_cast<std::uint16_t>(inst);
    e.v[0] = px;
    e.v[1] = qty;
    e.v[2] = trade_id++;
    batch.push_back(e);
  }
  // Emits the current batch as one source message: same timestamps, END_OF_BATCH on the last.
  void flush() {
    if (batch.empty()) return;
    ts += 1000 + static_cast<Nanos>(rng.below(40000));
    const Nanos exch = ts - 20000 - static_cast<Nanos>(rng.below(10000));
    batch.back().flags |= kEvEndOfBatch;
    for (auto& e : batch) {
      e.recv_ts = ts;
      e.exch_ts = exch;
      w.append(e);
    }
    batch.clear();
  }
  Lots qty() { return 1 + static_cast<Lots>(rng.below(200)); }
  std::uint32_t geo_depth(std::uint32_t n) {
    std::uint32_t k = 0;
    while (k + 1 < n && rng.uniform() < 0.6) ++k;
    return k;
  }
  void refill(std::uint32_t inst, Side side) {
    Book& b = books[inst];
    const std::uint32_t n = side == Side::Bid ? b.bids().size() : b.asks().size();
    if (n >= depth) return;
    Ticks px = 0;
    Lots q = 0;
    if (n == 0) {
      // rebuild the side next to the other one
      const Ticks ref = side == Side::Bid ? (b.has_ask() ? b.best_ask() - 1 : 100000) : (b.has_bid() ? b.best_bid() + 1 : 100001);
      depth_rec(inst, side, ref, qty());
      return;
    }
    if (side == Side::Bid) {
      (void)b.bids().level(n - 1, px, q);
      depth_rec(inst, side, px - 1, qty());
    } else {
      (void)b.asks().level(n - 1, px, q);
      depth_rec(inst, side, px + 1, qty());
    }
  }
};

}  // namespace

bool write_synthetic(const std::string& path, const SynthOptions& opt, std::string& error) {
  if (opt.instruments < 1 || opt.instruments > 1000 || opt.depth < 2 || opt.depth > 500) {
    error = "Condition failed: synthetic file needs 1..1000 instruments and depth 2..500";
    return false;
  }
  std::vector<InstrumentEntry> ins;
  for (std::uint32_t i = 0; i < opt.instruments; ++i)
    ins.push_back(make_instrument("SYN" + std::to_string(i), opt.tick_size_e9, opt.lot_size_e9, i));
  EventWriter w;
  if (!w.open(path, ins, "synth", error)) return false;
  Gen g{w, Rng(opt.seed), 1'700'000'000'000'000'000, 1, {}, opt.depth, {}};
  g.batch.reserve(16);
  for (std::uint32_t i = 0; i < opt.instruments; ++i) {
    g.books.emplace_back(256);
    Event c{};
    c.type = static_cast<std::uint8_t>(EventType::Clear);
    c.instrument = static_cast<std::uint16_t>(i);
    c.flags = kEvSnapshot;
    g.batch.push_back(c);
    const Ticks mid = opt.start_mid_ticks + static_cast<Ticks>(i) * 1000;
    for (std::uint32_t k = 0; k < opt.depth; ++k) {
      g.depth_rec(i, Side::Bid, mid - 1 - k, g.qty(), kEvSnapshot);
      g.depth_rec(i, Side::Ask, mid + 1 + k, g.qty(), kEvSnapshot);
    }
    g.flush();
  }
  while (w.count() < opt.events) {
    const auto inst = static_cast<std::uint32_t>(g.rng.below(opt.instruments));
    Book& b = g.books[inst];
    const double r = g.rng.uniform();
    const Side side = g.rng.below(2) == 0 ? Side::Bid : Side::Ask;
    const Side other = side == Side::Bid ? Side::Ask : Side::Bid;
    const std::uint32_t n_side = side == Side::Bid ? b.bids().size() : b.asks().size();
    if (r < 0.50 && n_side > 0) {
      Ticks px = 0;
      Lots q = 0;
      const std::uint32_t k = g.geo_depth(n_side);
      (void)(side == Side::Bid ? b.bids().level(k, px, q) : b.asks().level(k, px, q));
      g.depth_rec(inst, side, px, g.qty());
    } else if (r < 0.65) {
      // aggressor `side` hits the best of the other side
      const Ticks px = other == Side::Bid ? b.best_bid() : b.best_ask();
      const Lots avail = other == Side::Bid ? b.best_bid_qty() : b.best_ask_qty();
      if (avail <= 0) {
        g.refill(inst, other);
      } else {
        const Lots q = 1 + static_cast<Lots>(g.rng.below(static_cast<std::uint64_t>(avail)));
        g.trade_rec(inst, side, px, q);
        g.flush();  // the trade is its own message
        g.depth_rec(inst, other, px, avail - q);
        g.refill(inst, other);
      }
    } else if (r < 0.88) {
      const Ticks spread = b.best_ask() - b.best_bid();
      if (b.two_sided() && spread > 1) {
        // a new level inside the spread, nearer the touch more often
        const Ticks room = spread - 1;
        const Ticks step = 1 + static_cast<Ticks>(g.rng.below(static_cast<std::uint64_t>(room < 3 ? room : 3)));
        const Ticks px = side == Side::Bid ? b.best_bid() + step : b.best_ask() - step;
        g.depth_rec(inst, side, px, g.qty());
      } else {
        g.refill(inst, side);
      }
    } else {
      if (n_side > 2 && b.two_sided() && b.best_ask() - b.best_bid() <= 4) {
        g.depth_rec(inst, side, side == Side::Bid ? b.best_bid() : b.best_ask(), 0);
      }
      g.refill(inst, side);
    }
    // keep the sides bounded: trim the far end beyond 2x depth
    for (Side s : {Side::Bid, Side::Ask}) {
      const std::uint32_t n = s == Side::Bid ? b.bids().size() : b.asks().size();
      if (n > 2 * opt.depth) {
        Ticks px = 0;
        Lots q = 0;
        (void)(s == Side::Bid ? b.bids().level(n - 1, px, q) : b.asks().level(n - 1, px, q));
        g.depth_rec(inst, s, px, 0);
      }
    }
    if (g.batch.empty()) g.refill(inst, side);
    g.flush();
  }
  return w.finish(error);
}

}  // namespace sf
