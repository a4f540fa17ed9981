// Event file format: layout, round trip, and every header check with its message.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "sf/event_file.hpp"
#include "sf_test.hpp"

namespace {

std::string tmp(const char* name) { return std::string(SF_TEST_TMP) + "/" + name; }

std::string write_small(const char* name) {
  sf::EventWriter w;
  std::string err;
  const std::string p = tmp(name);
  REQUIRE(w.open(p, {sf::make_instrument("AAA", 10'000'000, 1'000'000'000, 0), sf::make_instrument("BBB", 1, 1000, 1)}, "test", err));
  for (int i = 0; i < 5; ++i) {
    sf::Event e{};
    e.recv_ts = 1000 + i;
    e.exch_ts = 900 + i;
    e.type = static_cast<std::uint8_t>(sf::EventType::Depth);
    e.side = 1;
    e.instrument = static_cast<std::uint16_t>(i % 2);
    e.flags = sf::kEvEndOfBatch;
    e.v[0] = 100 + i;
    e.v[1] = 5;
    w.append(e);
  }
  REQUIRE(w.finish(err));
  return p;
}

void patch(const std::string& p, long off, const void* data, std::size_t n) {
  std::FILE* f = std::fopen(p.c_str(), "r+b");
  std::fseek(f, off, SEEK_SET);
  std::fwrite(data, 1, n, f);
  std::fclose(f);
}

}  // namespace

SF_TEST(round_trip) {
  const std::string p = write_small("rt.sfe");
  sf::EventFile f;
  std::string err;
  REQUIRE(f.open(p, err));
  CHECK_EQ(f.event_count(), 5u);
  CHECK_EQ(f.instrument_count(), 2u);
  CHECK_EQ(f.header().first_recv_ts, 1000);
  CHECK_EQ(f.header().last_recv_ts, 1004);
  CHECK_EQ(f.header().flags & sf::kFileSortedByRecvTs, sf::kFileSortedByRecvTs);
  CHECK_EQ(f.source(), std::string("test"));
  CHECK_EQ(f.find_instrument("BBB"), 1);
  CHECK_EQ(f.find_instrument("ZZZ"), -1);
  CHECK_EQ(f.events()[3].v[0], 103);
  CHECK(f.events()[3].end_of_batch());
  CHECK(sf::validate_record(f.events()[0], 2) == nullptr);
}

SF_TEST(memory_residency_reads_the_same_records) {
  // Residency::Memory: a private copy, identical bytes, same checks; the file can go away after.
  const std::string p = write_small("mem.sfe");
  sf::EventFile mapped, copy;
  std::string err;
  REQUIRE(mapped.open(p, err));
  REQUIRE(copy.open(p, err, sf::Residency::Memory));
  CHECK(copy.residency() == sf::Residency::Memory);
  CHECK(mapped.residency() == sf::Residency::Mapped);
  REQUIRE(copy.event_count() == mapped.event_count());
  CHECK(std::memcmp(copy.events(), mapped.events(), sizeof(sf::Event) * copy.event_count()) == 0);
  CHECK(std::memcmp(copy.instruments(), mapped.instruments(), sizeof(sf::InstrumentEntry) * copy.instrument_count()) == 0);
  CHECK_EQ(copy.first_invalid_record(), mapped.first_invalid_record());
  std::remove(p.c_str());
  CHECK_EQ(copy.events()[4].v[0], 104);
  CHECK_EQ(copy.find_instrument("BBB"), 1);
  // header checks apply to the copy as well
  const std::string bad = write_small("mem-bad.sfe");
  patch(bad, 0, "XXEVENTS", 8);
  sf::EventFile f;
  CHECK(!f.open(bad, err, sf::Residency::Memory));
  CHECK_CONTAINS(err, "magic");
  CHECK(!f.open(tmp("does-not-exist.sfe"), err, sf::Residency::Memory));
  CHECK_CONTAINS(err, "cannot open");
}

SF_TEST(bad_magic_is_refused) {
  const std::string p = write_small("magic.sfe");
  patch(p, 0, "XXEVENTS", 8);
  sf::EventFile f;
  std::string err;
  CHECK(!f.open(p, err));
  CHECK_CONTAINS(err, "magic");
}

SF_TEST(bad_version_is_refused) {
  const std::string p = write_small("ver.sfe");
  const std::uint32_t v = 2;
  patch(p, 8, &v, 4);
  sf::EventFile f;
  std::string err;
  CHECK(!f.open(p, err));
  CHECK_CONTAINS(err, "version is 2, expected 1");
}

SF_TEST(bad_record_size_is_refused) {
  const std::string p = write_small("rs.sfe");
  const std::uint32_t v = 32;
  patch(p, 12, &v, 4);
  sf::EventFile f;
  std::string err;
  CHECK(!f.open(p, err));
  CHECK_CONTAINS(err, "record_size is 32, expected 64");
}

SF_TEST(size_mismatch_is_refused) {
  const std::string p = write_small("sz.sfe");
  const std::uint64_t n = 6;
  patch(p, 24, &n, 8);
  sf::EventFile f;
  std::string err;
  CHECK(!f.open(p, err));
  CHECK_CONTAINS(err, "event_count(6)");
  std::ofstream(tmp("short.sfe")) << "SFEV";
  CHECK(!f.open(tmp("short.sfe"), err));
  CHECK_CONTAINS(err, "smaller than the 64-byte header");
  CHECK(!f.open(tmp("does-not-exist.sfe"), err));
  CHECK_CONTAINS(err, "cannot open");
}

SF_TEST(bad_instrument_table_is_refused) {
  const std::string p = write_small("ins.sfe");
  const std::uint32_t id = 7;
  patch(p, 64 + 64 + 56, &id, 4);
  sf::EventFile f;
  std::string err;
  CHECK(!f.open(p, err));
  CHECK_CONTAINS(err, "instrument[1] id is 7");
}

SF_TEST(record_validation) {
  sf::Event e{};
  e.type = 9;
  CHECK(sf::validate_record(e, 1) != nullptr);
  e.type = 2;
  e.side = 0;
  CHECK(sf::validate_record(e, 1) != nullptr);  // DEPTH needs a side
  e.side = 1;
  e.instrument = 1;
  CHECK(sf::validate_record(e, 1) != nullptr);  // out of range
  e.instrument = 0;
  CHECK(sf::validate_record(e, 1) == nullptr);
}

SF_TEST_MAIN()
