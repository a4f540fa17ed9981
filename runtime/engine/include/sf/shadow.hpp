// sf/shadow.hpp — sf-engine's shadow side: the shadow slots' engine, off the live path.
//
// Design (docs/runtime.md, "Live path and shadow thread"): the daemon runs two sf::Engine over
// the same feed. The live engine (engine thread) holds only live slots, so the work between a
// feed event and a live order is the live slots' work alone. The shadow engine (this class)
// holds every shadow slot and gets the very same events, with the same sequence numbers, through
// a bounded SPSC ring (sf/spsc_ring.hpp) drained by its own thread; with `threaded = false` it
// is stepped inline right after the live engine (the live tick-to-order still excludes it: the
// live orders of an event are out before the shadows see that event).
// Back-pressure, two policies (`shadow_full` in engine.json):
// - Drop (the default for a paced feed, i.e. real time: the production case): the engine thread
//   never waits for the shadow thread. A message that finds the ring full is not queued: it is
//   counted (missed(), first_missed_seq()), never silently, and every shadow present then has
//   incomplete evidence (the daemon reports it per instance; the registry's shadow gate must
//   treat it as inconclusive). The ring is sized for the feed's bursts (65,536 events by default).
// - Wait (the default for an unpaced replay, speed 0, which has no clock to keep up with): the
//   engine thread waits for ring space, so the replay runs at the pace of the slower side and no
//   shadow ever misses an event; full_waits() counts the pushes that had to wait. The wait comes
//   after the live engine processed the event, outside every live tick-to-order.
// Quiescing: quiesce() (engine thread) waits until the shadow thread has applied everything
// pushed so far and parked between two events; until resume() the engine thread may read and
// change the shadow engine and its slots (commands, metrics, moving a slot between the engines
// at a swap). The hand-off is a release/acquire pair on an epoch word both ways, so everything
// one side wrote before it is visible to the other after it.
// Worst case: event() is one ring push (a copy of an ~90-byte message and a release store); quiesce() waits
// for the shadow thread's backlog (at most the ring's capacity of events).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>

#include "sf/engine.hpp"
#include "sf/events.hpp"
#include "sf/gateway.hpp"
#include "sf/spsc_ring.hpp"

namespace sf {

/// One ring entry: a feed event, or a live-venue report / session loss for a slot that is now a
/// shadow (its route tag), in the order the engine thread saw them.
struct ShadowMsg {
  enum Kind : std::uint8_t { kEvent, kGatewayReport, kOrdersLost, kWarm };
  std::uint64_t seq = 0;  // kEvent: the event's sequence number; else the last event's
  Kind kind = kEvent;
  std::uint32_t tag = 0;  // route tag of the slot (kGatewayReport, kOrdersLost)
  union {
    Event ev;
    GatewayReport rep;
  };
  ShadowMsg() noexcept : ev{} {}
};

struct ShadowOptions {
  enum class Full : std::uint8_t { Drop, Wait };
  bool threaded = true;
  Full full = Full::Drop;
  std::size_t ring_events = std::size_t{1} << 16;  // power of two >= 2
  int cpu = -1;  // >= 0: pin the shadow thread to this CPU (a hint; see docs/runtime.md)
};

/// Called on the thread that applies the messages (the shadow thread, or the engine thread
/// when not threaded).
class ShadowHooks {
 public:
  virtual ~ShadowHooks() = default;
  /// After the shadow engine processed event `seq`.
  virtual void shadow_event_done(std::uint64_t seq) = 0;
  /// A kGatewayReport / kOrdersLost message, between the same two events as on the engine thread.
  virtual void shadow_message(const ShadowMsg& m) = 0;
};

class ShadowRunner {
 public:
  ShadowRunner(const EventFile& file, EngineOptions opts, ShadowOptions so, ShadowHooks& hooks);
  ~ShadowRunner();
  ShadowRunner(const ShadowRunner&) = delete;
  ShadowRunner& operator=(const ShadowRunner&) = delete;

  /// Stepping mode on, and the thread started when threaded. False with a message if the CPU
  /// pin hint could not be applied (the thread runs unpinned then).
  bool start(std::string& warning);
  /// Stops and joins the thread (what is still in the ring is not applied).
  void stop();

