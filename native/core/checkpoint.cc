// Checkpoint I/O: a LibTorch archive holding a format tag, the architecture, each group's networks
// (parameters and buffers, module by module) and optimizer states, the update count, the target
// noise RNG and the exploration noise state.
#include "checkpoint.h"

#include <torch/torch.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <stdexcept>

namespace tennis {
namespace {

// Checkpoint format tag; bump when the layout of the archive changes.
constexpr const char* kCheckpointFormat = "tennis-train/maddpg/1";

std::string join(const std::vector<int64_t>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + std::to_string(values[i]);
  return out;
}

std::string shape_string(at::IntArrayRef sizes) { return "[" + join(sizes.vec()) + "]"; }

// Before an optimizer save: each state gets its own copy of its moments (a view would write the
// whole flat buffer behind it into the archive) and, when given, the step count.
void detach_adam_state(torch::optim::Adam& optimizer, const int64_t* step) {
  for (auto& item : optimizer.state()) {
    auto& state = static_cast<torch::optim::AdamParamState&>(*item.second);
    state.exp_avg(state.exp_avg().clone());
    state.exp_avg_sq(state.exp_avg_sq().clone());
    if (step) state.step(*step);
  }
}

// Writes `bytes` to `path`; a failed open, write or close (a full disk included) throws a
// runtime_error naming the file and the system's reason (what was written stays: callers write into
// a temporary folder and remove it on failure). LibTorch's own file writer cannot report
// a failed write: it fails in a destructor, which ends the process.
void write_file(const std::string& path, const std::string& bytes) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) throw std::runtime_error("cannot write checkpoint " + path + ": " + std::strerror(errno));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  const int write_error = errno;
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    throw std::runtime_error("cannot write checkpoint " + path + ": " + std::strerror(written ? errno : write_error));
  }
}

// Recursively writes a module's own parameters and buffers (copies, not views of flat buffers).
void write_module(torch::serialize::OutputArchive& archive, const torch::nn::Module& module) {
  for (const auto& item : module.named_parameters(/*recurse=*/false)) {
    archive.write(item.key(), item.value().detach().clone());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/false)) {
    archive.write(item.key(), item.value().clone(), /*is_buffer=*/true);
  }
  for (const auto& child : module.named_children()) {
    torch::serialize::OutputArchive sub;
    write_module(sub, *child.value());
    archive.write(child.key(), sub);
  }
}

// Reads what write_module wrote into the existing tensors (copy_, so flat-buffer views stay intact).
void read_module(torch::serialize::InputArchive& archive, torch::nn::Module& module, const std::string& path) {
  auto read_into = [&](const std::string& key, torch::Tensor target, bool is_buffer) {
    torch::Tensor loaded;
    if (!archive.try_read(key, loaded, is_buffer)) {
      throw std::invalid_argument("checkpoint lacks " + path + key);
    }
    if (loaded.sizes() != target.sizes()) {
      throw std::invalid_argument("checkpoint " + path + key + " has shape " + shape_string(loaded.sizes()) +
                                  ", this model has " + shape_string(target.sizes()));
    }
    torch::NoGradGuard no_grad;
    target.copy_(loaded);
  };
  for (auto& item : module.named_parameters(/*recurse=*/false)) read_into(item.key(), item.value(), false);
  for (auto& item : module.named_buffers(/*recurse=*/false)) read_into(item.key(), item.value(), true);
  for (auto& child : module.named_children()) {
    torch::serialize::InputArchive sub;
    if (!archive.try_read(child.key(), sub)) throw std::invalid_argument("checkpoint lacks " + path + child.key());
    read_module(sub, *child.value(), path + child.key() + ".");
  }
}

std::map<std::string, std::string> parse_fields(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

void check_agent(int agent) {
  if (agent < 0 || agent >= kAgents) {
    throw std::invalid_argument("agent must be in [0, " + std::to_string(kAgents - 1) + "], got " +
                                std::to_string(agent));
  }
}

}  // namespace

std::string architecture_of(const MaddpgConfig& c) {
  std::ostringstream os;
  os << "agents=" << kAgents << "\nobs_size=" << kObsSize << "\naction_size=" << kActionSize
     << "\nactor_hidden=" << join(c.actor_hidden) << "\ncritic_hidden=" << join(c.critic_hidden)
     << "\nlayer_norm=" << c.layer_norm << "\nbatch_norm=" << c.batch_norm
     << "\nshared_parameters=" << c.shared_parameters << "\ntwin_critics=" << c.twin_critics << "\n";
  return os.str();
}

