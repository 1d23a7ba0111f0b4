#include "inline_team.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define XPU_CPU_RELAX() _mm_pause()
#else
#define XPU_CPU_RELAX() std::this_thread::yield()
#endif

extern "C" int omp_get_max_threads(void);
extern "C" void omp_set_num_threads(int);

namespace xpu::compute {
namespace {

// How long an idle helper spins before it sleeps: longer than the gaps between a decode step's
// kernels (tens of us), short enough that an idle process gives the core back at once.
constexpr auto kSpin = std::chrono::microseconds(200);

std::atomic<bool> queueJobRunning{false};
std::atomic<uint64_t> splitCount{0};
std::atomic<int> teamSize{0};
thread_local bool teamActive = false;
thread_local int teamThreads = 1;

class Team {
 public:
  explicit Team(int helpers) : helpers_(helpers) {
    // Detached and never joined: the team lives as long as the process (it is never deleted, so
    // no destructor runs at exit while a helper sleeps on its condition variable).
    for (int i = 0; i < helpers; i++) std::thread([this] { Loop(); }).detach();
  }

  int Threads() const { return helpers_ + 1; }

  // False when another thread holds the team (the caller then runs alone). Parts are claimed, not
  // assigned: a helper that wakes late (or a core another process holds) costs the caller at most
  // the parts it did not claim, never a wait.
  bool TryRun(int threads, int64_t count, const std::function<void(int64_t, int64_t)>& body, int partsPerThread) {
    std::unique_lock<std::mutex> use(use_, std::try_to_lock);
    if (!use.owns_lock()) return false;
    const int64_t parts = std::min<int64_t>(count, int64_t{std::min(threads, Threads())} * std::max(1, partsPerThread));
    body_ = &body;
    count_ = count;
    parts_.store(parts, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    const uint64_t gen = (word_.load(std::memory_order_relaxed) >> 32) + 1;
    word_.store(gen << 32, std::memory_order_seq_cst);  // publishes body_, count_, parts_, done_
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      { std::lock_guard<std::mutex> lock(sleepMu_); }
      wake_.notify_all();
    }
    splitCount.fetch_add(1, std::memory_order_relaxed);
    Work(gen);
    while (done_.load(std::memory_order_acquire) < parts) XPU_CPU_RELAX();
    if (error_) {  // a part threw (out of memory): the caller's kernel fails as it would alone
      std::exception_ptr e = error_;
      error_ = nullptr;
      std::rethrow_exception(e);
    }
    return true;
  }

 private:
  // Claims and runs parts of generation `gen` until none is left. A claim is a CAS on the word
  // that holds (generation, next part), so a helper that wakes after its generation ended claims
  // nothing, and the caller cannot start the next generation before every claimed part is done.
  void Work(uint64_t gen) {
    for (;;) {
      uint64_t w = word_.load(std::memory_order_acquire);
      if ((w >> 32) != gen) return;
      if (!word_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel)) continue;
      const int64_t part = static_cast<int64_t>(w & 0xffffffffu), parts = parts_.load(std::memory_order_relaxed);
      if (part >= parts) return;
      const int64_t begin = count_ * part / parts, end = count_ * (part + 1) / parts;
      if (begin < end) {
        try {
          (*body_)(begin, end);
        } catch (...) {
          std::lock_guard<std::mutex> lock(errorMu_);
          if (!error_) error_ = std::current_exception();
        }
      }
      done_.fetch_add(1, std::memory_order_release);
    }
  }

  void Loop() {
    omp_set_num_threads(1);  // a kernel's OpenMP loop (or oneMKL) inside a part stays on this thread
    uint64_t seen = word_.load(std::memory_order_acquire) >> 32;
    for (;;) {
      const uint64_t gen = word_.load(std::memory_order_acquire) >> 32;
      if (gen == seen) {
        Idle(seen);
        continue;
      }
      seen = gen;
      Work(gen);
    }
  }

  void Idle(uint64_t seen) {
    const auto start = std::chrono::steady_clock::now();
    for (int spins = 1;; spins++) {
      if ((word_.load(std::memory_order_acquire) >> 32) != seen) return;
      XPU_CPU_RELAX();
      if (spins % 64 == 0 && (queueJobRunning.load(std::memory_order_relaxed) || std::chrono::steady_clock::now() - start > kSpin)) break;
    }
    std::unique_lock<std::mutex> lock(sleepMu_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    wake_.wait(lock, [&] { return (word_.load(std::memory_order_seq_cst) >> 32) != seen; });
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
  }

  const int helpers_;
  std::mutex use_;
  std::atomic<uint64_t> word_{0};  // generation << 32 | next unclaimed part
  std::atomic<int64_t> parts_{0};
  std::atomic<int64_t> done_{0};
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  int64_t count_ = 0;
  std::mutex errorMu_;
  std::exception_ptr error_;
  std::atomic<int> sleepers_{0};
  std::mutex sleepMu_;
  std::condition_variable wake_;
};

// XPU_CPU_INLINE_THREADS caps the team (1: no helpers); read once, when the team is made.
int ThreadCap() {
  const char* v = std::getenv("XPU_CPU_INLINE_THREADS");
  if (v == nullptr || *v == '\0') return 1 << 20;
  const int n = std::atoi(v);
  return n >= 1 ? n : 1 << 20;
}

// Made on first use with as many threads as OpenMP would use on the calling thread (OMP_NUM_THREADS
// or the cores), at most 16: helpers beyond a call's thread count would only spin.
Team* TheTeam(int threads) {
  static std::once_flag once;
  static Team* team = nullptr;
  std::call_once(once, [&] {
    const int n = std::min({threads, ThreadCap(), 16});
    if (n > 1) team = new Team(n - 1);
    teamSize.store(n > 1 ? n : 1, std::memory_order_relaxed);
  });
  return team;
}

}  // namespace

void InlineSplit(int64_t count, const std::function<void(int64_t, int64_t)>& body, int partsPerThread) {
  if (count <= 0) return;
  if (teamActive && teamThreads > 1 && count > 1) {
    Team* team = TheTeam(teamThreads);
    if (team != nullptr && team->TryRun(teamThreads, count, body, partsPerThread)) return;
  }
  body(0, count);
}

bool InlineTeamActive() { return teamActive; }

InlineTeamHere::InlineTeamHere() : previousActive_(teamActive) {
  teamThreads = one_.Previous();
  teamActive = true;
}

InlineTeamHere::~InlineTeamHere() { teamActive = previousActive_; }

InlineTeamStats InlineTeamStatsNow() {
  // Before the team is made: the size it would have on this thread.
  const int made = teamSize.load(std::memory_order_relaxed);
  const int threads = made > 0 ? made : std::min({teamActive ? teamThreads : omp_get_max_threads(), ThreadCap(), 16});
  return {threads, splitCount.load(std::memory_order_relaxed)};
}

void NoteQueueJobRunning(bool running) { queueJobRunning.store(running, std::memory_order_relaxed); }

}  // namespace xpu::compute
