"""Serving benchmark: Driftline against the HTTP floor and plain BentoML, in one run, in alternating rounds.

Three servers run side by side on 127.0.0.1, each with 2 workers: the HTTP floor (Starlette under uvicorn with
uvloop and httptools, answering a constant), a plain BentoML service with one `batchable=True` API calling the same
fitted pipeline, and `driftline serve` with the prediction log on. Each round sends one real flights row to every
endpoint in turn (Driftline's /predict and /v2/models/{name}/infer included) with wrk, at 16 connections and then 1,
so the machine's drift over time touches every server alike. Then the workers' memory, and /predict_batch on a
200,000-row CSV against read_csv + predict_proba in-process. Prints Markdown tables.

Usage: `make bench` (or `python bench/serving.py --seconds 10 --rounds 3`, about four minutes).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from driftline.bentoml_compat import WORKER_MODULE  # noqa: E402
from driftline.core import FeatureSchema, ModelVersion, Registry, Store, load_dataset, load_settings  # noqa: E402
from driftline.core.registry import PIPELINE_FILE  # noqa: E402
from driftline.core.settings import DEFAULT_CONFIG  # noqa: E402
from retrain import train  # noqa: E402
from tests.processes import free_port  # noqa: E402


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@contextmanager
def running(command: list[str], env: dict[str, str], url: str, ready_path: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + ready_path, timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise RuntimeError(f"{command[0]} did not start")
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def wrk(url: str, body_file: Path, connections: int, seconds: int, delay_ms: int = 0) -> dict[str, Any]:
    """`wrk` POSTing the body; with `delay_ms` each connection pauses that long between requests (a paced load). A
    file of several lines holds one body per line, sent in turn.

    Besides the summary, "latencies" holds every distinct latency seen (microseconds) with its count, so several runs
    can be pooled into one distribution.
    """
    script = body_file.with_suffix(".lua")
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        + (
            f'wrk.body = io.open("{body_file}"):read("*a")\n'
            if len(body_file.read_text().splitlines()) < 2
            else f'local bodies = {{}}\nfor line in io.lines("{body_file}") do bodies[#bodies + 1] = line end\n'
            "local sent = 0\n"
            "request = function()\n"
            "  sent = sent + 1\n"
            "  return wrk.format(nil, nil, nil, bodies[sent % #bodies + 1])\n"
            "end\n"
        )
        + (f"delay = function() return {delay_ms} end\n" if delay_ms else "")
        + "done = function(summary, latency, requests)\n"
        '  io.write(string.format("JSON {\\"requests\\": %d, \\"non2xx\\": %d, \\"errors\\": %d, '
        '\\"p50\\": %f, \\"p99\\": %f, \\"mean\\": %f}\\n", summary.requests, summary.errors.status, '
        "summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, "
        "latency:percentile(50), latency:percentile(99), latency.mean))\n"
        '  io.write("LATENCIES")\n'
        "  for i = 1, #latency do\n"
        "    local value, count = latency(i)\n"
        '    io.write(string.format(" %d:%d", value, count))\n'
        "  end\n"
        '  io.write("\\n")\n'
        "end\n"
    )
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stats = json.loads(re.search(r"JSON (\{.*\})", out).group(1))  # type: ignore[union-attr]
    pairs = re.search(r"LATENCIES(.*)", out).group(1).split()  # type: ignore[union-attr]
    latencies = collections.Counter({int(value): int(count) for value, count in (p.split(":") for p in pairs)})
    return {
        "latencies": latencies,
        "rps": stats["requests"] / seconds,
        "p50_ms": stats["p50"] / 1000,
        "p99_ms": stats["p99"] / 1000,
        "mean_ms": stats["mean"] / 1000,
        "failed": stats["non2xx"] + stats["errors"],
    }


@dataclass(frozen=True)
class Prepared:
    """A temporary store with the default flights model trained, one real held-out row as the payload (`body`), and
    2,000 of them, one per line (`bodies`)."""

    work: Path
    env: dict[str, str]
    registry: Registry
    version: ModelVersion
    live: pd.DataFrame
    body: Path
    bodies: Path


def prepare(prefix: str, extra_env: dict[str, str] | None = None) -> Prepared:
    """Train the default model in a fresh folder; `env` is what the servers started from a benchmark get."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update(
        {
            "DRIFTLINE_STORE__URL": f"sqlite:///{work / 'store.db'}",
            "DRIFTLINE_STORE__MODEL_DIR": str(work / "bentoml"),
            "BENTOML_DO_NOT_TRACK": "True",
            **(extra_env or {}),
        }
    )
    os.environ.update(env)
    settings = load_settings(DEFAULT_CONFIG)
    registry = Registry(Store(settings.store.url), settings.store.model_dir)
    progress("training the default flights model")
    version = train(settings, registry, trigger="bench").version
    live = load_dataset(settings.data).live
    features = live[list(version.schema.features)]
    rows = [
        json.dumps({k: (None if pd.isna(v) else v) for k, v in row.items()})
        for row in [features.iloc[100].to_dict(), *features.sample(n=1999, random_state=0).to_dict("records")]
    ]
    body, bodies = work / "row.json", work / "rows.jsonl"
    body.write_text(rows[0])
    bodies.write_text("\n".join(rows) + "\n")
    return Prepared(work, env, registry, version, live, body, bodies)


