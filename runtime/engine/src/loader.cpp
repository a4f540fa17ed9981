#include "sf/loader.hpp"

#include <dlfcn.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
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
    segments_ = std::move(o.segments_);
    o.segments_.clear();
    locked_bytes_ = std::exchange(o.locked_bytes_, 0);
  }
  return *this;
}

SF_WARM_READS std::size_t LoadedPlugin::warm() const noexcept {
  constexpr std::size_t kLine = 64;
  unsigned acc = 0;
  std::size_t lines = 0;
  for (const Segment& s : segments_) {
    const volatile unsigned char* p = s.begin;
    for (std::size_t off = 0; off < s.size; off += kLine) acc += p[off];
    lines += (s.size + kLine - 1) / kLine;
  }
  asm volatile("" : : "r"(acc));  // the reads are the point: keep them
  return lines;
}

namespace {

struct FindSegments {
  std::uintptr_t base;
  std::vector<LoadedPlugin::Segment>* out;
  std::vector<int>* prot;
};

int collect_segments(dl_phdr_info* info, std::size_t, void* data) {
  auto* f = static_cast<FindSegments*>(data);
  if (info->dlpi_addr != f->base) return 0;
  const std::uintptr_t page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    const std::uintptr_t lo = (info->dlpi_addr + ph.p_vaddr) & ~(page - 1);
    const std::uintptr_t hi = (info->dlpi_addr + ph.p_vaddr + ph.p_memsz + page - 1) & ~(page - 1);
    f->out->push_back({reinterpret_cast<const unsigned char*>(lo), static_cast<std::size_t>(hi - lo)});
    f->prot->push_back((ph.p_flags & PF_W) != 0 ? 1 : 0);
  }
  return 1;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

// Finds the library's loaded segments and faults them in (locked where the limit allows).
void prefault(void* handle, std::vector<LoadedPlugin::Segment>& segs, std::size_t& locked) {
  link_map* lm = nullptr;
  if (::dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || lm == nullptr) return;
  std::vector<int> writable;
  FindSegments f{static_cast<std::uintptr_t>(lm->l_addr), &segs, &writable};
  ::dl_iterate_phdr(&collect_segments, &f);
  for (std::size_t i = 0; i < segs.size(); ++i) {
    void* p = const_cast<unsigned char*>(segs[i].begin);
    if (::mlock(p, segs[i].size) == 0) {
      locked += segs[i].size;
      continue;
    }
    // over RLIMIT_MEMLOCK (or not allowed): populate the page tables at least (Linux >= 5.14;
    // older kernels refuse the advice and the pages fault in on first use, as before)
    (void)::madvise(p, segs[i].size, writable[i] != 0 ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
  }
}

}  // namespace

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
  prefault(h, out.segments_, out.locked_bytes_);
  return true;
}

}  // namespace sf
