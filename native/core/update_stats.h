// The statistics of an update call, and the one accumulator that every update path and Maddpg::update
// average them with.
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

namespace tennis {

// Averages over the updates of one call (actor fields over the updates that stepped the actors).
struct UpdateStats {
  int64_t updates = 0;           // updates run
  int64_t actor_updates = 0;     // of which updated actors and targets (policy_delay)
  double critic_loss = 0;        // critic MSE (sum of both twins' MSE with twin_critics)
  double actor_loss = 0;         // -Q(o, mu(o)) mean; NaN when actor_updates == 0
  double q_mean = 0;             // mean Q of the batch's (o, a) under the critic
  double critic_grad_norm = 0;   // gradient norm before clipping
  double actor_grad_norm = 0;    // NaN when actor_updates == 0
  double saturation = 0;         // share of policy actions with |a| > 0.99; NaN when actor_updates == 0
  std::vector<float> td_errors;  // |TD error| per row of the last batch, mean over agents (for PER)
};

// Sums statistics term by term, in the order added (a term is one update, or one network group of an
// update), and divides each sum by its number of terms: critic fields by every term, actor fields by
// the actor terms (NaN when there were none).
class StatsAccumulator {
 public:
  void add_critic(double critic_loss, double q_mean, double critic_grad_norm) {
    add_critic_sums(critic_loss, q_mean, critic_grad_norm, 1);
  }
  void add_actor(double actor_loss, double actor_grad_norm, double saturation) {
    add_actor_sums(actor_loss, actor_grad_norm, saturation, 1);
  }
  // `terms` terms at once, given as their sums.
  void add_critic_sums(double critic_loss, double q_mean, double critic_grad_norm, int64_t terms) {
    critic_loss_ += critic_loss;
    q_mean_ += q_mean;
    critic_grad_norm_ += critic_grad_norm;
    critic_terms_ += terms;
  }
  void add_actor_sums(double actor_loss, double actor_grad_norm, double saturation, int64_t terms) {
    actor_loss_ += actor_loss;
    actor_grad_norm_ += actor_grad_norm;
    saturation_ += saturation;
    actor_terms_ += terms;
  }
  // The means of one update's stats as one critic term, and one actor term when it stepped the actors.
  void add(const UpdateStats& s) {
    add_critic(s.critic_loss, s.q_mean, s.critic_grad_norm);
    if (s.actor_updates) add_actor(s.actor_loss, s.actor_grad_norm, s.saturation);
  }

  // The means, labelled with the caller's counts of updates; td_errors is left empty.
  UpdateStats means(int64_t updates, int64_t actor_updates) const {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double c = double(critic_terms_), a = double(actor_terms_);
    UpdateStats out;
    out.updates = updates;
    out.actor_updates = actor_updates;
    out.critic_loss = critic_loss_ / c;
    out.q_mean = q_mean_ / c;
    out.critic_grad_norm = critic_grad_norm_ / c;
    out.actor_loss = actor_terms_ > 0 ? actor_loss_ / a : nan;
    out.actor_grad_norm = actor_terms_ > 0 ? actor_grad_norm_ / a : nan;
    out.saturation = actor_terms_ > 0 ? saturation_ / a : nan;
    return out;
  }

 private:
  double critic_loss_ = 0, q_mean_ = 0, critic_grad_norm_ = 0;
  double actor_loss_ = 0, actor_grad_norm_ = 0, saturation_ = 0;
  int64_t critic_terms_ = 0, actor_terms_ = 0;
};

}  // namespace tennis
