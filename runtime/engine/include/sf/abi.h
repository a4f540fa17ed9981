/* sf/abi.h — the strategy plugin ABI, version 1 (plain C; usable from C and C++).
 *
 * Design: a plugin is a shared library exporting exactly one symbol, `sf_plugin_entry`, which
 * returns a pointer to a static `sf_plugin_v1` table: a manifest (ABI version, strategy name,
 * build id, spec hash) plus callbacks. The host owns time, market data and the venue; the
 * strategy sees read-only views and acts only through the `sf_ctx` it is handed in every callback
 * (submit / cancel / replace go through the engine's pre-trade risk gate). Every struct carries
 * fixed-width fields only; structs that can grow start with their own size so the host can check.
 * No C++ exception may cross this boundary: callbacks return an int32 status, and a C++ plugin
 * uses sf/sdk.hpp, which catches everything and reports it through ctx->fault().
 * Worst case: every callback is one indirect call; no allocation on either side of the ABI.
 * Full reference: docs/runtime-abi.md.
 */
#ifndef SF_ABI_H
#define SF_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SF_ABI_VERSION 1u
/* The one symbol a plugin exports. */
#define SF_ENTRY_SYMBOL_NAME "sf_plugin_entry"

/* Named sentinels: an empty book side is never price 0. */
#define SF_NO_BID INT64_MIN
#define SF_NO_ASK INT64_MAX
#define SF_NO_PRICE INT64_MIN

/* Callback status. Anything but SF_OK is a strategy fault: the host stops the strategy. */
#define SF_OK 0
#define SF_FAULT 1

/* Sides (same values as the event file). */
#define SF_SIDE_NONE 0u
#define SF_SIDE_BUY 1u
#define SF_SIDE_SELL 2u

/* Order types and time in force. */
#define SF_ORD_LIMIT 1u
#define SF_ORD_MARKET 2u
#define SF_TIF_GTC 1u
#define SF_TIF_IOC 2u

/* sf_book.flags */
#define SF_BOOK_LOCKED 1u   /* best bid == best ask */
#define SF_BOOK_CROSSED 2u  /* best bid > best ask */
#define SF_BOOK_SNAPSHOT 4u /* the batch that produced this view was a snapshot */

/* sf_order_update.status */
#define SF_ORDER_ACCEPTED 1u        /* resting at the venue */
#define SF_ORDER_CANCELED 2u        /* done: canceled (by the strategy or the kill switch) */
#define SF_ORDER_REPLACED 3u        /* price/qty changed at the venue */
#define SF_ORDER_REJECTED 4u        /* done: the venue refused it */
#define SF_ORDER_FILLED 5u          /* done: completely filled (sent after the last sf_fill) */
#define SF_ORDER_EXPIRED 6u         /* done: IOC/market remainder not filled */
#define SF_ORDER_CANCEL_REJECTED 7u /* cancel/replace arrived too late (order already done) */

/* sf_fill.liquidity */
#define SF_LIQ_MAKER 1u
#define SF_LIQ_TAKER 2u

/* Log levels for ctx->log */
#define SF_LOG_DEBUG 0
#define SF_LOG_INFO 1
#define SF_LOG_WARN 2
#define SF_LOG_ERROR 3

/* Risk reason codes returned by submit/cancel/replace: 0 = accepted. The names (SCREAMING_SNAKE,
 * stable) are in docs/runtime-abi.md and available at run time via ctx->reason_name(code). */
#define SF_ACCEPTED 0

typedef struct sf_instrument {
  uint32_t id; /* index in the event file's instrument table; used in every event and order */
  uint32_t reserved;
  int64_t tick_size_e9; /* price of one tick, in 1e-9 quote currency */
  int64_t lot_size_e9;  /* size of one lot, in 1e-9 base units */
  int64_t bar_interval_ns;
  char symbol[32]; /* NUL-terminated */
} sf_instrument;

/* Top of book after a complete batch. Prices in ticks, quantities in lots. */
typedef struct sf_book {
  int64_t exch_ts;
  int64_t recv_ts;
  uint32_t instrument;
  uint32_t flags; /* SF_BOOK_* */
  int64_t bid_px; /* SF_NO_BID when the bid side is empty */
  int64_t bid_qty;
  int64_t ask_px; /* SF_NO_ASK when the ask side is empty */
  int64_t ask_qty;
  uint32_t bid_levels;
  uint32_t ask_levels;
} sf_book;

typedef struct sf_trade {
  int64_t exch_ts;
  int64_t recv_ts;
  uint32_t instrument;
  uint32_t side; /* aggressor: SF_SIDE_BUY / SF_SIDE_SELL / SF_SIDE_NONE (unknown) */
  int64_t px;
  int64_t qty;
  int64_t trade_id; /* 0 when unknown */
} sf_trade;

