// Shared-memory ring buffer of joint transitions: segment lifecycle, the lock-free append protocol,
// the seqlock reads, the three samplers and checkpoint I/O (protocol documented in replay_buffer.h).
#include "replay_buffer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <new>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

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

namespace {

// "TNSRBUF1": marks a tennis-train replay segment.
constexpr uint64_t kSegmentMagic = 0x3146554252534e54ULL;
// "TNSRBCK1": marks a replay checkpoint file.
constexpr uint64_t kCheckpointMagic = 0x314b434252534e54ULL;
// Bumped whenever SharedHeader or the slot layout changes.
constexpr uint32_t kLayoutVersion = 1;
// Checkpoint file format version.
constexpr uint32_t kCheckpointVersion = 1;
// Stamp bit set while a writer holds the slot; the low 32 bits then hold the writer's pid.
constexpr uint64_t kWritingBit = 1ULL << 63;
// Mask of the writer pid inside a "writing" stamp.
constexpr uint64_t kPidMask = 0xffffffffULL;
// Bytes reserved for SharedHeader at the start of the mapping.
constexpr int64_t kHeaderBytes = 4096;
// Largest capacity accepted (far above any RAM; keeps byte arithmetic in range).
constexpr int64_t kMaxCapacity = int64_t(1) << 32;
// Bytes of one record.
constexpr int64_t kRecordBytes = kRecordFloats * int64_t(sizeof(float));
// Spins on a held slot before checking whether its writer is still alive (then every kSpinCheck).
constexpr int kSpinsBeforeCheck = 4096;
constexpr int kSpinCheck = 1024;
// Floats per transition of each field.
constexpr int kObsFloats = kAgents * kObsSize;
constexpr int kActionFloats = kAgents * kActionSize;

using Stamp = std::atomic<uint64_t>;
static_assert(Stamp::is_always_lock_free, "stamps must be address-free atomics to live in shared memory");
static_assert(sizeof(Stamp) == sizeof(uint64_t), "stamp layout");
static_assert(sizeof(SharedHeader) <= static_cast<size_t>(kHeaderBytes), "header must fit its page");

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

std::string errno_text(int err) { return std::strerror(err); }

std::string normalize_shm_name(const std::string& name) {
  const std::string body = (!name.empty() && name[0] == '/') ? name.substr(1) : name;
  if (body.empty() || body.size() > 200) {
    throw std::invalid_argument("shm_name must be 1 to 200 characters (optionally after a leading '/'), got \"" +
                                name + "\"");
  }
  for (char c : body) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) {
      throw std::invalid_argument("shm_name may contain only letters, digits, '.', '_' and '-', got \"" + name +
                                  "\"");
    }
  }
  return "/" + body;
}

// Process start time in clock ticks since boot (field 22 of /proc/<pid>/stat); 0 when unknown.
uint64_t process_start_time(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(paren + 1));
  std::string field;
  // After ")" come field 3 (state) onwards; starttime is field 22.
  for (int i = 3; i <= 22; ++i) {
    if (!(fields >> field)) return 0;
  }
  return std::strtoull(field.c_str(), nullptr, 10);
}

bool pid_exists(int64_t pid) {
  if (pid <= 0) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// Whether the process that created a segment still runs (same pid and same start time).
bool owner_alive(const SharedHeader& header) {
  if (!pid_exists(header.owner_pid)) return false;
  if (header.owner_start_time == 0) return true;
  const uint64_t now = process_start_time(header.owner_pid);
  return now == 0 || now == header.owner_start_time;
}

struct Layout {
  int64_t stamps_offset;
  int64_t data_offset;
  int64_t total_bytes;
};

Layout layout_for(int64_t capacity) {
  const int64_t page = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096;
  Layout layout{};
  layout.stamps_offset = kHeaderBytes;
  // Records start on a page so that RSS counts whole pages of records only.
  layout.data_offset = (kHeaderBytes + capacity * int64_t(sizeof(Stamp)) + page - 1) / page * page;
  layout.total_bytes = (layout.data_offset + capacity * kRecordBytes + page - 1) / page * page;
  return layout;
}

void check_finite(const char* name, const float* data, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(data[i])) {
      std::ostringstream os;
      os << name << " must be finite, got " << data[i] << " at index " << i;
      throw std::invalid_argument(os.str());
    }
  }
}

void require_non_null(const void* p, const char* name) {
  if (p == nullptr) throw std::invalid_argument(std::string(name) + " must not be null");
}

