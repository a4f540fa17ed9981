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
// Worst case: start-up only.
#pragma once

#include <string>

#include "sf/abi.h"

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

  friend bool load_plugin(const std::string&, LoadedPlugin&, std::string&);

 private:
  std::string path_;
  void* handle_ = nullptr;
  const sf_plugin_v1* table_ = nullptr;
};

/// Loads `path` (or "builtin:<name>"). On refusal returns false with a message naming the plugin.
[[nodiscard]] bool load_plugin(const std::string& path, LoadedPlugin& out, std::string& error);

/// The checks load_plugin applies to a table (exposed for tests).
[[nodiscard]] bool validate_plugin_table(const sf_plugin_v1* t, const std::string& what, std::string& error);

}  // namespace sf
