// sf/sdk.hpp — header-only C++20 SDK for writing stratforge strategy plugins.
//
// Design: a strategy is a plain class deriving from sf::sdk::Strategy<Self> (CRTP, no virtual
// calls). It overrides only the handlers it needs by declaring a member with the same signature;
// the Adapter<Self> below turns it into the C ABI table of sf/abi.h, and SF_EXPORT_STRATEGY
// exports the one entry symbol. Every call from the host goes through one wrapper that catches
// every C++ exception and reports it with ctx->fault(), so nothing is thrown across the ABI; the
// host then stops the strategy with a fault naming the callback.
//
//   struct MyStrat : sf::sdk::Strategy<MyStrat> {
//     explicit MyStrat(const sf::sdk::CreateArgs& a) : qty_(a.params.get_int("qty", 1)) {
//       a.params.expect_all_used();            // unknown parameter names are an error
//     }
//     void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {
//       if (b.two_sided() && !b.crossed_or_locked())
//         (void)ctx.buy_limit(b.instrument(), b.bid_px(), qty_);
//     }
//     std::int64_t qty_;
//   };
//   SF_EXPORT_STRATEGY(MyStrat, "my_strat")
//
// Hot-path rules for handlers (checked on generated code by the generator's static checks): no
// heap allocation, no exceptions in the normal path, no locks, threads, syscalls or I/O, bounded
// loops. Parameter parsing in the constructor may allocate (it runs once at start-up).
// Worst case per callback: one indirect call into the adapter plus the handler body.
#pragma once

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sf/abi.h"

#ifndef SF_ENTRY_SYMBOL
#define SF_ENTRY_SYMBOL sf_plugin_entry
#endif
#ifndef SF_BUILD_ID
#define SF_BUILD_ID "dev"
#endif
#ifndef SF_SPEC_HASH
#define SF_SPEC_HASH ""
#endif

namespace sf::sdk {

/// Thrown by Params for a malformed blob, a missing required value or a bad value.
class ParamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Strategy parameters: UTF-8 text, one `name=value` per line. Blank lines and lines starting
/// with '#' are ignored; whitespace around name and value is trimmed; names are
/// [A-Za-z_][A-Za-z0-9_.]*; a repeated name is an error.
class Params {
 public:
  Params() = default;
  [[nodiscard]] static Params parse(std::string_view blob) {
    Params p;
    std::size_t line_no = 0, pos = 0;
    while (pos <= blob.size()) {
      std::size_t end = blob.find('\n', pos);
      if (end == std::string_view::npos) end = blob.size();
      std::string_view line = blob.substr(pos, end - pos);
      ++line_no;
      pos = end + 1;
      line = trim(line);
      if (line.empty() || line.front() == '#') {
        if (end == blob.size()) break;
        continue;
      }
      const auto eq = line.find('=');
      if (eq == std::string_view::npos)
        throw ParamError("params line " + std::to_string(line_no) + ": expected name=value, got '" + std::string(line) + "'");
      const auto name = trim(line.substr(0, eq));
      const auto value = trim(line.substr(eq + 1));
      if (!valid_name(name))
        throw ParamError("params line " + std::to_string(line_no) + ": invalid parameter name '" + std::string(name) + "'");
      for (const auto& e : p.entries_)
        if (e.name == name) throw ParamError("params line " + std::to_string(line_no) + ": parameter '" + std::string(name) + "' given twice");
      p.entries_.push_back({std::string(name), std::string(value), false});
      if (end == blob.size()) break;
    }
    return p;
  }

  [[nodiscard]] bool has(std::string_view name) const noexcept { return find(name) != nullptr; }

  [[nodiscard]] std::int64_t get_int(std::string_view name, std::int64_t dflt) const {
    const auto* e = use(name);
    return e ? to_int(*e) : dflt;
  }
  [[nodiscard]] std::int64_t require_int(std::string_view name) const { return to_int(need(name)); }
  [[nodiscard]] double get_double(std::string_view name, double dflt) const {
    const auto* e = use(name);
    return e ? to_double(*e) : dflt;
  }
  [[nodiscard]] double require_double(std::string_view name) const { return to_double(need(name)); }
  [[nodiscard]] bool get_bool(std::string_view name, bool dflt) const {
    const auto* e = use(name);
    if (!e) return dflt;
    if (e->value == "true" || e->value == "1" || e->value == "yes") return true;
    if (e->value == "false" || e->value == "0" || e->value == "no") return false;
    throw ParamError("parameter '" + e->name + "' must be true/false, was '" + e->value + "'");
  }
  [[nodiscard]] std::string get_string(std::string_view name, std::string_view dflt) const {
    const auto* e = use(name);
    return e ? e->value : std::string(dflt);
  }
  /// Throws naming every parameter that no get_* / require_* call has read.
  void expect_all_used() const {
    std::string unknown;
    for (const auto& e : entries_)
      if (!e.used) unknown += (unknown.empty() ? "" : ", ") + e.name;
    if (!unknown.empty()) throw ParamError("unknown parameter(s): " + unknown);
  }

