"""Regenerate ``updates_trajectories.npz``: reference trajectories for convnet.updates.

Run from anywhere (needs numpy and torch, not convnet)::

    python tests/golden/make_golden.py

The problem: multi-output logistic regression with an L2 term, in float64,

    z = X @ W + b,   loss = mean(softplus(z) - Y * z) + 0.05 * sum(W ** 2)

from a fixed start, 20 steps of each update rule. Two independent references:

* ``torch``: ``torch.optim`` (autograd gradients). Where convnet follows Lasagne's
  formulation and PyTorch's differs, the case uses settings under which the two coincide
  exactly (derivations below), e.g. ``epsilon=0`` where PyTorch puts epsilon elsewhere.
* ``numpy``: the update equations written out here in NumPy from the papers, with
  Lasagne's placement of epsilon (analytic gradients), for a non-negligible epsilon.

Before saving, the script checks that both references agree on every torch case, so
neither can silently drift. The case list (rule, hyperparameters, learning-rate schedule)
is stored in the file as JSON, so the tests read it from there.

Equivalences with torch.optim (constant learning rate lr):

* momentum: Lasagne ``v <- mu v - lr g; p <- p + v``; torch ``b <- mu b + g;
  p <- p - lr b``. With ``v = -lr b`` they are the same recursion.
* nesterov: Lasagne ``v <- mu v - lr g; p <- p + mu v - lr g``; torch ``b <- mu b + g;
  p <- p - lr (g + mu b)``; again ``v = -lr b``.
* adagrad, rmsprop: Lasagne divides by ``sqrt(accu + eps)``, torch by
  ``sqrt(accu) + eps``: equal for eps = 0.
* adadelta: the same equations with eps inside both square roots: equal for any eps.
* adam, amsgrad, adamw: Lasagne steps ``lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps)``,
  torch ``lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps)``: equal for eps = 0. amsgrad:
  both take the maximum over the uncorrected v. adamw: both decay by ``lr * wd * p``
  using p before the step.
* adamax: Lasagne ``u <- max(b2 u, |g|)``, step ``lr/(1-b1^t) m / (u + eps)``; torch
  ``u <- max(b2 u, |g| + eps)``, step ``lr/(1-b1^t) m / u``: equal for eps = 0.
* A learning-rate change between steps (``schedule``) keeps the adam equivalence, since
  its lr enters only the current step.
"""

from __future__ import annotations

import json
import os

import numpy as np

STEPS = 20
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "updates_trajectories.npz")
L2 = 0.05

# (case name, source, rule, convnet keyword arguments, schedule {step: new learning rate})
CASES = [
    ("sgd", "torch", "sgd", {"learning_rate": 0.5}, {}),
    ("momentum", "torch", "momentum", {"learning_rate": 0.1, "momentum": 0.9}, {}),
    ("nesterov", "torch", "nesterov_momentum", {"learning_rate": 0.1, "momentum": 0.9}, {}),
    ("adagrad", "torch", "adagrad", {"learning_rate": 0.1, "epsilon": 0.0}, {}),
    ("rmsprop", "torch", "rmsprop", {"learning_rate": 0.01, "rho": 0.9, "epsilon": 0.0}, {}),
    ("adadelta", "torch", "adadelta", {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-6}, {}),
    ("adam", "torch", "adam", {"learning_rate": 0.01, "epsilon": 0.0}, {}),
    ("adamax", "torch", "adamax", {"learning_rate": 0.02, "epsilon": 0.0}, {}),
    ("amsgrad", "torch", "amsgrad", {"learning_rate": 0.01, "epsilon": 0.0}, {}),
    (
        "adamw",
        "torch",
        "adamw",
        {"learning_rate": 0.01, "epsilon": 0.0, "weight_decay": 0.1},
        {},
    ),
    ("adam_schedule", "torch", "adam", {"learning_rate": 0.01, "epsilon": 0.0}, {10: 0.002}),
    # Lasagne's epsilon placement, epsilon large enough to matter.
    ("adagrad_eps", "numpy", "adagrad", {"learning_rate": 0.1, "epsilon": 0.01}, {}),
    ("rmsprop_eps", "numpy", "rmsprop", {"learning_rate": 0.01, "rho": 0.8, "epsilon": 1e-3}, {}),
    ("adadelta_eps", "numpy", "adadelta", {"learning_rate": 0.5, "rho": 0.9, "epsilon": 1e-2}, {}),
    ("adam_eps", "numpy", "adam", {"learning_rate": 0.01, "epsilon": 1e-3}, {}),
    ("adamax_eps", "numpy", "adamax", {"learning_rate": 0.02, "epsilon": 1e-2}, {}),
    ("amsgrad_eps", "numpy", "amsgrad", {"learning_rate": 0.01, "epsilon": 1e-3}, {}),
    (
        "adamw_eps",
        "numpy",
        "adamw",
        {"learning_rate": 0.01, "epsilon": 1e-3, "weight_decay": 0.1},
        {},
    ),
]

