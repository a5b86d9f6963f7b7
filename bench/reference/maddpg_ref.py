"""PyTorch reference of tennis-train's MADDPG/MATD3 update, written plainly like the notebook's codebase.

Same maths, same init scheme and the same parameter layout as native/core/learner.cc and libtorch_path.cc,
so that the native learner can be checked against it (parity) and timed against it (bench). Run with /usr/bin/python3 (torch 1.13).

  maddpg_ref.py dump DIR [--variant maddpg|matd3|shared] [--updates 10] [--batch 64] [--seed 0]
      writes init.f32, the batches, target_noise.f32 (MATD3), final.f32 and manifest.json to DIR
  maddpg_ref.py jit MODULE OBS OUT
      runs a TorchScript actor (torch.jit.load) on OBS (raw float32 [N, 24]) and writes OUT (raw float32)
"""
import argparse
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

AGENTS = 2
OBS_SIZE = 24
ACTION_SIZE = 2
OUTPUT_INIT_BOUND = 3e-3  # DDPG paper, section 7
SATURATED = 0.99


def fan_in_uniform_(layer, generator):
    bound = 1.0 / math.sqrt(layer.in_features)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=generator)
        layer.bias.uniform_(-bound, bound, generator=generator)


def output_uniform_(layer, generator):
    with torch.no_grad():
        layer.weight.uniform_(-OUTPUT_INIT_BOUND, OUTPUT_INIT_BOUND, generator=generator)
        layer.bias.uniform_(-OUTPUT_INIT_BOUND, OUTPUT_INIT_BOUND, generator=generator)


class Actor(nn.Module):
    """obs -> [Linear -> (LayerNorm) -> ReLU] x hidden -> Linear -> tanh."""

    def __init__(self, hidden, layer_norm=False):
        super().__init__()
        sizes = [OBS_SIZE] + list(hidden)
        self.fc = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
        self.norms = nn.ModuleList([nn.LayerNorm(h) for h in hidden] if layer_norm else [])
        self.out = nn.Linear(sizes[-1], ACTION_SIZE)
        self.layer_norm = layer_norm

    def reset_parameters(self, generator):
        for layer in self.fc:
            fan_in_uniform_(layer, generator)
        output_uniform_(self.out, generator)

    def forward(self, x):
        for i, layer in enumerate(self.fc):
            x = layer(x)
            if self.layer_norm:
                x = self.norms[i](x)
            x = F.relu(x)
        return torch.tanh(self.out(x))


class Critic(nn.Module):
    """[all obs, all actions] -> [Linear -> (BatchNorm1d) -> ReLU] x hidden -> Linear -> Q."""

    def __init__(self, hidden, batch_norm=False):
        super().__init__()
        sizes = [AGENTS * (OBS_SIZE + ACTION_SIZE)] + list(hidden)
        self.fc = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
        self.norms = nn.ModuleList([nn.BatchNorm1d(h) for h in hidden] if batch_norm else [])
        self.out = nn.Linear(sizes[-1], 1)
        self.batch_norm = batch_norm

    def reset_parameters(self, generator):
        for layer in self.fc:
            fan_in_uniform_(layer, generator)
        output_uniform_(self.out, generator)

    def forward(self, x):
        for i, layer in enumerate(self.fc):
            x = layer(x)
            if self.batch_norm:
                x = self.norms[i](x)
            x = F.relu(x)
        return self.out(x)


def hard_update(target, source):
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters()):
            t.copy_(s)


def soft_update(target, source, tau):
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters()):
            t.mul_(1.0 - tau).add_(s, alpha=tau)


