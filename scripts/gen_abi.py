#!/usr/bin/env python3
"""Generate core/abi.py from the engine's C/C++ headers: the one way ABI constants reach Python.

    python3 scripts/gen_abi.py          # rewrite core/abi.py
    python3 scripts/gen_abi.py --check  # exit 1 when core/abi.py is stale (tests/core/test_abi.py)

Sources (runtime/engine/include/sf/):

* ``abi.h``: every ``#define SF_<NAME> <value>`` (integers with an optional ``u`` suffix,
  ``INT64_MIN`` / ``INT64_MAX``, string literals);
* ``crash.hpp``: the process exit codes ``inline constexpr int kExit<Name> = <n>;`` (``sf-replay``
  and ``sf-engine``), as ``EXIT_<NAME>``;
* ``risk.hpp``: ``enum class RiskReason`` (the stable denial codes), named as the engine names
  them (``kReasonNames`` in runtime/engine/src/risk.cpp, which must agree with the enum's order).

Anything in those places the parser does not understand is an error, never skipped: a header
change either regenerates cleanly or stops this script.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = Path("runtime/engine/include/sf")
OUTPUT = Path("core/abi.py")

_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(SF_\w+)(?:[ \t]+(.*?))?[ \t]*(?:/\*.*\*/)?[ \t]*$",
                     re.MULTILINE)
_EXIT = re.compile(r"inline\s+constexpr\s+int\s+kExit(\w+)\s*=\s*(-?\d+)\s*;")
_ENUM = re.compile(r"enum\s+class\s+RiskReason\s*:\s*[\w:]+\s*\{(?P<body>.*?)\};", re.DOTALL)
_ENUMERATOR = re.compile(r"^\s*(\w+)\s*=\s*(\d+)\s*,?\s*(?://.*)?$")
_NAMES = re.compile(r"kReasonNames\s*\[[^\]]*\]\s*=\s*\{(?P<body>.*?)\};", re.DOTALL)
INT64 = {"INT64_MIN": -(2**63), "INT64_MAX": 2**63 - 1}


class AbiParseError(ValueError):
    """A header says something this generator cannot translate."""


def _snake(camel: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", camel).upper()


def _value(name: str, raw: str, where: str) -> int | str:
    raw = raw.strip()
    if m := re.fullmatch(r"(-?\d+)[uU]?", raw):
        return int(m.group(1))
    if raw in INT64:
        return INT64[raw]
    if m := re.fullmatch(r'"([A-Za-z0-9_]*)"', raw):
        return m.group(1)
    raise AbiParseError(f"{where}: #define {name} {raw!r}: not an integer, INT64_MIN/MAX or a "
                        "plain string; teach scripts/gen_abi.py this form")


def abi_defines(text: str, where: str = "abi.h") -> dict[str, int | str]:
    out: dict[str, int | str] = {}
    for m in _DEFINE.finditer(text):
        name, raw = m.group(1), m.group(2)
        if raw is None or name == "SF_ABI_H":
            continue  # the include guard
        raw = re.sub(r"/\*.*?\*/", "", raw).strip()
        if name in out:
            raise AbiParseError(f"{where}: {name} defined twice")
        out[name] = _value(name, raw, where)
    if "SF_ABI_VERSION" not in out:
        raise AbiParseError(f"{where}: no SF_ABI_VERSION")
    return out


def exit_codes(text: str, where: str = "crash.hpp") -> dict[str, int]:
    out = {f"EXIT_{_snake(name)}": int(code) for name, code in _EXIT.findall(text)}
    if "EXIT_OK" not in out:
        raise AbiParseError(f"{where}: no kExitOk")
    return out


def risk_reasons(header: str, source: str) -> dict[str, int]:
    m = _ENUM.search(header)
    if m is None:
        raise AbiParseError("risk.hpp: no `enum class RiskReason`")
    codes: list[tuple[str, int]] = []
    for line in m.group("body").splitlines():
        if not line.strip() or line.strip().startswith("//"):
            continue
        e = _ENUMERATOR.match(line)
        if e is None:
            raise AbiParseError(f"risk.hpp: RiskReason enumerator not of the form `Name = n,`: "
                                f"{line.strip()!r}")
        codes.append((e.group(1), int(e.group(2))))
    n = _NAMES.search(source)
    if n is None:
        raise AbiParseError("risk.cpp: no kReasonNames table")
    names = re.findall(r'"([A-Z_]+)"', n.group("body"))
    if [c for _, c in codes] != list(range(len(codes))) or len(names) != len(codes):
        raise AbiParseError(f"RiskReason codes must be 0..n-1 and match kReasonNames "
                            f"({len(codes)} codes, {len(names)} names)")
    for (enum_name, code), name in zip(codes, names):
        if _snake(enum_name) != name:
            raise AbiParseError(f"RiskReason::{enum_name} = {code} is named {name!r} in "
                                f"kReasonNames; expected {_snake(enum_name)!r}")
    return {name: code for name, (_, code) in zip(names, codes)}


def render(root: Path = ROOT) -> str:
    inc = root / INCLUDE
    defines = abi_defines((inc / "abi.h").read_text(encoding="utf-8"))
    exits = exit_codes((inc / "crash.hpp").read_text(encoding="utf-8"))
    reasons = risk_reasons((inc / "risk.hpp").read_text(encoding="utf-8"),
                           (root / "runtime/engine/src/risk.cpp").read_text(encoding="utf-8"))
    lines = [
        '"""The engine\'s ABI constants, sf-replay exit codes and risk reason codes.',
        "",
        "GENERATED by scripts/gen_abi.py from runtime/engine/include/sf/abi.h, crash.hpp and",
        "risk.hpp (names from runtime/engine/src/risk.cpp). Do not edit: change the header and run",
        "``python3 scripts/gen_abi.py``; tests/core/test_abi.py fails while this file is stale.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "# sf/abi.h",
    ]
    for name, value in defines.items():
        lines.append(f"{name} = {value!r}")
    lines += ["", "# sf/crash.hpp: process exit codes of sf-replay / sf-engine"]
    for name, value in sorted(exits.items(), key=lambda kv: kv[1]):
        lines.append(f"{name} = {value}")
    lines += ["", "#: sf/risk.hpp RiskReason: stable denial reason name -> code",
              "RISK_REASONS: dict[str, int] = {"]
    lines += [f"    {name!r}: {code}," for name, code in reasons.items()]
    lines += ["}", "#: code -> name (``ctx->reason_name(code)``)",
              "REASON_NAMES: dict[int, str] = {code: name for name, code in RISK_REASONS.items()}",
              "", "__all__ = ["]
    names = list(defines) + sorted(exits, key=exits.__getitem__) + ["RISK_REASONS", "REASON_NAMES"]
    lines += [f"    {n!r}," for n in names]
    lines += ["]", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    try:
        text = render()
    except AbiParseError as err:
        print(f"gen_abi: {err}", file=sys.stderr)
        return 2
    out = ROOT / OUTPUT
    if "--check" in argv:
        if not out.is_file() or out.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is stale: run python3 scripts/gen_abi.py", file=sys.stderr)
            return 1
        return 0
    out.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
