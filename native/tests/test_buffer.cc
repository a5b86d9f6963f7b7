// Replay buffer: layout, wrap-around, seeded sampling, the notebook's negative filter and ratio,
// prioritized replay, bad input, checkpoints, and concurrent producers (threads and processes).
#include <limits.h>
#include <spawn.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "common/buffer_records.h"
#include "replay_buffer.h"
#include "sum_tree.h"

extern char** environ;

namespace {

using tennis::BatchView;
using tennis::ReplayBuffer;
using tennis::ReplayBufferOptions;
using tennis::SampleOptions;

// Sentinel written past the end of each output array, to prove nothing outside the shape is touched.
constexpr float kGuard = 12345.0f;
// Guard floats after each output array.
constexpr int kGuardFloats = 8;

// Output arrays of one batch, shaped as the notebook prints them: (B,2,24) (B,2,2) (B,2) (B,2,24) (B,2).
struct HostBatch {
  int64_t size;
  std::vector<float> obs, actions, rewards, next_obs, dones, weights;
  std::vector<int64_t> indices;

  explicit HostBatch(int64_t b)
      : size(b),
        obs(b * 2 * 24 + kGuardFloats, kGuard),
        actions(b * 2 * 2 + kGuardFloats, kGuard),
        rewards(b * 2 + kGuardFloats, kGuard),
        next_obs(b * 2 * 24 + kGuardFloats, kGuard),
        dones(b * 2 + kGuardFloats, kGuard),
        weights(b + kGuardFloats, kGuard),
        indices(b, -1) {}

  BatchView view() {
    BatchView v;
    v.size = size;
    v.obs = obs.data();
    v.actions = actions.data();
    v.rewards = rewards.data();
    v.next_obs = next_obs.data();
    v.dones = dones.data();
    v.weights = weights.data();
    v.indices = indices.data();
    return v;
  }
  // Record k reassembled in buffer layout.
  std::vector<float> record(int64_t k) const {
    std::vector<float> r(tennis::kRecordFloats);
    std::copy_n(&obs[k * 48], 48, &r[tennis::kObsOffset]);
    std::copy_n(&actions[k * 4], 4, &r[tennis::kActionsOffset]);
    std::copy_n(&rewards[k * 2], 2, &r[tennis::kRewardsOffset]);
    std::copy_n(&next_obs[k * 48], 48, &r[tennis::kNextObsOffset]);
    std::copy_n(&dones[k * 2], 2, &r[tennis::kDonesOffset]);
    return r;
  }
  bool guards_intact() const {
    const auto tail_ok = [this](const std::vector<float>& v, int64_t used) {
      return std::all_of(v.begin() + used, v.end(), [](float x) { return x == kGuard; });
    };
    return tail_ok(obs, size * 48) && tail_ok(actions, size * 4) && tail_ok(rewards, size * 2) &&
           tail_ok(next_obs, size * 48) && tail_ok(dones, size * 2) && tail_ok(weights, size);
  }
  bool negative(int64_t k) const { return tennis::is_negative_transition(&rewards[k * 2]); }
};

ReplayBufferOptions options_with(int64_t capacity, uint64_t seed = 0, bool prioritized = false) {
  ReplayBufferOptions o;
  o.capacity = capacity;
  o.seed = seed;
  o.prioritized = prioritized;
  return o;
}

// Chi-square critical value at p = 0.001 (Wilson-Hilferty approximation, good for df >= 3).
double chi_square_critical_001(int df) {
  const double z = 3.090232;
  const double a = 2.0 / (9.0 * df);
  return df * std::pow(1.0 - a + z * std::sqrt(a), 3);
}

// Runs fn and requires std::invalid_argument whose message contains `name`.
void expect_invalid(const std::function<void()>& fn, const std::string& name) {
  try {
    fn();
  } catch (const std::invalid_argument& e) {
    CHECK_MSG(std::string(e.what()).find(name) != std::string::npos,
              "message \"" << e.what() << "\" does not name " << name);
    return;
  }
  CHECK_MSG(false, "expected std::invalid_argument naming " << name);
}

// Same as expect_invalid for std::runtime_error.
void expect_runtime(const std::function<void()>& fn, const std::string& text) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    CHECK_MSG(std::string(e.what()).find(text) != std::string::npos,
              "message \"" << e.what() << "\" does not contain " << text);
    return;
  }
  CHECK_MSG(false, "expected std::runtime_error containing " << text);
}

