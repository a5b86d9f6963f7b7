// Known replay records, shared by the buffer tests (native/tests/test_buffer.cc) and the producer
// process they start (native/bench/buffer_producer.cc): every float of a record derives from
// (producer id, sequence number), so any record can be checked alone.
#pragma once
#include <cstdint>
#include <cstring>

#include "batch.h"
#include "replay_buffer.h"

namespace buffer_records {

// Share of records given a negative reward (about 1 in kNegativeEvery).
constexpr uint32_t kNegativeEvery = 5;

inline uint32_t mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// Float i of the record (producer, seq). The first two obs floats carry the ids themselves (exact in
// float32 below 2^24), rewards are 0.1, 0 or -0.01 and dones 0 or 1, as in Tennis.
inline float value(uint32_t producer, uint32_t seq, int i) {
  if (i == tennis::kObsOffset) return static_cast<float>(producer);
  if (i == tennis::kObsOffset + 1) return static_cast<float>(seq);
  const uint32_t h = mix(producer * 0x9e3779b9U ^ mix(seq * 0x85ebca6bU + static_cast<uint32_t>(i)));
  if (i == tennis::kRewardsOffset) return (h % kNegativeEvery == 0) ? -0.01f : 0.1f * static_cast<float>(h & 1U);
  if (i == tennis::kRewardsOffset + 1) return 0.0f;
  if (i >= tennis::kDonesOffset) return static_cast<float>(h & 1U);
  return static_cast<float>(static_cast<int32_t>(h % 2001U) - 1000) / 1000.0f;
}

inline void make(uint32_t producer, uint32_t seq, float* record) {
  for (int i = 0; i < tennis::kRecordFloats; ++i) record[i] = value(producer, seq, i);
}

// True when record is exactly make(producer, seq) for the ids it carries; they are returned.
inline bool verify(const float* record, uint32_t* producer, uint32_t* seq) {
  const float p = record[tennis::kObsOffset];
  const float s = record[tennis::kObsOffset + 1];
  if (!(p >= 0.0f && p < 16777216.0f && s >= 0.0f && s < 16777216.0f)) return false;
  *producer = static_cast<uint32_t>(p);
  *seq = static_cast<uint32_t>(s);
  for (int i = 0; i < tennis::kRecordFloats; ++i) {
    if (record[i] != value(*producer, *seq, i)) return false;
  }
  return true;
}

// The separate arrays of add() for records (producer, first_seq .. first_seq + n - 1).
struct Step {
  float obs[64][tennis::kAgents * tennis::kObsSize];
  float actions[64][tennis::kAgents * tennis::kActionSize];
  float rewards[64][tennis::kAgents];
  float next_obs[64][tennis::kAgents * tennis::kObsSize];
  float dones[64][tennis::kAgents];

  // n <= 64.
  void fill(uint32_t producer, uint32_t first_seq, int n) {
    float record[tennis::kRecordFloats];
    for (int k = 0; k < n; ++k) {
      make(producer, first_seq + static_cast<uint32_t>(k), record);
      std::memcpy(obs[k], record + tennis::kObsOffset, sizeof(obs[k]));
      std::memcpy(actions[k], record + tennis::kActionsOffset, sizeof(actions[k]));
      std::memcpy(rewards[k], record + tennis::kRewardsOffset, sizeof(rewards[k]));
      std::memcpy(next_obs[k], record + tennis::kNextObsOffset, sizeof(next_obs[k]));
      std::memcpy(dones[k], record + tennis::kDonesOffset, sizeof(dones[k]));
    }
  }
  void add_to(tennis::ReplayBuffer& buffer, int n) const {
    buffer.add(n, obs[0], actions[0], rewards[0], next_obs[0], dones[0]);
  }
};

// Appends records (producer, 0 .. count-1) in vectorized steps of 1..max_step records.
inline void produce(tennis::ReplayBuffer& buffer, uint32_t producer, uint32_t count, int max_step) {
  Step step;
  uint32_t seq = 0;
  while (seq < count) {
    int n = 1 + static_cast<int>(mix(producer * 31U + seq) % static_cast<uint32_t>(max_step));
    if (seq + static_cast<uint32_t>(n) > count) n = static_cast<int>(count - seq);
    step.fill(producer, seq, n);
    step.add_to(buffer, n);
    seq += static_cast<uint32_t>(n);
  }
}

}  // namespace buffer_records
