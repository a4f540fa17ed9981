// sf/daemon.hpp — sf-engine, the live runtime daemon (docs/runtime.md).
//
// Design: one engine thread owns an sf::Engine in stepping mode and walks a feed (an event file
// replayed paced by recv_ts x speed or as fast as possible, optionally looped; or a synthetic
// file generated at start-up), giving every event a sequence number `seq` (from 1, never
// reused). Each strategy has any number of *instances* (versions, one engine Slot each): exactly
// one live (its orders go to the live venue, firm-wide limits apply) and any number of shadow
// (orders to their own in-process SimVenue: paper). All instances see the same events in the
// same order; per instance the daemon counts events / first_seq / last_seq, so a swap provably
// drops or repeats nothing. A control thread (ControlServer) serves a Unix stream socket of JSON
// lines; requests reach the engine thread through CommandQueue, checked between two events with
// one relaxed atomic load, so commands (load, promote, rollback, kill, ...) are applied between
// events and the engine never blocks on the socket. Swaps are timed with the TSC (swap_ns).
// Automatic rollback: a live instance whose risk gate kills itself (MAX_LOSS, MAX_DRAWDOWN,
// kill_on_breach), that faults, or whose tick-to-order p99 exceeds its budget for 3 consecutive
// windows is replaced by the strategy's last-good instance (events: auto_rollback).
// Live venue: `venue: null` = "paper live" (the live instance's own SimVenue); with `venue` set,
// live orders go to sf-venue over TCP (sf::GatewayClient), polled every 64 events and while idle.
// Live path and shadows: the live instances' slots are in one engine stepped by the engine
// thread; the shadow instances' slots are in a second engine over the same feed, fed the same
// events (same seq) through a lock-free SPSC ring and stepped by the shadow thread
// (sf/shadow.hpp; `shadow_thread: false` steps it inline after the live engine). A swap moves
// slots between the two engines between two events, with the shadow thread parked.
// Worst case per event (engine thread): the live engine's step() + one ring push + O(live
// instances) counter updates and rollback checks; commands are O(instances) plus plugin load
// (dlopen) for `load`, plus the wait for the shadow thread's backlog (quiesce).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sf/config.hpp"
#include "sf/json.hpp"

namespace sf {

struct DaemonConfig {
  std::string path;  // the config file
  std::string control_socket;
  std::string feed_kind;  // "replay" | "synth"
  std::string feed_path;
  double speed = 0.0;
  bool loop = false;
  bool bar_mode = false;  // a replay of bars: sf-replay's bar mode (fills at bar prices, the close as reference)
  std::uint64_t synth_seed = 1;
  std::uint64_t synth_events = 1'000'000;
  std::uint32_t synth_instruments = 1;
  bool has_venue = false;  // venue object set: live orders go to sf-venue over TCP
  std::string venue_host = "127.0.0.1";
  std::uint16_t venue_port = 0;
  std::string venue_session;
  int heartbeat_ms = 250;
  json::Value firm;  // object or null; checked against the feed's symbols at start
  std::int64_t latency_window_events = 1000;
  VenueConfig sim_venue;
  json::Value risk;  // sf-replay's global risk object (defaults for every instance)
  json::Value sim_venue_json;
  // the shadow slots' thread (sf/shadow.hpp, docs/runtime.md)
  bool shadow_thread = true;
  std::size_t shadow_ring_events = 0;  // 0: the default for the policy (65536 for "drop", 1024 for "wait")
  int shadow_cpu = -1;  // >= 0: pin the shadow thread there
  std::string shadow_full;  // "drop" | "wait"; empty: "wait" for an unpaced feed (speed 0), else "drop"
};

/// Reads and validates engine.json; every problem is reported (field path + value).
[[nodiscard]] bool load_daemon_config(const std::string& path, DaemonConfig& out, std::vector<std::string>& errors);

/// Control thread -> engine thread. push() from any thread; the engine thread polls pending()
/// (one relaxed load) between events and take()s the batch.
class CommandQueue {
 public:
  struct Cmd {
    std::uint64_t client = 0;
    json::Value req;
  };
  void push(Cmd c);
  [[nodiscard]] bool pending() const noexcept { return pending_.load(std::memory_order_relaxed); }
  /// From a signal handler: makes pending() true without queueing anything (async-signal-safe).
  void poke() noexcept { pending_.store(true, std::memory_order_relaxed); }
  [[nodiscard]] std::vector<Cmd> take();
  /// Sleeps until a command is pending or `until` (engine thread, while idle or pacing).
  void wait_until(std::chrono::steady_clock::time_point until);

 private:
  std::atomic<bool> pending_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Cmd> q_;
};

/// The Unix-socket JSON-lines server (its own thread). Malformed lines are answered here; valid
/// requests go to the queue, their responses come back through reply().
class ControlServer {
 public:
  ~ControlServer();
  [[nodiscard]] bool start(const std::string& path, CommandQueue& q, std::string& error);
  /// Queues one response line (no newline) for a client; any thread; never blocks on the socket.
  void reply(std::uint64_t client, std::string line);
  /// Flushes what is queued (bounded wait), closes every connection, joins the thread.
  void stop();

 private:
  void loop();
  std::string path_;
  CommandQueue* q_ = nullptr;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::thread th_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::pair<std::uint64_t, std::string>> out_;
};

/// Runs the daemon until `shutdown`; returns the process exit code.
[[nodiscard]] int run_daemon(const DaemonConfig& cfg, bool quiet);

}  // namespace sf