// Every slot holds an intact known record, none twice; returns how many were seen per producer.
std::vector<std::vector<uint8_t>> verify_all_slots(ReplayBuffer& buffer, uint32_t producers, uint32_t per_producer,
                                                   uint32_t first_producer = 0) {
  std::vector<std::vector<uint8_t>> seen(producers, std::vector<uint8_t>(per_producer, 0));
  std::vector<float> record(tennis::kRecordFloats);
  for (int64_t slot = 0; slot < buffer.size(); ++slot) {
    CHECK_MSG(buffer.read_slot(slot, record.data()) != 0, "slot " << slot << " holds no committed record");
    uint32_t producer = 0, seq = 0;
    CHECK_MSG(buffer_records::verify(record.data(), &producer, &seq), "slot " << slot << " holds a torn record");
    CHECK(producer >= first_producer && producer < first_producer + producers && seq < per_producer);
    uint8_t& mark = seen[producer - first_producer][seq];
    CHECK_MSG(mark == 0, "record (" << producer << ", " << seq << ") stored twice");
    mark = 1;
  }
  return seen;
}

// After a ring wrapped under concurrent producers: each producer's tickets grow with its seq, so the
// ring keeps a suffix of each producer's records, and the suffixes add up to the capacity.
void check_kept_suffixes(const std::vector<std::vector<uint8_t>>& seen, int64_t capacity) {
  int64_t kept = 0;
  for (const auto& per : seen) {
    const auto first = std::find(per.begin(), per.end(), 1);
    CHECK(std::all_of(first, per.end(), [](uint8_t v) { return v == 1; }));
    kept += per.end() - first;
  }
  CHECK(kept == capacity);
}

// Free bytes in /dev/shm (containers often mount only 64 MiB there).
int64_t shm_free_bytes() {
  struct statvfs st {};
  if (statvfs("/dev/shm", &st) != 0) return 0;
  return int64_t(st.f_bavail) * int64_t(st.f_frsize);
}

std::string temp_path(const std::string& stem) {
  return "/tmp/tennis-buffer-test-" + std::to_string(getpid()) + "-" + stem;
}

// The producer executable: $TENNIS_BUFFER_PRODUCER, else next to this test binary.
std::string producer_path() {
  if (const char* env = std::getenv("TENNIS_BUFFER_PRODUCER")) return env;
  char self[PATH_MAX] = {0};
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
  dir = dir.substr(0, dir.rfind('/'));
  return dir + "/buffer_producer";
}

}  // namespace

TEST(sum_tree_matches_brute_force) {
  tennis::SumTree tree(13);
  std::vector<double> leaves(13, 0.0);
  for (int i = 0; i < 13; ++i) {
    leaves[i] = (i % 4 == 0) ? 0.0 : 0.5 + i;
    tree.set(i, leaves[i]);
  }
  tree.set(5, 0.25);
  leaves[5] = 0.25;
  double total = 0;
  for (double v : leaves) total += v;
  CHECK_NEAR(tree.total(), total, 1e-12);
  CHECK_NEAR(tree.min_positive(), 0.25, 1e-7);
  for (double mass = 0.0; mass < total; mass += total / 997.0) {
    double cumulative = 0;
    int expected = -1;
    for (int i = 0; i < 13; ++i) {
      if (mass < cumulative + leaves[i]) {
        expected = i;
        break;
      }
      cumulative += leaves[i];
    }
    CHECK_MSG(tree.find(mass) == expected, "mass " << mass << " -> " << tree.find(mass) << " != " << expected);
  }
  // Exactly the total (float rounding) must still land on a non-empty leaf.
  CHECK(tree.get(tree.find(tree.total())) > 0.0);
}

TEST(count_index_finds_kth_set_slot) {
  tennis::CountIndex index(37);
  std::vector<int64_t> set_slots;
  for (int64_t i = 0; i < 37; ++i) {
    if (i % 3 == 1 || i == 36) {
      index.add(i, +1);
      set_slots.push_back(i);
    }
  }
  index.add(4, -1);
  set_slots.erase(std::find(set_slots.begin(), set_slots.end(), 4));
  CHECK(index.total() == int64_t(set_slots.size()));
  for (size_t k = 0; k < set_slots.size(); ++k) CHECK(index.find_kth(int64_t(k)) == set_slots[k]);
}

TEST(buffer_sample_shapes_and_contents) {
  ReplayBuffer buffer(options_with(1000, /*seed=*/1));
  CHECK(buffer.capacity() == 1000 && buffer.size() == 0);
  buffer_records::produce(buffer, /*producer=*/7, /*count=*/300, /*max_step=*/4);
  CHECK(buffer.size() == 300 && buffer.total_added() == 300);
  HostBatch batch(64);
  buffer.sample(64, SampleOptions{}, batch.view());
  CHECK(batch.guards_intact());
  for (int64_t k = 0; k < 64; ++k) {
    uint32_t producer = 0, seq = 0;
    const auto record = batch.record(k);
    CHECK(buffer_records::verify(record.data(), &producer, &seq));
    CHECK(producer == 7 && seq < 300);
    CHECK(batch.indices[k] == int64_t(seq));  // one producer: ticket = seq = slot
    CHECK(batch.weights[k] == 1.0f);
  }
}

