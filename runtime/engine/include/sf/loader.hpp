// sf/loader.hpp — loads strategy plugins (dlopen) and checks them against the ABI.
//
// Design: a plugin is accepted only if it exports `sf_plugin_entry`, the entry returns a
// non-null table whose abi_version equals SF_ABI_VERSION and whose struct_size covers
// sf_plugin_v1, the name is set, and every callback pointer is non-null. Each refusal names the
// library and the first problem ("Condition failed: plugin 'x.so' has abi_version 999, this
// engine speaks 1"). The reference strategies are also compiled into the engine and can be named
// "builtin:noop", "builtin:market_maker", "builtin:bar_momentum" (no file needed).
// Libraries are opened RTLD_NOW | RTLD_LOCAL (all symbols resolved up front, none leaked into
// other plugins) and closed when the LoadedPlugin is destroyed.
// At load the plugin's mapped segments (code, read-only data, data, bss) are recorded and
// faulted in: mlock()ed where RLIMIT_MEMLOCK allows it (never paged out again), else populated
// with madvise(MADV_POPULATE_READ / _WRITE) — so no first callback pays a page fault. warm()
// reads one byte per cache line of those segments: sf-engine calls it before an event that ends
// an idle gap of its paced feed, so the strategy's code and data are in the caches again
// (docs/runtime.md "Cold callbacks").
// Worst case: start-up only (load); warm() is linear in the plugin's mapped size.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sf/abi.h"

// The warm-up reads bytes that the sanitizers may hold poisoned (a global's or a heap block's
// redzone) or that another thread writes (a plugin's globals): reads only, never used, so the
// functions that do them are not instrumented.
#if defined(__GNUC__) || defined(__clang__)
#define SF_WARM_READS __attribute__((no_sanitize_address, no_sanitize_thread, noinline))
#else
#define SF_WARM_READS
#endif

namespace sf {

class LoadedPlugin {
 public:
  LoadedPlugin() = default;
  ~LoadedPlugin();
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;
  LoadedPlugin(LoadedPlugin&& o) noexcept;
  LoadedPlugin& operator=(LoadedPlugin&& o) noexcept;

  [[nodiscard]] const sf_plugin_v1* table() const noexcept { return table_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] bool builtin() const noexcept { return handle_ == nullptr && table_ != nullptr; }

  /// One mapped segment of the library (page-aligned).
  struct Segment {
    const unsigned char* begin;
    std::size_t size;
  };
  /// The library's loaded segments (empty for a builtin: its code is the engine's).
  [[nodiscard]] const std::vector<Segment>& segments() const noexcept { return segments_; }
  /// Bytes of those segments locked in memory (mlock); the rest were populated only.
  [[nodiscard]] std::size_t locked_bytes() const noexcept { return locked_bytes_; }
  /// Reads one byte per cache line of every segment (brings the plugin's code and data back into
  /// the caches and the TLB); returns the lines read. Never writes, never calls the plugin.
  SF_WARM_READS std::size_t warm() const noexcept;

  friend bool load_plugin(const std::string&, LoadedPlugin&, std::string&);

 private:
  std::string path_;
  void* handle_ = nullptr;
  const sf_plugin_v1* table_ = nullptr;
  std::vector<Segment> segments_;
  std::size_t locked_bytes_ = 0;
};

/// Loads `path` (or "builtin:<name>"). On refusal returns false with a message naming the plugin.
[[nodiscard]] bool load_plugin(const std::string& path, LoadedPlugin& out, std::string& error);

/// The checks load_plugin applies to a table (exposed for tests).
[[nodiscard]] bool validate_plugin_table(const sf_plugin_v1* t, const std::string& what, std::string& error);

}  // namespace sf