// The header of the segment `name` if it is a complete tennis-train segment, mapped read-only into
// `copy`; false for a foreign or half-created one. Throws std::runtime_error if it cannot be opened.
bool read_segment_header(const std::string& name, SharedHeader* copy, int64_t* size) {
  const int fd = shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) throw std::runtime_error("cannot open shared memory " + name + ": " + errno_text(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size < kHeaderBytes) {
    close(fd);
    return false;
  }
  void* p = mmap(nullptr, static_cast<size_t>(kHeaderBytes), PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return false;
  const auto* header = static_cast<const SharedHeader*>(p);
  const bool ok = header->ready.load(std::memory_order_acquire) == 1 && header->magic == kSegmentMagic;
  if (ok) std::memcpy(static_cast<void*>(copy), static_cast<const void*>(header), sizeof(SharedHeader));
  munmap(p, static_cast<size_t>(kHeaderBytes));
  *size = st.st_size;
  return ok;
}

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

// Segments this process owns. A process that calls exit() without destroying its buffers (Node's
// process.exit() does) still unlinks them: this registry's destructor runs among the static
// destructors. _exit() and signals skip it; the next owner of the name reclaims such a stale segment.
class OwnedSegments {
 public:
  static OwnedSegments& instance() {
    static OwnedSegments registry;
    return registry;
  }
  void add(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    names_.push_back({name, getpid()});
  }
  void remove(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    names_.erase(std::remove_if(names_.begin(), names_.end(), [&](const auto& e) { return e.first == name; }),
                 names_.end());
  }
  ~OwnedSegments() {
    std::lock_guard<std::mutex> lock(mutex_);
    // A fork()ed child inherits the list; only the creating process unlinks.
    for (const auto& [name, pid] : names_) {
      if (pid == getpid()) shm_unlink(name.c_str());
    }
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<std::string, pid_t>> names_;
};

}  // namespace

bool is_negative_transition(const float* rewards) {
  for (int a = 0; a < kAgents; ++a) {
    if (rewards[a] < 0.0f) return true;
  }
  return false;
}

// The learner-side state of one object: everything sample() needs that producers never touch.
struct ReplayBuffer::SamplerState {
  Rng rng;
  int64_t sample_calls = 0;           // completed sample() calls, drives beta annealing
  double max_priority = 1.0;          // largest |td_error| + eps seen, given to new records
  std::unique_ptr<SumTree> priorities;  // leaf = priority^alpha, only with prioritized replay
  std::unique_ptr<CountIndex> negatives;      // built on the first filtered/ratioed sample()
  std::unique_ptr<CountIndex> non_negatives;
  std::vector<uint8_t> category;      // per slot: 0 not indexed, 1 negative, 2 non-negative
  uint64_t cursor = 0;                // tickets below this were offered to the indexes
  std::vector<uint64_t> pending;      // tickets reserved but not yet committed at the last sync
  std::vector<uint8_t> kinds;         // scratch: category wanted at each batch position
};

namespace {

constexpr uint8_t kNegative = 1;
constexpr uint8_t kNonNegative = 2;

}  // namespace

ReplayBuffer::ReplayBuffer(const ReplayBufferOptions& options) : options_(options), owner_(true) {
  if (options.capacity < 1) {
    throw std::invalid_argument("capacity must be >= 1, got " + std::to_string(options.capacity));
  }
  if (options.capacity > kMaxCapacity) {
    throw std::invalid_argument("capacity must be <= " + std::to_string(kMaxCapacity) + ", got " +
                                std::to_string(options.capacity));
  }
  if (!std::isfinite(options.alpha) || options.alpha < 0.0f) {
    throw std::invalid_argument("alpha must be a finite number >= 0, got " + std::to_string(options.alpha));
  }
  if (!(options.beta0 >= 0.0f && options.beta0 <= 1.0f)) {
    throw std::invalid_argument("beta0 must be in [0, 1], got " + std::to_string(options.beta0));
  }
  if (options.beta_steps < 1) {
    throw std::invalid_argument("beta_steps must be >= 1, got " + std::to_string(options.beta_steps));
  }
  if (!std::isfinite(options.priority_eps) || options.priority_eps <= 0.0f) {
    throw std::invalid_argument("priority_eps must be a finite number > 0, got " +
                                std::to_string(options.priority_eps));
  }
  capacity_ = options.capacity;
  const Layout layout = layout_for(capacity_);
  const long phys_pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGESIZE);
  if (phys_pages > 0 && page > 0 && layout.total_bytes > int64_t(phys_pages) * page) {
    throw std::invalid_argument("capacity " + std::to_string(capacity_) + " needs " +
                                std::to_string(layout.total_bytes) + " bytes, more than the " +
                                std::to_string(int64_t(phys_pages) * page) + " bytes of RAM");
  }
  const size_t bytes = static_cast<size_t>(layout.total_bytes);

  void* base = MAP_FAILED;
  if (options.shm_name.empty()) {
    base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
      throw std::runtime_error("cannot map " + std::to_string(bytes) + " bytes for the replay buffer: " +
                               errno_text(errno));
    }
  } else {
    shm_name_ = normalize_shm_name(options.shm_name);
    int fd = shm_open(shm_name_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0 && errno == EEXIST) {
      SharedHeader existing{};
      int64_t existing_size = 0;
      if (!read_segment_header(shm_name_, &existing, &existing_size)) {
        throw std::runtime_error("shared memory " + shm_name_ +
                                 " exists and is not a tennis-train replay buffer; remove /dev/shm" + shm_name_ +
                                 " or choose another shm_name");
      }
      if (owner_alive(existing)) {
        throw std::runtime_error("shared memory " + shm_name_ + " is in use by the replay buffer of live process " +
                                 std::to_string(existing.owner_pid) + "; choose another shm_name");
      }
      // Stale: its owner crashed without unlinking. Reclaim the name.
      shm_unlink(shm_name_.c_str());
      reclaimed_pid_ = existing.owner_pid;
      fd = shm_open(shm_name_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    }
    if (fd < 0) throw std::runtime_error("cannot create shared memory " + shm_name_ + ": " + errno_text(errno));
    const auto fail = [&](const std::string& what, int err) {
      close(fd);
      shm_unlink(shm_name_.c_str());
      throw std::runtime_error(what + ": " + errno_text(err));
    };
    if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) fail("cannot size shared memory " + shm_name_, errno);
    // Reserve every page now: a full /dev/shm then fails here with a message instead of SIGBUS mid-run.
    const int err = posix_fallocate(fd, 0, static_cast<off_t>(bytes));
    if (err != 0) {
      fail("not enough shared memory (/dev/shm) for " + std::to_string(bytes) + " bytes (capacity " +
               std::to_string(capacity_) + ")",
           err);
    }
    base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) fail("cannot map shared memory " + shm_name_, errno);
    close(fd);
  }
  base_ = base;
  mapped_bytes_ = bytes;

  // The mapping is zero-filled, which is the value representation of every stamp (empty slot).
  auto* header = new (base) SharedHeader();
  header->layout_version = kLayoutVersion;
  header->record_floats = kRecordFloats;
  header->capacity = capacity_;
  header->total_bytes = layout.total_bytes;
  header->stamps_offset = layout.stamps_offset;
  header->data_offset = layout.data_offset;
  header->owner_pid = static_cast<int32_t>(getpid());
  header->owner_start_time = process_start_time(getpid());
  header->reserved.store(0, std::memory_order_relaxed);
  header->committed.store(0, std::memory_order_relaxed);
  header->magic = kSegmentMagic;
  header->ready.store(1, std::memory_order_release);
  map_layout(base);
  if (!shm_name_.empty()) OwnedSegments::instance().add(shm_name_);

  sampler_ = std::make_unique<SamplerState>();
  sampler_->rng.seed_with(options.seed);
  if (options.prioritized) sampler_->priorities = std::make_unique<SumTree>(capacity_);
}