TEST(buffer_wraps_around) {
  ReplayBuffer buffer(options_with(10, 2));
  buffer_records::produce(buffer, 1, 25, /*max_step=*/4);  // steps straddle the ring's end
  CHECK(buffer.size() == 10 && buffer.total_added() == 25);
  std::vector<float> record(tennis::kRecordFloats);
  for (int64_t slot = 0; slot < 10; ++slot) {
    CHECK(buffer.read_slot(slot, record.data()) != 0);
    uint32_t producer = 0, seq = 0;
    CHECK(buffer_records::verify(record.data(), &producer, &seq));
    CHECK(seq % 10 == uint32_t(slot) && seq >= 15);
  }
  HostBatch batch(10);
  buffer.sample(10, SampleOptions{}, batch.view());
  for (int64_t k = 0; k < 10; ++k) CHECK(batch.obs[k * 48 + 1] >= 15.0f);
}

TEST(buffer_same_seed_same_samples) {
  ReplayBuffer a(options_with(500, 42)), b(options_with(500, 42)), c(options_with(500, 43));
  for (ReplayBuffer* buffer : {&a, &b, &c}) buffer_records::produce(*buffer, 3, 400, 8);
  bool differs = false;
  for (int round = 0; round < 5; ++round) {
    HostBatch x(32), y(32), z(32);
    a.sample(32, SampleOptions{}, x.view());
    b.sample(32, SampleOptions{}, y.view());
    c.sample(32, SampleOptions{}, z.view());
    CHECK(x.indices == y.indices && x.obs == y.obs && x.rewards == y.rewards);
    differs = differs || x.indices != z.indices;
  }
  CHECK(differs);
}

TEST(buffer_early_training_filter_drops_negatives) {
  ReplayBuffer buffer(options_with(1000, 5));
  buffer_records::produce(buffer, 0, 500, 8);
  int64_t stored_negatives = 0;
  std::vector<float> record(tennis::kRecordFloats);
  for (int64_t slot = 0; slot < 500; ++slot) {
    buffer.read_slot(slot, record.data());
    stored_negatives += tennis::is_negative_transition(&record[tennis::kRewardsOffset]);
  }
  CHECK(stored_negatives > 50 && stored_negatives < 200);  // ~1 in 5 by construction

  SampleOptions early;
  early.early_training_steps = 1000;  // 500 appended < 1000: filter on
  for (int round = 0; round < 100; ++round) {
    HostBatch batch(64);
    buffer.sample(64, early, batch.view());
    for (int64_t k = 0; k < 64; ++k) CHECK(!batch.negative(k));
  }
  // Filter over once total_added reaches the threshold: negatives come back at their stored share.
  early.early_training_steps = 500;
  int64_t negatives = 0, draws = 0;
  for (int round = 0; round < 400; ++round) {
    HostBatch batch(64);
    buffer.sample(64, early, batch.view());
    for (int64_t k = 0; k < 64; ++k) negatives += batch.negative(k);
    draws += 64;
  }
  const double q = double(stored_negatives) / 500.0;
  const double share = double(negatives) / double(draws);
  CHECK_NEAR(share, q, 5.0 * std::sqrt(q * (1 - q) / double(draws)));

  // Nothing left to sample under the filter: a clear error naming the option.
  ReplayBuffer all_negative(options_with(100, 1));
  buffer_records::Step step;
  step.fill(0, 0, 8);
  for (auto& r : step.rewards) r[0] = -0.01f;
  step.add_to(all_negative, 8);
  HostBatch batch(4);
  SampleOptions filter;
  filter.early_training_steps = 100;
  expect_invalid([&] { all_negative.sample(4, filter, batch.view()); }, "early_training_steps");
}

