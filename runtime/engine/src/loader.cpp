#include "sf/loader.hpp"

#include <dlfcn.h>

#include <utility>

extern "C" {
const sf_plugin_v1* sf_builtin_noop_entry(void);
const sf_plugin_v1* sf_builtin_market_maker_entry(void);
const sf_plugin_v1* sf_builtin_bar_momentum_entry(void);
}

namespace sf {

LoadedPlugin::~LoadedPlugin() {
  if (handle_ != nullptr) ::dlclose(handle_);
}
LoadedPlugin::LoadedPlugin(LoadedPlugin&& o) noexcept { *this = std::move(o); }
LoadedPlugin& LoadedPlugin::operator=(LoadedPlugin&& o) noexcept {
  if (this != &o) {
    if (handle_ != nullptr) ::dlclose(handle_);
    path_ = std::move(o.path_);
    handle_ = std::exchange(o.handle_, nullptr);
    table_ = std::exchange(o.table_, nullptr);
  }
  return *this;
}

bool validate_plugin_table(const sf_plugin_v1* t, const std::string& what, std::string& error) {
  const std::string p = "Condition failed: plugin '" + what + "' ";
  if (t == nullptr) {
    error = p + "returned a null table from " SF_ENTRY_SYMBOL_NAME "()";
    return false;
  }
  if (t->abi_version != SF_ABI_VERSION) {
    error = p + "has abi_version " + std::to_string(t->abi_version) + ", this engine speaks " + std::to_string(SF_ABI_VERSION) +
            "; rebuild the plugin against this engine's sf/abi.h";
    return false;
  }
  if (t->struct_size < sizeof(sf_plugin_v1)) {
    error = p + "has struct_size " + std::to_string(t->struct_size) + ", expected at least " + std::to_string(sizeof(sf_plugin_v1));
    return false;
  }
  if (t->name == nullptr || t->name[0] == '\0') {
    error = p + "has no strategy name in its manifest";
    return false;
  }
  struct Cb {
    const char* name;
    bool present;
  };
  const Cb cbs[] = {{"create", t->create != nullptr},   {"on_book", t->on_book != nullptr},
                    {"on_trade", t->on_trade != nullptr}, {"on_bar", t->on_bar != nullptr},
                    {"on_fill", t->on_fill != nullptr},   {"on_order_update", t->on_order_update != nullptr},
                    {"on_timer", t->on_timer != nullptr}, {"destroy", t->destroy != nullptr}};
  for (const auto& c : cbs)
    if (!c.present) {
      error = p + "(strategy '" + t->name + "') has a null '" + c.name + "' callback; every callback must be set";
      return false;
    }
  return true;
}

bool load_plugin(const std::string& path, LoadedPlugin& out, std::string& error) {
  out = LoadedPlugin{};
  out.path_ = path;
  if (path.rfind("builtin:", 0) == 0) {
    const std::string name = path.substr(8);
    sf_plugin_entry_fn fn = nullptr;
    if (name == "noop") fn = &sf_builtin_noop_entry;
    else if (name == "market_maker") fn = &sf_builtin_market_maker_entry;
    else if (name == "bar_momentum") fn = &sf_builtin_bar_momentum_entry;
    if (fn == nullptr) {
      error = "Condition failed: unknown builtin plugin '" + path + "' (builtin:noop, builtin:market_maker, builtin:bar_momentum)";
      return false;
    }
    out.table_ = fn();
    return validate_plugin_table(out.table_, path, error);
  }
  ::dlerror();
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    const char* e = ::dlerror();
    error = "Condition failed: cannot load plugin '" + path + "': " + (e ? e : "unknown dlopen error");
    return false;
  }
  out.handle_ = h;
  ::dlerror();
  void* sym = ::dlsym(h, SF_ENTRY_SYMBOL_NAME);
  if (sym == nullptr) {
    error = "Condition failed: plugin '" + path + "' does not export " SF_ENTRY_SYMBOL_NAME
            " (build it with sf/sdk.hpp's SF_EXPORT_STRATEGY, or export extern \"C\" const sf_plugin_v1* " SF_ENTRY_SYMBOL_NAME "(void))";
    out = LoadedPlugin{};
    return false;
  }
  auto fn = reinterpret_cast<sf_plugin_entry_fn>(sym);
  out.table_ = fn();
  if (!validate_plugin_table(out.table_, path, error)) {
    out = LoadedPlugin{};
    return false;
  }
  return true;
}

}  // namespace sf
