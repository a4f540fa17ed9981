// sf_test.hpp — a minimal self-contained test harness (no third-party dependency).
//
// SF_TEST(name) { ... } registers a test; CHECK(...) / CHECK_EQ(a, b) record a failure and go on;
// REQUIRE(...) stops the current test. main() runs every test (or those whose name contains
// argv[1]) and ends with the line "N passed, M failed" that CI log readers recognise.
#pragma once

#include <cstdio>
#include <cstring>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

namespace sf_test {

struct Case {
  const char* name;
  void (*fn)();
};
inline std::vector<Case>& registry() {
  static std::vector<Case> r;
  return r;
}
struct Reg {
  Reg(const char* n, void (*f)()) { registry().push_back({n, f}); }
};
inline int& failures() {
  static int f = 0;
  return f;
}
struct Abort {};

template <class A, class B>
void check_eq(const A& a, const B& b, const char* ea, const char* eb, const char* file, int line) {
  if (a == b) return;
  std::ostringstream o;
  o << a << " != " << b;
  std::fprintf(stderr, "%s:%d: CHECK_EQ(%s, %s) failed: %s\n", file, line, ea, eb, o.str().c_str());
  ++failures();
}

inline int run_all(int argc, char** argv) {
  int passed = 0, failed = 0;
  for (const auto& c : registry()) {
    if (argc > 1 && std::strstr(c.name, argv[1]) == nullptr) continue;
    const int before = failures();
    try {
      c.fn();
    } catch (const Abort&) {
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: unexpected exception: %s\n", c.name, e.what());
      ++failures();
    }
    if (failures() == before) {
      ++passed;
      std::printf("[ PASS ] %s\n", c.name);
    } else {
      ++failed;
      std::printf("[ FAIL ] %s\n", c.name);
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}

}  // namespace sf_test

#define SF_TEST(name)                                      \
  static void name();                                      \
  static const ::sf_test::Reg sf_reg_##name(#name, &name); \
  static void name()

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      ++::sf_test::failures();                                                      \
    }                                                                               \
  } while (0)

#define REQUIRE(cond)                                                                 \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, #cond); \
      ++::sf_test::failures();                                                        \
      throw ::sf_test::Abort{};                                                       \
    }                                                                                 \
  } while (0)

#define CHECK_EQ(a, b) ::sf_test::check_eq((a), (b), #a, #b, __FILE__, __LINE__)
#define CHECK_CONTAINS(str, sub)                                                                                          \
  do {                                                                                                                    \
    const std::string sf_s_ = (str);                                                                                      \
    if (sf_s_.find(sub) == std::string::npos) {                                                                           \
      std::fprintf(stderr, "%s:%d: CHECK_CONTAINS failed: \"%s\" not in \"%s\"\n", __FILE__, __LINE__, sub, sf_s_.c_str()); \
      ++::sf_test::failures();                                                                                            \
    }                                                                                                                     \
  } while (0)

#define SF_TEST_MAIN() \
  int main(int argc, char** argv) { return ::sf_test::run_all(argc, argv); }