TEST(buffer_neg_sampling_ratio_holds) {
  ReplayBuffer buffer(options_with(2000, 6));
  buffer_records::produce(buffer, 0, 600, 8);
  std::vector<int64_t> negative_slots, positive_slots;
  std::vector<float> record(tennis::kRecordFloats);
  for (int64_t slot = 0; slot < 600; ++slot) {
    buffer.read_slot(slot, record.data());
    (tennis::is_negative_transition(&record[tennis::kRewardsOffset]) ? negative_slots : positive_slots).push_back(slot);
  }
  SampleOptions ratio;
  ratio.neg_sampling_ratio = 0.25f;
  std::vector<int64_t> hits(600, 0);
  std::vector<int64_t> negatives_at(64, 0);
  const int rounds = 600;
  for (int round = 0; round < rounds; ++round) {
    HostBatch batch(64);
    buffer.sample(64, ratio, batch.view());
    int64_t negatives = 0;
    for (int64_t k = 0; k < 64; ++k) {
      negatives += batch.negative(k);
      negatives_at[k] += batch.negative(k);
      ++hits[batch.indices[k]];
    }
    CHECK(negatives == 16);  // int(64 * 0.25)
  }
  // Within each kind, records are drawn uniformly (goodness of fit).
  for (const auto* slots : {&negative_slots, &positive_slots}) {
    int64_t total = 0;
    for (int64_t s : *slots) total += hits[s];
    const double expected = double(total) / double(slots->size());
    double chi2 = 0;
    for (int64_t s : *slots) chi2 += (hits[s] - expected) * (hits[s] - expected) / expected;
    const int df = int(slots->size()) - 1;
    CHECK_MSG(chi2 < chi_square_critical_001(df), "chi2 " << chi2 << " df " << df);
  }
  // Negatives are spread over the batch, not stuck at its front.
  CHECK(negatives_at[0] > 0 && negatives_at[0] < rounds && negatives_at[63] > 0);

  HostBatch batch(64);
  ratio.neg_sampling_ratio = 1.0f;
  buffer.sample(64, ratio, batch.view());
  for (int64_t k = 0; k < 64; ++k) CHECK(batch.negative(k));
  ratio.neg_sampling_ratio = 0.0f;
  buffer.sample(64, ratio, batch.view());
  for (int64_t k = 0; k < 64; ++k) CHECK(!batch.negative(k));

  // No negatives stored: the batch is filled with what there is.
  ReplayBuffer no_negatives(options_with(100, 1));
  buffer_records::Step step;
  step.fill(0, 0, 16);
  for (auto& r : step.rewards) r[0] = 0.0f;
  step.add_to(no_negatives, 16);
  ratio.neg_sampling_ratio = 0.5f;
  HostBatch small(8);
  no_negatives.sample(8, ratio, small.view());
  for (int64_t k = 0; k < 8; ++k) CHECK(!small.negative(k));
}

TEST(buffer_prioritized_proportional_with_weights) {
  ReplayBufferOptions o = options_with(16, 3, /*prioritized=*/true);
  o.alpha = 0.6f;
  o.beta0 = 0.4f;
  o.beta_steps = 1000;
  ReplayBuffer buffer(o);
  buffer_records::produce(buffer, 0, 8, 8);
  const std::vector<int64_t> slots = {0, 1, 2, 3, 4, 5, 6, 7};
  const std::vector<float> td = {0.05f, -0.1f, 0.2f, 0.4f, -0.8f, 1.6f, 0.3f, 0.9f};
  buffer.update_priorities(8, slots.data(), td.data());
  std::vector<double> p(8);
  double total = 0, p_min = 1e30;
  for (int i = 0; i < 8; ++i) {
    p[i] = std::pow(std::fabs(double(td[i])) + double(o.priority_eps), double(o.alpha));
    CHECK_NEAR(buffer.priority(i), p[i], 1e-9);
    total += p[i];
    p_min = std::min(p_min, p[i]);
  }
  std::vector<int64_t> hits(8, 0);
  const int rounds = 8000;  // batch 8: no batch may exceed what is stored
  for (int call = 0; call < rounds; ++call) {
    const double beta = std::min(1.0, 0.4 + 0.6 * double(call) / 1000.0);
    CHECK_NEAR(buffer.beta(), beta, 1e-6);
    HostBatch batch(8);
    buffer.sample(8, SampleOptions{}, batch.view());
    for (int64_t k = 0; k < 8; ++k) {
      const int64_t slot = batch.indices[k];
      CHECK(slot >= 0 && slot < 8);
      ++hits[slot];
      CHECK_NEAR(batch.weights[k], std::pow(p[slot] / p_min, -beta), 1e-5);
      CHECK(batch.obs[k * 48 + 1] == float(slot));  // the record really is that slot's
    }
  }
  CHECK_NEAR(buffer.beta(), 1.0, 1e-9);
  const double draws = 8.0 * rounds;
  double chi2 = 0, chi2_uniform = 0;
  for (int i = 0; i < 8; ++i) {
    const double expected = draws * p[i] / total;
    chi2 += (hits[i] - expected) * (hits[i] - expected) / expected;
    chi2_uniform += (hits[i] - draws / 8) * (hits[i] - draws / 8) / (draws / 8);
  }
  CHECK_MSG(chi2 < chi_square_critical_001(7), "chi2 " << chi2);
  CHECK_MSG(chi2_uniform > 10 * chi_square_critical_001(7), "PER looks uniform: chi2 " << chi2_uniform);
}

