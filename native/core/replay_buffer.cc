// Shared-memory ring buffer of joint transitions: the segment's lifecycle (create, reclaim a stale
// one, attach, unlink, sweep). Appends are in replay_buffer_append.cc, reads and the samplers in
// replay_buffer_sample.cc, checkpoints in replay_buffer_checkpoint.cc (protocol documented in
// replay_buffer.h).
#include "replay_buffer.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>
#include <new>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "replay_buffer_shared.h"

namespace tennis {

using namespace replay;

namespace {

// "TNSRBUF1": marks a tennis-train replay segment.
constexpr uint64_t kSegmentMagic = 0x3146554252534e54ULL;
// Largest capacity accepted (far above any RAM; keeps byte arithmetic in range).
constexpr int64_t kMaxCapacity = int64_t(1) << 32;

std::string normalize_shm_name(const std::string& name) {
  const std::string body = (!name.empty() && name[0] == '/') ? name.substr(1) : name;
  if (body.empty() || body.size() > 200) {
    throw std::invalid_argument("shm_name must be 1 to 200 characters (optionally after a leading '/'), got \"" + name +
                                "\"");
  }
  for (char c : body) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      throw std::invalid_argument("shm_name may contain only letters, digits, '.', '_' and '-', got \"" + name + "\"");
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
      throw std::runtime_error("cannot map " + std::to_string(bytes) +
                               " bytes for the replay buffer: " + errno_text(errno));
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
    problem =
        "was created by an incompatible tennis-train version (layout " + std::to_string(header->layout_version) + ")";
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

}  // namespace tennis
