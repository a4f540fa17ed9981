// sf/crash.hpp — crash containment for strategy code running in-process.
//
// Design: before every call into a strategy the engine stores (strategy id, callback name,
// event time) in a global CrashContext (three plain stores, no syscalls). A SIGSEGV / SIGBUS /
// SIGFPE / SIGILL / SIGABRT handler, running on its own alternate stack (so stack overflows are
// caught too), writes one line naming the strategy and callback with async-signal-safe write(2),
// removes registered temp files (unlink(2)), and _exit()s with kExitStrategyCrash. A crash outside
// strategy code is reported as an engine invariant failure (kExitEngineCrash). No results file is
// ever written by a crashed run: results are written to a temp file and renamed only at the end.
// Worst case: zero cost until a signal arrives.
#pragma once

#include <cstdint>

namespace sf {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitConfig = 3;
inline constexpr int kExitData = 4;
inline constexpr int kExitStrategyFault = 5;
inline constexpr int kExitStrategyCrash = 6;
inline constexpr int kExitEngineCrash = 70;
inline constexpr int kExitOutput = 7;

// Process-wide: set once by main().
struct CrashContext {
  const char* volatile cleanup[4] = {nullptr, nullptr, nullptr, nullptr};
  const char* volatile program = "sf-replay";
};

// Per thread (sf-engine runs strategies on the engine thread and on the shadow thread): which
// strategy callback this thread is in. The handler runs on the crashing thread and reads its own.
struct CrashSite {
  const char* volatile strategy = nullptr;
  const char* volatile callback = nullptr;
  volatile std::int64_t ts = 0;
};

extern CrashContext g_crash;
// constinit: no lazy-initialization wrapper on each access; initial-exec: one %fs-relative
// access (the engine is linked into executables only), as cheap as the plain global it was.
extern constinit thread_local CrashSite g_crash_site [[gnu::tls_model("initial-exec")]];

/// Installs the handlers and the calling thread's alternate signal stack (idempotent).
void install_crash_handlers() noexcept;
/// Gives the calling thread its own alternate signal stack (a thread that runs strategy code, so a
/// stack overflow there is reported too). Call once per thread, after install_crash_handlers().
void install_thread_crash_stack() noexcept;
/// Disables the calling thread's alternate signal stack (before the thread ends: its memory is the
/// thread's own).
void remove_thread_crash_stack() noexcept;

}  // namespace sf
