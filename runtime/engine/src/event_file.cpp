#include "sf/event_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace sf {

namespace {
std::string fmt_u64(std::uint64_t v) { return std::to_string(v); }
}  // namespace

EventFile::~EventFile() { close(); }

EventFile::EventFile(EventFile&& o) noexcept { *this = std::move(o); }

EventFile& EventFile::operator=(EventFile&& o) noexcept {
  if (this != &o) {
    close();
    path_ = std::move(o.path_);
    map_ = o.map_;
    map_len_ = o.map_len_;
    header_ = o.header_;
    instruments_ = o.instruments_;
    events_ = o.events_;
    first_invalid_ = o.first_invalid_;
    residency_ = o.residency_;
    o.map_ = nullptr;
    o.map_len_ = 0;
    o.header_ = nullptr;
  }
  return *this;
}

void EventFile::close() noexcept {
  if (map_ != nullptr) ::munmap(map_, map_len_);
  map_ = nullptr;
  map_len_ = 0;
  header_ = nullptr;
  instruments_ = nullptr;
  events_ = nullptr;
  first_invalid_ = 0;
}

namespace {
// The whole file into private anonymous memory (read-only afterwards). MAP_FAILED on error, with
// errno set.
void* read_into_memory(int fd, std::uint64_t size) {
  void* m = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return m;
#ifdef MADV_HUGEPAGE
  ::madvise(m, size, MADV_HUGEPAGE);  // fewer TLB misses over a large record array; advisory
#endif
  auto* p = static_cast<char*>(m);
  std::uint64_t done = 0;
  while (done < size) {
    const ssize_t r = ::pread(fd, p + done, static_cast<std::size_t>(std::min<std::uint64_t>(size - done, 1u << 30)), static_cast<off_t>(done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      const int e = r == 0 ? EIO : errno;  // a file that shrank under us reads short
      ::munmap(m, size);
      errno = e;
      return MAP_FAILED;
    }
    done += static_cast<std::uint64_t>(r);
  }
  ::mprotect(m, size, PROT_READ);
  return m;
}
}  // namespace

bool EventFile::open(const std::string& path, std::string& error, Residency residency) {
  close();
  path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "Condition failed: cannot open event file '" + path + "': " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = "Condition failed: cannot stat event file '" + path + "': " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const std::string where = "event file '" + path + "': ";
  if (size < sizeof(FileHeader)) {
    error = "Condition failed: " + where + "file is " + fmt_u64(size) +
            " bytes, smaller than the 64-byte header";
    ::close(fd);
    return false;
  }
  void* m = residency == Residency::Memory ? read_into_memory(fd, size) : ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (m == MAP_FAILED) {
    error = std::string("Condition failed: cannot ") + (residency == Residency::Memory ? "read" : "mmap") + " event file '" + path +
            "': " + std::strerror(map_errno);
    return false;
  }
  if (residency == Residency::Mapped) ::madvise(m, size, MADV_SEQUENTIAL | MADV_WILLNEED);
  residency_ = residency;
  map_ = m;
  map_len_ = size;
  header_ = static_cast<const FileHeader*>(m);
  const FileHeader& h = *header_;
  auto fail = [&](std::string msg) {
    error = "Condition failed: " + where + msg;
    close();
    return false;
  };
  if (std::memcmp(h.magic, kFileMagic, sizeof kFileMagic) != 0)
    return fail("magic is not 'SFEVENTS' (not an .sfe event file)");
  if (h.version != kFileVersion)
    return fail("version is " + std::to_string(h.version) + ", expected " + std::to_string(kFileVersion));
  if (h.record_size != kRecordSize)
    return fail("record_size is " + std::to_string(h.record_size) + ", expected 64");
  if (h.instrument_count < 1 || h.instrument_count > kMaxInstruments)
    return fail("instrument_count is " + std::to_string(h.instrument_count) + ", expected 1..65535");
  // 64 + 64*n + 64*count must equal the file size; guard the multiplication against overflow.
  const std::uint64_t table = 64ull * h.instrument_count;
  if (h.event_count > (UINT64_MAX - 64 - table) / 64)
    return fail("event_count " + fmt_u64(h.event_count) + " overflows the size equation");
  const std::uint64_t expected = 64 + table + 64ull * h.event_count;
  if (expected != size)
    return fail("size is " + fmt_u64(size) + " bytes but 64 + 64*instrument_count(" +
                std::to_string(h.instrument_count) + ") + 64*event_count(" + fmt_u64(h.event_count) +
                ") = " + fmt_u64(expected));
  instruments_ = reinterpret_cast<const InstrumentEntry*>(static_cast<const char*>(m) + 64);
  for (std::uint32_t i = 0; i < h.instrument_count; ++i) {
    const InstrumentEntry& in = instruments_[i];
    const std::string at = "instrument[" + std::to_string(i) + "] ";
    if (in.id != i) return fail(at + "id is " + std::to_string(in.id) + ", expected its index " + std::to_string(i));
    if (in.tick_size_e9 <= 0) return fail(at + "tick_size_e9 must be > 0, was " + std::to_string(in.tick_size_e9));
    if (in.lot_size_e9 <= 0) return fail(at + "lot_size_e9 must be > 0, was " + std::to_string(in.lot_size_e9));
    if (in.bar_interval_ns < 0) return fail(at + "bar_interval_ns must be >= 0, was " + std::to_string(in.bar_interval_ns));
    if (in.symbol_view().empty()) return fail(at + "symbol is empty");
  }
  events_ = reinterpret_cast<const Event*>(static_cast<const char*>(m) + 64 + table);
  // Per-record checks once here (the mapping is read-only), not in every replay loop.
  first_invalid_ = h.event_count;
  for (std::uint64_t i = 0; i < h.event_count; ++i)
    if (validate_record(events_[i], h.instrument_count) != nullptr) [[unlikely]] {
      first_invalid_ = i;
      break;
    }
  return true;
}

std::string EventFile::source() const {
  return std::string(header_->source, ::strnlen(header_->source, sizeof header_->source));
}

long EventFile::find_instrument(std::string_view symbol) const noexcept {
  for (std::uint32_t i = 0; i < instrument_count(); ++i)
    if (instruments_[i].symbol_view() == symbol) return static_cast<long>(i);
  return -1;
}

InstrumentEntry make_instrument(std::string_view symbol, std::int64_t tick_size_e9, std::int64_t lot_size_e9,
                                std::uint32_t id, std::int64_t bar_interval_ns) noexcept {
  InstrumentEntry e{};
  std::memcpy(e.symbol, symbol.data(), std::min<std::size_t>(symbol.size(), sizeof e.symbol - 1));
  e.tick_size_e9 = tick_size_e9;
  e.lot_size_e9 = lot_size_e9;
  e.bar_interval_ns = bar_interval_ns;
  e.id = id;
  return e;
}

EventWriter::~EventWriter() {
  if (f_ != nullptr) {
    std::fclose(f_);
    std::remove(tmp_.c_str());
  }
}

bool EventWriter::open(const std::string& path, const std::vector<InstrumentEntry>& instruments,
                       std::string_view source, std::string& error) {
  if (instruments.empty() || instruments.size() > kMaxInstruments) {
    error = "Condition failed: an event file needs 1..65535 instruments, got " + std::to_string(instruments.size());
    return false;
  }
  path_ = path;
  tmp_ = path + ".tmp";
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (f_ == nullptr) {
    error = "Condition failed: cannot create '" + tmp_ + "': " + std::strerror(errno);
    return false;
  }
  static thread_local char buf[1 << 20];
  std::setvbuf(f_, buf, _IOFBF, sizeof buf);
  std::memcpy(hdr_.magic, kFileMagic, sizeof kFileMagic);
  hdr_.version = kFileVersion;
  hdr_.record_size = kRecordSize;
  hdr_.instrument_count = static_cast<std::uint32_t>(instruments.size());
  std::memcpy(hdr_.source, source.data(), std::min<std::size_t>(source.size(), sizeof hdr_.source));
  std::fwrite(&hdr_, sizeof hdr_, 1, f_);
  std::fwrite(instruments.data(), sizeof(InstrumentEntry), instruments.size(), f_);
  return true;
}

void EventWriter::append(const Event& e) {
  if (count_ == 0) hdr_.first_recv_ts = e.recv_ts;
  hdr_.last_recv_ts = e.recv_ts;
  if (e.recv_ts < last_ts_) sorted_ = false;
  last_ts_ = e.recv_ts;
  std::fwrite(&e, sizeof e, 1, f_);
  ++count_;
}

bool EventWriter::finish(std::string& error) {
  hdr_.event_count = count_;
  hdr_.flags = sorted_ ? kFileSortedByRecvTs : 0;
  bool ok = std::fseek(f_, 0, SEEK_SET) == 0 && std::fwrite(&hdr_, sizeof hdr_, 1, f_) == 1;
  ok = (std::fclose(f_) == 0) && ok;
  f_ = nullptr;
  if (!ok || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    error = "Condition failed: writing '" + path_ + "' failed: " + std::strerror(errno);
    std::remove(tmp_.c_str());
    return false;
  }
  return true;
}

}  // namespace sf
