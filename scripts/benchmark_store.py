"""Benchmark: reading random clips through memory maps (FeatureStore) vs one in-memory pickle.

Fabricates ``--videos`` videos x about ``--rows`` rows x ``--dim`` float16 features in a temporary
dataset root (the FeatureStore layout, written by ``write_features``) plus one pickle
{video_id: array} of the same data, then measures, each in a fresh subprocess so that the peak RSS
is the method's own:

  (a) memmap: ``FeatureStore(root, "s3d_hm", cache_size).clip(...)``; setup = opening the store;
  (b) pickle: load the pickle (setup, timed separately), then the same rows (``clip_rows``) sliced
      from memory, converted to float32 and checked for NaN/inf as the store does.

The page cache is warm (the files were just written); reads from a cold disk are slower for both.
Usage: ``python scripts/benchmark_store.py [--videos 2000 --rows 60 --dim 1024 --clips 20000]``.
"""
from __future__ import annotations

import argparse
import functools
import json
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from taco.features.store import FEATURE_RATES, FeatureStore, clip_rows, feature_path, write_features

FEATURE_TYPE = "s3d_hm"
METHODS = ("memmap", "pickle")


def fabricate(root: Path, videos: int, rows: int, dim: int, clips: int, seed: int) -> None:
    """Write the features, the pickle of all of them, and a list of random clips (clips.json)."""
    rng = np.random.default_rng(seed)
    rate = FEATURE_RATES[FEATURE_TYPE]
    lengths = rng.integers(rows * 2 // 3, rows * 4 // 3 + 1, size=videos)
    in_memory = {}
    for index, length in enumerate(lengths):
        video_id = f"video{index:05d}"
        path = feature_path(root, FEATURE_TYPE, video_id)
        write_features(path, rng.standard_normal((length, dim), dtype=np.float32))
        in_memory[video_id] = np.load(path)
    with open(root / "features.pkl", "wb") as handle:
        pickle.dump(in_memory, handle, protocol=pickle.HIGHEST_PROTOCOL)
    picked = rng.integers(0, videos, size=clips)
    starts = rng.uniform(0, lengths[picked] / rate)
    ends = starts + rng.uniform(2.0, 20.0, size=clips)
    clip_list = [[f"video{v:05d}", float(s), float(e)] for v, s, e in zip(picked, starts, ends)]
    (root / "clips.json").write_text(json.dumps(clip_list))


def memory_mib() -> dict[str, float | None]:
    """This process's current RSS, peak RSS and current anonymous (private, not file-backed) RSS.

    Linux /proc/self/status is read because ru_maxrss survives execve there: a child would report
    its parent's peak. Elsewhere the peak falls back to resource.getrusage and the rest is unknown.
    """
    status = Path("/proc/self/status")
    if status.exists():
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        kib = {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM", "RssAnon")}
        return {"rss": kib["VmRSS"] / 1024, "peak_rss": kib["VmHWM"] / 1024, "anon_rss": kib["RssAnon"] / 1024}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS, KiB elsewhere
    return {"rss": None, "peak_rss": peak / (2**20 if sys.platform == "darwin" else 2**10), "anon_rss": None}


def measure(method: str, root: Path, max_tokens: int, cache_size: int) -> dict:
    """Run one method in this process and return its timings and memory."""
    clip_list = json.loads((root / "clips.json").read_text())
    after_imports = memory_mib()["rss"]
    began = time.perf_counter()
    if method == "memmap":
        store = FeatureStore(root, FEATURE_TYPE, cache_size=cache_size)
        read = functools.partial(store.clip, max_tokens=max_tokens)
    else:
        with open(root / "features.pkl", "rb") as handle:  # written by fabricate() above: trusted
            in_memory = pickle.load(handle)
        rate = FEATURE_RATES[FEATURE_TYPE]

        def read(video_id: str, start: float, end: float) -> np.ndarray:
            video = in_memory[video_id]
            rows = video[clip_rows(start, end, rate, len(video), max_tokens)].astype(np.float32)
            if not np.isfinite(rows).all():
                raise ValueError(f"video '{video_id}' has NaN or inf rows")
            return rows

    setup = time.perf_counter() - began
    began = time.perf_counter()
    for video_id, start, end in clip_list:
        read(video_id, start, end)
    elapsed = time.perf_counter() - began
    return {"method": method, "setup_s": setup, "clips_per_s": len(clip_list) / elapsed,
            "rss_after_imports": after_imports, **memory_mib()}


def print_table(results: list[dict], args: argparse.Namespace, data_mib: float) -> None:
    print(f"{args.videos} videos x ~{args.rows} rows x {args.dim}-d float16 ({data_mib:.0f} MiB), "
          f"{args.clips} random clips of 2-20 s, max_tokens={args.max_tokens}, "
          f"store cache_size={args.cache_size}, warm page cache\n")
    print("| method | setup s | clips/s | RSS after imports MiB | peak RSS MiB | anon RSS at end MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    def mib(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f}"

    for r in results:
        print(f"| {r['method']} | {r['setup_s']:.3f} | {r['clips_per_s']:.0f} | "
              f"{mib(r['rss_after_imports'])} | {mib(r['peak_rss'])} | {mib(r['anon_rss'])} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=60, help="mean rows per video (lengths vary +-1/3)")
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--clips", type=int, default=20000)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-size", type=int, default=256, help="open memory maps kept by the store")
    parser.add_argument("--measure", choices=METHODS, help=argparse.SUPPRESS)  # the subprocess side
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.root, args.max_tokens, args.cache_size)))
        return
    with tempfile.TemporaryDirectory(prefix="benchmark_store_") as folder:
        root = Path(folder)
        fabricate(root, args.videos, args.rows, args.dim, args.clips, args.seed)
        data_mib = (root / "features.pkl").stat().st_size / 2**20
        results = []
        for method in METHODS:
            child = subprocess.run(
                [sys.executable, __file__, "--measure", method, "--root", str(root),
                 "--max-tokens", str(args.max_tokens), "--cache-size", str(args.cache_size)],
                capture_output=True, text=True,
            )
            if child.returncode != 0:
                sys.exit(f"measuring '{method}' failed:\n{child.stderr}")
            results.append(json.loads(child.stdout))
    print_table(results, args, data_mib)


if __name__ == "__main__":
    main()
