// Plugin loading and ABI refusal.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sf/loader.hpp"
#include "sf_test.hpp"

SF_TEST(good_plugins_load) {
  sf::LoadedPlugin p;
  std::string err;
  REQUIRE(sf::load_plugin(SF_PLUGIN_MM, p, err));
  CHECK_EQ(std::string(p.table()->name), "market_maker");
  CHECK_EQ(p.table()->abi_version, SF_ABI_VERSION);
  CHECK(!p.builtin());
  sf::LoadedPlugin c;
  REQUIRE(sf::load_plugin(SF_PLUGIN_GOOD_C, c, err));
  CHECK_EQ(std::string(c.table()->name), "good_c");
  sf::LoadedPlugin b;
  REQUIRE(sf::load_plugin("builtin:noop", b, err));
  CHECK(b.builtin());
  CHECK(!sf::load_plugin("builtin:nope", b, err));
  CHECK_CONTAINS(err, "unknown builtin plugin");
}

SF_TEST(a_plugins_segments_are_recorded_resident_and_warmed) {
  sf::LoadedPlugin p;
  std::string err;
  REQUIRE(sf::load_plugin(SF_PLUGIN_MM, p, err));
  REQUIRE(!p.segments().empty());
  // the table the entry returned lives in the library: one of its segments holds it
  const auto* table = reinterpret_cast<const unsigned char*>(p.table());
  bool holds = false;
  std::size_t bytes = 0;
  const long page = ::sysconf(_SC_PAGESIZE);
  for (const auto& s : p.segments()) {
    holds = holds || (table >= s.begin && table < s.begin + s.size);
    bytes += s.size;
    CHECK_EQ(reinterpret_cast<std::uintptr_t>(s.begin) % static_cast<std::uintptr_t>(page), std::uintptr_t{0});
    // faulted in at load: every page is resident before any callback runs
    std::vector<unsigned char> vec((s.size + static_cast<std::size_t>(page) - 1) / static_cast<std::size_t>(page));
    REQUIRE(::mincore(const_cast<unsigned char*>(s.begin), s.size, vec.data()) == 0);
    for (unsigned char v : vec) CHECK((v & 1) != 0);
  }
  CHECK(holds);
  CHECK(p.locked_bytes() <= bytes);
  CHECK_EQ(p.warm(), (bytes + 63) / 64);  // one read per cache line (segments are page-aligned)
  sf::LoadedPlugin b;
  REQUIRE(sf::load_plugin("builtin:noop", b, err));
  CHECK(b.segments().empty());
  CHECK_EQ(b.warm(), std::size_t{0});
}

SF_TEST(wrong_abi_version_is_refused) {
  sf::LoadedPlugin p;
  std::string err;
  CHECK(!sf::load_plugin(SF_PLUGIN_BAD_ABI, p, err));
  CHECK_CONTAINS(err, "abi_version 999");
  CHECK_CONTAINS(err, "this engine speaks 1");
  CHECK(p.table() == nullptr);
}

SF_TEST(library_without_entry_point_is_refused) {
  sf::LoadedPlugin p;
  std::string err;
  CHECK(!sf::load_plugin(SF_PLUGIN_NO_ENTRY, p, err));
  CHECK_CONTAINS(err, "does not export sf_plugin_entry");
}

SF_TEST(null_callback_is_refused) {
  sf::LoadedPlugin p;
  std::string err;
  CHECK(!sf::load_plugin(SF_PLUGIN_NULL_CB, p, err));
  CHECK_CONTAINS(err, "null 'on_trade' callback");
}

SF_TEST(missing_file_is_refused) {
  sf::LoadedPlugin p;
  std::string err;
  CHECK(!sf::load_plugin("/nonexistent/plugin.so", p, err));
  CHECK_CONTAINS(err, "cannot load plugin");
}

SF_TEST(validate_table_checks) {
  std::string err;
  CHECK(!sf::validate_plugin_table(nullptr, "x", err));
  CHECK_CONTAINS(err, "null table");
  sf_plugin_v1 t{};
  t.abi_version = SF_ABI_VERSION;
  t.struct_size = 8;
  CHECK(!sf::validate_plugin_table(&t, "x", err));
  CHECK_CONTAINS(err, "struct_size");
}

SF_TEST_MAIN()
