// sf/event_file.hpp — read (mmap) and write .sfe event files (docs/formats.md).
//
// Design: EventFile maps the whole file read-only (MAP_PRIVATE, MADV_SEQUENTIAL) and validates
// the header, the instrument table and the size equation once at open; afterwards `events()` is
// a plain pointer to `Event[event_count]`. open() also runs the per-record checks (known type,
// instrument index in range, see validate_record()) once over the whole read-only mapping and
// remembers the index of the first bad record (`first_invalid_record()`), so a consumer's hot loop
// needs no per-record validation: it processes records [0, first_invalid_record()) and reports
// the bad one when it gets there (a bad record is a run-time data error, not an open error, so
// the records before it are still replayed). EventWriter streams
// records through a buffered FILE* into `<path>.tmp` and renames on finish(), so a reader never
// sees a half-written file.
// Worst case: open() is O(instrument_count + event_count) (one sequential pass over the records,
// which also faults the mapping in); iteration is a pointer walk. No allocation per event.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "sf/events.hpp"

namespace sf {

/// Where open() puts the records: the file mapped read-only (default: no copy, pages faulted in
/// from the page cache on demand), or read once into private anonymous memory (huge pages
/// advised) — a run then never faults on, or waits for, a page of the file the kernel evicted
/// from its cache, which a memory-pressured host does even with the mapping pre-touched.
enum class Residency { Mapped, Memory };

class EventFile {
 public:
  EventFile() = default;
  ~EventFile();
  EventFile(const EventFile&) = delete;
  EventFile& operator=(const EventFile&) = delete;
  EventFile(EventFile&& o) noexcept;
  EventFile& operator=(EventFile&& o) noexcept;

  /// Maps (or reads, see Residency) and validates `path`. On failure returns false and sets
  /// `error` to a message that names the first mismatch (e.g. "Condition failed: record_size is
  /// 32, expected 64").
  [[nodiscard]] bool open(const std::string& path, std::string& error, Residency where = Residency::Mapped);
  [[nodiscard]] Residency residency() const noexcept { return residency_; }

  [[nodiscard]] const FileHeader& header() const noexcept { return *header_; }
  [[nodiscard]] const InstrumentEntry* instruments() const noexcept { return instruments_; }
  [[nodiscard]] std::uint32_t instrument_count() const noexcept { return header_->instrument_count; }
  [[nodiscard]] const Event* events() const noexcept { return events_; }
  [[nodiscard]] std::uint64_t event_count() const noexcept { return header_->event_count; }
  /// Index of the first record that fails validate_record(), or event_count() when all pass.
  [[nodiscard]] std::uint64_t first_invalid_record() const noexcept { return first_invalid_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::string source() const;
  /// Index of the instrument named `symbol`, or -1.
  [[nodiscard]] long find_instrument(std::string_view symbol) const noexcept;

 private:
  void close() noexcept;
  std::string path_;
  void* map_ = nullptr;
  std::size_t map_len_ = 0;
  const FileHeader* header_ = nullptr;
  const InstrumentEntry* instruments_ = nullptr;
  const Event* events_ = nullptr;
  std::uint64_t first_invalid_ = 0;
  Residency residency_ = Residency::Mapped;
};

/// Checks one record against the file's instrument table; returns nullptr when valid, else a
/// static description of the problem.
[[nodiscard]] inline const char* validate_record(const Event& e, std::uint32_t instrument_count) noexcept {
  // one predictable branch on the fast path
  const bool ok = (static_cast<unsigned>(e.type) - 1u < 5u) & (e.instrument < instrument_count) & (e.side <= 2) &
                  ((e.type != static_cast<std::uint8_t>(EventType::Depth)) | (e.side != 0));
  if (ok) [[likely]] return nullptr;
  if (e.type < 1 || e.type > 5) return "unknown event type";
  if (e.instrument >= instrument_count) return "instrument index out of range";
  if (e.type == static_cast<std::uint8_t>(EventType::Depth) && e.side != 1 && e.side != 2)
    return "DEPTH record with side not 1 or 2";
  if (e.side > 2) return "side not 0, 1 or 2";
  return nullptr;
}

/// Writes a valid .sfe file. Usage: open(), then append() in recv_ts order, then finish().
class EventWriter {
 public:
  EventWriter() = default;
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  [[nodiscard]] bool open(const std::string& path, const std::vector<InstrumentEntry>& instruments,
                          std::string_view source, std::string& error);
  void append(const Event& e);
  /// Rewrites the header with the final counts and renames the temp file into place.
  [[nodiscard]] bool finish(std::string& error);
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }

 private:
  std::FILE* f_ = nullptr;
  std::string path_, tmp_;
  FileHeader hdr_{};
  std::uint64_t count_ = 0;
  bool sorted_ = true;
  Nanos last_ts_ = std::numeric_limits<Nanos>::min();
};

/// Makes an InstrumentEntry (symbol truncated to 31 chars).
[[nodiscard]] InstrumentEntry make_instrument(std::string_view symbol, std::int64_t tick_size_e9,
                                              std::int64_t lot_size_e9, std::uint32_t id,
                                              std::int64_t bar_interval_ns = 0) noexcept;

}  // namespace sf