class DDPGAgent:
    """One agent's networks (or both agents' with shared parameters): actor, critic(s), targets, Adam."""

    def __init__(self, agents, cfg, generator):
        self.agents = agents
        self.actor = Actor(cfg["actor_hidden"], cfg["layer_norm"])
        self.actor.reset_parameters(generator)
        self.critics = []
        for _ in range(2 if cfg["twin_critics"] else 1):
            critic = Critic(cfg["critic_hidden"], cfg["batch_norm"])
            critic.reset_parameters(generator)
            self.critics.append(critic)
        self.target_actor = Actor(cfg["actor_hidden"], cfg["layer_norm"])
        self.target_critics = [Critic(cfg["critic_hidden"], cfg["batch_norm"]) for _ in self.critics]
        hard_update(self.target_actor, self.actor)
        for target, critic in zip(self.target_critics, self.critics):
            hard_update(target, critic)
        self.critic_params = [p for c in self.critics for p in c.parameters()]
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=cfg["lr_actor"],
                                                weight_decay=cfg["weight_decay"], foreach=False)
        self.critic_optimizer = torch.optim.Adam(self.critic_params, lr=cfg["lr_critic"],
                                                 weight_decay=cfg["weight_decay"], foreach=False)

    def named_networks(self):
        nets = [("actor", self.actor), ("critic", self.critics[0])]
        if len(self.critics) > 1:
            nets.append(("critic_twin", self.critics[1]))
        nets += [("target_actor", self.target_actor), ("target_critic", self.target_critics[0])]
        if len(self.target_critics) > 1:
            nets.append(("target_critic_twin", self.target_critics[1]))
        return nets


DEFAULTS = dict(actor_hidden=[128, 128], critic_hidden=[128, 128], lr_actor=1e-4, lr_critic=1e-3, gamma=0.99,
                tau=1e-3, grad_clip=1.0, weight_decay=0.0, shared_parameters=False, layer_norm=False,
                batch_norm=False, twin_critics=False, target_noise=0.0, target_noise_clip=0.5, policy_delay=1)


