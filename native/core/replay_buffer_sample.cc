// Replay buffer reads and sampling: seqlock reads, the uniform, filtered / ratioed and prioritized
// samplers with their lazily built indexes, and priority updates.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include "replay_buffer.h"
#include "replay_buffer_shared.h"

namespace tennis {

using namespace replay;

bool is_negative_transition(const float* rewards) {
  for (int a = 0; a < kAgents; ++a) {
    if (rewards[a] < 0.0f) return true;
  }
  return false;
}

// ---- reads ----------------------------------------------------------------------------------

uint64_t ReplayBuffer::read_into(int64_t slot, const BatchView& out, int64_t k) const {
  const Stamp& stamp = static_cast<const Stamp*>(stamps_)[slot];
  const uint64_t before = stamp.load(std::memory_order_acquire);
  if (before == 0 || (before & kWritingBit) != 0) return 0;
  const float* record = data_ + slot * kRecordFloats;
  std::memcpy(out.obs + k * kObsFloats, record + kObsOffset, sizeof(float) * kObsFloats);
  std::memcpy(out.actions + k * kActionFloats, record + kActionsOffset, sizeof(float) * kActionFloats);
  std::memcpy(out.rewards + k * kAgents, record + kRewardsOffset, sizeof(float) * kAgents);
  std::memcpy(out.next_obs + k * kObsFloats, record + kNextObsOffset, sizeof(float) * kObsFloats);
  std::memcpy(out.dones + k * kAgents, record + kDonesOffset, sizeof(float) * kAgents);
  std::atomic_thread_fence(std::memory_order_acquire);
  return stamp.load(std::memory_order_relaxed) == before ? before : 0;
}

uint64_t ReplayBuffer::read_slot(int64_t slot, float* record) const {
  if (slot < 0 || slot >= capacity_) {
    throw std::invalid_argument("slot must be in [0, " + std::to_string(capacity_) + "), got " + std::to_string(slot));
  }
  require_non_null(record, "record");
  BatchView view;
  view.size = 1;
  view.obs = record + kObsOffset;
  view.actions = record + kActionsOffset;
  view.rewards = record + kRewardsOffset;
  view.next_obs = record + kNextObsOffset;
  view.dones = record + kDonesOffset;
  return read_into(slot, view, 0);
}

// ---- sampling -------------------------------------------------------------------------------

float ReplayBuffer::beta() const {
  std::lock_guard<std::mutex> lock(sampler_mutex_);
  const double progress =
      std::min(1.0, static_cast<double>(sampler_->sample_calls) / static_cast<double>(options_.beta_steps));
  return static_cast<float>(options_.beta0 + (1.0 - options_.beta0) * progress);
}

double ReplayBuffer::priority(int64_t slot) {
  std::lock_guard<std::mutex> lock(sampler_mutex_);
  if (slot < 0 || slot >= capacity_) {
    throw std::invalid_argument("slot must be in [0, " + std::to_string(capacity_) + "), got " + std::to_string(slot));
  }
  sync_indexes();
  return sampler_->priorities ? sampler_->priorities->get(slot) : 0.0;
}

void ReplayBuffer::sample(int64_t batch, const SampleOptions& options, const BatchView& out) {
  std::lock_guard<std::mutex> lock(sampler_mutex_);
  if (batch < 1) throw std::invalid_argument("batch must be >= 1, got " + std::to_string(batch));
  if (out.size != batch) {
    throw std::invalid_argument("out.size must equal batch (" + std::to_string(batch) + "), got " +
                                std::to_string(out.size));
  }
  require_non_null(out.obs, "out.obs");
  require_non_null(out.actions, "out.actions");
  require_non_null(out.rewards, "out.rewards");
  require_non_null(out.next_obs, "out.next_obs");
  require_non_null(out.dones, "out.dones");
  if (options.early_training_steps < 0) {
    throw std::invalid_argument("early_training_steps must be >= 0, got " +
                                std::to_string(options.early_training_steps));
  }
  const float ratio = options.neg_sampling_ratio;
  if (std::isnan(ratio) || ratio > 1.0f) {
    throw std::invalid_argument("neg_sampling_ratio must be < 0 (off) or in [0, 1], got " + std::to_string(ratio));
  }
  const bool use_ratio = ratio >= 0.0f;
  if (options_.prioritized && (options.early_training_steps > 0 || use_ratio)) {
    throw std::invalid_argument(
        "early_training_steps and neg_sampling_ratio cannot be combined with prioritized replay");
  }
  const int64_t stored = size();
  if (batch > stored) {
    throw std::invalid_argument("batch (" + std::to_string(batch) + ") is larger than the " + std::to_string(stored) +
                                " transitions stored");
  }
  const bool drop_negatives = total_added() < options.early_training_steps;
  if (options_.prioritized) {
    sample_prioritized(batch, out);
  } else if (drop_negatives || use_ratio) {
    sample_by_category(batch, drop_negatives, ratio, out);
  } else {
    sample_uniform(batch, out);
  }
  ++sampler_->sample_calls;
}

namespace {

// Draws allowed per batch before sample() gives up on slots that stay unreadable (stalled producers).
int64_t max_attempts(int64_t batch) { return 4096 + 256 * batch; }

[[noreturn]] void throw_stalled(int64_t attempts) {
  throw std::runtime_error("sample: no committed record could be read in " + std::to_string(attempts) +
                           " draws; a producer may have stalled mid-write");
}

}  // namespace

void ReplayBuffer::sample_uniform(int64_t batch, const BatchView& out) {
  Rng& rng = sampler_->rng;
  // Slots ever reserved; the few still being written are rejected by read_into and redrawn.
  const uint64_t reserved = header_->reserved.load(std::memory_order_acquire);
  const uint64_t range = std::min<uint64_t>(reserved, static_cast<uint64_t>(capacity_));
  int64_t attempts = 0;
  for (int64_t k = 0; k < batch; ++k) {
    int64_t slot = 0;
    for (;;) {
      slot = static_cast<int64_t>(rng.below(range));
      if (read_into(slot, out, k) != 0) break;
      if (++attempts > max_attempts(batch)) throw_stalled(attempts);
      if (attempts % 64 == 0) sched_yield();
    }
    if (out.indices != nullptr) out.indices[k] = slot;
    if (out.weights != nullptr) out.weights[k] = 1.0f;
  }
}

void ReplayBuffer::ensure_category_index() {
  SamplerState& st = *sampler_;
  if (st.negatives) return;
  st.negatives = std::make_unique<CountIndex>(capacity_);
  st.non_negatives = std::make_unique<CountIndex>(capacity_);
  st.category.assign(static_cast<size_t>(capacity_), 0);
  // Index everything still in the ring (sync_indexes starts at reserved - capacity at most).
  st.cursor = 0;
  st.pending.clear();
}

bool ReplayBuffer::index_ticket(uint64_t ticket) {
  SamplerState& st = *sampler_;
  const int64_t slot = static_cast<int64_t>(ticket % static_cast<uint64_t>(capacity_));
  const Stamp& stamp = static_cast<const Stamp*>(stamps_)[slot];
  const uint64_t value = stamp.load(std::memory_order_acquire);
  if ((value & kWritingBit) != 0 || value < ticket + 1) return false;  // not committed yet
  if (value > ticket + 1) return true;  // lapped: the newer ticket indexes this slot when its turn comes
  if (st.priorities) st.priorities->set(slot, std::pow(st.max_priority, double(options_.alpha)));
  if (st.negatives) {
    float rewards[kAgents];
    std::memcpy(rewards, data_ + slot * kRecordFloats + kRewardsOffset, sizeof(rewards));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (stamp.load(std::memory_order_relaxed) != value) return true;  // overwritten meanwhile: lapped
    const uint8_t kind = is_negative_transition(rewards) ? kNegative : kNonNegative;
    uint8_t& old = st.category[static_cast<size_t>(slot)];
    if (old != kind) {
      if (old == kNegative) st.negatives->add(slot, -1);
      if (old == kNonNegative) st.non_negatives->add(slot, -1);
      (kind == kNegative ? st.negatives : st.non_negatives)->add(slot, +1);
      old = kind;
    }
  }
  return true;
}

void ReplayBuffer::sync_indexes() {
  SamplerState& st = *sampler_;
  if (!st.priorities && !st.negatives) return;
  const uint64_t reserved = header_->reserved.load(std::memory_order_acquire);
  size_t keep = 0;
  for (const uint64_t ticket : st.pending) {
    if (!index_ticket(ticket)) st.pending[keep++] = ticket;
  }
  st.pending.resize(keep);
  uint64_t start = st.cursor;
  const uint64_t capacity = static_cast<uint64_t>(capacity_);
  if (reserved > capacity && reserved - capacity > start) start = reserved - capacity;
  for (uint64_t ticket = start; ticket < reserved; ++ticket) {
    if (!index_ticket(ticket)) st.pending.push_back(ticket);
  }
  st.cursor = std::max(st.cursor, reserved);
}

void ReplayBuffer::sample_by_category(int64_t batch, bool drop_negatives, float neg_ratio, const BatchView& out) {
  ensure_category_index();
  sync_indexes();
  SamplerState& st = *sampler_;
  const int64_t negatives = st.negatives->total();
  const int64_t non_negatives = st.non_negatives->total();
  if (negatives + non_negatives == 0) {
    // Only possible while every stored record is still mid-write in another producer.
    sample_uniform(batch, out);
    return;
  }
  int64_t n_negative = 0;
  if (drop_negatives) {
    if (non_negatives == 0) {
      throw std::invalid_argument("early_training_steps: all " + std::to_string(negatives) +
                                  " stored transitions have a negative reward, none can be sampled while they "
                                  "are filtered");
    }
  } else {
    // Python's int(batch * ratio), limited by what is stored.
    n_negative = static_cast<int64_t>(std::floor(double(batch) * double(neg_ratio)));
    if (negatives == 0) n_negative = 0;
    if (non_negatives == 0) n_negative = batch;
  }
  Rng& rng = st.rng;
  st.kinds.assign(static_cast<size_t>(batch), kNonNegative);
  std::fill(st.kinds.begin(), st.kinds.begin() + n_negative, kNegative);
  // Fisher-Yates, so negatives are spread over the batch rather than leading it.
  for (int64_t i = batch - 1; i > 0; --i) {
    std::swap(st.kinds[size_t(i)], st.kinds[size_t(rng.below(uint64_t(i) + 1))]);
  }
  int64_t attempts = 0;
  for (int64_t k = 0; k < batch; ++k) {
    const bool want_negative = st.kinds[size_t(k)] == kNegative;
    int64_t slot = 0;
    for (;;) {
      const CountIndex& index = want_negative ? *st.negatives : *st.non_negatives;
      if (index.total() > 0) {
        slot = index.find_kth(static_cast<int64_t>(rng.below(uint64_t(index.total()))));
        // The record must still be readable and of the wanted kind (a producer may have replaced it).
        if (read_into(slot, out, k) != 0 && is_negative_transition(out.rewards + k * kAgents) == want_negative) break;
      }
      if (++attempts > max_attempts(batch)) throw_stalled(attempts);
      if (attempts % 64 == 0) {
        sched_yield();
        sync_indexes();
      }
    }
    if (out.indices != nullptr) out.indices[k] = slot;
    if (out.weights != nullptr) out.weights[k] = 1.0f;
  }
}

void ReplayBuffer::sample_prioritized(int64_t batch, const BatchView& out) {
  sync_indexes();
  SamplerState& st = *sampler_;
  const SumTree& tree = *st.priorities;
  const double total = tree.total();
  if (!(total > 0.0)) throw_stalled(0);
  const double progress = std::min(1.0, double(st.sample_calls) / double(options_.beta_steps));
  const double beta = options_.beta0 + (1.0 - options_.beta0) * progress;
  const double min_priority = tree.min_positive();
  // Stratified: one draw in each of `batch` equal slices of the total priority (Schaul et al., App. B.2.1).
  const double slice = total / double(batch);
  const double below_total = std::nextafter(total, 0.0);
  int64_t attempts = 0;
  for (int64_t k = 0; k < batch; ++k) {
    int64_t slot = 0;
    double priority = 0.0;
    bool first = true;
    for (;;) {
      double mass = first ? (double(k) + st.rng.uniform()) * slice : st.rng.uniform() * total;
      first = false;
      slot = tree.find(std::min(mass, below_total));
      priority = tree.get(slot);
      if (priority > 0.0 && read_into(slot, out, k) != 0) break;
      if (++attempts > max_attempts(batch)) throw_stalled(attempts);
      if (attempts % 64 == 0) sched_yield();
    }
    if (out.indices != nullptr) out.indices[k] = slot;
    // w_i = (N P(i))^-beta / max_j w_j; the max belongs to the smallest priority, so N and the total cancel.
    if (out.weights != nullptr) out.weights[k] = static_cast<float>(std::pow(priority / min_priority, -beta));
  }
}

void ReplayBuffer::update_priorities(int64_t n, const int64_t* indices, const float* td_errors) {
  std::lock_guard<std::mutex> lock(sampler_mutex_);
  if (!options_.prioritized) {
    throw std::invalid_argument("update_priorities needs a buffer created with prioritized=true");
  }
  if (n < 1) throw std::invalid_argument("n must be >= 1, got " + std::to_string(n));
  require_non_null(indices, "indices");
  require_non_null(td_errors, "td_errors");
  const uint64_t reserved = header_->reserved.load(std::memory_order_acquire);
  const int64_t range = static_cast<int64_t>(std::min<uint64_t>(reserved, uint64_t(capacity_)));
  for (int64_t i = 0; i < n; ++i) {
    if (indices[i] < 0 || indices[i] >= range) {
      throw std::invalid_argument("indices[" + std::to_string(i) + "] must be a slot in [0, " + std::to_string(range) +
                                  "), got " + std::to_string(indices[i]));
    }
  }
  check_finite("td_errors", td_errors, n);
  SamplerState& st = *sampler_;
  // New records must be in the tree first, or their max-priority insert would undo this update.
  sync_indexes();
  for (int64_t i = 0; i < n; ++i) {
    const double priority = std::fabs(double(td_errors[i])) + double(options_.priority_eps);
    st.max_priority = std::max(st.max_priority, priority);
    st.priorities->set(indices[i], std::pow(priority, double(options_.alpha)));
  }
}

}  // namespace tennis
