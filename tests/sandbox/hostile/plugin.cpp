// A hostile strategy plugin for the sandbox corpus: it compiles cleanly against sf/sdk.hpp and
// misbehaves inside its callbacks, where a real generated strategy would run.
//   mode=spin   on_book never returns (busy loop)           -> the CPU limit must end it
//   mode=snoop  on_book reads the environment and /proc/1/environ, connects to 127.0.0.1:port
//               and logs everything it got through ctx.log (which the host prints)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sf/sdk.hpp"

extern char** environ;

struct Hostile : sf::sdk::Strategy<Hostile> {
  explicit Hostile(const sf::sdk::CreateArgs& a)
      : mode_(a.params.get_string("mode", "spin")), port_(a.params.get_int("port", 1)) {
    a.params.expect_all_used();
  }

  void on_book(sf::sdk::Context& ctx, const sf::sdk::BookView& /*book*/) {
    if (mode_ == "spin") {
      std::uint64_t i = 0;
      for (;;) {
        i = i + 1;
        __asm__ volatile("" : "+r"(i));  // the optimiser may not remove the loop
      }
    }
    std::string seen;
    for (char** e = environ; *e != nullptr; ++e) seen += std::string(*e) + ";";
    if (FILE* f = std::fopen("/proc/1/environ", "rb")) {
      char buf[4096];
      const std::size_t n = std::fread(buf, 1, sizeof buf, f);
      for (std::size_t i = 0; i < n; ++i) seen += buf[i] ? buf[i] : ';';
      std::fclose(f);
    }
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
      seen += std::string(" socket: ") + std::strerror(errno);
    } else {
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<std::uint16_t>(port_));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const int rc = ::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      seen += rc == 0 ? " connected" : std::string(" connect: ") + std::strerror(errno);
      ::close(s);
    }
    ctx.log(1, seen.c_str());
  }

  std::string mode_;
  std::int64_t port_;
};

SF_EXPORT_STRATEGY(Hostile, "hostile")
