"""Adam with weight decay (paper 4.3) through torch's fused kernel, without ``torch.optim``'s class.

``torch.optim.Adam`` imports ``torch._dynamo`` at its first call: 1.1-1.4 s of every training process
on a CPU, more than a 50-step run trains. ``FusedAdam`` calls the same functional update
(``torch.optim.adam.adam`` with ``fused=True``), so its steps are bit-identical to
``torch.optim.Adam(fused=True)`` at the same learning rates; its ``state_dict`` has torch's layout, so
a checkpoint written by either resumes in the other. The caller sets ``lr`` before each step (the
schedule is a function of the step: ``taco.train.warmup_linear_decay``).
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim.adam import adam

BETAS = (0.9, 0.999)
EPS = 1e-8


class FusedAdam:
    """Adam (L2 weight decay added to the gradient, as ``torch.optim.Adam``) over ``params``."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, weight_decay: float = 0.0):
        self.params = list(params)
        self.lr = lr
        self.weight_decay = weight_decay
        self.state: dict[int, dict[str, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        """Drop every gradient (as torch's ``zero_grad(set_to_none=True)``)."""
        for param in self.params:
            param.grad = None

    def _state(self, index: int) -> dict[str, torch.Tensor]:
        if index not in self.state:
            param = self.params[index]
            self.state[index] = {"step": torch.zeros((), dtype=torch.float32, device=param.device),
                                 "exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
                                 "exp_avg_sq": torch.zeros_like(param, memory_format=torch.preserve_format)}
        return self.state[index]

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient, at learning rate ``self.lr``."""
        indices = [i for i, param in enumerate(self.params) if param.grad is not None]
        if not indices:
            return
        states = [self._state(i) for i in indices]
        adam([self.params[i] for i in indices], [self.params[i].grad for i in indices],
             [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states], [], [s["step"] for s in states],
             foreach=None, capturable=False, differentiable=False, fused=True, grad_scale=None, found_inf=None,
             has_complex=False, amsgrad=False, beta1=BETAS[0], beta2=BETAS[1], lr=self.lr,
             weight_decay=self.weight_decay, eps=EPS, maximize=False)

    def state_dict(self) -> dict:
        """torch's layout: per-parameter state by index, and one parameter group."""
        group = {"lr": self.lr, "betas": BETAS, "eps": EPS, "weight_decay": self.weight_decay, "amsgrad": False,
                 "maximize": False, "foreach": None, "capturable": False, "differentiable": False, "fused": True,
                 "decoupled_weight_decay": False, "params": list(range(len(self.params)))}
        return {"state": {i: dict(s) for i, s in sorted(self.state.items())}, "param_groups": [group]}

    def load_state_dict(self, saved: dict) -> None:
        """Load a ``state_dict`` of this class or of ``torch.optim.Adam`` over the same parameters."""
        groups = saved["param_groups"]
        indices = [i for group in groups for i in group["params"]]
        if len(groups) != 1 or indices != list(range(len(self.params))):
            raise ValueError(f"optimizer state of {len(indices)} parameters in {len(groups)} group(s) does not "
                             f"match this model's {len(self.params)} parameters in one group")
        self.lr = groups[0]["lr"]
        self.state = {}
        for i, values in saved["state"].items():
            param = self.params[int(i)]
            self.state[int(i)] = {"step": values["step"].to(torch.float32).reshape(()).to(param.device),
                                  "exp_avg": values["exp_avg"].to(param), "exp_avg_sq": values["exp_avg_sq"].to(param)}
