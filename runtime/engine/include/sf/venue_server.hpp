// sf/venue_server.hpp — the sf-venue TCP server (apps/sf_venue.cpp; docs/venue-protocol.md).
//
// Design: one thread, poll(2) over the listening socket and every session socket. Each session
// (one TCP connection after LOGON) owns its replay of the venue's event data (a cursor into the
// shared read-only EventFile, its own per-instrument books) and its own sf::SimVenue; an incoming
// frame first advances that replay to the frame's ts_ns (the client's engine clock, plus the
// configured entry latency for order frames), then acts, so matching is deterministic and needs
// no clock synchronisation. Reports go back as ACK/REJECT/FILL/CANCELED frames. A session whose
// connection closes, that sends a malformed frame or a wrong sequence number, or that stays
// silent past the heartbeat timeout, is closed and every open order of it is canceled
// (cancel-on-disconnect) and journaled. The journal is JSON lines, flushed per line.
// Worst case: per frame O(events replayed up to its ts_ns) + SimVenue's costs; a session's
// output buffer is capped (a client that does not read is disconnected).
#pragma once

#include <csignal>
#include <cstdint>
#include <memory>
#include <string>

#include "sf/config.hpp"
#include "sf/synth.hpp"

namespace sf {

struct VenueServerOptions {
  std::string data;        // event file (exclusive with synth)
  bool synth = false;      // generate the data with write_synthetic(synth_options)
  SynthOptions synth_options;
  std::string bind = "127.0.0.1";
  std::uint16_t port = 0;  // 0 = the kernel picks a free port
  std::string port_file;   // written atomically (tmp + rename) once listening
  std::string journal;     // JSON lines, appended
  int heartbeat_timeout_ms = 1000;
  VenueConfig venue;       // entry latency, queue model, fees, seed (feed/response unused)
  bool bar_mode = false;
  std::uint32_t max_orders = 4096;   // open orders per session
  std::uint32_t max_sessions = 64;   // simultaneous connections
};

/// Parses sf-replay's "venue" object (JSON text) with sf-replay's own validation.
[[nodiscard]] bool parse_venue_config_text(std::string_view text, VenueConfig& out, std::string& error);

class VenueServer {
 public:
  explicit VenueServer(VenueServerOptions o);
  ~VenueServer();
  VenueServer(const VenueServer&) = delete;
  VenueServer& operator=(const VenueServer&) = delete;

  /// Opens (or generates) the data, the journal, binds and listens, writes the port file.
  /// False with `error` naming the problem; `exit_code` is sf-replay's convention (3 config, 4 data, 7 output).
  [[nodiscard]] bool start(std::string& error, int& exit_code);
  /// Serves until `stop` becomes non-zero; then cancels every open order (reason
  /// venue_shutdown), logs every session out, closes the journal. Returns the exit code (0).
  int run(const volatile std::sig_atomic_t& stop);
  [[nodiscard]] std::uint16_t port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sf
