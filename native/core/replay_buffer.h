// Ring buffer of joint transitions in shared memory: many producers (threads or processes on one
// host) append whole vectorized steps while one learner samples uniform, filtered or prioritized batches.
//
// Memory layout (one mapping, preallocated once at construction, float32 records):
//   [SharedHeader, 4 KiB] [stamps: capacity x atomic<uint64>] [records: capacity x kRecordFloats floats]
// The mapping is a POSIX shm segment ("/name", shm_open + mmap) when ReplayBufferOptions::shm_name is
// set, else private anonymous shared memory (still shared with fork()ed children). A shm segment's
// pages are reserved at creation (posix_fallocate), so a full /dev/shm is a clear error then, never a
// SIGBUS mid-run. The creating object is the owner: it unlinks the segment in its destructor, and a
// process that exit()s without destroying it (Node's process.exit) unlinks it among the static
// destructors. Producers in other processes call attach(name). All processes must share a pid namespace.
//
// Append protocol (lock-free; several producers, no producer ever waits on the learner):
//   1. Reserve: first = header.reserved.fetch_add(n). Tickets first..first+n-1 are ours alone; ticket t
//      goes to slot t % capacity.
//   2. Claim each slot with a CAS on its stamp, from a committed value (t' + 1, t' < t) to
//      kWritingBit | pid. A slot already held by another writer (possible only when the ring laps a
//      slow writer) is waited for; a holder whose pid is gone (kill(pid, 0) == ESRCH) is taken over.
//      A slot whose stamp already shows a newer ticket means our record was lapped (it is older than
//      the last `capacity` records): it is skipped, exactly as if written and then overwritten.
//   3. Write the record, then store stamp = t + 1 with release order (a seqlock: the writing bit is
//      set while the data changes, a unique committed value follows).
//   4. header.committed.fetch_add(n): total_added() counts every finished append.
// Read protocol (seqlock): s1 = stamp (acquire); copy; acquire fence; s2 = stamp. The copy is kept only
// when s1 == s2 and s1 is a committed value; stamps never repeat (tickets grow), so there is no ABA.
// A slot that is empty or being (re)written is never returned: the sampler draws another slot.
//
// Sampling runs in one object at a time (the learner's; calls are serialized by a mutex) and keeps its
// own state in that object, not in shared memory: the seeded RNG, the prioritized-replay sum tree and
// the negative-reward category index. New records are indexed lazily at each sample() by walking the
// tickets reserved since the last call (records still being written are re-checked next time).
// A producer killed mid-append leaves its unwritten slots with their previous records (or empty) until
// the ring laps them; nothing blocks on it.
//
// Stale segments: the header stores the owner's pid and process start time. Creating a buffer whose
// name exists reclaims the segment when that owner is gone (reclaimed_stale_pid() tells which) and
// throws std::runtime_error while it is alive; attach() to a segment whose owner is gone throws;
// sweep_stale_segments(prefix) removes every such leftover (e.g. after kill -9).
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "batch.h"

namespace tennis {

struct SharedHeader;  // the segment's first page, defined in replay_buffer_shared.h

// Float offset of each field inside one joint record (the order of batch.h).
constexpr int kObsOffset = 0;
// Offset of actions [2][2].
constexpr int kActionsOffset = kObsOffset + kAgents * kObsSize;
// Offset of rewards [2].
constexpr int kRewardsOffset = kActionsOffset + kAgents * kActionSize;
// Offset of next_obs [2][24].
constexpr int kNextObsOffset = kRewardsOffset + kAgents;
// Offset of dones [2].
constexpr int kDonesOffset = kNextObsOffset + kAgents * kObsSize;
static_assert(kDonesOffset + kAgents == kRecordFloats, "record layout must match batch.h");

struct ReplayBufferOptions {
  int64_t capacity = 100000;    // records kept (ring); >= 1
  std::string shm_name;         // empty -> private anonymous memory; else POSIX shm "/name" (per run)
  bool prioritized = false;     // proportional prioritized replay (Schaul et al. 2016)
  float alpha = 0.6f;           // priority exponent, >= 0 (0 = uniform)
  float beta0 = 0.4f;           // initial importance-sampling exponent, in [0, 1]
  int64_t beta_steps = 100000;  // sample() calls over which beta anneals linearly from beta0 to 1
  float priority_eps = 1e-6f;   // added to |td_error| so no record gets priority 0; > 0
  uint64_t seed = 0;            // sampler RNG seed
};

struct SampleOptions {
  // While total_added() < this, transitions with a negative reward are not sampled (the notebook's
  // early-training filter). 0 = off.
  int64_t early_training_steps = 0;
  // < 0: off. Else in [0, 1]: floor(batch * ratio) of each batch are negative-reward transitions and
  // the rest non-negative ones, as far as each kind is stored (a missing kind is filled from the other).
  float neg_sampling_ratio = -1.0f;
};

// A transition counts as negative when any agent's reward is < 0 (a missed ball in Tennis).
bool is_negative_transition(const float* rewards);

class ReplayBuffer {
 public:
  // Creates the buffer (owner). Throws std::invalid_argument naming the option (capacity < 1, alpha,
  // beta0, beta_steps, priority_eps, shm_name, more bytes than physical RAM) and std::runtime_error
  // when the shm segment is held by a live owner or the memory cannot be mapped.
  explicit ReplayBuffer(const ReplayBufferOptions& options);
  // Attaches to a live owner's segment as a producer (any process on the host). The attached object
  // samples uniformly only (prioritized state lives with the owner). Throws std::runtime_error for a
  // missing, foreign or stale segment and std::invalid_argument for a malformed name.
  static std::unique_ptr<ReplayBuffer> attach(const std::string& shm_name);
  // A name unique to this process and call, "/<prefix>-<pid>-<n>-<time>", for options.shm_name.
  static std::string unique_shm_name(const std::string& prefix = "tennis-train");
  // Removes /dev/shm segments whose name starts with prefix and whose owner is gone; returns how many.
  static int sweep_stale_segments(const std::string& prefix = "tennis-train");

