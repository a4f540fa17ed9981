"""Static checks for generated C++ strategy code, on the libclang AST (``clang.cindex``).

Design: the translation unit is parsed once with ``-std=c++20`` and the SDK include directory.
Only code written in the *main file* is judged (the SDK and the standard library are trusted).
Three passes over it:

* file-wide rules (SYSCALL, IO, CLOCK, THREAD, LOCK, GLOBAL-STATE, ASM, UNSAFE-CAST, VOLATILE):
  a strategy never does these anywhere, not even in its constructor;
* hot-path rules (HEAP, EXCEPT, LOOP, GOTO, RECURSION): only in the handlers ``on_book`` ...
  ``on_timer`` and every main-file function they reach through the call graph (the constructor
  runs once at start-up and may allocate and throw while it parses parameters);
* the plugin ABI (ABI-ENTRY, ABI-BASE, ABI-SIGNATURE) and the preprocessor (INCLUDE, MACRO),
  the latter read from the source text so that a hostile ``#include`` is reported even when it
  stops the parse.

Parse errors become SF-CPP-PARSE findings; this module never raises for bad input code. The
libclang ``Index`` is created once per process. Worst case: one parse of the file and its headers
(a few hundred ms for sdk.hpp) plus linear walks of the main file's AST.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
import re
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clang import cindex

from stratforge.core.tools import find_sdk_include, which

from .findings import Finding, Rule, sort_findings

__all__ = ["CPP_RULES", "EXPECTED_SIGNATURES", "HANDLERS", "check_cpp", "neutralise_includes",
           "sdk_handler_signatures", "toolchain_args"]

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

# --------------------------------------------------------------------------------------------
# Name tables. Qualified names are normalised: inline/implementation namespaces that start
# with '_' (std::__cxx11, std::chrono::_V2, std::__1) are dropped and template arguments are
# not part of the name. C functions match bare or with std:: in front.

_ALLOCATING_CLASSES = frozenset({
    "std::vector", "std::basic_string", "std::map", "std::multimap", "std::unordered_map",
    "std::unordered_multimap", "std::set", "std::multiset", "std::unordered_set",
    "std::unordered_multiset", "std::list", "std::forward_list", "std::deque", "std::queue",
    "std::stack", "std::priority_queue", "std::function", "std::move_only_function",
    "std::basic_ostringstream", "std::basic_istringstream", "std::basic_stringstream",
    "std::basic_stringbuf", "std::shared_ptr", "std::any", "std::basic_regex", "std::valarray",
    "sf::sdk::Params", "sf::sdk::CreateArgs", "sf::sdk::Instrument",
})
_GROWING_METHODS = frozenset({
    "push_back", "emplace_back", "push_front", "emplace_front", "push", "emplace", "insert",
    "insert_or_assign", "emplace_hint", "try_emplace", "resize", "reserve", "append", "assign",
    "operator+=", "operator=", "shrink_to_fit", "replace", "merge", "insert_range",
    "append_range", "assign_range", "resize_and_overwrite",
})
# operator[] inserts into associative containers
_INSERTING_SUBSCRIPT = frozenset({"std::map", "std::unordered_map"})
_HEAP_FUNCTIONS = frozenset({
    "malloc", "calloc", "realloc", "reallocarray", "free", "aligned_alloc", "posix_memalign",
    "memalign", "valloc", "pvalloc", "strdup", "strndup", "alloca", "__builtin_alloca",
    "std::make_shared", "std::make_unique", "std::make_unique_for_overwrite",
    "std::make_shared_for_overwrite", "std::allocate_shared", "std::allocate_shared_for_overwrite",
    "std::to_string", "std::to_wstring", "operator new", "operator new[]", "operator delete",
    "operator delete[]", "std::getline",
})
_THROWING_FUNCTIONS = frozenset({
    "std::stoi", "std::stol", "std::stoll", "std::stoul", "std::stoull", "std::stof", "std::stod",
    "std::stold", "std::rethrow_exception", "std::throw_with_nested", "std::rethrow_if_nested",
})

# file-wide rules: exact names, and prefixes
_FILE_FUNCTIONS: dict[str, str] = {}
_FILE_PREFIXES: list[tuple[str, str]] = []


def _names(rule: str, names: str) -> None:
    for n in names.split():
        if n.endswith("*"):
            _FILE_PREFIXES.append((n[:-1], rule))
        else:
            _FILE_FUNCTIONS[n] = rule


_names("SF-CPP-SYSCALL", """
    syscall fork vfork clone execl execle execlp execv execve execvp execvpe fexecve system popen
    pclose posix_spawn posix_spawnp kill raise signal sigaction sigprocmask pause alarm setitimer
    mmap munmap mprotect mremap madvise mlock munlock ioctl fcntl prctl ptrace sleep usleep
    nanosleep clock_nanosleep std::this_thread::sleep_for std::this_thread::sleep_until exit _exit
    _Exit abort quick_exit atexit at_quick_exit std::terminate setjmp longjmp _setjmp _longjmp
    sigsetjmp siglongjmp getenv secure_getenv setenv unsetenv putenv clearenv getpid getppid
    gettid getuid geteuid setuid setgid chdir chroot dlopen dlsym dlclose
    """)
_names("SF-CPP-IO", """
    fopen fopen64 fdopen freopen fclose fread fwrite fgets fgetc getc fputc putc fputs fprintf
    vfprintf printf vprintf dprintf puts putchar getchar scanf fscanf vscanf vfscanf perror
    fflush fseek fseeko ftell ftello rewind tmpfile tmpnam remove rename open open64 openat creat
    read write pread pwrite readv writev close lseek dup dup2 dup3 pipe pipe2 socket socketpair
    connect bind listen accept accept4 send sendto sendmsg recv recvfrom recvmsg select pselect
    poll ppoll epoll_create epoll_create1 epoll_ctl epoll_wait getaddrinfo gethostbyname shutdown
    unlink mkdir rmdir stat fstat lstat opendir readdir closedir truncate ftruncate sync fsync
    std::filesystem::*
    """)
_names("SF-CPP-CLOCK", """
    time gettimeofday clock_gettime clock clock_getres ftime timespec_get localtime localtime_r
    gmtime gmtime_r mktime ctime asctime strftime __rdtsc __rdtscp _rdtsc __builtin_ia32_rdtsc
    __builtin_ia32_rdtscp __builtin_readcyclecounter __builtin_readsteadycounter
    std::chrono::system_clock::* std::chrono::steady_clock::*
    std::chrono::high_resolution_clock::* std::chrono::utc_clock::* std::chrono::tai_clock::*
    std::chrono::gps_clock::* std::chrono::file_clock::*
    """)
_names("SF-CPP-LOCK", """
    pthread_mutex_* pthread_spin_* pthread_rwlock_* pthread_cond_* pthread_barrier_* sem_*
    std::call_once flock lockf
    """)
_names("SF-CPP-THREAD", """
    pthread_* thrd_* std::async std::this_thread::yield std::this_thread::get_id
    std::atomic_wait std::atomic_wait_explicit std::atomic_notify_one std::atomic_notify_all
    std::atomic_flag_wait std::atomic_flag_wait_explicit std::atomic_flag_notify_one
    std::atomic_flag_notify_all
    """)
_names("SF-CPP-GLOBAL-STATE", "rand srand random srandom drand48 srand48 lrand48 mrand48")

# types whose mere use is a file-wide finding
_FILE_TYPES: dict[str, str] = {}
_FILE_TYPE_PREFIXES: list[tuple[str, str]] = []


def _types(rule: str, names: str) -> None:
    for n in names.split():
        if n.endswith("*"):
            _FILE_TYPE_PREFIXES.append((n[:-1], rule))
        else:
            _FILE_TYPES[n] = rule


_types("SF-CPP-LOCK", """
    std::mutex std::timed_mutex std::recursive_mutex std::recursive_timed_mutex std::shared_mutex
    std::shared_timed_mutex std::lock_guard std::unique_lock std::scoped_lock std::shared_lock
    std::condition_variable std::condition_variable_any std::counting_semaphore std::latch
    std::barrier std::once_flag pthread_mutex_t pthread_spinlock_t pthread_rwlock_t
    pthread_cond_t sem_t
    """)
_types("SF-CPP-THREAD", """
    std::thread std::jthread std::future std::shared_future std::promise std::packaged_task
    std::stop_source std::stop_token std::stop_callback pthread_t pthread_attr_t thrd_t
    """)
_types("SF-CPP-IO", """
    FILE _IO_FILE std::basic_ios std::basic_istream std::basic_ostream std::basic_iostream
    std::basic_ifstream std::basic_ofstream std::basic_fstream std::basic_filebuf
    std::basic_streambuf std::filesystem::*
    """)
_types("SF-CPP-CLOCK", """
    std::chrono::system_clock std::chrono::steady_clock std::chrono::high_resolution_clock
    std::chrono::utc_clock std::chrono::tai_clock std::chrono::gps_clock std::chrono::file_clock
    """)
_types("SF-CPP-SYSCALL", "std::random_device jmp_buf sigjmp_buf")

# console stream objects
_IO_VARIABLES = frozenset({"std::cout", "std::cerr", "std::clog", "std::cin", "std::wcout",
                           "std::wcerr", "std::wclog", "std::wcin", "stdin", "stdout", "stderr",
                           "environ", "__environ"})
_ATOMIC_CLASSES = frozenset({"std::atomic", "std::atomic_ref", "std::atomic_flag",
                             "std::__atomic_base", "std::__atomic_float", "std::__atomic_ref"})
_ATOMIC_WAIT = frozenset({"wait", "notify_one", "notify_all"})

# --------------------------------------------------------------------------------------------
# Preprocessor allow-lists

ALLOWED_STD_HEADERS = frozenset("""
    algorithm array bit bitset cassert cctype cerrno cfloat charconv cinttypes climits cmath compare
    concepts cstddef cstdint cstring functional initializer_list iterator limits map memory numbers
    numeric optional random ratio set span stdexcept string string_view tuple type_traits
    unordered_map unordered_set utility variant vector deque
    stddef.h stdint.h inttypes.h limits.h float.h math.h string.h ctype.h
    """.split())
ALLOWED_SF_HEADERS = frozenset({"sf/sdk.hpp", "sf/abi.h"})
_PROTECTED_MACROS = frozenset({
    "SF_ENTRY_SYMBOL", "SF_ENTRY_SYMBOL_NAME", "SF_EXPORT_STRATEGY", "SF_EXPORT_ATTR", "SF_BUILD_ID",
    "SF_SPEC_HASH", "SF_ABI_VERSION", "SF_ABI_H", "SF_SDK_WRAP", "SF_OK", "SF_FAULT", "NDEBUG",
})
_CPP_KEYWORDS = frozenset("""
    alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
    char32_t class compl concept const consteval constexpr constinit const_cast continue co_await
    co_return co_yield decltype default delete do double dynamic_cast else enum explicit export
    extern false float for friend goto if inline int long mutable namespace new noexcept not
    not_eq nullptr operator or or_eq private protected public register reinterpret_cast requires
    return short signed sizeof static static_assert static_cast struct switch template this
    thread_local throw true try typedef typeid typename union unsigned using virtual void volatile
    wchar_t while xor xor_eq final override import module
    """.split())


# --------------------------------------------------------------------------------------------
# Toolchain discovery


@functools.lru_cache(maxsize=1)
def toolchain_args() -> tuple[str, ...]:
    """Extra clang arguments for the compiler built-in headers (stddef.h, ...).

    The libclang wheel ships no resource directory, so ask an installed compiler where its
    built-in headers are (``-print-file-name=include``); the first that answers wins.
    """
    def version_key(p: str) -> list[int]:
        return [int(x) for x in re.findall(r"\d+", p)]

    # a clang resource directory is the best match for libclang; a compiler's answer comes next
    for pattern in ("/usr/lib/llvm-*/lib/clang/*/include", "/usr/lib/clang/*/include",
                    "/usr/local/lib/clang/*/include"):
        for cand in sorted(glob.glob(pattern), key=version_key, reverse=True):
            if os.path.isfile(os.path.join(cand, "stddef.h")):
                return ("-isystem", cand)
    for cc in ("clang++", "clang", "g++", "gcc", "c++", "cc"):
        exe = which(cc)
        if not exe:
            continue
        try:
            out = subprocess.run([exe, "-print-file-name=include"], capture_output=True, text=True,
                                 timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if out and os.path.isabs(out) and os.path.isfile(os.path.join(out, "stddef.h")):
            return ("-isystem", out)
    return ()


_INDEX_LOCK = threading.Lock()
#: errors located in headers are consequences of the main file; report only the first few
_MAX_HEADER_DIAGNOSTICS = 5


def _cindex() -> Any:
    """The libclang bindings (a dependency; the native library loads on first use)."""
    return cindex


_FROM_MAIN: Any = None


@functools.lru_cache(maxsize=1)
def _index() -> Any:
    global _FROM_MAIN  # noqa: PLW0603 - process-wide binding, set once under the lru_cache
    ci = _cindex()
    try:  # clang_Location_isFromMainFile is in libclang but not bound by clang.cindex
        fn = ci.conf.lib.clang_Location_isFromMainFile
        fn.argtypes = [ci.SourceLocation]
        fn.restype = ctypes.c_int
        _FROM_MAIN = fn
    except (AttributeError, OSError):  # pragma: no cover - very old libclang
        _FROM_MAIN = None
    return ci.Index.create()


# --------------------------------------------------------------------------------------------
# The checker


def check_cpp(source: str | os.PathLike[str], *, include_dirs: Sequence[str | os.PathLike[str]] | None = None,
              filename: str | None = None, expected_name: str | None = None,
              extra_args: Sequence[str] = ()) -> list[Finding]:
    """Check one generated C++ strategy file; returns findings sorted by position.

    ``source`` is a path (``os.PathLike``) or the source text (``str``). ``filename`` names text
    in findings (default ``strategy.cpp``; for a path, the path as given). ``include_dirs``
    defaults to :func:`find_sdk_include`. ``expected_name`` also checks the exported strategy
    name. Never raises for bad code; raises ``UserInputError`` when libclang is not installed.
    """
    if isinstance(source, os.PathLike):
        path = Path(source)
        text = path.read_text(encoding="utf-8", errors="replace")
        shown = filename or str(source)
    else:
        text = source
        shown = filename or "strategy.cpp"
    if include_dirs is None:
        sdk = find_sdk_include()
        include_dirs = [sdk] if sdk else []
    ci = _cindex()
    args = ["-x", "c++", "-std=c++20", *toolchain_args(), *[f"-I{os.fspath(d)}" for d in include_dirs],
            *extra_args]
    # always parse from memory under a fixed virtual name, so the TU's main file is unambiguous
    virtual = os.path.join(os.path.abspath(os.path.dirname(shown) or "."), "__sf_check_main__.cpp")
    with _INDEX_LOCK:
        try:
            tu = _index().parse(virtual, args=args, unsaved_files=[(virtual, neutralise_includes(text))],
                                options=ci.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD)
        except ci.TranslationUnitLoadError as exc:
            return [Finding(shown, 1, 1, "SF-CPP-PARSE", "error", f"libclang could not parse the file: {exc}", "")]
        checker = _Checker(ci, tu, virtual, shown, text, expected_name)
        checker.run()
    return sort_findings(checker.findings)


def sdk_handler_signatures(include_dirs: Sequence[str | os.PathLike[str]] | None = None) -> dict[str, tuple[str, ...]]:
    """Handler name -> canonical parameter types, as sf::sdk::Strategy in the SDK declares them."""
    if include_dirs is None:
        sdk = find_sdk_include()
        include_dirs = [sdk] if sdk else []
    ci = _cindex()
    virtual = os.path.abspath("__sf_sdk_probe__.cpp")
    args = ["-x", "c++", "-std=c++20", *toolchain_args(), *[f"-I{os.fspath(d)}" for d in include_dirs]]
    with _INDEX_LOCK:
        tu = _index().parse(virtual, args=args, unsaved_files=[(virtual, '#include "sf/sdk.hpp"\n')])
        checker = _Checker(ci, tu, virtual, virtual, "", None)
        return checker.expected_signatures(fallback=False)


@dataclass
class _Func:
    cursor: Any
    name: str
    calls: list[tuple[str, int, int]] = field(default_factory=list)  # (callee key, line, col)


class _Checker:
    def __init__(self, ci: Any, tu: Any, main: str, shown: str, text: str, expected_name: str | None):
        self.ci = ci
        self.K = ci.CursorKind
        self.T = ci.TypeKind
        self.tu = tu
        self.main = main
        self.shown = shown
        self.lines = text.splitlines()
        self.text = text
        self.expected_name = expected_name
        self.findings: list[Finding] = []
        self._seen: set[tuple[str, int]] = set()
        self._qn_cache: dict[Any, str] = {}

    # ---- helpers ---------------------------------------------------------------------------
    def add(self, rule: str, line: int, col: int, message: str, *, severity: str | None = None,
            once_per_line: bool = True) -> None:
        if once_per_line:
            key = (rule, line)
            if key in self._seen:
                return
            self._seen.add(key)
        sev = severity or CPP_RULES[rule].severity
        snippet = self.lines[line - 1].strip()[:200] if 0 < line <= len(self.lines) else ""
        self.findings.append(Finding(self.shown, max(line, 1), max(col, 1), rule, sev, message, snippet))  # type: ignore[arg-type]

    def at(self, c: Any, rule: str, message: str, **kw: Any) -> None:
        loc = c.location
        self.add(rule, loc.line, loc.column, message, **kw)

    def in_main(self, c: Any) -> bool:
        loc = c.location
        # fast paths (one C call each): written in the main file; in a system header. Code
        # expanded from an SDK macro used in the main file (SF_EXPORT_STRATEGY) needs the slow,
        # expansion-location comparison.
        if _FROM_MAIN is not None and _FROM_MAIN(loc):
            return True
        if loc.is_in_system_header:
            return False
        f = loc.file
        return f is not None and f.name == self.main

    def qname(self, c: Any) -> str:
        """Normalised qualified name of a declaration ('' for None)."""
        if c is None:
            return ""
        try:
            key = c.hash
        except Exception:  # noqa: BLE001 - defensive: odd cursors
            key = None
        if key is not None and key in self._qn_cache:
            return self._qn_cache[key]
        parts: list[str] = []
        K = self.K
        cur = c
        depth = 0
        while cur is not None and cur.kind != K.TRANSLATION_UNIT and depth < 64:
            depth += 1
            sp = cur.spelling or ""
            if cur.kind == K.NAMESPACE and (sp.startswith("_") or not sp):
                pass
            elif cur.kind in (K.LINKAGE_SPEC, K.UNEXPOSED_DECL):
                pass
            else:
                parts.append(sp.split("<", 1)[0])
            cur = cur.semantic_parent
        name = "::".join(reversed(parts))
        if key is not None:
            self._qn_cache[key] = name
        return name

    def _name_candidates(self, qn: str) -> list[str]:
        out = [qn]
        if qn.startswith("std::") and qn.count("::") == 1:
            out.append(qn[5:])
        return out

    def file_rule_for_function(self, qn: str) -> str | None:
        for n in self._name_candidates(qn):
            if n in _FILE_FUNCTIONS:
                return _FILE_FUNCTIONS[n]
        for prefix, rule in _FILE_PREFIXES:
            if qn.startswith(prefix):
                return rule
        return None

    def file_rule_for_type(self, qn: str) -> str | None:
        for n in self._name_candidates(qn):
            if n in _FILE_TYPES:
                return _FILE_TYPES[n]
        for prefix, rule in _FILE_TYPE_PREFIXES:
            if qn.startswith(prefix):
                return rule
        return None

    def strip(self, c: Any) -> Any:
        K = self.K
        while c is not None and c.kind in (K.UNEXPOSED_EXPR, K.PAREN_EXPR):
            ch = list(c.get_children())
            if len(ch) != 1:
                break
            c = ch[0]
        return c

    def binop(self, c: Any) -> str | None:
        ch = list(c.get_children())
        if len(ch) != 2:
            return None
        end = ch[0].extent.end.offset
        for t in c.get_tokens():
            if t.extent.start.offset >= end:
                return t.spelling
        return None

    def unop(self, c: Any) -> tuple[str, bool] | None:
        toks = [t.spelling for t in c.get_tokens()]
        if not toks:
            return None
        if toks[0] in ("++", "--", "&", "*", "-", "+", "!", "~"):
            return toks[0], True
        if toks[-1] in ("++", "--"):
            return toks[-1], False
        return None

    def is_function(self, c: Any) -> bool:
        K = self.K
        return c is not None and c.kind in (K.FUNCTION_DECL, K.CXX_METHOD, K.CONSTRUCTOR, K.DESTRUCTOR,
                                            K.FUNCTION_TEMPLATE, K.CONVERSION_FUNCTION)

    def func_key(self, c: Any) -> str | None:
        """Key of a main-file function definition for the call graph, or None."""
        if not self.is_function(c):
            return None
        d = c.get_definition() or c
        if not self.in_main(d) or not d.is_definition():
            return None
        return f"{d.location.line}:{d.location.column}:{d.spelling}"

    def record_class(self, t: Any) -> str:
        """Qualified name of the class a type names (through refs, pointers excluded)."""
        T = self.T
        t = t.get_canonical()
        while t.kind in (T.LVALUEREFERENCE, T.RVALUEREFERENCE):
            t = t.get_pointee().get_canonical()
        if t.kind != T.RECORD:
            return ""
        return self.qname(t.get_declaration())

    def is_fixed_array(self, t: Any) -> bool:
        T = self.T
        t = t.get_canonical()
        while t.kind in (T.LVALUEREFERENCE, T.RVALUEREFERENCE):
            t = t.get_pointee().get_canonical()
        if t.kind == T.CONSTANTARRAY:
            return True
        return t.kind == T.RECORD and self.qname(t.get_declaration()) == "std::array"

    def main_walk(self) -> Iterator[Any]:
        """Every cursor written in the main file (macro expansions located there included)."""
        stack = [c for c in self.tu.cursor.get_children()]
        stack.reverse()
        while stack:
            c = stack.pop()
            if not self.in_main(c):
                continue
            yield c
            ch = list(c.get_children())
            ch.reverse()
            stack.extend(ch)

    # ---- driver ----------------------------------------------------------------------------
    def run(self) -> None:
        self.check_diagnostics()
        self.check_preprocessor()
        cursors = list(self.main_walk())
        funcs = self.collect_functions(cursors)
        self.check_file_rules(cursors)
        hot = self.hot_set(funcs)
        for key in sorted(hot, key=lambda k: (int(k.split(":")[0]), int(k.split(":")[1]))):
            self.check_hot(funcs[key], hot[key])
        self.check_recursion(funcs, hot)
        self.check_abi(cursors)

    def check_diagnostics(self) -> None:
        outside = 0
        for d in self.tu.diagnostics:
            if d.severity < 3:  # Diagnostic.Error == 3, Fatal == 4
                continue
            if d.location.file is None or d.location.file.name != self.main:
                outside += 1
                if outside > _MAX_HEADER_DIAGNOSTICS:
                    continue
            loc = d.location
            msg = f"does not compile: {d.spelling}"
            if loc.file is not None and loc.file.name == self.main:
                self.add("SF-CPP-PARSE", loc.line, loc.column, msg, once_per_line=False)
            else:
                where = os.path.basename(loc.file.name) if loc.file is not None else "<command line>"
                self.add("SF-CPP-PARSE", 1, 1, f"does not compile ({where}:{loc.line}): {d.spelling}",
                         once_per_line=False)

    # ---- preprocessor ------------------------------------------------------------------------
    def check_preprocessor(self) -> None:
        for start, _end, col, directive, rest, line in _directives(self.text):
            if directive is None:
                if "_Pragma" in line:
                    self.add("SF-CPP-MACRO", start + 1, line.index("_Pragma") + 1,
                             "_Pragma is not allowed in strategy code: remove it")
                continue
            if directive in ("include", "include_next", "import", "embed", "__include_macros"):
                self.check_include(start + 1, col, directive, rest)
            elif directive in ("define", "undef"):
                nm = re.match(r"([A-Za-z_]\w*)", rest)
                if not nm:
                    continue
                name = nm.group(1)
                if name in _CPP_KEYWORDS:
                    self.add("SF-CPP-MACRO", start + 1, col,
                             f"#{directive} {name} redefines a C++ keyword: remove the macro")
                elif name in _PROTECTED_MACROS:
                    self.add("SF-CPP-MACRO", start + 1, col,
                             f"#{directive} {name} changes an SDK/ABI macro: the build sets it; remove the line")
                elif name.startswith("__") or re.match(r"_[A-Z]", name):
                    self.add("SF-CPP-MACRO", start + 1, col,
                             f"#{directive} {name} touches a reserved identifier (library/compiler internals): "
                             "remove it")
            elif directive == "line":
                self.add("SF-CPP-MACRO", start + 1, col, "#line forges source locations: remove it")
            elif directive == "pragma" and rest.split()[:1] != ["once"]:
                self.add("SF-CPP-MACRO", start + 1, col,
                         f"#pragma {rest.split()[0] if rest else ''} is not allowed in strategy code "
                         "(only #pragma once): remove it")

    def check_include(self, line: int, col: int, directive: str, rest: str) -> None:
        if directive != "include":
            self.add("SF-CPP-INCLUDE", line, col, f"#{directive} is not allowed: use #include of an allowed header")
            return
        m = re.match(r'<([^>]*)>|"([^"]*)"', rest)
        if not m:
            self.add("SF-CPP-INCLUDE", line, col,
                     "computed #include (a macro) is not allowed: write the header name literally")
            return
        name = m.group(1) if m.group(1) is not None else m.group(2)
        parts = re.split(r"[\\/]", name)
        if name.startswith(("/", "\\", "~")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
            self.add("SF-CPP-INCLUDE", line, col,
                     f"#include of a file-system path '{name}' is not allowed: strategies include only "
                     "the allowed standard headers and \"sf/sdk.hpp\"")
            return
        if name in ALLOWED_SF_HEADERS:
            return
        if m.group(1) is not None and name in ALLOWED_STD_HEADERS:
            return
        if name.startswith("sf/"):
            hint = "engine headers are host-only; strategies use \"sf/sdk.hpp\" (and \"sf/abi.h\")"
        else:
            hint = "not on the allow-list (see docs/static-checks.md): threads, I/O, clocks, process " \
                   "control and OS headers have no place in a strategy"
        self.add("SF-CPP-INCLUDE", line, col, f"#include {m.group(0)} is not allowed: {hint}")

    # ---- functions and call graph -------------------------------------------------------------
    def collect_functions(self, cursors: list[Any]) -> dict[str, _Func]:
        funcs: dict[str, _Func] = {}
        for c in cursors:
            if self.is_function(c) and c.is_definition():
                key = self.func_key(c)
                if key and key not in funcs:
                    parent = c.semantic_parent
                    owner = parent.spelling + "::" if parent is not None and parent.kind in (
                        self.K.STRUCT_DECL, self.K.CLASS_DECL, self.K.CLASS_TEMPLATE) else ""
                    funcs[key] = _Func(c, owner + c.spelling)
        K = self.K
        for f in funcs.values():
            seen: set[str] = set()
            for c in f.cursor.walk_preorder():
                if c.kind in (K.CALL_EXPR, K.DECL_REF_EXPR, K.MEMBER_REF_EXPR, K.OVERLOADED_DECL_REF):
                    refs = [c.referenced] if c.kind != K.OVERLOADED_DECL_REF else []
                    if c.kind == K.OVERLOADED_DECL_REF:
                        # unresolved call in a template: any main-file overload may be the callee
                        refs = [d for d in self._overloads(c)]
                    for r in refs:
                        k = self.func_key(r)
                        if k and k not in seen:
                            seen.add(k)
                            f.calls.append((k, c.location.line, c.location.column))
        return funcs

    def _overloads(self, c: Any) -> list[Any]:
        try:
            lib = self.ci.conf.lib
            n = lib.clang_getNumOverloadedDecls(c)
            return [lib.clang_getOverloadedDecl(c, i) for i in range(n)]
        except Exception:  # noqa: BLE001 - older bindings: no overload resolution, no edges
            return []

    def hot_set(self, funcs: dict[str, _Func]) -> dict[str, str]:
        """key -> human reason ('handler' or 'reachable from X via Y')."""
        roots = sorted((k for k, f in funcs.items()
                        if f.cursor.kind == self.K.CXX_METHOD and f.cursor.spelling in HANDLERS),
                       key=_key_order)
        hot: dict[str, str] = {}
        queue: list[str] = []
        for r in roots:
            hot[r] = f"handler {funcs[r].name}"
            queue.append(r)
        while queue:
            k = queue.pop(0)
            for callee, _, _ in funcs[k].calls:
                if callee in funcs and callee not in hot:
                    root_reason = hot[k]
                    hot[callee] = (f"{funcs[callee].name}, reachable from {root_reason}"
                                   if root_reason.startswith("handler") else root_reason)
                    queue.append(callee)
        return hot

    def check_recursion(self, funcs: dict[str, _Func], hot: dict[str, str]) -> None:
        graph = {k: [c for c, _, _ in funcs[k].calls if c in hot] for k in sorted(hot, key=_key_order)}
        for comp in _sccs(graph):
            members = set(comp)
            cyclic = len(comp) > 1 or comp[0] in graph[comp[0]]
            if not cyclic:
                continue
            edges = sorted((ln, col, k, callee) for k in comp for callee, ln, col in funcs[k].calls
                           if callee in members)
            ln, col, k, callee = edges[0]
            names = " -> ".join(funcs[m].name for m in sorted(comp, key=_key_order))
            self.add("SF-CPP-RECURSION", ln, col,
                     f"recursive call cycle ({names}) in {hot[k]}: recursion depth is unbounded; "
                     "rewrite as a loop with a constant bound")

    # ---- file-wide rules ---------------------------------------------------------------------
    def check_file_rules(self, cursors: list[Any]) -> None:
        K, T = self.K, self.T
        for c in cursors:
            kind = c.kind
            if kind in (K.DECL_REF_EXPR, K.MEMBER_REF_EXPR, K.CALL_EXPR, K.OVERLOADED_DECL_REF):
                ref = c.referenced
                if kind == K.OVERLOADED_DECL_REF:
                    qn = c.spelling
                    rule = self.file_rule_for_function(qn)
                    if rule:
                        self.at(c, rule, _file_message(rule, qn))
                    continue
                if ref is None:
                    continue
                if self.is_function(ref):
                    qn = self.qname(ref)
                    rule = self.file_rule_for_function(qn)
                    if rule:
                        self.at(c, rule, _file_message(rule, qn))
                    elif ref.spelling in _ATOMIC_WAIT and ref.semantic_parent is not None and \
                            self.qname(ref.semantic_parent) in _ATOMIC_CLASSES:
                        self.at(c, "SF-CPP-THREAD", f"{self.qname(ref.semantic_parent)}::{ref.spelling} blocks or "
                                "signals another thread: a strategy is single-threaded; remove it")
                elif ref.kind == K.VAR_DECL and kind == K.DECL_REF_EXPR:
                    qn = self.qname(ref)
                    if qn in _IO_VARIABLES:
                        rule = "SF-CPP-SYSCALL" if "environ" in qn else "SF-CPP-IO"
                        self.at(c, rule, _file_message(rule, qn))
            elif kind in (K.TYPE_REF, K.TEMPLATE_REF):
                ref = c.referenced
                if ref is None:
                    continue
                decl = ref
                if ref.kind == K.TYPEDEF_DECL and not self.in_main(ref):
                    # a library typedef (std::ofstream): judge what it names, and the typedef name
                    rule = self.file_rule_for_type(self.qname(ref))
                    if rule:
                        self.at(c, rule, _type_message(rule, self.qname(ref)))
                        continue
                    under = ref.underlying_typedef_type.get_canonical()
                    if under.kind == T.RECORD:
                        decl = under.get_declaration()
                qn = self.qname(decl)
                rule = self.file_rule_for_type(qn)
                if rule:
                    self.at(c, rule, _type_message(rule, qn))
            elif kind in (K.ASM_STMT, K.MS_ASM_STMT):
                self.at(c, "SF-CPP-ASM", "inline assembly is not allowed in strategy code: write portable C++")
            elif kind == K.CXX_REINTERPRET_CAST_EXPR:
                self.at(c, "SF-CPP-UNSAFE-CAST", "reinterpret_cast defeats the type system: use static_cast "
                        "for numbers or std::bit_cast to reinterpret bits")
            elif kind == K.CXX_CONST_CAST_EXPR:
                self.at(c, "SF-CPP-UNSAFE-CAST", "const_cast can write to read-only host data: drop the cast "
                        "and copy the value into a member")
            elif kind == K.CSTYLE_CAST_EXPR:
                to = c.type.get_canonical()
                if to.kind == T.VOID:
                    continue
                ch = [x for x in c.get_children() if x.kind.is_expression()]
                src = ch[-1].type.get_canonical() if ch else None
                if to.kind in (T.POINTER, T.MEMBERPOINTER) or (src is not None and src.kind == T.POINTER):
                    self.at(c, "SF-CPP-UNSAFE-CAST", "C-style cast involving a pointer: use static_cast (or "
                            "std::bit_cast); pointer casts break aliasing and constness")
            elif kind in (K.VAR_DECL, K.FIELD_DECL, K.PARM_DECL):
                if _is_volatile(c.type, T):
                    self.at(c, "SF-CPP-VOLATILE", f"'{c.spelling}' is volatile: a strategy is single-threaded and "
                            "never touches device memory; drop the qualifier")
                if kind == K.VAR_DECL:
                    self.check_static_storage(c)

    def check_static_storage(self, c: Any) -> None:
        K = self.K
        parent = c.semantic_parent
        pk = parent.kind if parent is not None else K.TRANSLATION_UNIT
        tls = False
        try:
            tls = c.tls_kind.name != "NONE"
        except Exception:  # noqa: BLE001 - bindings without tls_kind
            tls = False
        try:
            static_local = c.storage_class.name == "STATIC"
        except Exception:  # noqa: BLE001
            static_local = False
        is_global = pk in (K.TRANSLATION_UNIT, K.NAMESPACE, K.LINKAGE_SPEC, K.UNEXPOSED_DECL)
        is_member = pk in (K.STRUCT_DECL, K.CLASS_DECL, K.CLASS_TEMPLATE, K.UNION_DECL)
        if not (is_global or is_member or static_local or tls):
            return
        if _is_const(c.type, self.T) and not tls:
            return
        what = ("thread_local variable" if tls else "namespace-scope variable" if is_global else
                "static data member" if is_member else "static local variable")
        self.at(c, "SF-CPP-GLOBAL-STATE",
                f"mutable {what} '{c.spelling}': state outside the strategy object is shared between "
                "instances (live and shadow) and survives hot swap; make it a member, or constexpr if "
                "it is a constant")

    # ---- hot path ----------------------------------------------------------------------------
    def check_hot(self, f: _Func, where: str) -> None:
        self._walk_hot(f.cursor, where, call_stack=[])

    def _walk_hot(self, c: Any, where: str, call_stack: list[Any]) -> None:
        K = self.K
        kind = c.kind
        pushed = False
        if kind == K.CXX_NEW_EXPR:
            self.at(c, "SF-CPP-HEAP", f"'new' in {where}: allocate in the constructor (a std::array member "
                    "or a buffer sized once) and only reuse it in handlers")
        elif kind == K.CXX_DELETE_EXPR:
            self.at(c, "SF-CPP-HEAP", f"'delete' in {where}: free nothing on the hot path; owned buffers live "
                    "as long as the strategy")
        elif kind == K.CXX_THROW_EXPR:
            self.at(c, "SF-CPP-EXCEPT", f"'throw' in {where}: an exception in a handler faults the strategy; "
                    "check the condition and return early (ctx.log() to report), or validate in the constructor")
        elif kind == K.CXX_TRY_STMT:
            self.at(c, "SF-CPP-EXCEPT", f"try/catch in {where}: handlers must not rely on exceptions; use "
                    "return values (std::from_chars, OrderResult) and validate in the constructor")
        elif kind in (K.WHILE_STMT, K.DO_STMT):
            loop = "while" if kind == K.WHILE_STMT else "do-while"
            self.at(c, "SF-CPP-LOOP", f"{loop} loop in {where} has no static bound: use "
                    "for (std::size_t i = 0; i < kMax; ++i) with a constexpr kMax")
        elif kind == K.FOR_STMT:
            problem = self.for_problem(c)
            if problem:
                self.at(c, "SF-CPP-LOOP", f"for loop in {where} {problem}: bound it by a compile-time "
                        "constant (constexpr, template parameter, sizeof, std::size of a std::array)")
        elif kind == K.CXX_FOR_RANGE_STMT:
            ch = list(c.get_children())
            rng = ch[-2] if len(ch) >= 3 else None
            if rng is None or not self.is_fixed_array(rng.type):
                tname = rng.type.spelling if rng is not None else "?"
                self.at(c, "SF-CPP-LOOP", f"range-for over '{tname}' in {where}: only std::array and C arrays "
                        "have a static length; iterate a std::array member or use an index loop with a "
                        "constant bound")
        elif kind in (K.GOTO_STMT, K.INDIRECT_GOTO_STMT):
            self.at(c, "SF-CPP-GOTO", f"goto in {where}: use structured control flow (if, bounded for, return)")
        elif kind == K.CALL_EXPR:
            self.hot_call(c, where)
            call_stack.append(c.referenced)
            pushed = True
        elif kind in (K.DECL_REF_EXPR, K.MEMBER_REF_EXPR):
            ref = c.referenced
            if self.is_function(ref) and not (call_stack and call_stack[-1] is not None and call_stack[-1] == ref):
                self.hot_function_ref(c, ref, where)
        for ch in c.get_children():
            self._walk_hot(ch, where, call_stack)
        if pushed:
            call_stack.pop()

    def hot_function_ref(self, c: Any, ref: Any, where: str) -> None:
        qn = self.qname(ref)
        if any(n in _HEAP_FUNCTIONS for n in self._name_candidates(qn)):
            self.at(c, "SF-CPP-HEAP", f"{qn} allocates, in {where}: size buffers in the constructor")
        elif qn in _THROWING_FUNCTIONS:
            self.at(c, "SF-CPP-EXCEPT", f"{qn} throws on bad input, in {where}: use std::from_chars")

    def hot_call(self, c: Any, where: str) -> None:
        K = self.K
        ref = c.referenced
        if ref is None:
            return
        qn = self.qname(ref)
        cls = self.qname(ref.semantic_parent) if ref.kind in (K.CXX_METHOD, K.CONSTRUCTOR, K.CONVERSION_FUNCTION,
                                                              K.FUNCTION_TEMPLATE) else ""
        if cls == "sf::sdk::Params":
            self.at(c, "SF-CPP-EXCEPT", f"sf::sdk::Params::{ref.spelling} in {where}: parameter getters throw "
                    "and allocate; read every parameter once in the constructor into a member")
        self.hot_function_ref(c, ref, where)
        if ref.kind == K.CONSTRUCTOR and cls in _ALLOCATING_CLASSES:
            self.at(c, "SF-CPP-HEAP", f"constructs a {cls} in {where}: it allocates; keep a member sized in "
                    "the constructor, or use std::array / std::string_view")
            return
        if cls in _ALLOCATING_CLASSES and (ref.spelling in _GROWING_METHODS or
                                          (ref.spelling == "operator[]" and cls in _INSERTING_SUBSCRIPT)):
            self.at(c, "SF-CPP-HEAP", f"{cls}::{ref.spelling} may allocate, in {where}: reserve capacity in the "
                    "constructor and write by index into a fixed-size buffer (std::array / ring buffer)")
            return
        if ref.kind != K.CONSTRUCTOR:
            rt = c.type.get_canonical()
            if rt.kind == self.T.RECORD:
                rc = self.qname(rt.get_declaration())
                if rc in _ALLOCATING_CLASSES:
                    self.at(c, "SF-CPP-HEAP", f"{qn or ref.spelling} returns a {rc} by value in {where}: that "
                            "allocates; return a view (std::string_view, std::span) or write into a member")

    # ---- loops -------------------------------------------------------------------------------
    def for_problem(self, c: Any) -> str | None:
        K = self.K
        ch = list(c.get_children())
        if len(ch) != 4 or ch[0].kind != K.DECL_STMT:
            return "lacks the shape 'for (T i = init; i < bound; ++i)'"
        decls = [d for d in ch[0].get_children() if d.kind == K.VAR_DECL]
        if len(decls) != 1:
            return "declares more than one induction variable"
        iv = decls[0]
        cond, inc, body = ch[1], ch[2], ch[3]
        if cond.kind != K.BINARY_OPERATOR:
            return "has a condition that is not a comparison of the induction variable"
        op = self.binop(cond)
        lhs, rhs = [self.strip(x) for x in cond.get_children()]
        if self.refers_to(lhs, iv):
            bound, iv_left = rhs, True
        elif self.refers_to(rhs, iv):
            bound, iv_left = lhs, False
        else:
            return f"does not compare its induction variable '{iv.spelling}' in the condition"
        if op not in ("<", "<=", ">", ">=", "!="):
            return f"compares with '{op}', which does not bound the loop"
        if not self.is_constant(bound):
            return f"compares '{iv.spelling}' against a value that is not a compile-time constant"
        step = self.step_of(inc, iv)
        if step is None:
            return f"does not step '{iv.spelling}' by ++/--/+= constant/-= constant"
        up = op in ("<", "<=") if iv_left else op in (">", ">=")
        down = op in (">", ">=") if iv_left else op in ("<", "<=")
        if op == "!=":
            if step not in ("++", "--"):
                return "uses '!=' with a step other than ++/--"
        elif (up and step not in ("++", "+=")) or (down and step not in ("--", "-=")):
            return f"steps '{iv.spelling}' away from its bound"
        mod = self.modifies(body, iv)
        if mod is not None:
            return f"modifies its induction variable '{iv.spelling}' in the body (line {mod})"
        return None

    def refers_to(self, e: Any, var: Any) -> bool:
        e = self.strip(e)
        return e is not None and e.kind == self.K.DECL_REF_EXPR and e.referenced is not None and e.referenced == var

    def step_of(self, inc: Any, iv: Any) -> str | None:
        K = self.K
        if inc.kind == K.UNARY_OPERATOR:
            op = self.unop(inc)
            ch = list(inc.get_children())
            if op and op[0] in ("++", "--") and ch and self.refers_to(ch[0], iv):
                return op[0]
        if inc.kind == K.COMPOUND_ASSIGNMENT_OPERATOR:
            op = self.binop(inc)
            ch = list(inc.get_children())
            if op in ("+=", "-=") and len(ch) == 2 and self.refers_to(ch[0], iv) and self.is_constant(ch[1]):
                return op
        return None

    def modifies(self, body: Any, iv: Any) -> int | None:
        K = self.K
        for c in body.walk_preorder():
            if c.kind == K.UNARY_OPERATOR:
                op = self.unop(c)
                ch = list(c.get_children())
                if op and op[0] in ("++", "--", "&") and ch and self.refers_to(ch[0], iv):
                    return c.location.line
            elif c.kind in (K.BINARY_OPERATOR, K.COMPOUND_ASSIGNMENT_OPERATOR):
                ch = list(c.get_children())
                if len(ch) == 2 and self.refers_to(ch[0], iv):
                    op = self.binop(c)
                    if op is not None and op.endswith("=") and op not in ("==", "!=", "<=", ">="):
                        return c.location.line
            elif c.kind == K.CALL_EXPR:
                ref = c.referenced
                params = list(ref.get_arguments()) if self.is_function(ref) else []
                for i, a in enumerate(c.get_arguments()):
                    if self.refers_to(a, iv) and i < len(params):
                        t = params[i].type
                        if t.kind == self.T.LVALUEREFERENCE and not t.get_pointee().is_const_qualified():
                            return c.location.line
            elif c.kind == K.VAR_DECL:
                # T& alias = i;
                t = c.type
                if t.kind == self.T.LVALUEREFERENCE and not t.get_pointee().is_const_qualified():
                    for x in c.get_children():
                        if self.refers_to(x, iv):
                            return c.location.line
        return None

    def is_constant(self, e: Any, depth: int = 0) -> bool:
        K = self.K
        if e is None or depth > 16:
            return False
        e = self.strip(e)
        kind = e.kind
        if kind in (K.INTEGER_LITERAL, K.CHARACTER_LITERAL, K.CXX_BOOL_LITERAL_EXPR, K.CXX_UNARY_EXPR,
                    K.SIZE_OF_PACK_EXPR):
            return True
        if kind in (K.CXX_STATIC_CAST_EXPR, K.CSTYLE_CAST_EXPR, K.CXX_FUNCTIONAL_CAST_EXPR, K.UNEXPOSED_EXPR,
                    K.PAREN_EXPR):
            ch = [x for x in e.get_children() if x.kind.is_expression()]
            return len(ch) == 1 and self.is_constant(ch[0], depth + 1)
        if kind in (K.BINARY_OPERATOR, K.CONDITIONAL_OPERATOR):
            ch = list(e.get_children())
            return bool(ch) and all(self.is_constant(x, depth + 1) for x in ch)
        if kind == K.UNARY_OPERATOR:
            op = self.unop(e)
            ch = list(e.get_children())
            return op is not None and op[0] in ("-", "+", "~", "!") and len(ch) == 1 and \
                self.is_constant(ch[0], depth + 1)
        if kind in (K.DECL_REF_EXPR, K.MEMBER_REF_EXPR):
            ref = e.referenced
            if ref is None:
                return False
            if ref.kind in (K.ENUM_CONSTANT_DECL, K.TEMPLATE_NON_TYPE_PARAMETER):
                return True
            if ref.kind == K.VAR_DECL:
                return self.is_constant_var(ref, depth)
            return False
        if kind == K.CALL_EXPR:
            return self.is_constant_call(e, depth)
        return False

    def is_constant_var(self, v: Any, depth: int) -> bool:
        toks = [t.spelling for t in v.get_tokens()]
        if "constexpr" in toks or "constinit" in toks and "const" in toks:
            return True
        if not v.type.is_const_qualified():
            return False
        init = [x for x in v.get_children() if x.kind.is_expression()]
        return len(init) == 1 and self.is_constant(init[0], depth + 1)

    def is_constant_call(self, e: Any, depth: int) -> bool:
        K = self.K
        ref = e.referenced
        if ref is None:
            return False
        name = ref.spelling
        if name in ("size", "ssize", "max_size", "extent"):
            if ref.kind == K.CXX_METHOD:
                # x.size() on a std::array: the object is the MEMBER_REF_EXPR's child
                for ch in e.get_children():
                    if ch.kind == K.MEMBER_REF_EXPR:
                        objs = [x for x in ch.get_children() if x.kind.is_expression()]
                        if objs and self.is_fixed_array(objs[0].type):
                            return True
                        if not objs and self.is_fixed_array(ch.type):
                            return True
                return False
            args = list(e.get_arguments())
            return len(args) == 1 and self.is_fixed_array(args[0].type)
        # a constexpr/consteval function applied to constants (std::numeric_limits<T>::max())
        toks = {t.spelling for t in ref.get_tokens()} if ref.kind in (K.FUNCTION_DECL, K.CXX_METHOD) else set()
        if "constexpr" in toks or "consteval" in toks:
            args = list(e.get_arguments())
            member = [ch for ch in e.get_children() if ch.kind == K.MEMBER_REF_EXPR and
                      any(x.kind.is_expression() for x in ch.get_children())]
            return not member and all(self.is_constant(a, depth + 1) for a in args)
        return False

    # ---- ABI ---------------------------------------------------------------------------------
    def check_abi(self, cursors: list[Any]) -> None:
        K = self.K
        exports = [c for c in cursors if c.kind == K.MACRO_INSTANTIATION and c.spelling == "SF_EXPORT_STRATEGY"]
        export_lines = {c.location.line for c in exports}
        if not exports:
            self.add("SF-CPP-ABI-ENTRY", max(len(self.lines), 1), 1,
                     "no SF_EXPORT_STRATEGY(Class, \"name\"): end the file with exactly one, naming the "
                     "strategy class")
        for extra in exports[1:]:
            self.at(extra, "SF-CPP-ABI-ENTRY", "more than one SF_EXPORT_STRATEGY: a plugin exports exactly one "
                    "strategy; remove the extra export")
        exported_classes: list[Any] = []
        for c in cursors:
            if c.kind == K.FUNCTION_DECL and c.is_definition():
                parent = c.lexical_parent
                extern_c = parent is not None and parent.kind == K.LINKAGE_SPEC
                if c.location.line in export_lines and extern_c:
                    if c.spelling != "sf_plugin_entry":
                        self.at(c, "SF-CPP-ABI-ENTRY", f"the exported entry is named '{c.spelling}', not "
                                "sf_plugin_entry, so the loader cannot find it: do not redefine SF_ENTRY_SYMBOL")
                    cls = self.exported_class(c)
                    if cls is not None:
                        exported_classes.append(cls)
                    continue
                if c.spelling == "sf_plugin_entry":
                    self.at(c, "SF-CPP-ABI-ENTRY", "hand-written sf_plugin_entry: the entry point must come from "
                            "SF_EXPORT_STRATEGY so that every call goes through the SDK's exception wrapper")
                elif extern_c:
                    self.at(c, "SF-CPP-ABI-ENTRY", f"extern \"C\" function '{c.spelling}': a plugin exports only "
                            "the entry from SF_EXPORT_STRATEGY; make it a member or put it in an anonymous namespace")
            elif c.kind == K.VAR_DECL and c.spelling == "sf_plugin_entry":
                self.at(c, "SF-CPP-ABI-ENTRY", "'sf_plugin_entry' must be defined only by SF_EXPORT_STRATEGY")
        if exports:
            self.check_export_args(exports[0])
        strategy_classes = self.strategy_classes(cursors)
        for cls in exported_classes[:1]:
            if not self.in_main(cls):
                self.add("SF-CPP-ABI-BASE", exports[0].location.line, exports[0].location.column,
                         f"SF_EXPORT_STRATEGY exports '{cls.spelling}', which is not defined in this file: export "
                         "the strategy class written here")
            elif cls.hash not in {s.hash for s, _ in strategy_classes}:
                self.add("SF-CPP-ABI-BASE", cls.location.line, cls.location.column,
                         f"exported class '{cls.spelling}' does not derive from sf::sdk::Strategy<{cls.spelling}>: "
                         f"declare it as struct {cls.spelling} : sf::sdk::Strategy<{cls.spelling}>")
        expected = self.expected_signatures()
        for cls, base in strategy_classes:
            self.check_crtp(cls, base)
            self.check_signatures(cls, expected)

    def exported_class(self, entry: Any) -> Any:
        K = self.K
        after_adapter = False
        for c in entry.walk_preorder():
            if c.kind == K.TEMPLATE_REF and c.spelling == "Adapter":
                after_adapter = True
            elif after_adapter and c.kind == K.TYPE_REF:
                ref = c.referenced
                if ref is not None:
                    t = ref.type.get_canonical()
                    d = t.get_declaration()
                    return d.get_definition() or d
        return None

    def check_export_args(self, macro: Any) -> None:
        toks = [t.spelling for t in macro.get_tokens()]
        # SF_EXPORT_STRATEGY ( Class , "name" )
        strs = [t for t in toks if t.startswith('"')]
        if len(strs) != 1:
            self.at(macro, "SF-CPP-ABI-ENTRY", "SF_EXPORT_STRATEGY needs a string literal name: "
                    "SF_EXPORT_STRATEGY(MyStrategy, \"my_strategy\")")
            return
        name = strs[0][1:-1]
        if not re.fullmatch(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*", name) or len(name) > 64:
            self.at(macro, "SF-CPP-ABI-ENTRY", f"strategy name \"{name}\" is not a slug: use lower-case letters, "
                    "digits, '-' and '_' (the spec's metadata.name)")
        elif self.expected_name is not None and name != self.expected_name:
            self.at(macro, "SF-CPP-ABI-ENTRY", f"exports the strategy as \"{name}\", but the spec names it "
                    f"\"{self.expected_name}\": use SF_EXPORT_STRATEGY(..., \"{self.expected_name}\")")

    def strategy_classes(self, cursors: list[Any]) -> list[tuple[Any, Any]]:
        """(class definition, base specifier) for main-file classes deriving from sf::sdk::Strategy."""
        K = self.K
        out = []
        for c in cursors:
            if c.kind in (K.STRUCT_DECL, K.CLASS_DECL) and c.is_definition():
                for b in c.get_children():
                    if b.kind == K.CXX_BASE_SPECIFIER:
                        d = b.type.get_canonical().get_declaration()
                        if self.qname(d) == "sf::sdk::Strategy":
                            out.append((c, b))
        return out

    def check_crtp(self, cls: Any, base: Any) -> None:
        t = base.type.get_canonical()
        ok = False
        if t.get_num_template_arguments() == 1:
            arg = t.get_template_argument_type(0).get_canonical()
            ok = arg.get_declaration() == cls or arg.spelling == cls.type.get_canonical().spelling
        if not ok:
            self.at(base, "SF-CPP-ABI-BASE", f"'{cls.spelling}' derives from {base.type.spelling}: the CRTP argument "
                    f"must be the class itself, sf::sdk::Strategy<{cls.spelling}>")

    def expected_signatures(self, fallback: bool = True) -> dict[str, tuple[str, ...]]:
        """Handler parameter types (canonical spelling) as declared by sf::sdk::Strategy in the SDK."""
        K = self.K
        found: dict[str, tuple[str, ...]] = {}

        def visit(c: Any, depth: int) -> None:
            for ch in c.get_children():
                if ch.kind == K.NAMESPACE and depth < 3 and ch.spelling in ("sf", "sdk"):
                    visit(ch, depth + 1)
                elif ch.kind == K.CLASS_TEMPLATE and ch.spelling == "Strategy" and self.qname(ch) == "sf::sdk::Strategy":
                    for m in ch.get_children():
                        if m.kind == K.CXX_METHOD and m.spelling in HANDLERS:
                            found[m.spelling] = tuple(a.type.get_canonical().spelling for a in m.get_arguments())

        visit(self.tu.cursor, 0)
        return found or (dict(EXPECTED_SIGNATURES) if fallback else {})

    def check_signatures(self, cls: Any, expected: dict[str, tuple[str, ...]]) -> None:
        K = self.K
        by_name: dict[str, list[Any]] = {}
        for m in cls.get_children():
            if m.kind in (K.CXX_METHOD, K.FUNCTION_TEMPLATE) and m.spelling.startswith("on_"):
                by_name.setdefault(m.spelling, []).append(m)
        for name, ms in sorted(by_name.items()):
            if name not in HANDLERS:
                for m in ms:
                    self.at(m, "SF-CPP-ABI-SIGNATURE", f"'{name}' looks like a handler but the SDK has no such "
                            f"callback (handlers: {', '.join(HANDLERS)}): rename it or it is never called",
                            severity="warning")
                continue
            if len(ms) > 1:
                for m in ms[1:]:
                    self.at(m, "SF-CPP-ABI-SIGNATURE", f"'{name}' is overloaded: declare exactly one {name} with the "
                            "SDK's signature")
            want = expected.get(name)
            for m in ms[:1]:
                sig = f"void {name}({', '.join(want or ())})"
                if m.kind == K.FUNCTION_TEMPLATE:
                    self.at(m, "SF-CPP-ABI-SIGNATURE", f"'{name}' is a template: declare it as {sig}")
                    continue
                got = tuple(a.type.get_canonical().spelling for a in m.get_arguments())
                problems = []
                if want is not None and got != want:
                    problems.append(f"parameters are ({', '.join(got)})")
                if m.result_type.get_canonical().kind != self.T.VOID:
                    problems.append(f"returns {m.result_type.spelling}")
                if m.is_static_method():
                    problems.append("is static")
                if m.is_virtual_method():
                    problems.append("is virtual (CRTP needs no virtual calls)")
                if problems:
                    self.at(m, "SF-CPP-ABI-SIGNATURE", f"handler {name} {' and '.join(problems)}: it must be exactly "
                            f"{sig} (see sf/sdk.hpp)")


#: The SDK's handler parameter types, canonical spelling on LP64 (std::uint64_t = unsigned long).
#: Used when sf::sdk::Strategy cannot be found in the parsed headers; a test keeps it in sync.
EXPECTED_SIGNATURES: dict[str, tuple[str, ...]] = {
    "on_book": ("sf::sdk::Context &", "const sf::sdk::BookView &"),
    "on_trade": ("sf::sdk::Context &", "const sf_trade &"),
    "on_bar": ("sf::sdk::Context &", "const sf_bar &"),
    "on_fill": ("sf::sdk::Context &", "const sf_fill &"),
    "on_order_update": ("sf::sdk::Context &", "const sf_order_update &"),
    "on_timer": ("sf::sdk::Context &", "unsigned long"),
}


# --------------------------------------------------------------------------------------------
# small pure helpers


def _key_order(k: str) -> tuple[int, int, str]:
    ln, col, name = k.split(":", 2)
    return int(ln), int(col), name


def _sccs(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative), in a deterministic order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            succ = graph.get(v, [])
            if i < len(succ):
                work.append((v, i + 1))
                w = succ[i]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp, key=_key_order))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


def _is_const(t: Any, T: Any) -> bool:
    t = t.get_canonical()
    while t.kind in (T.CONSTANTARRAY, T.INCOMPLETEARRAY, T.VARIABLEARRAY, T.DEPENDENTSIZEDARRAY):
        if t.is_const_qualified():
            return True
        t = t.element_type.get_canonical()
    if t.kind in (T.LVALUEREFERENCE, T.RVALUEREFERENCE):
        return t.get_pointee().is_const_qualified()
    return t.is_const_qualified()


def _is_volatile(t: Any, T: Any) -> bool:
    for _ in range(4):
        if t.is_volatile_qualified():
            return True
        if t.kind in (T.POINTER, T.LVALUEREFERENCE, T.RVALUEREFERENCE):
            t = t.get_pointee()
        elif t.kind in (T.CONSTANTARRAY, T.INCOMPLETEARRAY):
            t = t.element_type
        else:
            return False
    return False


_FIX = {
    "SF-CPP-SYSCALL": "a strategy never controls the process or reads the environment; report problems with "
                      "ctx.log() and an early return, or throw from the constructor",
    "SF-CPP-IO": "use ctx.log(level, msg) for diagnostics; inputs arrive only as events and parameters",
    "SF-CPP-CLOCK": "read time from the event (book.ts(), trade.recv_ts) or ctx.now()",
    "SF-CPP-LOCK": "the engine calls a strategy from one thread; keep plain members",
    "SF-CPP-THREAD": "a strategy runs only inside its callbacks; use ctx.set_timer() for deferred work",
    "SF-CPP-GLOBAL-STATE": "use a seeded engine member (std::mt19937_64 seeded from CreateArgs::seed)",
}


def _file_message(rule: str, qn: str) -> str:
    return f"{qn} is not allowed in strategy code: {_FIX[rule]}"


def _type_message(rule: str, qn: str) -> str:
    return f"use of {qn} is not allowed in strategy code: {_FIX[rule]}"


def _strip_comments(text: str) -> str:
    """Blank out // and /* */ comments (keeping newlines and columns), respecting string literals."""
    out = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "/" and i + 1 < n and text[i + 1] == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif ch == "/" and i + 1 < n and text[i + 1] == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(c if c == "\n" else " " for c in text[i:j]))
            i = j
        elif ch in "\"'":
            j = i + 1
            while j < n and text[j] != ch and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(text[i:j])
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def iter_rules() -> Iterable[Rule]:
    return CPP_RULES.values()


