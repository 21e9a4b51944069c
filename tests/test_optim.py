"""FusedAdam: torch's fused Adam update without torch.optim's class (no torch._dynamo import)."""
import copy
import subprocess
import sys

import pytest
import torch

from taco.optim import FusedAdam
from taco.train import warmup_linear_decay

LR, WEIGHT_DECAY, STEPS = 3e-3, 1e-5, 30


def small_model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.LayerNorm(12), torch.nn.Linear(12, 3))
    model[0].bias.requires_grad_(False)  # a frozen parameter never gets a gradient, nor an update
    return model


def batches(count: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(5, 6, generator=generator) for _ in range(count)]


def backward(model, x) -> None:
    model(x).pow(2).mean().backward()


def torch_steps(model, optimizer, schedule, xs) -> None:
    for x in xs:
        optimizer.zero_grad()
        backward(model, x)
        optimizer.step()
        schedule.step()


def fused_steps(model, optimizer, factor, xs, first_step: int = 0) -> None:
    for step, x in enumerate(xs, start=first_step):
        optimizer.zero_grad()
        backward(model, x)
        optimizer.lr = LR * factor(step)
        optimizer.step()


def test_steps_are_bit_identical_to_torch_fused_adam_under_lambda_lr():
    factor = warmup_linear_decay(5, STEPS)
    reference, ours = small_model(), small_model()
    frozen = ours[0].bias.clone()
    optimizer = torch.optim.Adam(reference.parameters(), lr=LR, weight_decay=WEIGHT_DECAY, fused=True)
    torch_steps(reference, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor), batches(STEPS))
    fused_steps(ours, FusedAdam(ours.parameters(), lr=LR, weight_decay=WEIGHT_DECAY), factor, batches(STEPS))
    for (name, expected), actual in zip(reference.named_parameters(), ours.parameters()):
        assert torch.equal(actual, expected), name
    assert torch.equal(ours[0].bias, frozen)
    assert not torch.equal(ours[0].weight, small_model()[0].weight)


def test_a_torch_adam_checkpoint_resumes_in_fused_adam_and_back():
    """Runs checkpointed by torch.optim.Adam (earlier versions) resume with FusedAdam, identically."""
    factor = warmup_linear_decay(5, STEPS)
    xs = batches(STEPS)
    straight = small_model()
    fused_steps(straight, FusedAdam(straight.parameters(), lr=LR, weight_decay=WEIGHT_DECAY), factor, xs)

    half = STEPS // 2
    first = small_model()
    optimizer = torch.optim.Adam(first.parameters(), lr=LR, weight_decay=WEIGHT_DECAY, fused=True)
    torch_steps(first, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor), xs[:half])
    resumed = copy.deepcopy(first)
    ours = FusedAdam(resumed.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    ours.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    fused_steps(resumed, ours, factor, xs[half:], first_step=half)
    for expected, actual in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(actual, expected)

    back = torch.optim.Adam(resumed.parameters(), lr=LR, weight_decay=WEIGHT_DECAY, fused=True)
    back.load_state_dict(ours.state_dict())
    assert torch.equal(back.state_dict()["state"][2]["exp_avg"], ours.state[2]["exp_avg"])


def test_state_of_another_model_is_refused():
    optimizer = FusedAdam(small_model().parameters(), lr=LR)
    other = torch.optim.Adam(torch.nn.Linear(2, 2).parameters(), lr=LR)
    with pytest.raises(ValueError, match="does not match this model's 6 parameters"):
        optimizer.load_state_dict(other.state_dict())


def test_training_steps_do_not_import_torch_dynamo():
    """The point of FusedAdam: torch.optim's first call imports torch._dynamo (over a second per process)."""
    code = ("import sys, torch; from taco.optim import FusedAdam; m = torch.nn.Linear(3, 2); "
            "o = FusedAdam(m.parameters(), lr=0.1); m(torch.ones(1, 3)).sum().backward(); o.step(); "
            "o.load_state_dict(o.state_dict()); print('torch._dynamo' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
