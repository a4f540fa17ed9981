// sf/events.hpp — the on-disk event file format (docs/formats.md, ".sfe" version 1).
//
// Design: every struct here is a byte-exact image of the documented layout. All fields are
// naturally aligned, so no packing pragma is needed; the static_asserts below pin every size and
// offset to the table in docs/formats.md, so a change on either side fails the build. The file is
// little-endian; the engine only builds on little-endian targets (asserted), which lets a reader
// mmap the file and walk `Event[]` with zero parsing.
// Worst case: reading a record is one 64-byte cache line; nothing here allocates.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

namespace sf {

static_assert(std::endian::native == std::endian::little,
              "Invariant: the .sfe format is little-endian and is mmapped without byte swapping");

/// Integer price in ticks of its instrument.
using Ticks = std::int64_t;
/// Integer quantity in lots of its instrument.
using Lots = std::int64_t;
/// Nanoseconds since the Unix epoch (UTC), or a duration in ns.
using Nanos = std::int64_t;

/// Named sentinels: an empty book side is never reported as price 0.
inline constexpr Ticks kNoBid = std::numeric_limits<Ticks>::min();
inline constexpr Ticks kNoAsk = std::numeric_limits<Ticks>::max();
/// A derived price (mid, spread, reference) that does not exist, e.g. because a side is empty.
inline constexpr Ticks kNoPrice = std::numeric_limits<Ticks>::min();

inline constexpr char kFileMagic[8] = {'S', 'F', 'E', 'V', 'E', 'N', 'T', 'S'};
inline constexpr std::uint32_t kFileVersion = 1;
inline constexpr std::uint32_t kRecordSize = 64;
inline constexpr std::uint32_t kMaxInstruments = 65535;

/// FileHeader.flags bit 0: records are sorted by recv_ts.
inline constexpr std::uint32_t kFileSortedByRecvTs = 1u << 0;

enum class EventType : std::uint8_t { Quote = 1, Depth = 2, Trade = 3, Bar = 4, Clear = 5 };

/// Side as stored in records: 1 = bid/buy, 2 = ask/sell, 0 = none/unknown.
enum class Side : std::uint8_t { None = 0, Bid = 1, Ask = 2 };
inline constexpr Side kBuy = Side::Bid;
inline constexpr Side kSell = Side::Ask;

/// Event.flags bits.
inline constexpr std::uint32_t kEvSnapshot = 1u << 0;
inline constexpr std::uint32_t kEvEndOfBatch = 1u << 1;

struct FileHeader {
  char magic[8];
  std::uint32_t version;
  std::uint32_t record_size;
  std::uint32_t instrument_count;
  std::uint32_t flags;
  std::uint64_t event_count;
  std::int64_t first_recv_ts;
  std::int64_t last_recv_ts;
  char source[16];
};

struct InstrumentEntry {
  char symbol[32];
  std::int64_t tick_size_e9;
  std::int64_t lot_size_e9;
  std::int64_t bar_interval_ns;
  std::uint32_t id;
  std::uint32_t reserved;

  [[nodiscard]] std::string_view symbol_view() const noexcept {
    return {symbol, ::strnlen(symbol, sizeof symbol)};
  }
};

/// One 64-byte record. Payload v[] meaning by type (docs/formats.md):
///   QUOTE: bid px, bid qty, ask px, ask qty, 0      DEPTH: level px, new level qty (0 = delete)
///   TRADE: px, qty, trade id (0 unknown)            BAR: open, high, low, close, volume (lots)
///   CLEAR: all zero; side 0 = both sides, 1/2 = that side
struct Event {
  std::int64_t exch_ts;
  std::int64_t recv_ts;
  std::uint8_t type;
  std::uint8_t side;
  std::uint16_t instrument;
  std::uint32_t flags;
  std::int64_t v[5];

  [[nodiscard]] EventType event_type() const noexcept { return static_cast<EventType>(type); }
  [[nodiscard]] Side event_side() const noexcept { return static_cast<Side>(side); }
  [[nodiscard]] bool end_of_batch() const noexcept { return (flags & kEvEndOfBatch) != 0; }
  [[nodiscard]] bool snapshot() const noexcept { return (flags & kEvSnapshot) != 0; }
};

// --- layout pins (docs/formats.md) -------------------------------------------------------------
static_assert(sizeof(FileHeader) == 64);
static_assert(offsetof(FileHeader, magic) == 0);
static_assert(offsetof(FileHeader, version) == 8);
static_assert(offsetof(FileHeader, record_size) == 12);
static_assert(offsetof(FileHeader, instrument_count) == 16);
static_assert(offsetof(FileHeader, flags) == 20);
static_assert(offsetof(FileHeader, event_count) == 24);
static_assert(offsetof(FileHeader, first_recv_ts) == 32);
static_assert(offsetof(FileHeader, last_recv_ts) == 40);
static_assert(offsetof(FileHeader, source) == 48);

static_assert(sizeof(InstrumentEntry) == 64);
static_assert(offsetof(InstrumentEntry, symbol) == 0);
static_assert(offsetof(InstrumentEntry, tick_size_e9) == 32);
static_assert(offsetof(InstrumentEntry, lot_size_e9) == 40);
static_assert(offsetof(InstrumentEntry, bar_interval_ns) == 48);
static_assert(offsetof(InstrumentEntry, id) == 56);
static_assert(offsetof(InstrumentEntry, reserved) == 60);

static_assert(sizeof(Event) == kRecordSize);
static_assert(offsetof(Event, exch_ts) == 0);
static_assert(offsetof(Event, recv_ts) == 8);
static_assert(offsetof(Event, type) == 16);
static_assert(offsetof(Event, side) == 17);
static_assert(offsetof(Event, instrument) == 18);
static_assert(offsetof(Event, flags) == 20);
static_assert(offsetof(Event, v) == 24);

[[nodiscard]] constexpr std::string_view event_type_name(std::uint8_t t) noexcept {
  switch (t) {
    case 1: return "QUOTE";
    case 2: return "DEPTH";
    case 3: return "TRADE";
    case 4: return "BAR";
    case 5: return "CLEAR";
    default: return "UNKNOWN";
  }
}

}  // namespace sf