TEST(buffer_prioritized_new_records_get_max_priority) {
  ReplayBufferOptions o = options_with(6, 1, true);
  ReplayBuffer buffer(o);
  buffer_records::produce(buffer, 0, 4, 4);
  CHECK_NEAR(buffer.priority(0), 1.0, 1e-12);  // initial max priority 1
  const std::vector<int64_t> slots = {0, 1, 2, 3};
  const std::vector<float> td = {2.0f, 0.1f, 0.1f, 0.1f};
  buffer.update_priorities(4, slots.data(), td.data());
  buffer_records::produce(buffer, 1, 3, 3);  // slots 4, 5 and (wrapped) 0
  const double top = std::pow(2.0 + double(o.priority_eps), double(o.alpha));
  CHECK_NEAR(buffer.priority(4), top, 1e-9);
  CHECK_NEAR(buffer.priority(0), top, 1e-9);
  CHECK_NEAR(buffer.priority(1), std::pow(0.1 + double(o.priority_eps), double(o.alpha)), 1e-7);
}

TEST(buffer_bad_input_leaves_buffer_intact) {
  expect_invalid([] { ReplayBuffer b(options_with(0)); }, "capacity");
  expect_invalid([] { ReplayBuffer b(options_with(-5)); }, "capacity");
  expect_invalid([] { ReplayBuffer b(options_with(int64_t(1) << 40)); }, "capacity");
  expect_invalid(
      [] {
        ReplayBufferOptions o;
        o.alpha = -1;
        ReplayBuffer b(o);
      },
      "alpha");
  expect_invalid(
      [] {
        ReplayBufferOptions o;
        o.beta0 = 1.5f;
        ReplayBuffer b(o);
      },
      "beta0");
  expect_invalid(
      [] {
        ReplayBufferOptions o;
        o.beta_steps = 0;
        ReplayBuffer b(o);
      },
      "beta_steps");
  expect_invalid(
      [] {
        ReplayBufferOptions o;
        o.priority_eps = 0;
        ReplayBuffer b(o);
      },
      "priority_eps");
  expect_invalid(
      [] {
        ReplayBufferOptions o;
        o.shm_name = "bad/name";
        ReplayBuffer b(o);
      },
      "shm_name");

  ReplayBuffer buffer(options_with(64, 11)), twin(options_with(64, 11));
  buffer_records::produce(buffer, 0, 40, 4);
  buffer_records::produce(twin, 0, 40, 4);
  buffer_records::Step step;
  step.fill(5, 0, 4);
  step.rewards[2][1] = std::nanf("");
  expect_invalid([&] { step.add_to(buffer, 4); }, "rewards");
  step.fill(5, 0, 4);
  step.obs[1][3] = INFINITY;
  expect_invalid([&] { step.add_to(buffer, 4); }, "obs");
  step.fill(5, 0, 4);
  expect_invalid([&] { step.add_to(buffer, 0); }, "n");
  expect_invalid(
      [&] { buffer.add(65, step.obs[0], step.actions[0], step.rewards[0], step.next_obs[0], step.dones[0]); }, "n");
  expect_invalid([&] { buffer.add(1, nullptr, step.actions[0], step.rewards[0], step.next_obs[0], step.dones[0]); },
                 "obs");
  expect_invalid(
      [&] {
        buffer.add_arrays(step.obs[0], 96, step.actions[0], 7, step.rewards[0], 4, step.next_obs[0], 96, step.dones[0],
                          4);
      },
      "actions");
  expect_invalid(
      [&] {
        buffer.add_arrays(step.obs[0], 47, step.actions[0], 4, step.rewards[0], 2, step.next_obs[0], 48, step.dones[0],
                          2);
      },
      "obs");
  expect_invalid(
      [&] {
        buffer.add_arrays(step.obs[0], 96, step.actions[0], 8, step.rewards[0], 4, step.next_obs[0], 96, step.dones[0],
                          3);
      },
      "dones");

  HostBatch batch(8);
  expect_invalid([&] { buffer.sample(41, SampleOptions{}, HostBatch(41).view()); }, "batch");
  expect_invalid([&] { buffer.sample(0, SampleOptions{}, batch.view()); }, "batch");
  expect_invalid([&] { buffer.sample(4, SampleOptions{}, batch.view()); }, "out.size");
  BatchView no_obs = batch.view();
  no_obs.obs = nullptr;
  expect_invalid([&] { buffer.sample(8, SampleOptions{}, no_obs); }, "out.obs");
  SampleOptions bad;
  bad.neg_sampling_ratio = std::nanf("");
  expect_invalid([&] { buffer.sample(8, bad, batch.view()); }, "neg_sampling_ratio");
  bad.neg_sampling_ratio = 1.5f;
  expect_invalid([&] { buffer.sample(8, bad, batch.view()); }, "neg_sampling_ratio");
  bad = SampleOptions{};
  bad.early_training_steps = -1;
  expect_invalid([&] { buffer.sample(8, bad, batch.view()); }, "early_training_steps");
  const int64_t slot0 = 0;
  const float td0 = 1.0f;
  expect_invalid([&] { buffer.update_priorities(1, &slot0, &td0); }, "prioritized");
  expect_invalid([&] { buffer.read_slot(64, std::vector<float>(104).data()); }, "slot");

  // Intact: same counters, same records, and the RNG untouched (next samples match the twin's).
  CHECK(buffer.size() == twin.size() && buffer.total_added() == twin.total_added());
  std::vector<float> a(tennis::kRecordFloats), b(tennis::kRecordFloats);
  for (int64_t slot = 0; slot < 64; ++slot) {
    CHECK(buffer.read_slot(slot, a.data()) == twin.read_slot(slot, b.data()));
    CHECK(a == b);
  }
  HostBatch x(8), y(8);
  buffer.sample(8, SampleOptions{}, x.view());
  twin.sample(8, SampleOptions{}, y.view());
  CHECK(x.indices == y.indices && x.obs == y.obs);

  // Prioritized: bad indices / errors change no priority; the notebook filters are refused.
  ReplayBuffer per(options_with(16, 1, true));
  buffer_records::produce(per, 0, 10, 4);
  const std::vector<int64_t> slots = {1, 12};
  const std::vector<float> td = {3.0f, 1.0f};
  expect_invalid([&] { per.update_priorities(2, slots.data(), td.data()); }, "indices[1]");
  const std::vector<int64_t> ok_slots = {1, 2};
  const std::vector<float> nan_td = {3.0f, std::nanf("")};
  expect_invalid([&] { per.update_priorities(2, ok_slots.data(), nan_td.data()); }, "td_errors");
  CHECK_NEAR(per.priority(1), 1.0, 1e-12);
  SampleOptions ratio;
  ratio.neg_sampling_ratio = 0.2f;
  expect_invalid([&] { per.sample(8, ratio, batch.view()); }, "prioritized");
}

