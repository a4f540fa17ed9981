// sf/venue.hpp — simulated venue for backtest and shadow: one account's orders matched against
// the replayed L2 book with queue position, taking liquidity, IOC/market semantics and fees.
//
// Design: the replayed book is the market; our orders never change it (the standard
// no-market-impact assumption). A GTC limit order that does not cross joins the BACK of its
// price level: queue_ahead = the level's quantity when it arrives. Then:
//   * a trade at the order's price (aggressor on the other side or unknown) first consumes
//     queue_ahead, and the excess fills the order (maker);
//   * a trade THROUGH the order's price (a sell below our bid / a buy above our ask) fills the
//     whole remaining quantity at the order's price (maker): the market moved through it;
//   * new liquidity appearing on the other side at a price that crosses the order (a depth
//     increase there) fills the order by that increase at the order's price (maker);
//   * a decrease of our own level's quantity: queue model `risk_averse` only caps queue_ahead at
//     the new level quantity (cancels are assumed to be behind us); `decrease_advances` also
//     moves us forward by the part of the decrease not already explained by trades at that price.
// An arriving order that crosses (limit buy >= best ask, or market) walks the opposite levels
// best-first taking min(level qty, remaining) at each level price (taker), bounded by its limit
// (a market order by the protection price the risk gate set). An IOC/market remainder expires;
// a GTC remainder rests. Replace keeps queue position only when the price is unchanged and the
// quantity does not grow; otherwise it goes to the back of the (new) level.
// Bar mode: orders wait for the NEXT bar of their instrument: market orders fill at its open; a
// limit buy fills at the open if open <= limit, else at the limit if low <= limit (sells
// mirrored); IOC orders not filled by that bar expire. (backtrader's default broker convention.)
// Fees: notional x bps / 1e4 in quote currency, maker or taker rate; negative = rebate.
// Several own orders at one price each see the full trade volume (use one order per level).
// Worst case: O(own active orders) per market event for an instrument with active orders
// (zero work when there are none); O(levels walked) for a crossing order. Reports are written to a
// pre-reserved vector drained by the caller after every call; no allocation in steady state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sf/book.hpp"
#include "sf/types.hpp"

namespace sf {

enum class QueueModel : std::uint8_t { RiskAverse, DecreaseAdvances };
[[nodiscard]] constexpr const char* queue_model_name(QueueModel q) noexcept {
  return q == QueueModel::RiskAverse ? "risk_averse" : "decrease_advances";
}

struct FeeModel {
  double maker_bps = 0.0;
  double taker_bps = 0.0;
};

/// One thing the venue tells the account: a fill, or a status change (SF_ORDER_*).
struct VenueReport {
  enum class Kind : std::uint8_t { Fill, Update };
  Kind kind;
  std::uint32_t status;  // SF_ORDER_* for updates
  std::uint64_t id;
  Nanos ts;  // venue time
  std::uint32_t instrument;
  Side side;
  bool maker;
  Ticks px;
  Lots qty;     // fill qty, or order qty for updates
  Lots leaves;  // remaining after this report
  double fee;
};

struct VenueOrder {
  std::uint64_t id = 0;
  std::uint32_t instrument = 0;
  Side side = Side::None;
  OrdType type = OrdType::Limit;
  Tif tif = Tif::Gtc;
  Ticks px = 0;  // limit, or protection price for market orders
  Lots leaves = 0;
  Lots queue_ahead = 0;
  Lots traded_at_px = 0;  // trade volume at our price not yet matched by a depth decrease
  bool active = false;
};

class SimVenue {
 public:
  /// `quote_per_ticklot[i]`: value of one tick x one lot of instrument i in quote currency.
  SimVenue(std::vector<double> quote_per_ticklot, std::uint32_t max_orders, QueueModel qm, FeeModel fees, bool bar_mode);

  // --- order entry (at venue time t) ------------------------------------------------------
  void new_order(Nanos t, const VenueOrder& o, const Book& book);
  void cancel(Nanos t, std::uint64_t id);
  void replace(Nanos t, std::uint64_t id, Ticks px, Lots qty, const Book& book);
  /// The same, for a caller that already looked the order up: `found` must be find(id).
  void replace(Nanos t, const VenueOrder* found, std::uint64_t id, Ticks px, Lots qty, const Book& book);
  void cancel_all(Nanos t);

  // --- market data (call AFTER the book has applied the record) ----------------------------
  /// One L2 level changed from old_qty to new_qty (call once per DEPTH record; decompose QUOTE).
  void on_level(Nanos t, std::uint32_t inst, Side side, Ticks px, Lots old_qty, Lots new_qty);
  void on_trade(Nanos t, std::uint32_t inst, Side aggressor, Ticks px, Lots qty);
  void on_bar(Nanos t, std::uint32_t inst, Ticks open, Ticks high, Ticks low);

  [[nodiscard]] std::uint32_t resting(std::uint32_t inst) const noexcept { return resting_[inst]; }
  /// Optional per-instrument counters (one per instrument, owned by the caller, outliving this
  /// venue) that this venue keeps up to date alongside resting(): several venues can share one
  /// array, so a caller tests "any venue has an active order on inst" with one load.
  void set_shared_resting(std::uint32_t* counts) noexcept { shared_resting_ = counts; }
  [[nodiscard]] std::uint32_t active_orders() const noexcept { return n_active_; }
  [[nodiscard]] const VenueOrder* find(std::uint64_t id) const noexcept;

  /// Reports produced since the last clear_reports().
  [[nodiscard]] const std::vector<VenueReport>& reports() const noexcept { return reports_; }
  void clear_reports() noexcept { reports_.clear(); }
  [[nodiscard]] bool has_reports() const noexcept { return !reports_.empty(); }

  [[nodiscard]] QueueModel queue_model() const noexcept { return qm_; }
  [[nodiscard]] const FeeModel& fees() const noexcept { return fees_; }

 private:
  VenueOrder* find_mut(std::uint64_t id) noexcept;
  void fill(Nanos t, VenueOrder& o, Ticks px, Lots qty, bool maker);
  void update(Nanos t, const VenueOrder& o, std::uint32_t status, Lots qty);
  void take(Nanos t, VenueOrder& o, const Book& book);
  void rest_or_finish(Nanos t, VenueOrder& o, const Book& book, bool announce);
  void deactivate_at(std::uint32_t k) noexcept;  // k indexes active_

  std::vector<double> qptl_;
  std::vector<VenueOrder> orders_;    // slot pool (capacity = max orders)
  std::vector<std::uint32_t> active_;  // [0, n_active_): indices of active slots
  std::vector<std::uint32_t> free_;    // stack of free slot indices
  std::vector<std::uint32_t> resting_;
  std::vector<VenueReport> reports_;
  std::uint32_t n_active_ = 0;
  std::uint32_t* shared_resting_ = nullptr;
  QueueModel qm_;
  FeeModel fees_;
  bool bar_mode_;
};

}  // namespace sf