class MADDPG:
    """Centralised critics, decentralised actors; MATD3 by flags (twin critics, smoothing, policy delay)."""

    def __init__(self, seed=0, **overrides):
        self.cfg = dict(DEFAULTS, **overrides)
        generator = torch.Generator().manual_seed(seed)
        if self.cfg["shared_parameters"]:
            self.nets = [DDPGAgent(list(range(AGENTS)), self.cfg, generator)]
        else:
            self.nets = [DDPGAgent([i], self.cfg, generator) for i in range(AGENTS)]
        self.updates = 0

    def net_of(self, agent):
        return self.nets[0] if self.cfg["shared_parameters"] else self.nets[agent]

    def view_order(self, i):
        """Agent i's view of the joint input: own first with shared parameters, else the fixed order 0, 1."""
        if self.cfg["shared_parameters"]:
            return [i] + [j for j in range(AGENTS) if j != i]
        return list(range(AGENTS))

    def view(self, t, i):
        """t [B, agents, D] as seen by agent i: [B, agents * D]."""
        return t[:, self.view_order(i)].reshape(t.shape[0], -1)

    def group_view(self, net, t):
        return torch.cat([self.view(t, i) for i in net.agents], 0)

    def group_actions(self, net, actor, obs):
        """[B, |agents|, 2]: the group's actor on each of its agents' observations."""
        batch = obs.shape[0]
        if len(net.agents) == 1:
            return actor(obs[:, net.agents[0]]).unsqueeze(1)
        return actor(obs.reshape(batch * AGENTS, OBS_SIZE)).reshape(batch, AGENTS, ACTION_SIZE)

    def joint_actions(self, obs, target=False):
        return torch.cat([self.group_actions(n, n.target_actor if target else n.actor, obs) for n in self.nets], 1)

    def act(self, obs):
        with torch.no_grad():
            return self.joint_actions(obs)

    def update(self, obs, actions, rewards, next_obs, dones, weights=None, target_noise=None):
        """One update of every agent from a joint batch: obs [B,2,24], actions [B,2,2], rewards/dones [B,2]."""
        cfg = self.cfg
        batch = obs.shape[0]
        with torch.no_grad():
            next_actions = self.joint_actions(next_obs, target=True)
            if cfg["target_noise"] > 0:
                eps = target_noise if target_noise is not None else torch.randn(batch, AGENTS, ACTION_SIZE)
                smoothing = (eps * cfg["target_noise"]).clamp(-cfg["target_noise_clip"], cfg["target_noise_clip"])
                next_actions = (next_actions + smoothing).clamp(-1.0, 1.0)

        actor_step = self.updates % cfg["policy_delay"] == 0
        stats = dict(critic_loss=0.0, actor_loss=0.0, q_mean=0.0)
        for net in self.nets:
            obs_v = self.group_view(net, obs)
            actions_v = self.group_view(net, actions)
            rewards_v = torch.cat([rewards[:, i:i + 1] for i in net.agents], 0)
            dones_v = torch.cat([dones[:, i:i + 1] for i in net.agents], 0)

            # Critic: towards y = r_i + gamma * (1 - done_i) * Q'_i(o', a') (min of the twins for MATD3).
            with torch.no_grad():
                target_input = torch.cat([self.group_view(net, next_obs), self.group_view(net, next_actions)], 1)
                q_next = net.target_critics[0](target_input)
                if len(net.target_critics) > 1:
                    q_next = torch.min(q_next, net.target_critics[1](target_input))
                y = rewards_v + cfg["gamma"] * (1 - dones_v) * q_next
            critic_input = torch.cat([obs_v, actions_v], 1)
            w = None if weights is None else weights.reshape(-1, 1).repeat(len(net.agents), 1)

            def mse(q):
                return F.mse_loss(q, y) if w is None else (w * (q - y).pow(2)).mean()

            q1 = net.critics[0](critic_input)
            critic_loss = mse(q1)
            if len(net.critics) > 1:
                critic_loss = critic_loss + mse(net.critics[1](critic_input))
            net.critic_optimizer.zero_grad()
            critic_loss.backward()
            if cfg["grad_clip"] > 0:
                torch.nn.utils.clip_grad_norm_(net.critic_params, cfg["grad_clip"])
            net.critic_optimizer.step()
            stats["critic_loss"] += critic_loss.item() / len(self.nets)
            stats["q_mean"] += q1.mean().item() / len(self.nets)

            if not actor_step:
                continue
            # Actor: -Q_i with agent i's action replaced by mu_i(o_i); only the actor's optimizer steps.
            mu = self.group_actions(net, net.actor, obs)
            views = []
            for k, i in enumerate(net.agents):
                views.append(torch.cat([mu[:, k] if j == i else actions[:, j] for j in self.view_order(i)], 1))
            predicted_v = torch.cat(views, 0)
            actor_loss = -net.critics[0](torch.cat([obs_v, predicted_v], 1)).mean()
            net.actor_optimizer.zero_grad()
            actor_loss.backward()
            if cfg["grad_clip"] > 0:
                torch.nn.utils.clip_grad_norm_(net.actor.parameters(), cfg["grad_clip"])
            net.actor_optimizer.step()
            stats["actor_loss"] += actor_loss.item() / len(self.nets)

        if actor_step:
            for net in self.nets:
                soft_update(net.target_actor, net.actor, cfg["tau"])
                for target, critic in zip(net.target_critics, net.critics):
                    soft_update(target, critic, cfg["tau"])
        self.updates += 1
        return stats

    # ---- flat parameters in the native layout ----------------------------------------------------
    def named_parameters(self):
        for n, net in enumerate(self.nets):
            group = "shared" if self.cfg["shared_parameters"] else "agent%d" % n
            for name, module in net.named_networks():
                for pname, p in module.named_parameters():
                    yield "%s/%s/%s" % (group, name, pname), p

    def get_flat(self):
        return torch.cat([p.detach().reshape(-1) for _, p in self.named_parameters()]).numpy()

    def set_flat(self, flat):
        flat = torch.as_tensor(flat, dtype=torch.float32)
        offset = 0
        with torch.no_grad():
            for _, p in self.named_parameters():
                p.copy_(flat[offset:offset + p.numel()].view_as(p))
                offset += p.numel()
        assert offset == flat.numel(), "flat parameters have %d floats, expected %d" % (flat.numel(), offset)