TEST(buffer_save_load_round_trip) {
  ReplayBufferOptions o = options_with(64, 9, true);
  ReplayBuffer buffer(o);
  buffer_records::produce(buffer, 2, 100, 8);  // wrapped
  for (int round = 0; round < 3; ++round) {
    HostBatch batch(16);
    buffer.sample(16, SampleOptions{}, batch.view());
    std::vector<float> td(16);
    for (int k = 0; k < 16; ++k) td[k] = 0.1f * float(k + round);
    buffer.update_priorities(16, batch.indices.data(), td.data());
  }
  const std::string path = temp_path("ckpt");
  buffer.save(path);
  HostBatch expected(16);
  buffer.sample(16, SampleOptions{}, expected.view());

  o.seed = 1234;  // the checkpoint's RNG state wins
  ReplayBuffer restored(o);
  restored.load(path);
  CHECK(restored.size() == 64 && restored.total_added() == 100);
  std::vector<float> a(tennis::kRecordFloats), b(tennis::kRecordFloats);
  for (int64_t slot = 0; slot < 64; ++slot) {
    CHECK(buffer.read_slot(slot, a.data()) == restored.read_slot(slot, b.data()));
    CHECK(a == b);
    CHECK(buffer.priority(slot) == restored.priority(slot));
  }
  HostBatch got(16);
  restored.sample(16, SampleOptions{}, got.view());
  CHECK(got.indices == expected.indices && got.weights == expected.weights && got.obs == expected.obs);
  // Appends continue the same tickets.
  buffer_records::produce(restored, 3, 5, 5);
  CHECK(restored.total_added() == 105);

  // Wrong capacity, truncated or missing files: a clear error, buffer untouched.
  ReplayBuffer other(options_with(32, 1));
  buffer_records::produce(other, 4, 20, 4);
  expect_invalid([&] { other.load(path); }, "capacity");
  const std::string truncated = temp_path("truncated");
  {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out(truncated, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size() / 2));
  }
  ReplayBuffer same_capacity(options_with(64, 1));
  buffer_records::produce(same_capacity, 4, 20, 4);
  expect_invalid([&] { same_capacity.load(truncated); }, "truncated");
  expect_invalid([&] { same_capacity.load(temp_path("missing")); }, "path");
  CHECK(same_capacity.size() == 20 && other.size() == 20);
  same_capacity.read_slot(19, a.data());
  uint32_t producer = 0, seq = 0;
  CHECK(buffer_records::verify(a.data(), &producer, &seq) && producer == 4 && seq == 19);
  // A uniform buffer loads a prioritized checkpoint (priorities ignored) and vice versa.
  same_capacity.load(path);
  CHECK(same_capacity.size() == 64);
  std::remove(path.c_str());
  std::remove(truncated.c_str());
}

