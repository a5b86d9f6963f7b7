// Internal to the replay buffer's source files (replay_buffer*.cc): the shared-memory header, the
// stamp encoding, argument checks and the learner-side sampler state.
#pragma once
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "replay_buffer.h"
#include "rng.h"
#include "sum_tree.h"

namespace tennis {

// The first page of a segment. Plain fields are written once by the owner before `ready`.
struct SharedHeader {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t record_floats;
  int64_t capacity;
  int64_t total_bytes;
  int64_t stamps_offset;
  int64_t data_offset;
  int32_t owner_pid;
  uint32_t reserved_padding;
  uint64_t owner_start_time;  // /proc/<pid>/stat starttime, to tell a reused pid from the owner
  std::atomic<uint32_t> ready;
  alignas(64) std::atomic<uint64_t> reserved;   // tickets handed out
  alignas(64) std::atomic<uint64_t> committed;  // records whose append finished
};

namespace replay {

// Bumped whenever SharedHeader or the slot layout changes.
constexpr uint32_t kLayoutVersion = 1;
// Stamp bit set while a writer holds the slot; the low 32 bits then hold the writer's pid.
constexpr uint64_t kWritingBit = 1ULL << 63;
// Mask of the writer pid inside a "writing" stamp.
constexpr uint64_t kPidMask = 0xffffffffULL;
// Bytes reserved for SharedHeader at the start of the mapping.
constexpr int64_t kHeaderBytes = 4096;
// Bytes of one record.
constexpr int64_t kRecordBytes = kRecordFloats * int64_t(sizeof(float));
// Floats per transition of each field.
constexpr int kObsFloats = kAgents * kObsSize;
constexpr int kActionFloats = kAgents * kActionSize;

using Stamp = std::atomic<uint64_t>;
static_assert(Stamp::is_always_lock_free, "stamps must be address-free atomics to live in shared memory");
static_assert(sizeof(Stamp) == sizeof(uint64_t), "stamp layout");
static_assert(sizeof(SharedHeader) <= static_cast<size_t>(kHeaderBytes), "header must fit its page");

inline std::string errno_text(int err) { return std::strerror(err); }

inline bool pid_exists(int64_t pid) {
  if (pid <= 0) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

inline void check_finite(const char* name, const float* data, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(data[i])) {
      std::ostringstream os;
      os << name << " must be finite, got " << data[i] << " at index " << i;
      throw std::invalid_argument(os.str());
    }
  }
}

inline void require_non_null(const void* p, const char* name) {
  if (p == nullptr) throw std::invalid_argument(std::string(name) + " must not be null");
}

// Sampler categories of a slot (SamplerState::category); 0 = not indexed.
constexpr uint8_t kNegative = 1;
constexpr uint8_t kNonNegative = 2;

}  // namespace replay

// The learner-side state of one object: everything sample() needs that producers never touch.
struct ReplayBuffer::SamplerState {
  Rng rng;
  int64_t sample_calls = 0;               // completed sample() calls, drives beta annealing
  double max_priority = 1.0;              // largest |td_error| + eps seen, given to new records
  std::unique_ptr<SumTree> priorities;    // leaf = priority^alpha, only with prioritized replay
  std::unique_ptr<CountIndex> negatives;  // built on the first filtered/ratioed sample()
  std::unique_ptr<CountIndex> non_negatives;
  std::vector<uint8_t> category;  // per slot: 0 not indexed, 1 negative, 2 non-negative
  uint64_t cursor = 0;            // tickets below this were offered to the indexes
  std::vector<uint64_t> pending;  // tickets reserved but not yet committed at the last sync
  std::vector<uint8_t> kinds;     // scratch: category wanted at each batch position
};

}  // namespace tennis