# Lasagne's defaults for what a case does not set.
DEFAULTS = {
    "momentum": {"momentum": 0.9},
    "nesterov_momentum": {"momentum": 0.9},
    "adagrad": {"learning_rate": 1.0, "epsilon": 1e-6},
    "rmsprop": {"learning_rate": 1.0, "rho": 0.9, "epsilon": 1e-6},
    "adadelta": {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-6},
    "adam": {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    "adamax": {"learning_rate": 0.002, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    "amsgrad": {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    "adamw": {
        "learning_rate": 0.001,
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-8,
        "weight_decay": 0.01,
    },
}


def problem():
    rng = np.random.default_rng(20240611)
    X = rng.normal(size=(8, 4))
    Y = (rng.random(size=(8, 3)) < 0.5).astype(np.float64)
    W0 = rng.normal(scale=0.5, size=(4, 3))
    b0 = rng.normal(scale=0.1, size=(3,))
    return X, Y, W0, b0


def numpy_grads(X, Y, W, b):
    z = X @ W + b
    dz = (1.0 / (1.0 + np.exp(-z)) - Y) / z.size
    return [X.T @ dz + 2 * L2 * W, dz.sum(axis=0)]


# ----------------------------------------------------------------------------------------
# NumPy reference: the equations, one parameter at a time
# ----------------------------------------------------------------------------------------


def numpy_trajectory(rule, hp, schedule, X, Y, W0, b0):
    hp = {**DEFAULTS.get(rule, {}), **hp}
    params = [W0.copy(), b0.copy()]
    state = [dict() for _ in params]
    traj = [[p.copy()] for p in params]
    lr = hp["learning_rate"]
    for step in range(STEPS):
        lr = schedule.get(step, lr)
        t = step + 1
        grads = numpy_grads(X, Y, *params)
        for i, (p, g) in enumerate(zip(params, grads)):
            s = state[i]
            if rule == "sgd":
                p -= lr * g
            elif rule in ("momentum", "nesterov_momentum"):
                mu = hp["momentum"]
                v = mu * s.get("v", 0.0) - lr * g
                s["v"] = v
                p += v if rule == "momentum" else mu * v - lr * g
            elif rule == "adagrad":
                s["a"] = s.get("a", 0.0) + g**2
                p -= lr * g / np.sqrt(s["a"] + hp["epsilon"])
            elif rule == "rmsprop":
                rho = hp["rho"]
                s["a"] = rho * s.get("a", 0.0) + (1 - rho) * g**2
                p -= lr * g / np.sqrt(s["a"] + hp["epsilon"])
            elif rule == "adadelta":
                rho, eps = hp["rho"], hp["epsilon"]
                s["a"] = rho * s.get("a", 0.0) + (1 - rho) * g**2
                d = g * np.sqrt(s.get("d", 0.0) + eps) / np.sqrt(s["a"] + eps)
                p -= lr * d
                s["d"] = rho * s.get("d", 0.0) + (1 - rho) * d**2
            elif rule in ("adam", "amsgrad", "adamw"):
                b1, b2, eps = hp["beta1"], hp["beta2"], hp["epsilon"]
                s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
                s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g**2
                v = s["v"]
                if rule == "amsgrad":
                    s["vh"] = np.maximum(s.get("vh", 0.0), s["v"])
                    v = s["vh"]
                a_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
                new = p - a_t * s["m"] / (np.sqrt(v) + eps)
                if rule == "adamw":
                    new -= lr * hp["weight_decay"] * p
                p[...] = new
            elif rule == "adamax":
                b1, b2, eps = hp["beta1"], hp["beta2"], hp["epsilon"]
                s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
                s["u"] = np.maximum(b2 * s.get("u", 0.0), np.abs(g))
                p -= lr / (1 - b1**t) * s["m"] / (s["u"] + eps)
            else:
                raise ValueError(rule)
        for tr, p in zip(traj, params):
            tr.append(p.copy())
    return [np.stack(tr) for tr in traj]


# ----------------------------------------------------------------------------------------
# torch reference
# ----------------------------------------------------------------------------------------


def torch_trajectory(rule, hp, schedule, X, Y, W0, b0):
    import torch

    hp = {**DEFAULTS.get(rule, {}), **hp}
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    W = torch.tensor(W0.copy(), requires_grad=True)
    b = torch.tensor(b0.copy(), requires_grad=True)
    lr = hp["learning_rate"]
    betas = (hp.get("beta1"), hp.get("beta2"))
    opt = {
        "sgd": lambda: torch.optim.SGD([W, b], lr=lr),
        "momentum": lambda: torch.optim.SGD([W, b], lr=lr, momentum=hp["momentum"]),
        "nesterov_momentum": lambda: torch.optim.SGD(
            [W, b], lr=lr, momentum=hp["momentum"], nesterov=True
        ),
        "adagrad": lambda: torch.optim.Adagrad([W, b], lr=lr, eps=hp["epsilon"]),
        "rmsprop": lambda: torch.optim.RMSprop([W, b], lr=lr, alpha=hp["rho"], eps=hp["epsilon"]),
        "adadelta": lambda: torch.optim.Adadelta([W, b], lr=lr, rho=hp["rho"], eps=hp["epsilon"]),
        "adam": lambda: torch.optim.Adam([W, b], lr=lr, betas=betas, eps=hp["epsilon"]),
        "amsgrad": lambda: torch.optim.Adam(
            [W, b], lr=lr, betas=betas, eps=hp["epsilon"], amsgrad=True
        ),
        "adamax": lambda: torch.optim.Adamax([W, b], lr=lr, betas=betas, eps=hp["epsilon"]),
        "adamw": lambda: torch.optim.AdamW(
            [W, b], lr=lr, betas=betas, eps=hp["epsilon"], weight_decay=hp["weight_decay"]
        ),
    }[rule]()
    traj = [[W0.copy()], [b0.copy()]]
    for step in range(STEPS):
        if step in schedule:
            for group in opt.param_groups:
                group["lr"] = schedule[step]
        opt.zero_grad()
        z = Xt @ W + b
        loss = torch.mean(torch.nn.functional.softplus(z) - Yt * z) + L2 * torch.sum(W**2)
        loss.backward()
        opt.step()
        traj[0].append(W.detach().numpy().copy())
        traj[1].append(b.detach().numpy().copy())
    return [np.stack(tr) for tr in traj]


def main():
    import torch

    torch.set_default_dtype(torch.float64)
    X, Y, W0, b0 = problem()
    arrays = {"X": X, "Y": Y, "W0": W0, "b0": b0}
    cases = []
    for name, source, rule, hp, schedule in CASES:
        ref = numpy_trajectory(rule, hp, schedule, X, Y, W0, b0)
        if source == "torch":
            traj = torch_trajectory(rule, hp, schedule, X, Y, W0, b0)
            for a, r in zip(traj, ref):
                np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-13, err_msg=name)
        else:
            traj = ref
        moved = np.abs(traj[0][-1] - traj[0][0]).max()
        assert moved > 1e-3, f"{name}: the parameters hardly moved ({moved})"
        arrays[f"{name}__W"], arrays[f"{name}__b"] = traj
        cases.append(
            {
                "name": name,
                "source": source,
                "rule": rule,
                "kwargs": hp,
                "schedule": {str(k): v for k, v in schedule.items()},
            }
        )
    arrays["cases"] = np.array(json.dumps({"steps": STEPS, "l2": L2, "cases": cases}))
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT}: {len(cases)} cases x {STEPS} steps")


if __name__ == "__main__":
    main()
