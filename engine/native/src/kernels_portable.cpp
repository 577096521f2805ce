// Portable kernels (the oracle for the vectorised ones), CPU dispatch and the thread pool.
#include <algorithm>
#include <limits>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "common.h"

namespace lce_native {

namespace {
#define LCE_GLUE_TARGET
#include "glue.inc"
#undef LCE_GLUE_TARGET
}  // namespace

void bitpack_portable(const float* in, int rows, int channels, Word* out) {
  const int words = packed_words(channels);
  for (int r = 0; r < rows; ++r) {
    const float* src = in + static_cast<size_t>(r) * channels;
    Word* dst = out + static_cast<size_t>(r) * words;
    for (int w = 0; w < words; ++w) {
      Word bits = 0;
      const int n = std::min(kWordBits, channels - w * kWordBits);
      for (int i = 0; i < n; ++i) {
        // NaN and -0.0 compare false: they pack as +1, as in LCE.
        bits |= static_cast<Word>(src[w * kWordBits + i] < 0.0f) << i;
      }
      dst[w] = bits;
    }
  }
}

static inline int popcount32(Word x) {
  // Portable bit count; no popcnt instruction assumed.
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  x = (x + (x >> 4)) & 0x0F0F0F0Fu;
  return static_cast<int>((x * 0x01010101u) >> 24);
}

void bgemm_portable(const BgemmArgs& g, int row_begin, int row_end) {
  const int out_words = packed_words(g.channels_out);
  for (int r = row_begin; r < row_end; ++r) {
    const Word* const* rows = g.ind + static_cast<size_t>(r) * g.taps;
    for (int o = 0; o < g.channels_out; ++o) {
      const Word* wb = g.w->block(o / kLanes) + (o % kLanes);
      std::int32_t acc = 0;
      for (int t = 0; t < g.taps; ++t)
        for (int c = 0; c < g.depth; ++c)
          acc += popcount32(rows[t][c] ^ wb[(t * g.depth + c) * kLanes]);
      if (g.out_packed != nullptr) {
        Word* dst = g.out_packed + static_cast<size_t>(r) * out_words + o / kWordBits;
        if (o % kWordBits == 0) *dst = 0;
        *dst |= static_cast<Word>(acc > g.thresholds[o]) << (o % kWordBits);
      } else {
        const std::int32_t x = std::min(std::max(2 * acc, g.clamp_min), g.clamp_max);
        const size_t at = static_cast<size_t>(r) * g.channels_out + o;
        float y = static_cast<float>(x) * g.mul[o] + g.bias[o];
        if (g.residual != nullptr) {
          y = y + g.residual[at];
          y = y < g.residual_clamp.lo ? g.residual_clamp.lo : y;
          y = y > g.residual_clamp.hi ? g.residual_clamp.hi : y;
        }
        g.out_float[at] = y;
      }
    }
  }
}

void sgemm_portable(const SgemmArgs& g, int row_begin, int row_end) {
  for (int r = row_begin; r < row_end; ++r) {
    const float* const* rows = g.ind + static_cast<size_t>(r) * g.taps;
    float* c = g.out + static_cast<size_t>(r) * g.ldc;
    for (int o = 0; o < g.channels_out; ++o) {
      const float* wb = g.w->block(o / kLanes) + (o % kLanes);
      float acc = g.bias != nullptr ? g.bias[o] : 0.0f;
      for (int t = 0; t < g.taps; ++t)
        for (int k = 0; k < g.depth; ++k) acc += rows[t][k] * wb[(t * g.depth + k) * kLanes];
      c[o] = std::min(std::max(acc, g.clamp.lo), g.clamp.hi);
    }
  }
}

const KernelSet& portable_kernels() {
  static const KernelSet set{"portable", bitpack_portable, bgemm_portable, sgemm_portable,
                               depthwise_glue,     pool_glue,      add_glue};
  return set;
}

const KernelSet& select_kernels(const std::string& request) {
  if (request == "portable") return portable_kernels();
  if (request == "avx2" || request == "avx512") {
    const KernelSet* set = request == "avx2" ? avx2_kernels() : avx512_kernels();
    if (set == nullptr) throw std::invalid_argument("this CPU does not support the " + request +
                                                    " kernels");
    return *set;
  }
  if (request != "auto") {
    throw std::invalid_argument("unknown kernel set '" + request +
                                "' (use auto, portable, avx2 or avx512)");
  }
  const char* portable = std::getenv("LCE_NAS_NATIVE_PORTABLE");
  if (portable != nullptr && std::strcmp(portable, "") != 0 && std::strcmp(portable, "0") != 0) {
    return portable_kernels();
  }
  if (const KernelSet* set = avx512_kernels()) return *set;
  if (const KernelSet* set = avx2_kernels()) return *set;
  return portable_kernels();
}

// ---------------------------------------------------------------------------------------
// Thread pool. Work is cut into more chunks than threads and claimed from an atomic
// counter, so the calling thread finishes every chunk no worker has started: on a busy
// machine a descheduled worker delays nothing. Idle workers spin briefly (ops are short,
// a sleep/wake round trip would cost as much as a small op), then sleep.

namespace {
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

struct ThreadPool::Impl {
  struct Job {
    const std::function<void(int, int)>* fn = nullptr;
    int n = 0, grain = 1, chunks = 0;
  };
  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake;
  // Job number in the high 32 bits, next unclaimed chunk in the low 32. A chunk is only
  // run after a successful compare-exchange on this word, so a worker that wakes late
  // and reads a newer job's slot never runs anything with it.
  std::atomic<std::uint64_t> state{0};
  std::atomic<int> done{0};
  std::atomic<bool> stop{false};
  Job jobs[2];
  std::uint32_t job_number = 0;