VARIANTS = {
    "maddpg": dict(),
    "matd3": dict(twin_critics=True, target_noise=0.2, target_noise_clip=0.5, policy_delay=2),
    "shared": dict(shared_parameters=True, layer_norm=True, batch_norm=True),
}


def random_batch(rng, batch):
    """Random joint transitions, as the replay buffer would hand them over (float32)."""
    f32 = np.float32
    return dict(
        obs=rng.uniform(-1, 1, (batch, AGENTS, OBS_SIZE)).astype(f32),
        actions=rng.uniform(-1, 1, (batch, AGENTS, ACTION_SIZE)).astype(f32),
        rewards=rng.uniform(-0.1, 0.1, (batch, AGENTS)).astype(f32),
        next_obs=rng.uniform(-1, 1, (batch, AGENTS, OBS_SIZE)).astype(f32),
        dones=(rng.uniform(0, 1, (batch, AGENTS)) < 0.1).astype(f32),
    )


def dump(directory, variant, updates, batch, seed, hidden):
    torch.set_num_threads(1)
    overrides = dict(VARIANTS[variant], actor_hidden=hidden, critic_hidden=hidden, lr_actor=1e-3, tau=0.01,
                     weight_decay=1e-5)
    agent = MADDPG(seed=seed, **overrides)
    os.makedirs(directory, exist_ok=True)
    agent.get_flat().tofile(os.path.join(directory, "init.f32"))
    rng = np.random.default_rng(seed)
    arrays = {k: [] for k in ("obs", "actions", "rewards", "next_obs", "dones", "target_noise")}
    for _ in range(updates):
        b = random_batch(rng, batch)
        noise = rng.standard_normal((batch, AGENTS, ACTION_SIZE)).astype(np.float32)
        for k, v in b.items():
            arrays[k].append(v)
        arrays["target_noise"].append(noise)
        agent.update(**{k: torch.from_numpy(v) for k, v in b.items()},
                     target_noise=torch.from_numpy(noise) if agent.cfg["target_noise"] > 0 else None)
    for k, v in arrays.items():
        if k == "target_noise" and agent.cfg["target_noise"] == 0:
            continue
        np.concatenate(v).tofile(os.path.join(directory, k + ".f32"))
    agent.get_flat().tofile(os.path.join(directory, "final.f32"))
    manifest = dict(agent.cfg, variant=variant, updates=updates, batch_size=batch, seed=seed,
                    torch_version=torch.__version__,
                    layout=[[name, list(p.shape)] for name, p in agent.named_parameters()])
    with open(os.path.join(directory, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


def run_jit(module_path, obs_path, out_path):
    module = torch.jit.load(module_path)
    obs = torch.from_numpy(np.fromfile(obs_path, dtype=np.float32).reshape(-1, OBS_SIZE))
    with torch.no_grad():
        module(obs).numpy().astype(np.float32).tofile(out_path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="write a parity case for the native learner")
    d.add_argument("directory")
    d.add_argument("--variant", choices=sorted(VARIANTS), default="maddpg")
    d.add_argument("--updates", type=int, default=10)
    d.add_argument("--batch", type=int, default=64)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--hidden", type=lambda s: [int(x) for x in s.split(",")], default=[128, 128])
    j = sub.add_parser("jit", help="run a TorchScript actor on raw float32 observations")
    j.add_argument("module")
    j.add_argument("obs")
    j.add_argument("out")
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.directory, args.variant, args.updates, args.batch, args.seed, args.hidden)
    else:
        run_jit(args.module, args.obs, args.out)


if __name__ == "__main__":
    main()
