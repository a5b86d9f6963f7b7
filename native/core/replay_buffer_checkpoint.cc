// Replay buffer checkpoints: records, stamps, counters, sampler RNG, beta progress and priorities in
// one file written atomically (temp file + rename).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "replay_buffer.h"
#include "replay_buffer_shared.h"

namespace tennis {

using namespace replay;

namespace {

// "TNSRBCK1": marks a replay checkpoint file.
constexpr uint64_t kCheckpointMagic = 0x314b434252534e54ULL;
// Checkpoint file format version.
constexpr uint32_t kCheckpointVersion = 1;

// Checkpoint file header (little-endian host layout; the file is only read back on the same kind of host).
struct CheckpointHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t record_floats;
  int64_t capacity;
  uint64_t reserved;
  uint64_t committed;
  uint64_t slots;  // min(reserved, capacity): stamps and records that follow
  uint64_t rng[4];
  int64_t sample_calls;
  double max_priority;
  uint32_t has_priorities;
  uint32_t padding;
};

void write_all(std::FILE* f, const void* data, size_t bytes, const std::string& path) {
  if (bytes > 0 && std::fwrite(data, 1, bytes, f) != bytes) {
    throw std::runtime_error("cannot write replay checkpoint " + path + ": " + errno_text(errno));
  }
}

bool read_all(std::FILE* f, void* data, size_t bytes) { return bytes == 0 || std::fread(data, 1, bytes, f) == bytes; }

}  // namespace

// ---- checkpoints ----------------------------------------------------------------------------

void ReplayBuffer::save(const std::string& path) const {
  std::lock_guard<std::mutex> lock(sampler_mutex_);
  const SamplerState& st = *sampler_;
  CheckpointHeader ck{};
  ck.magic = kCheckpointMagic;
  ck.version = kCheckpointVersion;
  ck.record_floats = kRecordFloats;
  ck.capacity = capacity_;
  ck.reserved = header_->reserved.load(std::memory_order_acquire);
  ck.committed = header_->committed.load(std::memory_order_acquire);
  ck.slots = std::min<uint64_t>(ck.reserved, uint64_t(capacity_));
  st.rng.words(ck.rng);
  ck.sample_calls = st.sample_calls;
  ck.max_priority = st.max_priority;
  ck.has_priorities = st.priorities ? 1 : 0;

  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write replay checkpoint " + tmp + ": " + errno_text(errno));
  try {
    write_all(f, &ck, sizeof(ck), tmp);
    std::vector<uint64_t> stamps(static_cast<size_t>(ck.slots));
    const Stamp* live = static_cast<const Stamp*>(stamps_);
    for (size_t i = 0; i < stamps.size(); ++i) {
      const uint64_t value = live[i].load(std::memory_order_acquire);
      stamps[i] = (value & kWritingBit) ? 0 : value;  // a half-written slot is saved as empty
    }
    write_all(f, stamps.data(), stamps.size() * sizeof(uint64_t), tmp);
    write_all(f, data_, static_cast<size_t>(ck.slots) * size_t(kRecordBytes), tmp);
    if (st.priorities) {
      std::vector<double> leaves(static_cast<size_t>(ck.slots));
      for (size_t i = 0; i < leaves.size(); ++i) leaves[i] = st.priorities->get(int64_t(i));
      write_all(f, leaves.data(), leaves.size() * sizeof(double), tmp);
    }
    if (std::fflush(f) != 0 || fsync(fileno(f)) != 0) {
      throw std::runtime_error("cannot write replay checkpoint " + tmp + ": " + errno_text(errno));
    }
  } catch (...) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
  if (std::fclose(f) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write replay checkpoint " + path + ": " + errno_text(err));
  }
}

void ReplayBuffer::load(const std::string& path) {
  std::lock_guard<std::mutex> lock(sampler_mutex_);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    throw std::invalid_argument("path: cannot open replay checkpoint " + path + ": " + errno_text(errno));
  struct Closer {
    std::FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{f};
  struct stat st_file {};
  CheckpointHeader ck{};
  if (fstat(fileno(f), &st_file) != 0 || !read_all(f, &ck, sizeof(ck)) || ck.magic != kCheckpointMagic) {
    throw std::invalid_argument("path: " + path + " is not a tennis-train replay checkpoint");
  }
  if (ck.version != kCheckpointVersion || ck.record_floats != uint32_t(kRecordFloats)) {
    throw std::invalid_argument("path: " + path + " has an unsupported checkpoint version " +
                                std::to_string(ck.version));
  }
  if (ck.capacity != capacity_) {
    throw std::invalid_argument("capacity: checkpoint " + path + " holds a buffer of capacity " +
                                std::to_string(ck.capacity) + ", this buffer has " + std::to_string(capacity_));
  }
  const uint64_t slots = std::min<uint64_t>(ck.reserved, uint64_t(capacity_));
  const uint64_t expected = sizeof(ck) + slots * (sizeof(uint64_t) + uint64_t(kRecordBytes)) +
                            (ck.has_priorities ? slots * sizeof(double) : 0);
  if (ck.slots != slots || ck.committed > ck.reserved || uint64_t(st_file.st_size) != expected) {
    throw std::invalid_argument("path: " + path + " is truncated or inconsistent (" + std::to_string(st_file.st_size) +
                                " bytes, expected " + std::to_string(expected) + ")");
  }
  std::vector<uint64_t> stamps(static_cast<size_t>(slots));
  std::vector<double> leaves(ck.has_priorities ? static_cast<size_t>(slots) : 0);
  Stamp* live = static_cast<Stamp*>(stamps_);
  // From here on the buffer changes; a read error (not a validation error) leaves it empty.
  for (int64_t i = 0; i < capacity_; ++i) live[i].store(0, std::memory_order_relaxed);
  header_->reserved.store(0, std::memory_order_release);
  header_->committed.store(0, std::memory_order_release);
  if (!read_all(f, stamps.data(), stamps.size() * sizeof(uint64_t)) ||
      !read_all(f, data_, static_cast<size_t>(slots) * size_t(kRecordBytes)) ||
      !read_all(f, leaves.data(), leaves.size() * sizeof(double))) {
    throw std::runtime_error("cannot read replay checkpoint " + path + ": " + errno_text(errno));
  }
  for (size_t i = 0; i < stamps.size(); ++i) live[i].store(stamps[i], std::memory_order_release);
  header_->reserved.store(ck.reserved, std::memory_order_release);
  header_->committed.store(ck.committed, std::memory_order_release);

  SamplerState& st = *sampler_;
  st.rng.set_words(ck.rng);
  st.sample_calls = ck.sample_calls;
  st.max_priority = ck.max_priority;
  st.cursor = ck.reserved;
  st.pending.clear();
  st.negatives.reset();
  st.non_negatives.reset();
  st.category.clear();
  if (st.priorities) {
    if (!ck.has_priorities) {
      // A checkpoint from a uniform buffer: every stored record starts at the max priority.
      leaves.assign(static_cast<size_t>(slots), 0.0);
      const double top = std::pow(st.max_priority, double(options_.alpha));
      for (size_t i = 0; i < leaves.size(); ++i) leaves[i] = stamps[i] != 0 ? top : 0.0;
    }
    st.priorities->assign(leaves.data(), int64_t(leaves.size()));
  }
}

}  // namespace tennis