ReplayBuffer::ReplayBuffer(AttachTag, const std::string& name) : owner_(false) {
  shm_name_ = normalize_shm_name(name);
  const int fd = shm_open(shm_name_.c_str(), O_RDWR, 0);
  if (fd < 0) {
    if (errno == ENOENT) {
      throw std::runtime_error("no replay buffer shared memory named " + shm_name_ + " (is its owner running?)");
    }
    throw std::runtime_error("cannot open shared memory " + shm_name_ + ": " + errno_text(errno));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size < kHeaderBytes) {
    close(fd);
    throw std::runtime_error("shared memory " + shm_name_ + " is not a tennis-train replay buffer");
  }
  void* base = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) throw std::runtime_error("cannot map shared memory " + shm_name_ + ": " + errno_text(errno));
  auto* header = static_cast<SharedHeader*>(base);
  std::string problem;
  if (header->ready.load(std::memory_order_acquire) != 1 || header->magic != kSegmentMagic) {
    problem = "is not a tennis-train replay buffer (or its owner crashed while creating it)";
  } else if (header->layout_version != kLayoutVersion || header->record_floats != uint32_t(kRecordFloats)) {
    problem = "was created by an incompatible tennis-train version (layout " +
              std::to_string(header->layout_version) + ")";
  } else if (header->total_bytes != st.st_size || header->capacity < 1 ||
             layout_for(header->capacity).total_bytes != header->total_bytes) {
    problem = "has an inconsistent size";
  } else if (!owner_alive(*header)) {
    problem = "is stale: its owner process " + std::to_string(header->owner_pid) + " has exited";
  }
  if (!problem.empty()) {
    munmap(base, static_cast<size_t>(st.st_size));
    throw std::runtime_error("shared memory " + shm_name_ + " " + problem);
  }
  base_ = base;
  mapped_bytes_ = static_cast<size_t>(st.st_size);
  capacity_ = header->capacity;
  options_.capacity = capacity_;
  options_.shm_name = shm_name_;
  options_.prioritized = false;
  map_layout(base);
  sampler_ = std::make_unique<SamplerState>();
  sampler_->rng.seed_with(options_.seed);
}