  ~ReplayBuffer();
  ReplayBuffer(const ReplayBuffer&) = delete;
  ReplayBuffer& operator=(const ReplayBuffer&) = delete;

  // Appends n whole joint transitions (one vectorized step), thread-safe and process-safe:
  // obs [n][2][24], actions [n][2][2], rewards [n][2], next_obs [n][2][24], dones [n][2].
  // Throws std::invalid_argument (buffer untouched) for n outside [1, capacity], a null array, or a
  // non-finite value (naming the array and index).
  void add(int64_t n, const float* obs, const float* actions, const float* rewards, const float* next_obs,
           const float* dones);
  // add() with each array's element count: n = obs_len / 48, and every length must match n.
  void add_arrays(const float* obs, int64_t obs_len, const float* actions, int64_t actions_len, const float* rewards,
                  int64_t rewards_len, const float* next_obs, int64_t next_obs_len, const float* dones,
                  int64_t dones_len);

  // Records stored now: min(total_added(), capacity()).
  int64_t size() const;
  int64_t capacity() const { return capacity_; }
  // Records ever appended (completed add() calls' n summed), across all producers.
  int64_t total_added() const;

  // Fills out (out.size must equal batch) with batch transitions drawn with replacement: uniform, or
  // filtered/ratioed by `options`, or by priority. out.weights (importance weights, 1 when uniform)
  // and out.indices (slots, for update_priorities) are filled where non-null.
  // Throws std::invalid_argument (nothing changed) for batch < 1 or > size(), out.size != batch, a null
  // output, bad options, options combined with prioritized replay, or an early filter with no
  // non-negative transition stored.
  void sample(int64_t batch, const SampleOptions& options, const BatchView& out);
  // priority = (|td_error| + priority_eps)^alpha for each slot (as returned in BatchView::indices).
  // Throws std::invalid_argument (nothing changed) without prioritized replay, for n < 1, a slot never
  // reserved (outside [0, min(tickets handed out, capacity))) or a non-finite error.
  void update_priorities(int64_t n, const int64_t* indices, const float* td_errors);

  // Checkpoint: records, counters, RNG state, beta progress and priorities; written atomically
  // (temp file + rename). Call while producers are idle. Throws std::runtime_error on I/O failure.
  void save(const std::string& path) const;
  // Restores a save() of a buffer with the same capacity (std::invalid_argument otherwise, or for a
  // file that is not a complete checkpoint; buffer untouched). Call while producers are idle.
  void load(const std::string& path);

  // Copies slot's record (kRecordFloats floats) if it holds a committed one; returns its ticket + 1
  // (0 = empty or being written). For tools and tests.
  uint64_t read_slot(int64_t slot, float* record) const;
  // Current importance-sampling exponent.
  float beta() const;
  // The sum-tree leaf of slot, priority^alpha, after indexing new records (0 = empty slot, or no
  // prioritized replay).
  double priority(int64_t slot);
  bool prioritized() const { return options_.prioritized; }
  bool is_owner() const { return owner_; }
  // "/name" of the shm segment; empty for private memory.
  const std::string& shm_name() const { return shm_name_; }
  // Pid of a dead owner whose segment this constructor reclaimed; 0 when none.
  int64_t reclaimed_stale_pid() const { return reclaimed_pid_; }
  // Bytes mapped for header, stamps and records.
  int64_t mapped_bytes() const { return static_cast<int64_t>(mapped_bytes_); }

 private:
  struct AttachTag {};
  struct SamplerState;
  ReplayBuffer(AttachTag, const std::string& shm_name);

  void map_layout(void* base);
  bool write_record(uint64_t ticket, uint32_t pid, const float* obs, const float* actions, const float* rewards,
                    const float* next_obs, const float* dones);
  uint64_t read_into(int64_t slot, const BatchView& out, int64_t k) const;
  void sample_uniform(int64_t batch, const BatchView& out);
  void sample_by_category(int64_t batch, bool drop_negatives, float neg_ratio, const BatchView& out);
  void sample_prioritized(int64_t batch, const BatchView& out);
  bool index_ticket(uint64_t ticket);
  void sync_indexes();
  void ensure_category_index();

  ReplayBufferOptions options_;
  int64_t capacity_ = 0;
  bool owner_ = false;
  std::string shm_name_;
  int64_t reclaimed_pid_ = 0;
  void* base_ = nullptr;
  size_t mapped_bytes_ = 0;
  SharedHeader* header_ = nullptr;
  void* stamps_ = nullptr;  // std::atomic<uint64_t>[capacity], typed in the .cc
  float* data_ = nullptr;
  mutable std::mutex sampler_mutex_;
  std::unique_ptr<SamplerState> sampler_;
};

}  // namespace tennis
