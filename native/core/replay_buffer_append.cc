// Replay buffer appends: the lock-free multi-producer protocol (tickets, slot claims by CAS on the
// stamps, seqlock writes) documented in replay_buffer.h.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>

#include "replay_buffer.h"
#include "replay_buffer_shared.h"

namespace tennis {

using namespace replay;

namespace {

// Spins on a held slot before checking whether its writer is still alive (then every kSpinCheck).
constexpr int kSpinsBeforeCheck = 4096;
constexpr int kSpinCheck = 1024;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

void ReplayBuffer::add(int64_t n, const float* obs, const float* actions, const float* rewards, const float* next_obs,
                       const float* dones) {
  if (n < 1 || n > capacity_) {
    throw std::invalid_argument("n must be in [1, capacity=" + std::to_string(capacity_) + "], got " +
                                std::to_string(n));
  }
  require_non_null(obs, "obs");
  require_non_null(actions, "actions");
  require_non_null(rewards, "rewards");
  require_non_null(next_obs, "next_obs");
  require_non_null(dones, "dones");
  // Everything is checked before a ticket is taken, so a rejected call leaves no trace.
  check_finite("obs", obs, n * kObsFloats);
  check_finite("actions", actions, n * kActionFloats);
  check_finite("rewards", rewards, n * kAgents);
  check_finite("next_obs", next_obs, n * kObsFloats);
  check_finite("dones", dones, n * kAgents);

  const uint64_t first = header_->reserved.fetch_add(static_cast<uint64_t>(n), std::memory_order_acq_rel);
  const uint32_t pid = static_cast<uint32_t>(getpid());
  for (int64_t i = 0; i < n; ++i) {
    write_record(first + static_cast<uint64_t>(i), pid, obs + i * kObsFloats, actions + i * kActionFloats,
                 rewards + i * kAgents, next_obs + i * kObsFloats, dones + i * kAgents);
  }
  header_->committed.fetch_add(static_cast<uint64_t>(n), std::memory_order_acq_rel);
}

void ReplayBuffer::add_arrays(const float* obs, int64_t obs_len, const float* actions, int64_t actions_len,
                              const float* rewards, int64_t rewards_len, const float* next_obs, int64_t next_obs_len,
                              const float* dones, int64_t dones_len) {
  if (obs_len < kObsFloats || obs_len % kObsFloats != 0) {
    throw std::invalid_argument("obs length must be a positive multiple of " + std::to_string(kObsFloats) +
                                " (n x 2 x 24), got " + std::to_string(obs_len));
  }
  const int64_t n = obs_len / kObsFloats;
  const auto check_len = [n](const char* name, int64_t len, int64_t per) {
    if (len != n * per) {
      throw std::invalid_argument(std::string(name) + " length must be " + std::to_string(n * per) + " (n=" +
                                  std::to_string(n) + " x " + std::to_string(per) + "), got " + std::to_string(len));
    }
  };
  check_len("actions", actions_len, kActionFloats);
  check_len("rewards", rewards_len, kAgents);
  check_len("next_obs", next_obs_len, kObsFloats);
  check_len("dones", dones_len, kAgents);
  add(n, obs, actions, rewards, next_obs, dones);
}

bool ReplayBuffer::write_record(uint64_t ticket, uint32_t pid, const float* obs, const float* actions,
                                const float* rewards, const float* next_obs, const float* dones) {
  const int64_t slot = static_cast<int64_t>(ticket % static_cast<uint64_t>(capacity_));
  Stamp& stamp = static_cast<Stamp*>(stamps_)[slot];
  const uint64_t committed_value = ticket + 1;
  const uint64_t writing_value = kWritingBit | pid;
  uint64_t current = stamp.load(std::memory_order_acquire);
  for (int spins = 0;; ++spins) {
    if ((current & kWritingBit) == 0) {
      // A newer ticket already committed here: ours is older than the last `capacity` records.
      if (current > committed_value) return false;
      if (stamp.compare_exchange_weak(current, writing_value, std::memory_order_acq_rel, std::memory_order_acquire)) {
        break;
      }
      continue;
    }
    // Another writer holds the slot (the ring lapped a slow writer): wait, or take over from a dead one.
    if (spins >= kSpinsBeforeCheck && spins % kSpinCheck == 0 && !pid_exists(int64_t(current & kPidMask))) {
      if (stamp.compare_exchange_strong(current, writing_value, std::memory_order_acq_rel, std::memory_order_acquire)) {
        break;
      }
      continue;
    }
    if (spins < 64) {
      cpu_relax();
    } else {
      sched_yield();
    }
    current = stamp.load(std::memory_order_acquire);
  }
  // Seqlock writer: the "writing" stamp is ordered before the data stores...
  std::atomic_thread_fence(std::memory_order_release);
  float* record = data_ + slot * kRecordFloats;
  std::memcpy(record + kObsOffset, obs, sizeof(float) * kObsFloats);
  std::memcpy(record + kActionsOffset, actions, sizeof(float) * kActionFloats);
  std::memcpy(record + kRewardsOffset, rewards, sizeof(float) * kAgents);
  std::memcpy(record + kNextObsOffset, next_obs, sizeof(float) * kObsFloats);
  std::memcpy(record + kDonesOffset, dones, sizeof(float) * kAgents);
  // ...and the committed stamp after them.
  stamp.store(committed_value, std::memory_order_release);
  return true;
}

int64_t ReplayBuffer::size() const {
  const uint64_t committed = header_->committed.load(std::memory_order_acquire);
  return static_cast<int64_t>(std::min<uint64_t>(committed, static_cast<uint64_t>(capacity_)));
}

int64_t ReplayBuffer::total_added() const {
  return static_cast<int64_t>(header_->committed.load(std::memory_order_acquire));
}

}  // namespace tennis