TEST(buffer_thread_producers_with_concurrent_sampler) {
  constexpr uint32_t kProducers = 4;
  constexpr uint32_t kPerProducer = 100000;
  ReplayBuffer buffer(options_with(kProducers * kPerProducer, 17));
  std::atomic<int> running{kProducers};
  std::atomic<int64_t> sampled{0}, torn{0};
  std::thread sampler([&] {
    HostBatch batch(256);
    while (running.load() > 0) {
      if (buffer.size() < 256) {
        std::this_thread::yield();
        continue;
      }
      buffer.sample(256, SampleOptions{}, batch.view());
      for (int64_t k = 0; k < 256; ++k) {
        uint32_t producer = 0, seq = 0;
        const auto record = batch.record(k);
        if (!buffer_records::verify(record.data(), &producer, &seq)) ++torn;
      }
      sampled += 256;
    }
  });
  std::vector<std::thread> producers;
  for (uint32_t p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      buffer_records::produce(buffer, p, kPerProducer, 8);
      --running;
    });
  }
  for (auto& t : producers) t.join();
  sampler.join();
  CHECK(torn.load() == 0);
  CHECK(buffer.total_added() == int64_t(kProducers) * kPerProducer);
  CHECK(buffer.size() == int64_t(kProducers) * kPerProducer);
  const auto seen = verify_all_slots(buffer, kProducers, kPerProducer);
  for (const auto& per : seen) CHECK(std::count(per.begin(), per.end(), 1) == kPerProducer);
  std::printf("     threads: %u x %u records intact, %lld sampled concurrently\n", kProducers, kPerProducer,
              static_cast<long long>(sampled.load()));
}

TEST(buffer_thread_producers_wrapping_ring) {
  constexpr uint32_t kProducers = 3;
  constexpr uint32_t kPerProducer = 100000;
  constexpr int64_t kCapacity = 50000;
  ReplayBuffer buffer(options_with(kCapacity, 1));
  std::vector<std::thread> producers;
  for (uint32_t p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] { buffer_records::produce(buffer, p, kPerProducer, 8); });
  }
  for (auto& t : producers) t.join();
  CHECK(buffer.total_added() == int64_t(kProducers) * kPerProducer && buffer.size() == kCapacity);
  check_kept_suffixes(verify_all_slots(buffer, kProducers, kPerProducer), kCapacity);
}

TEST(buffer_attached_producers_in_threads) {
  ReplayBufferOptions o = options_with(40000, 1);
  o.shm_name = ReplayBuffer::unique_shm_name("tennis-train-test");
  ReplayBuffer owner(o);
  std::vector<std::thread> producers;
  for (uint32_t p = 0; p < 2; ++p) {
    producers.emplace_back([&, p] {
      auto handle = ReplayBuffer::attach(o.shm_name);
      CHECK(!handle->is_owner() && handle->capacity() == 40000);
      buffer_records::produce(*handle, p, 20000, 16);
    });
  }
  for (auto& t : producers) t.join();
  CHECK(owner.total_added() == 40000);
  verify_all_slots(owner, 2, 20000);
}

