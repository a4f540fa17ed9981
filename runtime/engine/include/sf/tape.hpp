// sf/tape.hpp — the callback tape: every callback input and every strategy decision, one JSON
// object per line (format in docs/replay.md, "Tape"). Used to check C++/Python parity.
//
// Design: lines are formatted with snprintf into a fixed 256 KiB buffer that is flushed with
// fwrite when nearly full; the file is written as `<path>.partial` and renamed to `<path>` by
// finish(), so a complete tape is never confused with the tape of a crashed run.
// Worst case: one snprintf per line; a flush every ~256 KiB. Only active with --tape.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "sf/abi.h"

namespace sf {

class TapeWriter {
 public:
  TapeWriter() = default;
  ~TapeWriter();
  TapeWriter(const TapeWriter&) = delete;
  TapeWriter& operator=(const TapeWriter&) = delete;

  [[nodiscard]] bool open(const std::string& path, std::string& error);
  /// First line: {"k":"header",...}; `json_fields` is a pre-rendered `"key":value,...` list.
  void header(std::string_view json_fields);
  void book(const char* s, const sf_book& b);
  void trade(const char* s, const sf_trade& t);
  void bar(const char* s, const sf_bar& b);
  void fill(const char* s, const sf_fill& f);
  void order_update(const char* s, const sf_order_update& u);
  void timer(const char* s, std::int64_t ts, std::uint64_t timer_id);
  void submit(const char* s, std::int64_t ts, const sf_order_request& r, std::uint64_t order_id, const char* result, const char* context);
  void cancel(const char* s, std::int64_t ts, std::uint64_t order_id, const char* result, const char* context);
  void replace(const char* s, std::int64_t ts, std::uint64_t order_id, std::int64_t px, std::int64_t qty, const char* result,
               const char* context);
  void kill(const char* s, std::int64_t ts, const char* reason, const char* context);
  [[nodiscard]] bool finish(std::string& error);
  [[nodiscard]] const std::string& partial_path() const noexcept { return tmp_; }
  [[nodiscard]] std::uint64_t lines() const noexcept { return lines_; }

 private:
  void line(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void flush();
  std::FILE* f_ = nullptr;
  std::string path_, tmp_;
  char buf_[256 * 1024];
  std::size_t n_ = 0;
  std::uint64_t lines_ = 0;
};

}  // namespace sf
