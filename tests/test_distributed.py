"""Two torchrun processes on gloo give the same loss and gradients as one process on the global batch."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("distributed_worker.py")


def run(out: Path, negatives: str, nproc: int) -> dict:
    out.mkdir()
    if nproc == 1:
        cmd = [sys.executable, str(WORKER), str(out), negatives]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               str(WORKER), str(out), negatives]
    subprocess.run(cmd, check=True, capture_output=True, timeout=240, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    return [torch.load(out / f"rank{r}.pt") for r in range(nproc)]


@pytest.mark.slow
@pytest.mark.parametrize("negatives", ["cascade", "random", "full"])
def test_two_ranks_match_one_process(tmp_path, negatives):
    (single,) = run(tmp_path / "one", negatives, 1)
    ranks = run(tmp_path / "two", negatives, 2)
    for result in ranks:
        for key, value in single["terms"].items():
            assert torch.allclose(result["terms"][key], value, atol=1e-5), (key, result["terms"][key], value)
        assert result["grads"].keys() == single["grads"].keys()
        for name, grad in single["grads"].items():
            assert torch.allclose(result["grads"][name], grad, atol=1e-5), name
    assert single["terms"]["l3"] > 0 and single["terms"]["l2"] > 0
