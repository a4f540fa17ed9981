"""The C++ rule catalogue: every SF-CPP-* rule with its scope, what it forbids, why, and what to
write instead. docs/static-checks.md renders the same table (a test keeps the two in step).

The checks that raise these rules live beside this module: :mod:`.preprocess` (INCLUDE, MACRO),
:mod:`.filewide` (SYSCALL, IO, CLOCK, LOCK, THREAD, GLOBAL-STATE, ASM, UNSAFE-CAST, VOLATILE),
:mod:`.hotpath` and :mod:`.loops` (HEAP, EXCEPT, LOOP, GOTO, RECURSION), :mod:`.abi`
(ABI-ENTRY, ABI-BASE, ABI-SIGNATURE) and :mod:`.check` (PARSE).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..findings import Rule

__all__ = ["CPP_RULES", "HANDLERS", "iter_rules"]

HANDLERS = ("on_book", "on_trade", "on_bar", "on_fill", "on_order_update", "on_timer")

_HOT = "handlers and every main-file function they reach"
_FILE = "the whole main file (constructor included)"

CPP_RULES: dict[str, Rule] = {r.id: r for r in [
    Rule("SF-CPP-PARSE", "error", "the translation unit",
         "The file does not compile (a clang diagnostic of severity error or fatal).",
         "Nothing else can be trusted about code that does not parse; the other checks run on "
         "whatever part of the AST clang recovered.",
         "Fix the compiler error; the message is clang's."),
    Rule("SF-CPP-HEAP", "error", _HOT,
         "Heap allocation: new/delete, malloc/free and friends, make_shared/make_unique, "
         "constructing, copying or growing an allocating container or string (std::vector, "
         "std::string, std::map, std::function, std::ostringstream, ...), or calling something "
         "that returns one by value.",
         "Allocation on the hot path takes a global lock in the allocator, has unbounded latency "
         "and can fail; the runtime promises that nothing allocates after start-up.",
         "Size everything in the constructor: std::array or fixed ring buffers as members, or a "
         "container reserved/resized in the constructor and only indexed in handlers; use "
         "std::string_view and char buffers for text."),
    Rule("SF-CPP-EXCEPT", "error", _HOT,
         "throw, try/catch, or a call that throws on bad input (sf::sdk::Params getters, "
         "std::stoi and friends).",
         "An exception in a handler is a strategy fault: the SDK catches it and the host stops "
         "the strategy. Error handling on the hot path must be explicit.",
         "Validate in the constructor (throwing there is fine: it becomes a create error); in "
         "handlers return early or report with ctx.log(), and use std::from_chars for parsing."),
    Rule("SF-CPP-LOCK", "error", _FILE,
         "Mutexes, lock guards, condition variables, semaphores, latches, barriers, call_once.",
         "The engine calls a strategy from one thread; a lock only adds latency and a way to "
         "deadlock the engine thread.",
         "Keep state in plain members of the strategy object."),
    Rule("SF-CPP-THREAD", "error", _FILE,
         "Threads and asynchronous execution: std::thread/jthread/async/future/promise, "
         "pthread_*, this_thread::yield, atomic wait/notify.",
         "A strategy runs inside the engine's event loop; its own threads would outlive hot swap "
         "and escape the latency accounting.",
         "Use ctx.set_timer() for deferred work; everything happens in callbacks."),
    Rule("SF-CPP-SYSCALL", "error", _FILE,
         "Process and OS control: syscall, fork/exec*/system/popen, kill/raise/signal, mmap, "
         "ioctl, sleep/usleep/nanosleep/this_thread::sleep_*, exit/_exit/abort/quick_exit/"
         "std::terminate/atexit, setjmp/longjmp, getenv/setenv/putenv, dlopen, "
         "std::random_device.",
         "A strategy is a pure function of its events and parameters. Exiting or aborting would "
         "take the whole engine (and every other strategy) down; the environment is not an input.",
         "Report unrecoverable problems by throwing from the constructor or with ctx.log() plus "
         "an early return; seed random engines from CreateArgs::seed."),
    Rule("SF-CPP-IO", "error", _FILE,
         "File, console and network I/O: fopen/fread/fwrite/fprintf/printf/puts, FILE*, "
         "std::cout/cerr/cin, iostreams and file streams, std::filesystem, "
         "open/read/write/close, socket/connect/bind/send/recv, ...",
         "I/O blocks for unbounded time, leaks information out of the sandbox and makes "
         "backtests irreproducible.",
         "Use ctx.log(level, msg) for diagnostics; all inputs arrive as events and parameters."),
    Rule("SF-CPP-CLOCK", "error", _FILE,
         "Reading a wall or CPU clock: time(), gettimeofday, clock_gettime, clock(), "
         "std::chrono::system_clock/steady_clock/high_resolution_clock, rdtsc.",
         "Backtest, shadow and live must make the same decisions on the same events; only the "
         "event clock is the same in all three.",
         "Read time from the event (book.ts(), trade.recv_ts, ...) or from ctx.now()."),
    Rule("SF-CPP-LOOP", "error", _HOT,
         "A loop without a static bound: while, do-while, a for loop whose condition does not "
         "compare its induction variable against a compile-time constant (or whose induction "
         "variable changes in the body), or a range-for over anything but std::array or a C "
         "array.",
         "Callback latency must have a worst case that can be read off the code.",
         "for (std::size_t i = 0; i < kDepth; ++i) with a constexpr bound, or range-for over a "
         "std::array member."),
    Rule("SF-CPP-GOTO", "error", _HOT,
         "goto (including computed goto).",
         "goto can build loops that the loop check cannot see.",
         "Use structured control flow: if, bounded for, early return."),
    Rule("SF-CPP-RECURSION", "error", _HOT,
         "A cycle in the call graph of handler-reachable functions (direct or mutual recursion).",
         "Recursion depth is not statically bounded and can overflow the engine's stack.",
         "Rewrite as a bounded loop."),
    Rule("SF-CPP-ASM", "error", _FILE,
         "Inline assembly (asm/__asm__ statements).",
         "Assembly escapes every other check (syscalls, clocks, memory).",
         "Write portable C++; the compiler vectorises hot arithmetic."),
    Rule("SF-CPP-UNSAFE-CAST", "warning", _FILE,
         "reinterpret_cast, const_cast, or a C-style cast to or from a pointer type.",
         "These defeat the type system (aliasing violations, writing to const host data such as "
         "the book view). A warning, because some uses are legitimate.",
         "static_cast between arithmetic types; std::bit_cast to reinterpret bits."),
    Rule("SF-CPP-VOLATILE", "warning", _FILE,
         "A volatile-qualified variable, field or parameter.",
         "volatile is not a synchronisation primitive and has no use in a single-threaded "
         "strategy; it usually signals code meant for memory-mapped or shared memory.",
         "Plain members; the engine serialises all callbacks."),
    Rule("SF-CPP-GLOBAL-STATE", "error", _FILE,
         "Mutable static storage: a non-const namespace-scope variable, static data member, "
         "static local or thread_local, or rand()/srand() (hidden global state).",
         "Several instances of one strategy run side by side (live and shadow) and hot swap "
         "replaces one with another; state outside the object is shared between them.",
         "Keep state in members of the strategy object; constants as static constexpr."),
    Rule("SF-CPP-ABI-ENTRY", "error", "the main file",
         "The file must end with exactly one SF_EXPORT_STRATEGY(Class, \"name\") and define no "
         "other exported or extern \"C\" function (no hand-written sf_plugin_entry); the name is "
         "a slug [a-z][a-z0-9_]*.",
         "The loader looks up exactly one symbol; a second definition or a hand-made table "
         "bypasses the SDK's exception wrapper and ABI versioning.",
         "End the file with SF_EXPORT_STRATEGY(MyStrategy, \"my_strategy\")."),
    Rule("SF-CPP-ABI-BASE", "error", "the exported class",
         "The exported class must derive from sf::sdk::Strategy<Self> with itself as the CRTP "
         "argument.",
         "With a wrong CRTP argument the default handlers of another class are used and the "
         "strategy silently ignores events.",
         "struct MyStrategy : sf::sdk::Strategy<MyStrategy> { ... };"),
    Rule("SF-CPP-ABI-SIGNATURE", "error", "strategy classes",
         "A handler's signature differs from sf::sdk::Strategy's (parameter types, void return, "
         "non-static, non-template, not overloaded); a method named on_* that is not a handler "
         "is a warning (probably a typo: the adapter never calls it).",
         "The adapter calls handlers by name; a by-value or converting parameter still compiles "
         "and silently copies or truncates (on_timer(Context&, int)).",
         "Copy the exact signatures: on_book(sf::sdk::Context&, const sf::sdk::BookView&), "
         "on_trade(sf::sdk::Context&, const sf_trade&), on_bar(sf::sdk::Context&, const sf_bar&), "
         "on_fill(sf::sdk::Context&, const sf_fill&), on_order_update(sf::sdk::Context&, const "
         "sf_order_update&), on_timer(sf::sdk::Context&, std::uint64_t); all return void."),
    Rule("SF-CPP-INCLUDE", "error", "the main file",
         "An #include outside the allow-list: standard headers without I/O, threads, clocks or "
         "process control, plus \"sf/sdk.hpp\" and \"sf/abi.h\". Absolute paths, '..', "
         "computed includes, #include_next, #import and #embed are always rejected.",
         "Headers such as <thread>, <fstream>, <iostream>, <cstdlib>, <chrono>, <sys/*>, "
         "<unistd.h> exist only to do what a strategy must not; a path include can read "
         "arbitrary files of the build machine into the compiler's error output.",
         "Include only what the allow-list has (docs/static-checks.md lists it)."),
    Rule("SF-CPP-MACRO", "error", "the main file",
         "#define/#undef of a C++ keyword, a reserved identifier or an SDK macro (SF_ENTRY_SYMBOL, "
         "SF_EXPORT_STRATEGY, SF_BUILD_ID, ...), #line, and #pragma other than once.",
         "Redefining keywords (#define private public, #define throw) or SDK macros hides "
         "behaviour from review and from these checks; #line forges finding locations.",
         "Use constexpr constants and inline functions instead of macros."),
]}


def iter_rules() -> Iterable[Rule]:
    return CPP_RULES.values()


