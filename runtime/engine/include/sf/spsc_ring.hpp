// sf/spsc_ring.hpp — a bounded single-producer / single-consumer ring of trivially copyable items.
//
// Design: the classic Lamport ring with the two refinements every well-kept implementation
// (folly::ProducerConsumerQueue, boost::lockfree::spsc_queue, rigtorp::SPSCQueue) uses:
// monotonically increasing 64-bit head/tail indices masked into a power-of-two buffer, each on
// its own cache line (no false sharing between the producer and the consumer), and a cached
// copy of the other side's index so that a push or pop touches the shared line of the other
// side only when the cached value says the ring looks full / empty. The producer publishes an
// item with a release store of tail after writing the slot; the consumer reads tail with
// acquire before reading the slot, and publishes the freed slot with a release store of head.
// Hand-written (about 60 lines) rather than a dependency: the engine has no dependencies beyond
// the C++ standard library and libdl (runtime/engine/CMakeLists.txt), and none of the above
// offers anything this one needs beyond try_push / try_pop.
// Never blocks and never allocates after construction: try_push() returns false when the ring
// is full, try_pop() when it is empty. Exactly one thread may push and one thread may pop.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>

namespace sf {

inline constexpr std::size_t kCacheLine = 64;

template <class T>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>, "SpscRing carries trivially copyable items");

 public:
  /// `capacity` must be a power of two >= 2.
  explicit SpscRing(std::size_t capacity) : mask_(capacity - 1), buf_(std::make_unique<T[]>(capacity)) {
    if (capacity < 2 || (capacity & (capacity - 1)) != 0) throw std::invalid_argument("SpscRing capacity must be a power of two >= 2");
  }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }

  /// Producer: copies `v` in; false (nothing changed) when the ring is full.
  [[nodiscard]] bool try_push(const T& v) noexcept {
    const std::uint64_t t = tail_.v.load(std::memory_order_relaxed);
    if (t - head_cache_ > mask_) {
      head_cache_ = head_.v.load(std::memory_order_acquire);
      if (t - head_cache_ > mask_) return false;
    }
    buf_[t & mask_] = v;
    tail_.v.store(t + 1, std::memory_order_release);
    return true;
  }

  /// Consumer: copies the oldest item out; false when the ring is empty.
  [[nodiscard]] bool try_pop(T& out) noexcept {
    const std::uint64_t h = head_.v.load(std::memory_order_relaxed);
    if (h == tail_cache_) {
      tail_cache_ = tail_.v.load(std::memory_order_acquire);
      if (h == tail_cache_) return false;
    }
    out = buf_[h & mask_];
    head_.v.store(h + 1, std::memory_order_release);
    return true;
  }

  /// Items in the ring as seen from the consumer (exact on the consumer thread, a snapshot
  /// elsewhere).
  [[nodiscard]] std::size_t size_approx() const noexcept {
    const std::uint64_t h = head_.v.load(std::memory_order_acquire);
    const std::uint64_t t = tail_.v.load(std::memory_order_acquire);
    return static_cast<std::size_t>(t - h);
  }

 private:
  struct alignas(kCacheLine) Index {
    std::atomic<std::uint64_t> v{0};
  };
  const std::size_t mask_;
  std::unique_ptr<T[]> buf_;
  Index head_;  // written by the consumer
  alignas(kCacheLine) std::uint64_t head_cache_ = 0;  // producer's copy of head_
  Index tail_;  // written by the producer
  alignas(kCacheLine) std::uint64_t tail_cache_ = 0;  // consumer's copy of tail_
};

}  // namespace sf