TEST(buffer_process_producers) {
  const std::string exe = producer_path();
  CHECK_MSG(access(exe.c_str(), X_OK) == 0, "producer executable " << exe << " not found (set TENNIS_BUFFER_PRODUCER)");
  constexpr uint32_t kProducers = 3;
  constexpr uint32_t kPerProducer = 100000;
  constexpr uint32_t kFirstId = 10;
  constexpr int64_t kTotal = int64_t(kProducers) * kPerProducer;
  // Room for every record where /dev/shm allows (then every record is checked); else a ring that
  // wraps (then every kept record is checked, and the kept ones are each producer's newest).
  const int64_t fits = shm_free_bytes() / 2 / (tennis::kRecordFloats * 4 + 8);
  const int64_t capacity = std::max<int64_t>(1000, std::min(kTotal, fits));
  ReplayBufferOptions o = options_with(capacity, 21);
  o.shm_name = ReplayBuffer::unique_shm_name("tennis-train-test");
  ReplayBuffer owner(o);
  std::vector<pid_t> children;
  for (uint32_t p = 0; p < kProducers; ++p) {
    const std::string id = std::to_string(kFirstId + p), count = std::to_string(kPerProducer);
    std::vector<char*> argv = {const_cast<char*>(exe.c_str()), const_cast<char*>(o.shm_name.c_str()),
                               const_cast<char*>(id.c_str()), const_cast<char*>(count.c_str()), nullptr};
    pid_t pid = 0;
    CHECK(posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ) == 0);
    children.push_back(pid);
  }
  // The learner samples while the producer processes append.
  int64_t torn = 0, sampled = 0;
  HostBatch batch(256);
  while (owner.total_added() < kTotal) {
    int status = 0;
    bool any_failed = false;
    for (pid_t pid : children) {
      if (waitpid(pid, &status, WNOHANG) == pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) any_failed = true;
    }
    CHECK_MSG(!any_failed, "a producer process failed");
    if (owner.size() < 256) continue;
    owner.sample(256, SampleOptions{}, batch.view());
    for (int64_t k = 0; k < 256; ++k) {
      uint32_t producer = 0, seq = 0;
      const auto record = batch.record(k);
      torn += !buffer_records::verify(record.data(), &producer, &seq);
    }
    sampled += 256;
  }
  for (pid_t pid : children) {
    int status = 0;
    if (waitpid(pid, &status, 0) == pid) CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  CHECK(torn == 0);
  CHECK(owner.total_added() == kTotal && owner.size() == capacity);
  const auto seen = verify_all_slots(owner, kProducers, kPerProducer, kFirstId);
  if (capacity == kTotal) {
    for (const auto& per : seen) CHECK(std::count(per.begin(), per.end(), 1) == kPerProducer);
  } else {
    check_kept_suffixes(seen, capacity);
  }
  std::printf("     processes: %u x %u records appended, %lld kept and intact, %lld sampled concurrently\n", kProducers,
              kPerProducer, static_cast<long long>(capacity), static_cast<long long>(sampled));
}

TEST(buffer_shm_lifecycle_and_stale_segments) {
  ReplayBufferOptions o = options_with(1000, 1);
  o.shm_name = ReplayBuffer::unique_shm_name("tennis-train-test");
  // A crashed run: the child creates the segment and dies without running the destructor.
  const pid_t child = fork();
  if (child == 0) {
    try {
      auto* leaked = new ReplayBuffer(o);
      buffer_records::produce(*leaked, 0, 10, 4);
    } catch (...) {
      _exit(1);
    }
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  expect_runtime([&] { ReplayBuffer::attach(o.shm_name); }, "stale");
  {
    ReplayBuffer owner(o);
    CHECK(owner.reclaimed_stale_pid() == child && owner.size() == 0 && owner.is_owner());
    expect_runtime([&] { ReplayBuffer second(o); }, "in use");
    auto producer = ReplayBuffer::attach(o.shm_name);
    buffer_records::produce(*producer, 1, 5, 5);
    CHECK(owner.total_added() == 5);
  }
  // The owner unlinked the segment on destruction.
  expect_runtime([&] { ReplayBuffer::attach(o.shm_name); }, "no replay buffer");

  // sweep_stale_segments removes crashed runs' segments only.
  ReplayBufferOptions live = options_with(10, 1);
  live.shm_name = ReplayBuffer::unique_shm_name("tennis-train-sweeptest");
  ReplayBuffer live_owner(live);
  ReplayBufferOptions dead = options_with(10, 1);
  dead.shm_name = ReplayBuffer::unique_shm_name("tennis-train-sweeptest");
  const pid_t crasher = fork();
  if (crasher == 0) {
    try {
      new ReplayBuffer(dead);
    } catch (...) {
      _exit(1);
    }
    _exit(0);
  }
  CHECK(waitpid(crasher, &status, 0) == crasher && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(ReplayBuffer::sweep_stale_segments("tennis-train-sweeptest") == 1);
  expect_runtime([&] { ReplayBuffer::attach(dead.shm_name); }, "no replay buffer");
  CHECK(ReplayBuffer::attach(live.shm_name)->capacity() == 10);
}

TEST(buffer_capacity_1e6_fits) {
  ReplayBuffer buffer(options_with(1000000, 1));
  CHECK(buffer.mapped_bytes() >= int64_t(1000000) * tennis::kRecordFloats * 4);
  CHECK(buffer.mapped_bytes() < int64_t(1000000) * tennis::kRecordFloats * 4 * 11 / 10);
  buffer_records::produce(buffer, 0, 2000, 8);
  HostBatch batch(256);
  buffer.sample(256, SampleOptions{}, batch.view());
  CHECK(batch.guards_intact() && buffer.size() == 2000);
}
