import os

import torch

# Tests share two CPU cores with nothing else to gain from threads; keep them deterministic.
torch.set_num_threads(1)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