typedef struct sf_bar {
  int64_t end_ts;  /* bar end (exchange time) */
  int64_t recv_ts; /* when the bar became known */
  uint32_t instrument;
  uint32_t reserved;
  int64_t open, high, low, close; /* ticks */
  int64_t volume;                 /* lots */
} sf_bar;

typedef struct sf_fill {
  int64_t ts; /* when the strategy learns of the fill (host clock) */
  uint64_t order_id;
  uint32_t instrument;
  uint32_t side;      /* SF_SIDE_BUY / SF_SIDE_SELL (the order's side) */
  uint32_t liquidity; /* SF_LIQ_MAKER / SF_LIQ_TAKER */
  uint32_t reserved;
  int64_t px;
  int64_t qty;
  int64_t leaves_qty; /* remaining open qty of the order after this fill */
  int64_t position;   /* the strategy's position in lots after this fill */
  double fee;         /* quote currency; negative = rebate */
} sf_fill;

typedef struct sf_order_update {
  int64_t ts;
  uint64_t order_id;
  uint32_t instrument;
  uint32_t side;
  uint32_t status; /* SF_ORDER_* */
  uint32_t reserved;
  int64_t px;
  int64_t qty;
  int64_t leaves_qty;
} sf_order_update;

typedef struct sf_order_request {
  uint32_t instrument;
  uint8_t side; /* SF_SIDE_BUY / SF_SIDE_SELL */
  uint8_t type; /* SF_ORD_LIMIT / SF_ORD_MARKET */
  uint8_t tif;  /* SF_TIF_GTC / SF_TIF_IOC (market orders are always IOC) */
  uint8_t reserved;
  int64_t px;  /* ticks; ignored for market orders */
  int64_t qty; /* lots, > 0 */
  uint64_t user_tag; /* echoed in the tape; free for the strategy */
} sf_order_request;

/* The engine context, valid only during the callback it is passed to. */
typedef struct sf_ctx {
  uint32_t abi_version;
  uint32_t struct_size;
  void* host;
  int64_t now_ns; /* the event clock (ns); strategies never read a wall clock */
  /* Returns SF_ACCEPTED and sets *out_order_id, or a risk reason code (> 0). */
  int32_t (*submit)(void* host, const sf_order_request* req, uint64_t* out_order_id);
  int32_t (*cancel)(void* host, uint64_t order_id);
  int32_t (*replace)(void* host, uint64_t order_id, int64_t new_px, int64_t new_qty);
  /* L2 level `depth` (0 = best) of `side`; returns 1 and fills px/qty, 0 past the last level. */
  int32_t (*book_level)(void* host, uint32_t instrument, uint32_t side, uint32_t depth, int64_t* px, int64_t* qty);
  /* Confirmed position in lots (fills the strategy has been told about). */
  int64_t (*position)(void* host, uint32_t instrument);
  /* Asks for on_timer(timer_id) once the event clock passes at_ns. Returns 0, or -1 when the
   * strategy already has the maximum number of pending timers (16). */
  int32_t (*set_timer)(void* host, int64_t at_ns, uint64_t timer_id);
  void (*log)(void* host, int32_t level, const char* msg);
  /* Records a fault message; the callback must then return SF_FAULT. */
  void (*fault)(void* host, const char* msg);
  /* Stable SCREAMING_SNAKE name of a risk reason code ("ACCEPTED" for 0). */
  const char* (*reason_name)(int32_t code);
} sf_ctx;

typedef struct sf_create_args {
  uint32_t abi_version;
  uint32_t struct_size;
  const char* strategy_id; /* the host's name for this instance */
  const char* params;      /* UTF-8 "name=value" lines (see docs/runtime-abi.md) */
  size_t params_len;
  const sf_instrument* instruments; /* the instruments this instance trades */
  uint32_t instrument_count;
  uint32_t reserved;
  uint64_t seed;
} sf_create_args;

typedef struct sf_plugin_v1 {
  uint32_t abi_version; /* must equal SF_ABI_VERSION */
  uint32_t struct_size; /* sizeof(sf_plugin_v1) */
  const char* name;     /* strategy name */
  const char* build_id;
  const char* spec_hash;
  /* On failure writes a NUL-terminated message into err (err_cap bytes) and returns SF_FAULT. */
  int32_t (*create)(const sf_create_args* args, void** out_state, char* err, size_t err_cap);
  int32_t (*on_book)(void* state, const sf_ctx* ctx, const sf_book* book);
  int32_t (*on_trade)(void* state, const sf_ctx* ctx, const sf_trade* trade);
  int32_t (*on_bar)(void* state, const sf_ctx* ctx, const sf_bar* bar);
  int32_t (*on_fill)(void* state, const sf_ctx* ctx, const sf_fill* fill);
  int32_t (*on_order_update)(void* state, const sf_ctx* ctx, const sf_order_update* update);
  int32_t (*on_timer)(void* state, const sf_ctx* ctx, uint64_t timer_id);
  void (*destroy)(void* state);
} sf_plugin_v1;

typedef const sf_plugin_v1* (*sf_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SF_ABI_H */