 private:
  struct Entry {
    std::string name, value;
    mutable bool used;
  };
  static std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
  }
  static bool valid_name(std::string_view n) noexcept {
    if (n.empty() || !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_')) return false;
    for (char c : n)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
    return true;
  }
  const Entry* find(std::string_view name) const noexcept {
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }
  const Entry* use(std::string_view name) const noexcept {
    const auto* e = find(name);
    if (e) e->used = true;
    return e;
  }
  const Entry& need(std::string_view name) const {
    const auto* e = use(name);
    if (!e) throw ParamError("required parameter '" + std::string(name) + "' is missing");
    return *e;
  }
  static std::int64_t to_int(const Entry& e) {
    std::int64_t v = 0;
    const char* b = e.value.data();
    const char* end = b + e.value.size();
    const auto r = std::from_chars(b, end, v);
    if (r.ec != std::errc() || r.ptr != end)
      throw ParamError("parameter '" + e.name + "' must be an integer, was '" + e.value + "'");
    return v;
  }
  static double to_double(const Entry& e) {
    double v = 0;
    const char* b = e.value.data();
    const char* end = b + e.value.size();
    const auto r = std::from_chars(b, end, v);
    if (r.ec != std::errc() || r.ptr != end || !std::isfinite(v))
      throw ParamError("parameter '" + e.name + "' must be a finite number, was '" + e.value + "'");
    return v;
  }
  std::vector<Entry> entries_;
};

/// Instrument metadata handed to the constructor.
struct Instrument {
  std::uint32_t id;
  std::string symbol;
  std::int64_t tick_size_e9;
  std::int64_t lot_size_e9;
  std::int64_t bar_interval_ns;
  [[nodiscard]] double price(std::int64_t ticks) const noexcept { return static_cast<double>(ticks) * static_cast<double>(tick_size_e9) * 1e-9; }
  [[nodiscard]] double size(std::int64_t lots) const noexcept { return static_cast<double>(lots) * static_cast<double>(lot_size_e9) * 1e-9; }
};

struct CreateArgs {
  std::string strategy_id;
  Params params;
  std::vector<Instrument> instruments;
  std::uint64_t seed;
};

enum class Side : std::uint8_t { Buy = SF_SIDE_BUY, Sell = SF_SIDE_SELL };

/// Result of submit: an order id, or the risk gate's reason code (> 0) when denied.
struct OrderResult {
  std::uint64_t id;
  std::int32_t reason;
  [[nodiscard]] explicit operator bool() const noexcept { return reason == SF_ACCEPTED; }
};

/// Typed view of the top of book after a complete batch.
class BookView {
 public:
  explicit BookView(const sf_book& b) noexcept : b_(b) {}
  [[nodiscard]] std::uint32_t instrument() const noexcept { return b_.instrument; }
  [[nodiscard]] std::int64_t ts() const noexcept { return b_.recv_ts; }
  [[nodiscard]] std::int64_t exch_ts() const noexcept { return b_.exch_ts; }
  [[nodiscard]] bool has_bid() const noexcept { return b_.bid_px != SF_NO_BID; }
  [[nodiscard]] bool has_ask() const noexcept { return b_.ask_px != SF_NO_ASK; }
  [[nodiscard]] bool two_sided() const noexcept { return has_bid() && has_ask(); }
  [[nodiscard]] bool crossed_or_locked() const noexcept { return (b_.flags & (SF_BOOK_CROSSED | SF_BOOK_LOCKED)) != 0; }
  [[nodiscard]] std::int64_t bid_px() const noexcept { return b_.bid_px; }
  [[nodiscard]] std::int64_t ask_px() const noexcept { return b_.ask_px; }
  [[nodiscard]] std::int64_t bid_qty() const noexcept { return b_.bid_qty; }
  [[nodiscard]] std::int64_t ask_qty() const noexcept { return b_.ask_qty; }
  [[nodiscard]] std::uint32_t bid_levels() const noexcept { return b_.bid_levels; }
  [[nodiscard]] std::uint32_t ask_levels() const noexcept { return b_.ask_levels; }
  /// bid + ask in ticks (integer twice-mid), SF_NO_PRICE with an empty side.
  [[nodiscard]] std::int64_t mid_x2() const noexcept { return two_sided() ? b_.bid_px + b_.ask_px : SF_NO_PRICE; }
  [[nodiscard]] double mid() const noexcept { return two_sided() ? 0.5 * static_cast<double>(b_.bid_px + b_.ask_px) : std::nan(""); }
  [[nodiscard]] std::int64_t spread() const noexcept { return two_sided() ? b_.ask_px - b_.bid_px : SF_NO_PRICE; }
  [[nodiscard]] double imbalance() const noexcept {
    if (!two_sided()) return std::nan("");
    const auto b = static_cast<double>(b_.bid_qty), a = static_cast<double>(b_.ask_qty);
    return (b - a) / (b + a);
  }
  [[nodiscard]] const sf_book& raw() const noexcept { return b_; }

