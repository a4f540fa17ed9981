// sf-engine's control socket (see sf/daemon.hpp): a poll() loop over the listening Unix socket,
// the client connections and a self-pipe that reply() writes to.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "sf/daemon.hpp"

namespace sf {

void CommandQueue::push(Cmd c) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    q_.push_back(std::move(c));
    pending_.store(true, std::memory_order_release);
  }
  cv_.notify_one();
}

std::vector<CommandQueue::Cmd> CommandQueue::take() {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<Cmd> out;
  out.swap(q_);
  pending_.store(false, std::memory_order_relaxed);
  return out;
}

void CommandQueue::wait_until(std::chrono::steady_clock::time_point until) {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait_until(lk, until, [&] { return !q_.empty() || pending_.load(std::memory_order_relaxed); });
}

namespace {

constexpr std::size_t kMaxLine = 1 << 20;  // a request line longer than 1 MiB closes the connection
constexpr std::size_t kMaxUnread = 64u << 20;  // more unread response bytes than this close the connection

std::string error_line(const std::string& id_json, const std::string& msg) {
  json::Writer w;
  w.begin_object();
  (void)id_json;  // only unparseable requests are answered here: their id is unknown
  w.key("id").null();
  w.kv("ok", false).kv("error", msg).end_object();
  return w.str();
}

void set_nonblock(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

}  // namespace

ControlServer::~ControlServer() { stop(); }

bool ControlServer::start(const std::string& path, CommandQueue& q, std::string& error) {
  q_ = &q;
  path_ = path;
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    error = "control_socket path '" + path + "' is empty or longer than " + std::to_string(sizeof addr.sun_path - 1) + " bytes";
    return false;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    error = std::string("socket(): ") + std::strerror(errno);
    return false;
  }
  // A socket file left by a dead engine is replaced; a live one (connect succeeds) is not.
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = "control_socket '" + path + "' exists and is not a socket";
      return false;
    }
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool alive = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (probe >= 0) ::close(probe);
    if (alive) {
      error = "control_socket '" + path + "' is in use by a running engine";
      return false;
    }
    ::unlink(path.c_str());
  }
  // Bound and listening under a temporary name, then renamed: the socket file appears only once
  // it accepts connections (a client that sees the file never gets ECONNREFUSED).
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  sockaddr_un taddr = addr;
  if (tmp.size() >= sizeof taddr.sun_path) {
    error = "control_socket path '" + path + "' is too long (the temporary name needs " + std::to_string(tmp.size()) + " bytes)";
    return false;
  }
  std::memcpy(taddr.sun_path, tmp.c_str(), tmp.size() + 1);
  ::unlink(tmp.c_str());
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&taddr), sizeof taddr) != 0 || ::listen(listen_fd_, 16) != 0 ||
      ::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot listen on control_socket '" + path + "': " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  set_nonblock(listen_fd_);
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    error = std::string("pipe2(): ") + std::strerror(errno);
    return false;
  }
  th_ = std::thread([this] { loop(); });
  return true;
}

void ControlServer::reply(std::uint64_t client, std::string line) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    out_.emplace_back(client, std::move(line));
  }
  const char b = 1;
  (void)!::write(wake_[1], &b, 1);
}