@dataclass(frozen=True)
class Target:
    """One server endpoint under test, and the body each request sends it."""

    name: str
    url: str
    body: Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="length of each 16-connection run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds over every server")
    parser.add_argument("--profile", type=int, default=0, help="seconds of py-spy on a Driftline worker under load")
    args = parser.parse_args()
    setup = prepare("driftline-bench-")
    work, env, version = setup.work, setup.env, setup.version
    pipeline_path = setup.registry.model_dir / version.artifact_dir / PIPELINE_FILE
    model_name = load_settings(DEFAULT_CONFIG).model.name
    row = json.loads(setup.body.read_text())
    v2_body, plain_body = work / "v2_row.json", work / "plain_row.json"
    v2_body.write_text(json.dumps(inference_request(row, version.schema)))
    plain_body.write_text(json.dumps({"rows": [row]}))
    # one OpenMP thread per worker process, as `driftline serve` sets: more oversubscribes the cores
    peer_env = {**env, "BENCH_PIPELINE": str(pipeline_path), "OMP_NUM_THREADS": "1"}
    floor_port, plain_port, served_port = free_port(), free_port(), free_port()
    python = sys.executable
    floor_command = [python, "-m", "uvicorn", "bench.bare_endpoint:floor", "--port", str(floor_port)]
    floor_command += ["--workers", "2", "--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    floor_command += ["--no-access-log"]
    plain_command = [python, "-m", "bentoml", "serve", "bench.bare_endpoint:PlainBentoML", "--port", str(plain_port)]
    served_command = [python, "-m", "driftline.cli", "serve", "--port", str(served_port)]
    served_env = {**env, "DRIFTLINE_SERVING__LOG_PREDICTIONS": "true"}
    served = f"http://127.0.0.1:{served_port}"
    targets = [
        Target("HTTP floor (Starlette constant)", f"http://127.0.0.1:{floor_port}/predict", setup.body),
        Target("plain BentoML, batchable", f"http://127.0.0.1:{plain_port}/predict", plain_body),
        Target("driftline /predict", f"{served}/predict", setup.body),
        Target("driftline /v2 infer", f"{served}/v2/models/{model_name}/infer", v2_body),
    ]
    runs: list[dict[str, Any]] = []
    with (
        running(floor_command, peer_env, f"http://127.0.0.1:{floor_port}", "/") as floor_process,
        running(plain_command, peer_env, f"http://127.0.0.1:{plain_port}", "/readyz") as plain_process,
        running(served_command, served_env, served, "/readyz") as served_process,
    ):
        for target in targets:  # one short warm-up each, so round 1 is not the servers' first traffic
            wrk(target.url, target.body, 16, 3)
        for round_number in range(1, args.rounds + 1):
            for target in targets:
                progress(f"round {round_number}: {target.name}")
                many = wrk(target.url, target.body, 16, args.seconds)
                one = wrk(target.url, target.body, 1, max(3, args.seconds // 2))
                runs.append({"name": target.name, "round": round_number, "many": many, "one": one})
        memory = {
            "plain BentoML, batchable": worker_rss_mb(plain_process.pid),
            "driftline": worker_rss_mb(served_process.pid),
            "HTTP floor (Starlette constant)": worker_rss_mb(floor_process.pid),
        }
        if args.profile:
            profile_worker(served_process.pid, targets[2], args.profile, work / "profile.txt")
        batch = batch_timing(work, setup.live[list(version.schema.features)], pipeline_path, served)
    report(runs, memory, batch, args.seconds)


def worker_rss_mb(pid: int) -> list[float]:
    """Resident memory of each worker process under the server started as `pid` (its leaves in the process tree)."""
    root = psutil.Process(pid)
    leaves = [child for child in root.children(recursive=True) if not child.children()]
    workers = [p for p in leaves if WORKER_MODULE in " ".join(p.cmdline())] or leaves
    return sorted(p.memory_info().rss / 2**20 for p in workers)


def inference_request(row: dict[str, Any], schema: FeatureSchema) -> dict[str, Any]:
    """The row as an Open Inference Protocol request: one input per feature, as MLServer's pandas codec sends it."""
    inputs = [{"name": name, "datatype": "FP64", "shape": [1], "data": [row[name]]} for name in schema.numeric]
    inputs += [{"name": name, "datatype": "BYTES", "shape": [1], "data": [row[name]]} for name in schema.categorical]
    return {"parameters": {"content_type": "pd"}, "inputs": inputs}


FRAMING = (
    r"runpy|click/|uvicorn/(server|_compat|main)|asyncio/(runners|base_events|events)|threading\.py|worker/service"
)


def profile_worker(pid: int, target: Target, seconds: int, out: Path) -> None:
    """Sample one Driftline worker with py-spy while wrk loads `target` at 16 connections; print the top costs."""
    worker = next(p for p in psutil.Process(pid).children(recursive=True) if WORKER_MODULE in " ".join(p.cmdline()))
    progress(f"profiling worker {worker.pid} for {seconds} s")
    command = [
        str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--pid",
        str(worker.pid),
        "--duration",
        str(seconds),
        "--format",
        "raw",
    ]
    spy = subprocess.Popen([*command, "--output", str(out), "--nonblocking"], stdout=subprocess.DEVNULL)
    wrk(target.url, target.body, 16, seconds + 2)
    spy.wait(timeout=60)
    own: collections.Counter[str] = collections.Counter()
    within: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            within[frame] += int(count)
    # the frames every sample of a thread passes through say nothing about where its time goes
    inner_frames = [(name, count) for name, count in within.most_common() if not re.search(FRAMING, name)]
    print(f"\nProfile of one worker holding the GIL, {total} samples: share of samples in the function itself, and")
    print("within it (its callees included).\n")
    print("| function (self) | self | | function (inclusive) | within |\n|---|---:|---|---|---:|")
    for (name, count), (outer, inner) in zip(own.most_common(25), inner_frames[:25], strict=False):
        print(f"| {name} | {count / total:.1%} | | {outer} | {inner / total:.1%} |")


def batch_timing(work: Path, live: pd.DataFrame, pipeline_path: Path, url: str) -> dict[str, float]:
    """Seconds for a 200,000-row CSV: read_csv + predict_proba in this process, and the upload to /predict_batch
    (best of two each, so neither side pays for a cold cache alone)."""
    import joblib

    csv = work / "batch.csv"
    live.iloc[:200_000].to_csv(csv, index=False)
    pipeline = joblib.load(pipeline_path)
    in_process, over_http = [], []
    for _ in range(2):
        started = time.perf_counter()
        pipeline.predict_proba(pd.read_csv(csv))
        in_process.append(time.perf_counter() - started)
        progress("uploading the 200,000-row CSV")
        started = time.perf_counter()
        with csv.open("rb") as handle:
            response = httpx.post(
                f"{url}/predict_batch", files={"file": ("batch.csv", handle, "text/csv")}, timeout=600
            )
        over_http.append(time.perf_counter() - started)
        response.raise_for_status()
    return {"in_process_s": min(in_process), "http_s": min(over_http)}


def report(runs: list[dict[str, Any]], memory: dict[str, list[float]], batch: dict[str, float], seconds: int) -> None:
    """Every run as a table row, in the order they ran, then the ratios of the medians over the rounds."""

    def median(name: str, key: str, load: str = "many") -> float:
        return statistics.median(float(r[load][key]) for r in runs if r["name"] == name)

    print(f"\n| round | server ({seconds} s per run) | req/s @16 | p50 ms @16 | p99 ms @16 | failed | mean ms @1 |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in runs:
        many, one = r["many"], r["one"]
        print(
            f"| {r['round']} | {r['name']} | {many['rps']:.0f} | {many['p50_ms']:.1f} | {many['p99_ms']:.1f} | "
            f"{many['failed'] + one['failed']:.0f} | {one['mean_ms']:.2f} |"
        )
    floor, plain = median("HTTP floor (Starlette constant)", "rps"), median("plain BentoML, batchable", "rps")
    served, v2 = median("driftline /predict", "rps"), median("driftline /v2 infer", "rps")
    print("\nRatios of the medians over the rounds.\n\n| measure | value | target |\n|---|---:|---:|")
    print(f"| driftline /predict / plain BentoML, req/s @16 | {served / plain:.2f} | >= 4 |")
    print(f"| driftline /predict / HTTP floor, req/s @16 | {served / floor:.3f} | >= 0.15 |")
    print(f"| /v2/models/{{name}}/infer / /predict, single row, req/s @16 | {v2 / served:.2f} | >= 0.8 |")
    print(f"| driftline /predict p99 @16 (ms) | {median('driftline /predict', 'p99_ms'):.1f} | <= 20 |")
    print(f"| driftline /predict mean @1 (ms) | {median('driftline /predict', 'mean_ms', 'one'):.2f} | <= 2 |")
    print(f"| plain BentoML p99 @16 (ms) | {median('plain BentoML, batchable', 'p99_ms'):.1f} | - |")
    print(f"| plain BentoML mean @1 (ms) | {median('plain BentoML, batchable', 'mean_ms', 'one'):.2f} | - |")
    for name, sizes in memory.items():
        print(f"| RSS per worker, {name} (MB) | {', '.join(f'{s:.0f}' for s in sizes)} | - |")
    ratio = batch["http_s"] / batch["in_process_s"]
    print(
        f"| /predict_batch 200k CSV over HTTP / read_csv+predict_proba in-process | "
        f"{ratio:.2f} ({batch['http_s']:.2f} s / {batch['in_process_s']:.2f} s) | <= 1.5 |"
    )


if __name__ == "__main__":
    main()