 private:
  const sf_book& b_;
};

/// The engine, as a strategy sees it during one callback. All orders go through the risk gate.
class Context {
 public:
  explicit Context(const sf_ctx* c) noexcept : c_(c) {}
  [[nodiscard]] std::int64_t now() const noexcept { return c_->now_ns; }

  [[nodiscard]] OrderResult submit(const sf_order_request& r) const noexcept {
    OrderResult res{0, 0};
    res.reason = c_->submit(c_->host, &r, &res.id);
    return res;
  }
  [[nodiscard]] OrderResult limit(std::uint32_t inst, Side s, std::int64_t px, std::int64_t qty, std::uint8_t tif = SF_TIF_GTC,
                                  std::uint64_t tag = 0) const noexcept {
    return submit(sf_order_request{inst, static_cast<std::uint8_t>(s), SF_ORD_LIMIT, tif, 0, px, qty, tag});
  }
  [[nodiscard]] OrderResult buy_limit(std::uint32_t inst, std::int64_t px, std::int64_t qty) const noexcept { return limit(inst, Side::Buy, px, qty); }
  [[nodiscard]] OrderResult sell_limit(std::uint32_t inst, std::int64_t px, std::int64_t qty) const noexcept { return limit(inst, Side::Sell, px, qty); }
  [[nodiscard]] OrderResult buy_ioc(std::uint32_t inst, std::int64_t px, std::int64_t qty) const noexcept { return limit(inst, Side::Buy, px, qty, SF_TIF_IOC); }
  [[nodiscard]] OrderResult sell_ioc(std::uint32_t inst, std::int64_t px, std::int64_t qty) const noexcept { return limit(inst, Side::Sell, px, qty, SF_TIF_IOC); }
  [[nodiscard]] OrderResult market(std::uint32_t inst, Side s, std::int64_t qty, std::uint64_t tag = 0) const noexcept {
    return submit(sf_order_request{inst, static_cast<std::uint8_t>(s), SF_ORD_MARKET, SF_TIF_IOC, 0, 0, qty, tag});
  }
  [[nodiscard]] OrderResult buy_market(std::uint32_t inst, std::int64_t qty) const noexcept { return market(inst, Side::Buy, qty); }
  [[nodiscard]] OrderResult sell_market(std::uint32_t inst, std::int64_t qty) const noexcept { return market(inst, Side::Sell, qty); }
  /// 0 when the cancel was sent, else a reason code (e.g. unknown order id).
  [[nodiscard]] std::int32_t cancel(std::uint64_t id) const noexcept { return c_->cancel(c_->host, id); }
  [[nodiscard]] std::int32_t replace(std::uint64_t id, std::int64_t px, std::int64_t qty) const noexcept {
    return c_->replace(c_->host, id, px, qty);
  }
  [[nodiscard]] std::int64_t position(std::uint32_t inst) const noexcept { return c_->position(c_->host, inst); }
  [[nodiscard]] bool level(std::uint32_t inst, Side s, std::uint32_t depth, std::int64_t& px, std::int64_t& qty) const noexcept {
    return c_->book_level(c_->host, inst, static_cast<std::uint32_t>(s), depth, &px, &qty) != 0;
  }
  [[nodiscard]] bool set_timer(std::int64_t at_ns, std::uint64_t id) const noexcept { return c_->set_timer(c_->host, at_ns, id) == 0; }
  void log(std::int32_t level, const char* msg) const noexcept { c_->log(c_->host, level, msg); }
  [[nodiscard]] const char* reason_name(std::int32_t code) const noexcept { return c_->reason_name(code); }
  [[nodiscard]] const sf_ctx* raw() const noexcept { return c_; }

