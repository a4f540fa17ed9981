"""C++ static checks: forbidden and clean corpora, loop bounds, scope, ABI, hostile includes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from stratforge.core.tools import which

from resource_kit import missing

from stratforge.generator.checks import RULES, check_cpp
from stratforge.core.tools import find_sdk_include
from stratforge.generator.checks.cpp.abi import EXPECTED_SIGNATURES, sdk_handler_signatures

CORPUS = Path(__file__).parent / "corpus" / "cpp"
BAD = sorted((CORPUS / "bad").glob("*.cpp"))
GOOD = sorted((CORPUS / "good").glob("*.cpp"))
SDK = find_sdk_include()


def expected_rules(path: Path) -> set[str]:
    m = re.match(r"//\s*expect:\s*(.+)", path.read_text().splitlines()[0])
    assert m, f"{path.name}: first line must be '// expect: SF-CPP-...'"
    return set(m.group(1).split())


def rules_of(findings) -> set[str]:
    return {f.rule for f in findings}


def test_sdk_is_found():
    assert SDK is not None and (SDK / "sf" / "sdk.hpp").is_file()


def test_corpus_sizes():
    assert len(BAD) >= 30
    assert len(GOOD) >= 8


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_forbidden_snippet_is_caught_with_its_rule(path: Path):
    expected = expected_rules(path)
    findings = check_cpp(path, include_dirs=[SDK])
    found = rules_of(findings)
    assert expected <= found, f"{path.name}: expected {sorted(expected)}, got {[str(f) for f in findings]}"
    # forbidden headers that the violation needs are reported too; nothing else may fire
    assert found <= expected | {"SF-CPP-INCLUDE"}, [str(f) for f in findings]
    for f in findings:
        assert f.rule in RULES and f.file == str(path) and f.line >= 1 and f.column >= 1 and f.message


@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_clean_strategy_has_no_finding(path: Path):
    findings = check_cpp(path, include_dirs=[SDK])
    assert findings == [], [str(f) for f in findings]


@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_clean_strategy_compiles_with_gcc(path: Path):
    gxx = which("g++")
    if gxx is None:
        missing("compiler", "g++")
    r = subprocess.run([str(gxx), "-std=c++20", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I", str(SDK), str(path)],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr


def strategy(body: str, members: str = "", ctor: str = "", includes: str = "") -> str:
    return (f'#include <array>\n#include <cstdint>\n#include <iterator>\n{includes}#include "sf/sdk.hpp"\n\n'
            "template <std::size_t N> struct Fixed { std::array<std::int64_t, N> v{}; };\n\n"
            "struct S : sf::sdk::Strategy<S> {\n"
            f"  explicit S(const sf::sdk::CreateArgs& a) : q_(a.params.get_int(\"q\", 1)) {{{ctor}}}\n"
            "  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& b) {\n"
            "    std::int64_t s = 0;\n"
            f"{body}\n"
            "    (void)ctx.buy_limit(b.instrument(), b.bid_px(), q_ + s);\n"
            "  }\n"
            "  static constexpr std::size_t kN = 4;\n"
            "  std::int64_t q_;\n  std::array<std::int64_t, 4> arr_{};\n  std::int64_t carr_[3] = {};\n"
            f"  std::uint32_t n_ = 3;\n{members}}};\n"
            'SF_EXPORT_STRATEGY(S, "s")\n')


BOUNDED = {
    "constexpr_member": "    for (std::size_t i = 0; i < kN; ++i) s += arr_[i];",
    "literal_le": "    for (int i = 0; i <= 3; i++) s += i;",
    "std_array_size": "    for (std::size_t i = 0; i < arr_.size(); ++i) s += arr_[i];",
    "std_size_c_array": "    for (std::size_t i = 0; i < std::size(carr_); ++i) s += carr_[i];",
    "sizeof_bound": "    for (std::size_t i = 0; i < sizeof(carr_) / sizeof(carr_[0]); ++i) s += carr_[i];",
    "countdown": "    for (int d = 3; d >= 0; --d) s += d;",
    "step_by_two": "    for (int i = 0; i < 8; i += 2) s += i;",
    "local_constexpr": "    constexpr int kLocal = 5;\n    for (int i = 0; i != kLocal; ++i) s += i;",
    "range_for_std_array": "    for (const auto x : arr_) s += x;",
    "range_for_c_array": "    for (const auto x : carr_) s += x;",
}
UNBOUNDED = {
    "runtime_member_bound": "    for (std::uint32_t i = 0; i < n_; ++i) s += i;",
    "no_condition": "    for (int i = 0;; ++i) { if (i > 3) break; s += i; }",
    "break_only_while": "    while (s < 10) ++s;",
    "iv_passed_by_reference": "    for (int i = 0; i < 4; ++i) bump(i);",
    "range_for_initializer_list": "    for (const auto x : {1, 2, 3}) s += x;",
}


@pytest.mark.parametrize("name", sorted(BOUNDED))
def test_statically_bounded_loops_pass(name: str):
    findings = check_cpp(strategy(BOUNDED[name]), include_dirs=[SDK])
    assert findings == [], [str(f) for f in findings]


@pytest.mark.parametrize("name", sorted(UNBOUNDED))
def test_unbounded_loops_are_found(name: str):
    members = "  static void bump(int& i) { i = 0; }\n"
    findings = check_cpp(strategy(UNBOUNDED[name], members=members), include_dirs=[SDK])
    assert rules_of(findings) == {"SF-CPP-LOOP"}, [str(f) for f in findings]


def test_constructor_may_allocate_throw_and_loop_but_not_do_io():
    ctor = (' std::vector<int> v; v.push_back(1); std::size_t k = 0; while (k < v.size()) ++k;'
            ' if (k > 5) throw sf::sdk::ParamError("x"); ')
    assert check_cpp(strategy("", ctor=ctor, includes="#include <vector>\n"), include_dirs=[SDK]) == []
    bad = check_cpp(strategy("", ctor=' std::printf("%d", 1); '), include_dirs=[SDK])
    assert rules_of(bad) == {"SF-CPP-IO"}


def test_helper_reached_from_handler_is_hot_but_unreached_helper_is_not():
    members = ("  void hot(std::int64_t x) { buf_ = new std::int64_t(x); }\n"
               "  void cold(std::int64_t x) { buf_ = new std::int64_t(x); }\n  std::int64_t* buf_ = nullptr;\n")
    findings = check_cpp(strategy("    hot(s);", members=members), include_dirs=[SDK])
    assert [(f.rule, f.line) for f in findings] == [("SF-CPP-HEAP", 20)], [str(f) for f in findings]
    assert "reachable from handler S::on_book" in findings[0].message


def test_findings_are_positioned_sorted_and_deterministic():
    src = strategy("    static int calls = 0; ++calls;\n    while (s < 3) ++s;\n    throw 1;")
    a = check_cpp(src, include_dirs=[SDK], filename="gen/strat.cpp")
    b = check_cpp(src, include_dirs=[SDK], filename="gen/strat.cpp")
    assert a == b == sorted(a)
    assert [(f.rule, f.line) for f in a] == [("SF-CPP-GLOBAL-STATE", 12), ("SF-CPP-LOOP", 13), ("SF-CPP-EXCEPT", 14)]
    assert all(f.file == "gen/strat.cpp" and f.snippet for f in a)
    assert str(a[0]).startswith("gen/strat.cpp:12:")


def test_hostile_include_is_never_read(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP_SECRET_TOKEN_42 = 1;\n")
    src = f'#include "{secret.as_posix()}"\n' + strategy("")
    findings = check_cpp(src, include_dirs=[SDK])
    assert rules_of(findings) == {"SF-CPP-INCLUDE"}
    assert not any("TOP_SECRET" in f.message for f in findings)
    # a quoted include next to the file is not searched either
    (tmp_path / "local.hpp").write_text("#error LOCAL_HEADER_WAS_READ\n")
    findings = check_cpp('#include "local.hpp"\n' + strategy(""), include_dirs=[SDK],
                         filename=str(tmp_path / "strat.cpp"))
    assert rules_of(findings) == {"SF-CPP-INCLUDE"}
    assert not any("LOCAL_HEADER" in f.message for f in findings)


def test_expected_strategy_name():
    findings = check_cpp(strategy(""), include_dirs=[SDK], expected_name="other_name")
    assert rules_of(findings) == {"SF-CPP-ABI-ENTRY"}


def test_misspelled_handler_is_a_warning():
    members = "  void on_quote(sf::sdk::Context&, const sf::sdk::BookView&) {}\n"
    findings = check_cpp(strategy("", members=members), include_dirs=[SDK])
    assert [(f.rule, f.severity) for f in findings] == [("SF-CPP-ABI-SIGNATURE", "warning")]


def test_signature_table_matches_the_sdk_header():
    assert sdk_handler_signatures([SDK]) == EXPECTED_SIGNATURES


def test_parse_error_is_a_finding_not_an_exception():
    findings = check_cpp("struct {{{ this is not C++", include_dirs=[SDK])
    assert "SF-CPP-PARSE" in rules_of(findings)
