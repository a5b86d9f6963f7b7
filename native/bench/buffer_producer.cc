// A replay producer process: attaches to a live buffer by shm name and appends `count` records whose
// content derives from (producer id, sequence number) (native/common/buffer_records.h), so the process
// concurrency test can check every record afterwards.
// Usage: buffer_producer <shm_name> <producer_id> <count> [max_step=8]
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "common/buffer_records.h"
#include "replay_buffer.h"

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5) {
    std::fprintf(stderr, "usage: %s <shm_name> <producer_id> <count> [max_step=8]\n", argv[0]);
    return 2;
  }
  const long producer = std::strtol(argv[2], nullptr, 10);
  const long count = std::strtol(argv[3], nullptr, 10);
  const long max_step = argc == 5 ? std::strtol(argv[4], nullptr, 10) : 8;
  if (producer < 0 || producer >= (1L << 24) || count < 0 || count >= (1L << 24) || max_step < 1 || max_step > 64) {
    std::fprintf(stderr, "buffer_producer: producer_id and count must be in [0, 2^24), max_step in [1, 64]\n");
    return 2;
  }
  try {
    auto buffer = tennis::ReplayBuffer::attach(argv[1]);
    buffer_records::produce(*buffer, static_cast<uint32_t>(producer), static_cast<uint32_t>(count),
                            static_cast<int>(max_step));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "buffer_producer: %s\n", e.what());
    return 1;
  }
  return 0;
}