  /// The shadow engine: touch only while quiesced, from the hooks, or when not threaded.
  [[nodiscard]] Engine& engine() noexcept { return eng_; }
  [[nodiscard]] const Engine& engine() const noexcept { return eng_; }
  [[nodiscard]] bool threaded() const noexcept { return opts_.threaded; }
  [[nodiscard]] std::size_t ring_capacity() const noexcept { return ring_ ? ring_->capacity() : 0; }

  // --- engine thread ---------------------------------------------------------------------------
  /// Hands event `seq` to the shadows (never waits).
  void event(std::uint64_t seq, const Event& e) noexcept {
    if (!opts_.threaded) {
      eng_.step(e);
      hooks_.shadow_event_done(seq);
      return;
    }
    ShadowMsg m;
    m.seq = seq;
    m.kind = ShadowMsg::kEvent;
    m.ev = e;
    push(m);
  }
  /// Asks the shadow thread to warm its instances (Engine::warm) before the next event `seq`.
  /// Best effort: with the ring full there is no idle gap to fill, and nothing is missed.
  void warm(std::uint64_t seq) noexcept {
    if (!opts_.threaded) {
      (void)eng_.warm();
      return;
    }
    ShadowMsg m;
    m.seq = seq;
    m.kind = ShadowMsg::kWarm;
    (void)ring_->try_push(m);
  }
  /// Hands a non-event message to the shadows (never waits).
  void message(const ShadowMsg& m) noexcept {
    if (!opts_.threaded) hooks_.shadow_message(m);
    else push(m);
  }
  /// Waits until the shadow thread has applied everything handed over and parked; nests.
  void quiesce() noexcept;
  /// Lets the shadow thread run again (after the outermost quiesce()).
  void resume() noexcept;
  [[nodiscard]] bool quiesced() const noexcept { return !opts_.threaded || depth_ > 0; }

  /// Messages that found the ring full (not applied), and the first one's seq (0 = none).
  [[nodiscard]] std::uint64_t missed() const noexcept { return missed_; }
  [[nodiscard]] std::uint64_t first_missed_seq() const noexcept { return first_missed_seq_; }
  /// Pushes that found the ring full and waited (Full::Wait).
  [[nodiscard]] std::uint64_t full_waits() const noexcept { return full_waits_; }
  [[nodiscard]] ShadowOptions::Full full_policy() const noexcept { return opts_.full; }
  /// Sequence number of the last event the shadow engine applied (any thread).
  [[nodiscard]] std::uint64_t applied_seq() const noexcept { return applied_seq_.load(std::memory_order_acquire); }
  /// Most messages seen waiting in the ring at once (any thread).
  [[nodiscard]] std::uint64_t ring_high_water() const noexcept { return high_water_.load(std::memory_order_relaxed); }
  /// Nanoseconds of the last quiesce() wait (engine thread).
  [[nodiscard]] std::int64_t last_quiesce_ns() const noexcept { return last_quiesce_ns_; }

 private:
  void push(const ShadowMsg& m) noexcept {
    if (ring_->try_push(m)) [[likely]] return;
    if (opts_.full == ShadowOptions::Full::Wait) {
      ++full_waits_;
      wait_push(m);
      return;
    }
    if (missed_++ == 0) first_missed_seq_ = m.seq;
  }
  [[gnu::noinline]] void wait_push(const ShadowMsg& m) noexcept;
  void loop();
  void apply(const ShadowMsg& m);

  Engine eng_;
  ShadowOptions opts_;
  ShadowHooks& hooks_;
  std::unique_ptr<SpscRing<ShadowMsg>> ring_;
  std::thread th_;
  std::atomic<bool> stop_{false};
  // quiesce hand-off: req_ is odd while a pause is requested (its value names the request),
  // parked_ echoes the request the shadow thread parked for.
  std::atomic<std::uint64_t> req_{0};
  std::atomic<std::uint64_t> parked_{0};
  std::uint64_t epoch_ = 0;  // engine thread
  int depth_ = 0;            // engine thread: quiesce() nesting
  std::uint64_t missed_ = 0, first_missed_seq_ = 0, full_waits_ = 0;  // engine thread
  std::int64_t last_quiesce_ns_ = 0;
  std::atomic<std::uint64_t> applied_seq_{0};
  std::atomic<std::uint64_t> high_water_{0};
};

/// Moves slot `idx` of `from` into `to` (two engines over the same file at the same event).
inline std::size_t move_slot(Engine& from, std::size_t idx, Engine& to) { return to.attach_slot(from.detach_slot(idx)); }

}  // namespace sf
