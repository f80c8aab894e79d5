"""Serving benchmark: /predict throughput and latency against a bare per-request endpoint, logging on and off,
single-row Open Inference Protocol inference (/v2/models/{name}/infer) against /predict on the same server, and
/predict_batch on a 200,000-row CSV against read_csv + predict_proba in-process.

Everything runs in one go on 127.0.0.1 with wrk as the load generator, so the ratios compare like with like on
whatever machine runs it. Prints a Markdown table. Usage: `make bench` (or `python bench/serving.py --seconds 20`).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import signal
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    setup = prepare("driftline-bench-")
    work, env, registry, version, live, body = (
        setup.work,
        setup.env,
        setup.registry,
        setup.version,
        setup.live,
        setup.body,
    )
    pipeline_path = registry.model_dir / version.artifact_dir / PIPELINE_FILE
    features = list(version.schema.features)
    rows: list[dict[str, object]] = []
    model_name = load_settings(DEFAULT_CONFIG).model.name
    v2_body = work / "v2_row.json"
    v2_body.write_text(json.dumps(inference_request(json.loads(body.read_text()), version.schema)))

    def measure(name: str, url: str, payload: Path = body) -> None:
        progress(f"{name}: 16 connections for {args.seconds} s, then 1 connection")
        wrk(url, payload, 16, 3)  # warm-up
        many = wrk(url, payload, 16, args.seconds)
        one = wrk(url, payload, 1, max(5, args.seconds // 2))
        rows.append({"name": name, **{f"{k}@16": v for k, v in many.items()}, **{f"{k}@1": v for k, v in one.items()}})

    python = sys.executable
    for workers in (1, 2):
        port = free_port()
        command = [
            python,
            "-m",
            "uvicorn",
            "bench.bare_endpoint:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        # one OpenMP thread per worker process, as the service runs: more oversubscribes the cores
        bare_env = {**env, "BENCH_PIPELINE": str(pipeline_path), "OMP_NUM_THREADS": "1"}
        with running(command, bare_env, f"http://127.0.0.1:{port}", "/"):
            measure(f"bare endpoint, {workers} worker(s)", f"http://127.0.0.1:{port}/predict")
    batch: dict[str, float] = {}
    # logging on and off alternate twice: the difference is small next to this machine's noise
    for logging_on in (True, False, True, False):
        port = free_port()
        service_env = {**env, "DRIFTLINE_SERVING__LOG_PREDICTIONS": str(logging_on).lower()}
        command = [python, "-m", "driftline.cli", "serve", "--port", str(port)]
        with running(command, service_env, f"http://127.0.0.1:{port}", "/readyz"):
            measure(
                f"driftline /predict, 2 workers, logging {'on' if logging_on else 'off'}",
                f"http://127.0.0.1:{port}/predict",
            )
            if logging_on:
                measure(
                    "driftline /v2 infer, 2 workers, logging on",
                    f"http://127.0.0.1:{port}/v2/models/{model_name}/infer",
                    v2_body,
                )
            if logging_on and not batch:
                batch = batch_timing(work, live[features], pipeline_path, f"http://127.0.0.1:{port}")
    report(rows, batch, args.seconds)


def inference_request(row: dict[str, Any], schema: FeatureSchema) -> dict[str, Any]:
    """The row as an Open Inference Protocol request: one input per feature, as MLServer's pandas codec sends it."""
    inputs = [{"name": name, "datatype": "FP64", "shape": [1], "data": [row[name]]} for name in schema.numeric]
    inputs += [{"name": name, "datatype": "BYTES", "shape": [1], "data": [row[name]]} for name in schema.categorical]
    return {"parameters": {"content_type": "pd"}, "inputs": inputs}


def batch_timing(work: Path, live: pd.DataFrame, pipeline_path: Path, url: str) -> dict[str, float]:
    import joblib

    csv = work / "batch.csv"
    live.iloc[:200_000].to_csv(csv, index=False)
    pipeline = joblib.load(pipeline_path)
    started = time.perf_counter()
    pipeline.predict_proba(pd.read_csv(csv))
    in_process = time.perf_counter() - started
    progress("uploading the 200,000-row CSV")
    started = time.perf_counter()
    with csv.open("rb") as handle:
        response = httpx.post(f"{url}/predict_batch", files={"file": ("batch.csv", handle, "text/csv")}, timeout=600)
    over_http = time.perf_counter() - started
    response.raise_for_status()
    return {"in_process_s": in_process, "http_s": over_http}


def report(rows: list[dict[str, object]], batch: dict[str, float], seconds: int) -> None:
    def get(name_part: str, key: str) -> float:
        values = [float(r[key]) for r in rows if str(r["name"]).startswith(name_part)]  # type: ignore[arg-type]
        return sum(values) / len(values)

    print(f"\n| setup ({seconds} s per run) | req/s @16 | p50 ms @16 | p99 ms @16 | failed | p50 ms @1 | mean ms @1 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:  # every run, in the order they ran
        print(
            f"| {r['name']} | {r['rps@16']:.0f} | {r['p50_ms@16']:.1f} | {r['p99_ms@16']:.1f} | "
            f"{r['failed@16']:.0f} | {r['p50_ms@1']:.2f} | {r['mean_ms@1']:.2f} |"
        )
    print("\nRatios use the mean of the runs of each setup.")
    served_on, served_off = "driftline /predict, 2 workers, logging on", "driftline /predict, 2 workers, logging off"
    on = get(served_on, "rps@16")
    print("\n| ratio | value | target |\n|---|---:|---:|")
    print(
        f"| driftline (logging on) / bare 1 worker, req/s @16 | {on / get('bare endpoint, 1', 'rps@16'):.2f} | >= 2 |"
    )
    print(f"| driftline (logging on) / bare 2 workers, req/s @16 | {on / get('bare endpoint, 2', 'rps@16'):.2f} | - |")
    print(f"| logging on / logging off, req/s @16 | {on / get(served_off, 'rps@16'):.2f} | >= 0.9 |")
    print(f"| driftline p99 @16 (ms) | {get(served_on, 'p99_ms@16'):.1f} | <= 50 |")
    v2 = get("driftline /v2 infer", "rps@16")
    print(f"| /v2/models/{{name}}/infer / /predict (logging on), single row, req/s @16 | {v2 / on:.2f} | >= 0.8 |")
    gap = get(served_on, "mean_ms@1") - get("bare endpoint, 1", "mean_ms@1")
    print(f"| mean latency @1, driftline minus bare (ms) | {gap:+.2f} | <= 2 |")
    ratio = batch["http_s"] / batch["in_process_s"]
    print(
        f"| /predict_batch 200k CSV over HTTP / read_csv+predict_proba in-process | "
        f"{ratio:.2f} ({batch['http_s']:.2f} s / {batch['in_process_s']:.2f} s) | <= 2 |"
    )


if __name__ == "__main__":
    main()
