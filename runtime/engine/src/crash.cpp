#include "sf/crash.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <initializer_list>

namespace sf {

CrashContext g_crash;
constinit thread_local CrashSite g_crash_site [[gnu::tls_model("initial-exec")]];

namespace {

void put(const char* s) noexcept {
  if (s == nullptr) return;
  std::size_t n = 0;
  while (s[n] != '\0') ++n;
  ssize_t r = ::write(STDERR_FILENO, s, n);
  (void)r;
}

void put_i64(std::int64_t v) noexcept {
  char b[24];
  int i = 23;
  b[i] = '\0';
  const bool neg = v < 0;
  std::uint64_t u = neg ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  do {
    b[--i] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0 && i > 1);
  if (neg) b[--i] = '-';
  put(b + i);
}

const char* sig_name(int sig) noexcept {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "signal";
  }
}

void handler(int sig, siginfo_t*, void*) {
  for (const char* p : g_crash.cleanup)
    if (p != nullptr) ::unlink(p);
  put(g_crash.program);
  const char* strat = g_crash_site.strategy;
  const char* cb = g_crash_site.callback;
  if (strat != nullptr && cb != nullptr) {
    put(": error: strategy '");
    put(strat);
    put("' crashed with ");
    put(sig_name(sig));
    put(" in callback ");
    put(cb);
    put(" (event time ");
    put_i64(g_crash_site.ts);
    put(" ns); the run is aborted and no results file was written\n");
    ::_exit(kExitStrategyCrash);
  }
  put(": Invariant: engine crashed with ");
  put(sig_name(sig));
  put(" outside strategy code (engine bug); no results file was written\n");
  ::_exit(kExitEngineCrash);
}

}  // namespace

void install_crash_handlers() noexcept {
  static bool done = false;
  if (done) return;
  done = true;
  install_thread_crash_stack();
  struct sigaction sa {};
  sa.sa_sigaction = &handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::sigaction(s, &sa, nullptr);
}

void install_thread_crash_stack() noexcept {
  thread_local char alt_stack[64 * 1024];  // lives as long as the thread
  thread_local bool done = false;
  if (done) return;
  done = true;
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  ::sigaltstack(&ss, nullptr);
}

void remove_thread_crash_stack() noexcept {
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  ::sigaltstack(&ss, nullptr);
}

}  // namespace sf