void ControlServer::stop() {
  if (!th_.joinable()) return;
  stop_.store(true);
  const char b = 1;
  (void)!::write(wake_[1], &b, 1);
  th_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  ::unlink(path_.c_str());
  for (int& fd : wake_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

void ControlServer::loop() {
  struct Client {
    int fd;
    std::string in, out;
    bool closing = false;
    std::uint32_t inflight = 0;  // requests queued to the engine, not yet answered
  };
  std::map<std::uint64_t, Client> clients;
  std::uint64_t next_id = 1;
  std::vector<pollfd> pfds;
  std::vector<std::uint64_t> ids;
  auto handle_line = [&](std::uint64_t cid, Client& c, const std::string& line) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) return;  // blank lines are ignored
    json::Value v;
    std::string perr;
    if (!json::parse(line, v, perr)) {
      c.out += error_line("null", "malformed JSON request: " + perr) + "\n";
      return;
    }
    if (!v.is_object()) {
      c.out += error_line("null", "a request must be a JSON object, was " + v.describe()) + "\n";
      return;
    }
    const json::Value* id = v.get("id");
    if (id == nullptr || !id->is_integer()) {
      c.out += error_line("null", std::string("request field \"id\" is missing or not an integer") +
                                      (id != nullptr ? " (was " + id->describe() + ")" : "")) +
               "\n";
      return;
    }
    ++c.inflight;
    q_->push(CommandQueue::Cmd{cid, std::move(v)});
  };
  for (;;) {
    const bool stopping = stop_.load();
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (auto& [cid, line] : out_) {
        auto it = clients.find(cid);
        if (it == clients.end()) continue;
        if (it->second.inflight > 0) --it->second.inflight;
        if (it->second.out.size() > kMaxUnread) {  // a client that does not read its answers is dropped
          it->second.out.clear();
          it->second.closing = true;
          continue;
        }
        it->second.out += line + "\n";
      }
      out_.clear();
    }
    if (stopping) {
      // flush what is queued (bounded: 2 s), then close everything
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      for (auto& [cid, c] : clients) {
        (void)cid;
        int flags = ::fcntl(c.fd, F_GETFL, 0);
        ::fcntl(c.fd, F_SETFL, flags & ~O_NONBLOCK);
        while (!c.out.empty() && std::chrono::steady_clock::now() < deadline) {
          const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
          if (n <= 0) break;
          c.out.erase(0, static_cast<std::size_t>(n));
        }
        ::close(c.fd);
      }
      return;
    }
    pfds.clear();
    ids.clear();
    pfds.push_back(pollfd{wake_[0], POLLIN, 0});
    pfds.push_back(pollfd{listen_fd_, POLLIN, 0});
    for (auto it = clients.begin(); it != clients.end();) {
      if (it->second.closing && it->second.out.empty() && it->second.inflight == 0) {
        ::close(it->second.fd);
        it = clients.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [cid, c] : clients) {
      if (c.closing && c.out.empty()) continue;  // half-closed, waiting for the engine's answer
      pfds.push_back(pollfd{c.fd, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
      ids.push_back(cid);
    }
    if (::poll(pfds.data(), pfds.size(), 500) < 0 && errno != EINTR) return;
    if (pfds[0].revents & POLLIN) {
      char buf[256];
      while (::read(wake_[0], buf, sizeof buf) > 0) {
      }
    }
    if (pfds[1].revents & POLLIN) {
      for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) break;
        clients.emplace(next_id++, Client{fd, {}, {}, false, 0});
      }
    }
    for (std::size_t k = 2; k < pfds.size(); ++k) {
      auto it = clients.find(ids[k - 2]);
      if (it == clients.end()) continue;
      Client& c = it->second;
      const short re = pfds[k].revents;
      if ((re & (POLLIN | POLLHUP | POLLERR)) && !c.closing) {
        char buf[8192];
        for (;;) {
          const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
          if (n > 0) {
            c.in.append(buf, static_cast<std::size_t>(n));
            continue;
          }
          if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) c.closing = true;
          break;
        }
        std::size_t pos;
        while ((pos = c.in.find('\n')) != std::string::npos) {
          const std::string line = c.in.substr(0, pos);
          c.in.erase(0, pos + 1);
          handle_line(it->first, c, line);
        }
        if (c.in.size() > kMaxLine) {
          c.out += error_line("null", "request line longer than 1 MiB; closing the connection") + "\n";
          c.in.clear();
          c.closing = true;
        }
      }
      if (!c.out.empty()) {
        const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) c.out.erase(0, static_cast<std::size_t>(n));
        else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) c.closing = true, c.out.clear();
      }
      if (c.closing && c.out.empty() && c.inflight == 0) {
        ::close(c.fd);
        clients.erase(it);
      }
    }
  }
}

}  // namespace sf