 private:
  const sf_ctx* c_;
};

/// CRTP base: default handlers do nothing. Derived classes hide the ones they implement.
template <class Derived>
class Strategy {
 public:
  void on_book(Context&, const BookView&) {}
  void on_trade(Context&, const sf_trade&) {}
  void on_bar(Context&, const sf_bar&) {}
  void on_fill(Context&, const sf_fill&) {}
  void on_order_update(Context&, const sf_order_update&) {}
  void on_timer(Context&, std::uint64_t) {}
};

namespace detail {
inline void copy_err(char* err, std::size_t cap, const char* msg) noexcept {
  if (err == nullptr || cap == 0) return;
  std::snprintf(err, cap, "%s", msg);
}
inline std::int32_t report(const sf_ctx* ctx, const char* what) noexcept {
  ctx->fault(ctx->host, what);
  return SF_FAULT;
}
}  // namespace detail

/// Turns strategy class S into the C ABI table. The one wrapper for every call into user code.
template <class S>
struct Adapter {
  static std::int32_t create(const sf_create_args* a, void** out, char* err, std::size_t cap) noexcept {
    try {
      CreateArgs args;
      args.strategy_id = a->strategy_id ? a->strategy_id : "";
      args.params = Params::parse(std::string_view(a->params ? a->params : "", a->params ? a->params_len : 0));
      for (std::uint32_t i = 0; i < a->instrument_count; ++i) {
        const auto& in = a->instruments[i];
        args.instruments.push_back({in.id, std::string(in.symbol, ::strnlen(in.symbol, sizeof in.symbol)), in.tick_size_e9,
                                    in.lot_size_e9, in.bar_interval_ns});
      }
      args.seed = a->seed;
      *out = new S(args);
      return SF_OK;
    } catch (const std::exception& e) {
      detail::copy_err(err, cap, e.what());
    } catch (...) {
      detail::copy_err(err, cap, "unknown exception in strategy constructor");
    }
    return SF_FAULT;
  }
  static void destroy(void* st) noexcept { delete static_cast<S*>(st); }

#define SF_SDK_WRAP(CALL)                                  \
  try {                                                    \
    Context cx(ctx);                                       \
    CALL;                                                  \
    return SF_OK;                                          \
  } catch (const std::exception& e) {                      \
    return detail::report(ctx, e.what());                  \
  } catch (...) {                                          \
    return detail::report(ctx, "unknown C++ exception");   \
  }

  static std::int32_t on_book(void* st, const sf_ctx* ctx, const sf_book* b) noexcept {
    SF_SDK_WRAP(static_cast<S*>(st)->on_book(cx, BookView(*b)))
  }
  static std::int32_t on_trade(void* st, const sf_ctx* ctx, const sf_trade* t) noexcept { SF_SDK_WRAP(static_cast<S*>(st)->on_trade(cx, *t)) }
  static std::int32_t on_bar(void* st, const sf_ctx* ctx, const sf_bar* b) noexcept { SF_SDK_WRAP(static_cast<S*>(st)->on_bar(cx, *b)) }
  static std::int32_t on_fill(void* st, const sf_ctx* ctx, const sf_fill* f) noexcept { SF_SDK_WRAP(static_cast<S*>(st)->on_fill(cx, *f)) }
  static std::int32_t on_order_update(void* st, const sf_ctx* ctx, const sf_order_update* u) noexcept {
    SF_SDK_WRAP(static_cast<S*>(st)->on_order_update(cx, *u))
  }
  static std::int32_t on_timer(void* st, const sf_ctx* ctx, std::uint64_t id) noexcept { SF_SDK_WRAP(static_cast<S*>(st)->on_timer(cx, id)) }
#undef SF_SDK_WRAP

  static constexpr sf_plugin_v1 table(const char* name, const char* build_id, const char* spec_hash) noexcept {
    return sf_plugin_v1{SF_ABI_VERSION, static_cast<std::uint32_t>(sizeof(sf_plugin_v1)), name, build_id, spec_hash,
                        &create, &on_book, &on_trade, &on_bar, &on_fill, &on_order_update, &on_timer, &destroy};
  }
};

}  // namespace sf::sdk

#if defined(__GNUC__)
#define SF_EXPORT_ATTR __attribute__((visibility("default")))
#else
#define SF_EXPORT_ATTR
#endif

/// Exports strategy class `Class` under the strategy name `Name` (a string literal). Build id and
/// spec hash come from the SF_BUILD_ID / SF_SPEC_HASH macros (set by the build).
#define SF_EXPORT_STRATEGY(Class, Name)                                                              \
  extern "C" SF_EXPORT_ATTR const sf_plugin_v1* SF_ENTRY_SYMBOL(void) {                            \
    static const sf_plugin_v1 kTable = ::sf::sdk::Adapter<Class>::table(Name, SF_BUILD_ID, SF_SPEC_HASH); \
    return &kTable;                                                                                  \
  }