def _directives(text: str) -> Iterator[tuple[int, int, int, str | None, str, str]]:
    """(first line idx, last line idx, column, directive or None, rest, logical line) per line.

    Comments are blanked first; backslash continuations are joined into one logical line.
    """
    lines = _strip_comments(text).split("\n")
    i = 0
    while i < len(lines):
        start = i
        line = lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + lines[i]
        m = re.match(r"\s*#\s*([A-Za-z_]\w*)\s*(.*)$", line)
        if m:
            yield start, i, line.index("#") + 1, m.group(1), m.group(2).strip(), line
        else:
            yield start, i, 1, None, "", line
        i += 1


def _unsafe_include(directive: str, rest: str) -> bool:
    """An include clang must never open: paths, computed names, quoted non-SDK headers."""
    if directive not in ("include", "include_next", "import", "embed", "__include_macros"):
        return False
    if directive != "include":
        return True
    m = re.match(r'<([^>]*)>|"([^"]*)"', rest)
    if not m:
        return True
    name = m.group(1) if m.group(1) is not None else m.group(2)
    parts = re.split(r"[\\/]", name)
    if name.startswith(("/", "\\", "~")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
        return True
    return m.group(2) is not None and not name.startswith("sf/")


def neutralise_includes(text: str) -> str:
    """The text with every unsafe #include blanked (same line count), so clang never reads
    arbitrary files of the checking machine (their contents would leak into diagnostics)."""
    lines = text.split("\n")
    for start, end, _col, directive, rest, _line in _directives(text):
        if directive is not None and _unsafe_include(directive, rest):
            for k in range(start, end + 1):
                lines[k] = ""
    return "\n".join(lines)