std::unique_ptr<ReplayBuffer> ReplayBuffer::attach(const std::string& shm_name) {
  return std::unique_ptr<ReplayBuffer>(new ReplayBuffer(AttachTag{}, shm_name));
}

void ReplayBuffer::map_layout(void* base) {
  header_ = static_cast<SharedHeader*>(base);
  stamps_ = static_cast<char*>(base) + header_->stamps_offset;
  data_ = reinterpret_cast<float*>(static_cast<char*>(base) + header_->data_offset);
}

ReplayBuffer::~ReplayBuffer() {
  // A fork()ed child inherits the owner object; only the creating process removes the segment.
  const bool unlink_it = owner_ && !shm_name_.empty() && header_ != nullptr && header_->owner_pid == getpid();
  if (base_ != nullptr) munmap(base_, mapped_bytes_);
  if (unlink_it) {
    OwnedSegments::instance().remove(shm_name_);
    shm_unlink(shm_name_.c_str());
  }
}

std::string ReplayBuffer::unique_shm_name(const std::string& prefix) {
  static std::atomic<uint64_t> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  std::ostringstream os;
  os << "/" << prefix << "-" << getpid() << "-" << counter.fetch_add(1) << "-" << std::hex
     << (static_cast<uint64_t>(now) & 0xffffffULL);
  return normalize_shm_name(os.str());
}

int ReplayBuffer::sweep_stale_segments(const std::string& prefix) {
  const std::string body = normalize_shm_name(prefix).substr(1);
  DIR* dir = opendir("/dev/shm");
  if (dir == nullptr) return 0;
  int removed = 0;
  while (const dirent* entry = readdir(dir)) {
    const std::string file = entry->d_name;
    if (file.compare(0, body.size(), body) != 0) continue;
    SharedHeader header{};
    int64_t size = 0;
    try {
      if (!read_segment_header("/" + file, &header, &size)) continue;
    } catch (const std::runtime_error&) {
      continue;
    }
    if (!owner_alive(header) && shm_unlink(("/" + file).c_str()) == 0) ++removed;
  }
  closedir(dir);
  return removed;
}

// ---- append ---------------------------------------------------------------------------------

void ReplayBuffer::add(int64_t n, const float* obs, const float* actions, const float* rewards,
                       const float* next_obs, const float* dones) {
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
                              const float* rewards, int64_t rewards_len, const float* next_obs,
                              int64_t next_obs_len, const float* dones, int64_t dones_len) {
  if (obs_len < kObsFloats || obs_len % kObsFloats != 0) {
    throw std::invalid_argument("obs length must be a positive multiple of " + std::to_string(kObsFloats) +
                                " (n x 2 x 24), got " + std::to_string(obs_len));
  }
  const int64_t n = obs_len / kObsFloats;
  const auto check_len = [n](const char* name, int64_t len, int64_t per) {
    if (len != n * per) {
      throw std::invalid_argument(std::string(name) + " length must be " + std::to_string(n * per) + " (n=" +
                                  std::to_string(n) + " x " + std::to_string(per) + "), got " +
                                  std::to_string(len));
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
      if (stamp.compare_exchange_weak(current, writing_value, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        break;
      }
      continue;
    }
    // Another writer holds the slot (the ring lapped a slow writer): wait, or take over from a dead one.
    if (spins >= kSpinsBeforeCheck && spins % kSpinCheck == 0 && !pid_exists(int64_t(current & kPidMask))) {
      if (stamp.compare_exchange_strong(current, writing_value, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
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
    throw std::invalid_argument("slot must be in [0, " + std::to_string(capacity_) + "), got " +
                                std::to_string(slot));
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
    throw std::invalid_argument("slot must be in [0, " + std::to_string(capacity_) + "), got " +
                                std::to_string(slot));
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
    throw std::invalid_argument("batch (" + std::to_string(batch) + ") is larger than the " +
                                std::to_string(stored) + " transitions stored");
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
      throw std::invalid_argument("indices[" + std::to_string(i) + "] must be a slot in [0, " +
                                  std::to_string(range) + "), got " + std::to_string(indices[i]));
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
  if (f == nullptr) throw std::invalid_argument("path: cannot open replay checkpoint " + path + ": " + errno_text(errno));
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
    throw std::invalid_argument("path: " + path + " is truncated or inconsistent (" +
                                std::to_string(st_file.st_size) + " bytes, expected " + std::to_string(expected) +
                                ")");
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
