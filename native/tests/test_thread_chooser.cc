// The fused update's thread chooser (fused/thread_chooser.h) on synthetic update times: it settles on
// the faster count, probes the other rarely (and briefly when that one is hopeless), and follows a
// change of machine load within a few updates.
#include <functional>
#include <iostream>

#include "check.h"
#include "fused/thread_chooser.h"

namespace {

using tennis::fused::ThreadChooser;

// Runs `updates` updates whose time depends on (update index, thread count); returns how many ran
// with each count over [from, updates).
std::pair<int64_t, int64_t> run(ThreadChooser& chooser, int64_t begin, int64_t end,
                                const std::function<double(int64_t, int)>& seconds) {
  int64_t one = 0, more = 0;
  for (int64_t u = begin; u < end; ++u) {
    const int t = chooser.threads();
    (t == 1 ? one : more) += 1;
    chooser.record(seconds(u, t));
  }
  return {one, more};
}

}  // namespace

TEST(thread_chooser_single_thread_stays_single) {
  ThreadChooser chooser(1);
  const auto [one, more] = run(chooser, 0, 1000, [](int64_t, int t) { return t == 1 ? 1e-3 : 1e-4; });
  CHECK(one == 1000 && more == 0);
}

TEST(thread_chooser_prefers_two_threads_when_faster) {
  ThreadChooser chooser(2);
  const auto [one, more] = run(chooser, 0, 20000, [](int64_t, int t) { return t == 1 ? 2.0e-3 : 1.2e-3; });
  std::cout << "     2 threads faster: " << more << " updates with 2, " << one << " with 1 (opening + probes)\n";
  CHECK(chooser.threads() == 2);
  CHECK(one <= 4 * 10);  // the opening measurement and ~8 probes of 4 updates
}

TEST(thread_chooser_avoids_two_threads_on_a_busy_machine) {
  ThreadChooser chooser(2);
  // Two threads waiting on each other behind other processes: 60x slower than one.
  const auto [one, more] = run(chooser, 0, 20000, [](int64_t, int t) { return t == 1 ? 2.5e-3 : 0.15; });
  std::cout << "     2 threads hopeless: " << more << " updates with 2 (opening + one per probe)\n";
  CHECK(chooser.threads() == 1);
  CHECK(more <= 4 + 10);  // the opening 4, then each probe stops after its first update
}

TEST(thread_chooser_follows_the_load) {
  ThreadChooser chooser(2);
  // Quiet until update 3000 (2 threads faster), busy until 6000 (2 threads hopeless), quiet again.
  auto seconds = [](int64_t u, int t) {
    const bool busy = u >= 3000 && u < 6000;
    return t == 1 ? 2.0e-3 : (busy ? 0.1 : 1.2e-3);
  };
  run(chooser, 0, 3000, seconds);
  CHECK(chooser.threads() == 2);
  const auto [one_busy, more_busy] = run(chooser, 3000, 6000, seconds);
  std::cout << "     busy phase: " << more_busy << " of 3000 updates still with 2 threads\n";
  CHECK(more_busy <= 20);
  CHECK(chooser.threads() == 1);
  const auto [one_quiet, more_quiet] = run(chooser, 6000, 9000, seconds);
  std::cout << "     quiet again: " << one_quiet << " of 3000 updates with 1 thread before switching back\n";
  CHECK(chooser.threads() == 2);
  CHECK(one_quiet <= 2 * ThreadChooser::kFirstGap + 10);
}
