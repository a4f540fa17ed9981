// The shadow thread of sf-engine (sf/shadow.hpp).
#include "sf/shadow.hpp"

#include <pthread.h>
#include <sched.h>

#include <chrono>
#include <cstring>
#include <string>

#include "sf/crash.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SF_CPU_RELAX() _mm_pause()
#else
#define SF_CPU_RELAX() ((void)0)
#endif

namespace sf {

namespace {
// Idle back-off of a waiting thread: spin briefly (a message is usually microseconds away),
// then yield the CPU (2-core machines: the other thread may need it), then sleep in short
// naps so an idle shadow thread costs next to nothing.
void backoff(std::uint32_t& n) {
  if (n < 64) SF_CPU_RELAX();
  else if (n < 256) std::this_thread::yield();
  else std::this_thread::sleep_for(std::chrono::microseconds(20));
  ++n;
}
}  // namespace

ShadowRunner::ShadowRunner(const EventFile& file, EngineOptions opts, ShadowOptions so, ShadowHooks& hooks)
    : eng_(file, std::move(opts)), opts_(so), hooks_(hooks) {
  if (opts_.threaded) ring_ = std::make_unique<SpscRing<ShadowMsg>>(opts_.ring_events);
}

ShadowRunner::~ShadowRunner() { stop(); }

bool ShadowRunner::start(std::string& warning) {
  eng_.begin_stepping();
  if (!opts_.threaded) return true;
  th_ = std::thread([this] {
    install_thread_crash_stack();  // a shadow strategy's stack overflow is reported like any crash
    loop();
    remove_thread_crash_stack();
  });
  if (opts_.cpu < 0) return true;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(opts_.cpu, &set);
  const int rc = ::pthread_setaffinity_np(th_.native_handle(), sizeof set, &set);
  if (rc == 0) return true;
  warning = "shadow_cpu " + std::to_string(opts_.cpu) + " could not be applied (" + std::strerror(rc) + "): the shadow thread runs unpinned";
  return false;
}

void ShadowRunner::stop() {
  if (!th_.joinable()) return;
  stop_.store(true, std::memory_order_release);
  th_.join();
}

void ShadowRunner::apply(const ShadowMsg& m) {
  if (m.kind == ShadowMsg::kEvent) {
    eng_.step(m.ev);
    hooks_.shadow_event_done(m.seq);
    applied_seq_.store(m.seq, std::memory_order_release);
  } else if (m.kind == ShadowMsg::kWarm) {
    (void)eng_.warm();
  } else {
    hooks_.shadow_message(m);
  }
}

void ShadowRunner::loop() {
  ShadowMsg m;
  std::uint32_t idle = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    if (ring_->try_pop(m)) {
      if (idle != 0 || (m.seq & 255) == 0) {  // sample the backlog now and then (cheap)
        const std::uint64_t n = ring_->size_approx() + 1;
        if (n > high_water_.load(std::memory_order_relaxed)) high_water_.store(n, std::memory_order_relaxed);
      }
      idle = 0;
      apply(m);
      continue;
    }
    const std::uint64_t r = req_.load(std::memory_order_acquire);
    if ((r & 1) == 0) {
      backoff(idle);
      continue;
    }
    // A pause is requested: everything pushed before the request is visible now (acquire).
    if (ring_->try_pop(m)) {
      apply(m);
      continue;
    }
    parked_.store(r, std::memory_order_release);
    std::uint32_t spins = 0;
    // Parked until the request changes: a resume (even), or a resume and a new pause that came
    // while we were not looking — then what was pushed in between must be applied first, so
    // back to the top (drain, then park for the new request).
    while (!stop_.load(std::memory_order_acquire) && req_.load(std::memory_order_acquire) == r) {
      if (spins < 64) SF_CPU_RELAX();
      else std::this_thread::yield();
      ++spins;
    }
    idle = 0;
  }
}

void ShadowRunner::wait_push(const ShadowMsg& m) noexcept {
  std::uint32_t spins = 0;
  while (!ring_->try_push(m)) {
    if (!th_.joinable()) return;  // no consumer (stopped): nothing to wait for
    if (spins < 64) SF_CPU_RELAX();
    else std::this_thread::yield();
    ++spins;
  }
}

void ShadowRunner::quiesce() noexcept {
  if (!opts_.threaded || depth_++ > 0) return;
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t r = 2 * ++epoch_ + 1;
  req_.store(r, std::memory_order_release);
  std::uint32_t spins = 0;
  while (parked_.load(std::memory_order_acquire) != r) {
    if (!th_.joinable()) break;  // not started: nothing runs concurrently
    if (spins < 64) SF_CPU_RELAX();
    else std::this_thread::yield();
    ++spins;
  }
  last_quiesce_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
}

void ShadowRunner::resume() noexcept {
  if (!opts_.threaded || depth_ == 0 || --depth_ > 0) return;
  req_.store(2 * epoch_ + 2, std::memory_order_release);
}

}  // namespace sf