void save_checkpoint(Learner& m, const ExplorationNoise& noise, bool counts_adam_steps, const std::string& path) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kCheckpointFormat)));
  archive.write("architecture", c10::IValue(architecture_of(m.config)));
  archive.write("updates", torch::tensor(m.updates, torch::kInt64));
  archive.write("target_rng", torch::tensor(m.target_rng.state(), torch::kInt64));
  const auto& ou = noise.ou_state();
  archive.write("noise_ou", torch::tensor(ou.empty() ? std::vector<float>{} : ou, torch::kFloat32));
  archive.write("noise_counters", torch::tensor(noise.counters_and_rng(), torch::kInt64));
  for (size_t n = 0; n < m.groups.size(); ++n) {
    auto& g = m.groups[n];
    const std::string prefix = m.group_name(n) + "_";
    for (auto& [net, module] : m.named_nets(g)) {
      torch::serialize::OutputArchive sub;
      write_module(sub, *module);
      archive.write(prefix + net, sub);
    }
    torch::serialize::OutputArchive actor_opt, critic_opt;
    // Paths that count Adam steps in the groups write them into the optimizers' states.
    detach_adam_state(*g.actor_opt, counts_adam_steps ? &g.actor_adam_step : nullptr);
    detach_adam_state(*g.critic_opt, counts_adam_steps ? &g.critic_adam_step : nullptr);
    g.actor_opt->save(actor_opt);
    g.critic_opt->save(critic_opt);
    flatten_adam_state(*g.actor_opt, g.actor_params, g.actor_exp_avg, g.actor_exp_avg_sq);
    flatten_adam_state(*g.critic_opt, g.critic_params, g.critic_exp_avg, g.critic_exp_avg_sq);
    archive.write(prefix + "actor_optimizer", actor_opt);
    archive.write(prefix + "critic_optimizer", critic_opt);
  }
  // Serialised in memory first, so that a failed file write is an error and not an abort.
  std::ostringstream bytes(std::ios::binary);
  try {
    archive.save_to(bytes);
  } catch (const c10::Error& e) {
    throw std::runtime_error("cannot write checkpoint " + path + ": " + e.what_without_backtrace());
  }
  write_file(path, bytes.str());
}

void load_checkpoint(Learner& m, ExplorationNoise& noise, const std::string& path) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, m.device);
  } catch (const c10::Error& e) {
    throw std::invalid_argument("cannot read checkpoint " + path + ": " + e.what_without_backtrace());
  }
  c10::IValue format, arch;
  if (!archive.try_read("format", format) || !format.isString() || format.toStringRef() != kCheckpointFormat) {
    throw std::invalid_argument("checkpoint " + path + " is not a tennis-train MADDPG checkpoint (format " +
                                kCheckpointFormat + ")");
  }
  archive.read("architecture", arch);
  const auto theirs = parse_fields(arch.toStringRef());
  const auto ours = parse_fields(architecture_of(m.config));
  std::string differences;
  for (const auto& [key, value] : ours) {
    const auto it = theirs.find(key);
    const std::string other = it == theirs.end() ? "(missing)" : it->second;
    if (other != value) {
      differences += (differences.empty() ? "" : "; ") + key + " is " + other + " in the checkpoint but " + value +
                     " in this model";
    }
  }
  if (!differences.empty()) {
    throw std::invalid_argument("checkpoint " + path + " has another architecture: " + differences);
  }
  for (size_t n = 0; n < m.groups.size(); ++n) {
    auto& g = m.groups[n];
    const std::string prefix = m.group_name(n) + "_";
    for (auto& [net, module] : m.named_nets(g)) {
      torch::serialize::InputArchive sub;
      archive.read(prefix + net, sub);
      read_module(sub, *module, prefix + net + ".");
    }
    torch::serialize::InputArchive actor_opt, critic_opt;
    archive.read(prefix + "actor_optimizer", actor_opt);
    archive.read(prefix + "critic_optimizer", critic_opt);
    g.actor_opt->load(actor_opt);
    g.critic_opt->load(critic_opt);
    g.actor_adam_step = flatten_adam_state(*g.actor_opt, g.actor_params, g.actor_exp_avg, g.actor_exp_avg_sq);
    g.critic_adam_step = flatten_adam_state(*g.critic_opt, g.critic_params, g.critic_exp_avg, g.critic_exp_avg_sq);
  }
  torch::Tensor updates, target_rng, noise_ou, noise_counters;
  archive.read("updates", updates);
  archive.read("target_rng", target_rng);
  archive.read("noise_ou", noise_ou);
  archive.read("noise_counters", noise_counters);
  auto ints = [](const torch::Tensor& t) {
    const auto c = t.to(torch::kCPU).contiguous();
    return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
  };
  const auto ou = noise_ou.to(torch::kCPU).contiguous();
  noise.restore(std::vector<float>(ou.data_ptr<float>(), ou.data_ptr<float>() + ou.numel()), ints(noise_counters));
  m.target_rng.set_state(ints(target_rng));
  m.updates = updates.item<int64_t>();
}

void export_actor(const Learner& learner, int agent, const std::string& path) {
  check_agent(agent);
  try {
    export_actor_torchscript(learner.group_of(agent).actor, path);
  } catch (const c10::Error& e) {
    throw std::runtime_error("cannot export the actor to " + path + ": " + e.what_without_backtrace());
  }
}

}  // namespace tennis
