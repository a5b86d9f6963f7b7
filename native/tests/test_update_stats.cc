// StatsAccumulator: the means every update path and Maddpg::update report.
#include <cmath>

#include "check.h"
#include "update_stats.h"

TEST(stats_accumulator_means_over_terms) {
  tennis::StatsAccumulator sums;
  sums.add_critic(1.0, 2.0, 3.0);
  sums.add_critic(3.0, 4.0, 5.0);
  sums.add_actor(-1.0, 0.5, 0.25);
  const auto s = sums.means(2, 1);
  CHECK(s.updates == 2 && s.actor_updates == 1);
  CHECK(s.critic_loss == 2.0 && s.q_mean == 3.0 && s.critic_grad_norm == 4.0);
  CHECK(s.actor_loss == -1.0 && s.actor_grad_norm == 0.5 && s.saturation == 0.25);
  CHECK(s.td_errors.empty());
}

TEST(stats_accumulator_actor_fields_are_nan_without_actor_terms) {
  tennis::StatsAccumulator sums;
  tennis::UpdateStats critic_only;
  critic_only.updates = 1;
  critic_only.critic_loss = 0.5;
  critic_only.actor_loss = 7.0;  // ignored: actor_updates == 0
  sums.add(critic_only);
  const auto s = sums.means(1, 0);
  CHECK(s.critic_loss == 0.5);
  CHECK(std::isnan(s.actor_loss) && std::isnan(s.actor_grad_norm) && std::isnan(s.saturation));
}

TEST(stats_accumulator_sums_count_as_their_terms) {
  tennis::StatsAccumulator sums;
  sums.add_critic_sums(6.0, 3.0, 9.0, 3);
  sums.add_actor_sums(2.0, 4.0, 1.0, 2);
  const auto s = sums.means(3, 2);
  CHECK(s.critic_loss == 2.0 && s.q_mean == 1.0 && s.critic_grad_norm == 3.0);
  CHECK(s.actor_loss == 1.0 && s.actor_grad_norm == 2.0 && s.saturation == 0.5);
}