  void drain(std::uint32_t number) {
    const Job job = jobs[number & 1];
    const int units = (job.n + job.grain - 1) / job.grain;
    std::uint64_t cur = state.load(std::memory_order_acquire);
    for (;;) {
      if (static_cast<std::uint32_t>(cur >> 32) != number) return;
      const int c = static_cast<int>(cur & 0xFFFFFFFFu);
      if (c >= job.chunks) return;
      if (!state.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel)) continue;
      const int begin = static_cast<int>(static_cast<long long>(units) * c / job.chunks) * job.grain;
      const int end = std::min(
          job.n, static_cast<int>(static_cast<long long>(units) * (c + 1) / job.chunks) * job.grain);
      if (begin < end) (*job.fn)(begin, end);
      done.fetch_add(1, std::memory_order_acq_rel);
      cur = state.load(std::memory_order_acquire);
    }
  }

  void worker() {
    std::uint32_t seen = 0;
    for (;;) {
      int spins = 0;
      std::uint32_t number;
      while ((number = static_cast<std::uint32_t>(state.load(std::memory_order_acquire) >> 32)) ==
                 seen &&
             !stop.load()) {
        if (++spins < 4000) {
          cpu_relax();
        } else if (spins < 4100) {
          std::this_thread::yield();
        } else {
          std::unique_lock<std::mutex> lock(mutex);
          wake.wait(lock, [&] { return (state.load() >> 32) != seen || stop.load(); });
        }
      }
      if (stop.load()) return;
      seen = number;
      drain(number);
    }
  }
};

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)) {
  impl_ = new Impl();
  for (int t = 1; t < num_threads_; ++t) impl_->workers.emplace_back([this] { impl_->worker(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop.store(true);
  }
  impl_->wake.notify_all();
  for (auto& t : impl_->workers) t.join();
  delete impl_;
}

void ThreadPool::parallel_for(int n, int grain, const std::function<void(int, int)>& fn) {
  grain = std::max(1, grain);
  const int units = (n + grain - 1) / grain;
  if (num_threads_ == 1 || units < 2) {
    if (n > 0) fn(0, n);
    return;
  }
  Impl& p = *impl_;
  const std::uint32_t number = ++p.job_number;
  Impl::Job& job = p.jobs[number & 1];
  job.fn = &fn;
  job.n = n;
  job.grain = grain;
  job.chunks = std::min(units, 4 * num_threads_);
  p.done.store(0, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    p.state.store(static_cast<std::uint64_t>(number) << 32, std::memory_order_release);
  }
  p.wake.notify_all();
  p.drain(number);
  // Every chunk is claimed now; wait for the ones workers are still running.
  int spins = 0;
  while (p.done.load(std::memory_order_acquire) < job.chunks) {
    if (++spins < 4000) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

}  // namespace lce_native
