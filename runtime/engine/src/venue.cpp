#include "sf/venue.hpp"

#include <algorithm>
#include <utility>

namespace sf {

SimVenue::SimVenue(std::vector<double> quote_per_ticklot, std::uint32_t max_orders, QueueModel qm, FeeModel fees, bool bar_mode)
    : qptl_(std::move(quote_per_ticklot)),
      orders_(max_orders),
      active_(max_orders),
      free_(max_orders),
      resting_(qptl_.size(), 0),
      qm_(qm),
      fees_(fees),
      bar_mode_(bar_mode) {
  for (std::uint32_t i = 0; i < max_orders; ++i) free_[i] = max_orders - 1 - i;
  reports_.reserve(4096);
}

const VenueOrder* SimVenue::find(std::uint64_t id) const noexcept {
  for (std::uint32_t k = 0; k < n_active_; ++k)
    if (orders_[active_[k]].id == id) return &orders_[active_[k]];
  return nullptr;
}
VenueOrder* SimVenue::find_mut(std::uint64_t id) noexcept { return const_cast<VenueOrder*>(find(id)); }

void SimVenue::deactivate_at(std::uint32_t k) noexcept {
  const std::uint32_t slot = active_[k];
  VenueOrder& o = orders_[slot];
  o.active = false;
  --resting_[o.instrument];
  if (shared_resting_ != nullptr) --shared_resting_[o.instrument];
  active_[k] = active_[--n_active_];
  free_.push_back(slot);  // capacity reserved at construction: never allocates
}

namespace {
template <class V>
std::uint32_t active_index(const std::vector<std::uint32_t>& active, std::uint32_t n, const V& orders, const VenueOrder* o) {
  for (std::uint32_t k = 0; k < n; ++k)
    if (&orders[active[k]] == o) return k;
  return n;
}
}  // namespace

void SimVenue::fill(Nanos t, VenueOrder& o, Ticks px, Lots qty, bool maker) {
  if (qty <= 0) return;
  qty = std::min(qty, o.leaves);
  o.leaves -= qty;
  const double notional = static_cast<double>(px) * static_cast<double>(qty) * qptl_[o.instrument];
  const double fee = notional * (maker ? fees_.maker_bps : fees_.taker_bps) * 1e-4;
  reports_.push_back(VenueReport{VenueReport::Kind::Fill, 0, o.id, t, o.instrument, o.side, maker, px, qty, o.leaves, fee});
}

void SimVenue::update(Nanos t, const VenueOrder& o, std::uint32_t status, Lots qty) {
  reports_.push_back(VenueReport{VenueReport::Kind::Update, status, o.id, t, o.instrument, o.side, false, o.px, qty, o.leaves, 0.0});
}

void SimVenue::take(Nanos t, VenueOrder& o, const Book& book) {
  if (o.side == Side::Bid) {
    const auto& asks = book.asks();
    for (std::uint32_t d = 0; o.leaves > 0; ++d) {
      Ticks px;
      Lots q;
      if (!asks.level(d, px, q) || px > o.px) break;
      fill(t, o, px, q, false);
    }
  } else {
    const auto& bids = book.bids();
    for (std::uint32_t d = 0; o.leaves > 0; ++d) {
      Ticks px;
      Lots q;
      if (!bids.level(d, px, q) || px < o.px) break;
      fill(t, o, px, q, false);
    }
  }
}

void SimVenue::rest_or_finish(Nanos t, VenueOrder& o, const Book& book, bool announce) {
  if (o.leaves == 0) {
    update(t, o, SF_ORDER_FILLED, 0);
    deactivate_at(active_index(active_, n_active_, orders_, &o));
    return;
  }
  if (o.tif == Tif::Ioc || o.type == OrdType::Market) {
    update(t, o, SF_ORDER_EXPIRED, o.leaves);
    deactivate_at(active_index(active_, n_active_, orders_, &o));
    return;
  }
  o.queue_ahead = o.side == Side::Bid ? book.bids().qty_at(o.px) : book.asks().qty_at(o.px);
  o.traded_at_px = 0;
  if (announce) update(t, o, SF_ORDER_ACCEPTED, o.leaves);
}

void SimVenue::new_order(Nanos t, const VenueOrder& in, const Book& book) {
  if (free_.empty()) {
    update(t, in, SF_ORDER_REJECTED, in.leaves);
    return;
  }
  const std::uint32_t idx = free_.back();
  free_.pop_back();
  VenueOrder* slot = &orders_[idx];
  *slot = in;
  slot->active = true;
  active_[n_active_++] = idx;
  ++resting_[in.instrument];
  if (shared_resting_ != nullptr) ++shared_resting_[in.instrument];
  if (bar_mode_) {
    if (in.type == OrdType::Limit && in.tif == Tif::Gtc) update(t, *slot, SF_ORDER_ACCEPTED, in.leaves);
    return;  // matched on the next bar
  }
  take(t, *slot, book);
  rest_or_finish(t, *slot, book, true);
}

void SimVenue::cancel(Nanos t, std::uint64_t id) {
  VenueOrder* o = find_mut(id);
  if (o == nullptr) {
    reports_.push_back(VenueReport{VenueReport::Kind::Update, SF_ORDER_CANCEL_REJECTED, id, t, 0, Side::None, false, 0, 0, 0, 0.0});
    return;
  }
  const Lots leaves = o->leaves;
  o->leaves = 0;
  update(t, *o, SF_ORDER_CANCELED, leaves);
  deactivate_at(active_index(active_, n_active_, orders_, o));
}

void SimVenue::cancel_all(Nanos t) {
  while (n_active_ > 0) cancel(t, orders_[active_[n_active_ - 1]].id);
}

void SimVenue::replace(Nanos t, std::uint64_t id, Ticks px, Lots qty, const Book& book) { replace(t, find(id), id, px, qty, book); }

void SimVenue::replace(Nanos t, const VenueOrder* found, std::uint64_t id, Ticks px, Lots qty, const Book& book) {
  VenueOrder* o = const_cast<VenueOrder*>(found);  // points into orders_ (find() of this venue)
  if (o == nullptr) {
    reports_.push_back(VenueReport{VenueReport::Kind::Update, SF_ORDER_CANCEL_REJECTED, id, t, 0, Side::None, false, px, qty, 0, 0.0});
    return;
  }
  const bool keep_queue = px == o->px && qty <= o->leaves;
  o->px = px;
  o->leaves = qty;
  update(t, *o, SF_ORDER_REPLACED, qty);
  if (keep_queue || bar_mode_) return;
  take(t, *o, book);
  rest_or_finish(t, *o, book, false);
}

void SimVenue::on_level(Nanos t, std::uint32_t inst, Side side, Ticks px, Lots old_qty, Lots new_qty) {
  if (resting_[inst] == 0 || bar_mode_) return;
  // A decrease only concerns our orders on that side at exactly px (queue), an increase only
  // our orders on the other side that it crosses (fills); an unchanged quantity concerns none.
  if (new_qty < old_qty) {
    for (std::uint32_t k = n_active_; k-- > 0;) {
      VenueOrder& o = orders_[active_[k]];
      if (o.instrument != inst || o.side != side || o.px != px) continue;
      if (qm_ == QueueModel::DecreaseAdvances) {
        const Lots dec = old_qty - new_qty;
        const Lots explained = std::min(dec, o.traded_at_px);
        o.traded_at_px -= explained;
        o.queue_ahead = std::max<Lots>(0, o.queue_ahead - (dec - explained));
      }
      o.queue_ahead = std::min(o.queue_ahead, new_qty);
    }
  } else if (new_qty > old_qty) {
    // backwards: deactivate_at(k) moves the last active entry (already visited) into k
    for (std::uint32_t k = n_active_; k-- > 0;) {
      VenueOrder& o = orders_[active_[k]];
      if (o.instrument != inst || o.side == side) continue;
      const bool crosses = o.side == Side::Bid ? px <= o.px : px >= o.px;
      if (!crosses) continue;
      fill(t, o, o.px, new_qty - old_qty, true);
      if (o.leaves == 0) {
        update(t, o, SF_ORDER_FILLED, 0);
        deactivate_at(k);
      }
    }
  }
}

void SimVenue::on_trade(Nanos t, std::uint32_t inst, Side aggressor, Ticks px, Lots qty) {
  if (resting_[inst] == 0 || bar_mode_) return;
  for (std::uint32_t k = n_active_; k-- > 0;) {
    VenueOrder& o = orders_[active_[k]];
    if (o.instrument != inst) continue;
    const bool through = o.side == Side::Bid ? px < o.px : px > o.px;
    if (through) {
      fill(t, o, o.px, o.leaves, true);
    } else if (px == o.px && aggressor != o.side) {
      if (o.queue_ahead >= qty) {
        o.queue_ahead -= qty;
        o.traded_at_px += qty;
        continue;
      }
      const Lots excess = qty - o.queue_ahead;
      o.traded_at_px += o.queue_ahead;
      o.queue_ahead = 0;
      fill(t, o, o.px, excess, true);
    } else {
      continue;
    }
    if (o.leaves == 0) {
      update(t, o, SF_ORDER_FILLED, 0);
      deactivate_at(k);
    }
  }
}

void SimVenue::on_bar(Nanos t, std::uint32_t inst, Ticks open, Ticks high, Ticks low) {
  if (resting_[inst] == 0) return;
  for (std::uint32_t k = n_active_; k-- > 0;) {
    VenueOrder& o = orders_[active_[k]];
    if (o.instrument != inst) continue;
    if (o.type == OrdType::Market) {
      fill(t, o, open, o.leaves, false);
    } else if (o.side == Side::Bid) {
      if (open <= o.px) fill(t, o, open, o.leaves, false);
      else if (low <= o.px) fill(t, o, o.px, o.leaves, true);
    } else {
      if (open >= o.px) fill(t, o, open, o.leaves, false);
      else if (high >= o.px) fill(t, o, o.px, o.leaves, true);
    }
    if (o.leaves == 0) {
      update(t, o, SF_ORDER_FILLED, 0);
      deactivate_at(k);
    } else if (o.tif == Tif::Ioc || o.type == OrdType::Market) {
      update(t, o, SF_ORDER_EXPIRED, o.leaves);
      deactivate_at(k);
    }
  }
}

}  // namespace sf
