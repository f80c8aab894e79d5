"""Drift check benchmark: a 100,000-row flights window against a 300,000-row reference, and a check over a
1,000,000-row prediction log, each beside Evidently's plain `Report([DataDriftPreset()])` on the full frames, the
domain classifier on the sampled comparison, and the HTML report of that comparison (rendered only when a report is
opened).

Time and peak memory of each run are measured in a fresh child process. Prints a Markdown table.
Usage: `python bench/drift.py` (part of `make bench`); `python bench/drift.py --log-rounds N` builds the 1M-row log
once and runs only its monitor check, N times with everything on and N times without the domain classifier and the
label-free estimate, alternating.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WINDOW_ROWS = 100_000
REFERENCE_ROWS = 300_000
LOG_ROWS = 1_000_000


def frames():  # type: ignore[no-untyped-def]
    """The reference (January-February, resampled to 300k rows) and the window (100k summer rows)."""
    from driftline.core import FeatureSchema, load_dataset, load_settings
    from driftline.core.settings import DEFAULT_CONFIG

    settings = load_settings(DEFAULT_CONFIG)
    data = load_dataset(settings.data)
    listed = settings.data.features
    schema = FeatureSchema(tuple(listed.numeric), tuple(listed.categorical), "late", "classification", (0, 1))
    reference = schema.coerce(data.train.sample(REFERENCE_ROWS, replace=True, random_state=0))
    summer = data.live[data.live["time_hour"].dt.month.isin([6, 7, 8, 9])]
    window = schema.coerce(summer.sample(WINDOW_ROWS, replace=len(summer) < WINDOW_ROWS, random_state=1))
    return reference, window, schema


def run_full() -> dict[str, object]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference, window, schema = frames()
    definition = DataDefinition(numerical_columns=list(schema.numeric), categorical_columns=list(schema.categorical))
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset(drift_share=0.3)], include_tests=True).run(
        current_data=Dataset.from_pandas(window, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    seconds = time.perf_counter() - started
    raw = snapshot.dict()
    failed = {t["metric_config"]["metric_id"] for t in raw["tests"] if t.get("id") == "drift" and t["status"] == "FAIL"}
    drifted = sorted(m["config"]["column"] for m in raw["metrics"] if m["id"] in failed)
    return {"seconds": seconds, "drifted": drifted}


def run_sampled() -> dict[str, object]:
    import evidently.presets  # noqa: F401 - imported before timing, as the full run's imports are

    from monitoring import compare

    reference, window, schema = frames()
    started = time.perf_counter()
    result = compare(reference, window, schema, drift_share=0.3, sample_rows=5000)
    return {"seconds": time.perf_counter() - started, "drifted": sorted(result.drifted_features)}


def run_multivariate() -> dict[str, object]:
    """The domain classifier on the sampled comparison, as a check runs it after the per-feature tests."""
    import evidently.presets  # noqa: F401

    from monitoring import compare
    from monitoring.multivariate import domain_drift

    reference, window, schema = frames()
    result = compare(reference, window, schema, drift_share=0.3, sample_rows=5000)
    started = time.perf_counter()
    found = domain_drift(result.compared, threshold=0.65, rows=2000, seed=0)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "drifted": [f"AUC {found.auc:.3f}" if found else "no verdict"]}


def run_render() -> dict[str, object]:
    """The HTML report of the sampled comparison, as the monitor renders it when someone opens it."""
    import evidently.presets  # noqa: F401

    from monitoring import compare

    reference, window, schema = frames()
    result = compare(reference, window, schema, drift_share=0.3, sample_rows=5000)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        result.save_html(Path(folder) / "report.html")
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "drifted": sorted(result.drifted_features)}


def run_log_check(folder: str, *, plain: bool = False) -> dict[str, object]:
    """A full monitor check (store read, sampling, Evidently, domain classifier, weighted score, quality,
    label-free estimate, live metric) over a 1M-row log; `plain` leaves out the domain classifier and the estimate,
    to measure what they add."""
    import monitoring.check
    from driftline.core import Registry, Store, load_settings
    from monitoring import DriftChecker

    os.environ.update(_store_env(Path(folder)))
    settings = load_settings()
    settings.monitoring.window_rows = WINDOW_ROWS
    if plain:
        settings.monitoring.estimation.enabled = False
        monitoring.check.domain_drift = lambda *args, **kwargs: None  # type: ignore[assignment]
    registry = Registry(Store(settings.store.url), settings.store.model_dir)
    DriftChecker(settings, registry).run()  # imports Evidently and warms the store's file in the page cache
    checker = DriftChecker(settings, registry)  # a new monitor's first check: it keeps nothing from before
    started, cpu = time.perf_counter(), time.process_time()
    result = checker.run()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    drift, estimate = result.drift, result.estimated
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,  # on a shared machine the wall time is this divided by the share of a core it got
        "drifted": sorted(drift.drifted_features),
        "rows": result.window.rows,
        "estimate": None if estimate is None or estimate.value is None else f"{estimate.metric} {estimate.value:.3f}",
        "auc": None if drift.multivariate is None else round(drift.multivariate.auc, 3),
        "weighted": None if drift.weighted is None else round(drift.weighted.score, 3),
    }


def alternate_log_checks(rounds: int) -> None:
    """The monitor check over one 1M-row log, everything on and then without the domain classifier and the
    estimate, in alternating order per round (a shared machine's load then falls on both alike); each run in a
    fresh process. Prints each run and the per-round ratio."""
    with tempfile.TemporaryDirectory(prefix="driftline-drift-bench-") as folder:
        build_log(Path(folder))
        runs: list[tuple[str, dict[str, object]]] = []
        for round_ in range(rounds):
            for kind in ("log", "log-plain") if round_ % 2 == 0 else ("log-plain", "log"):
                print(f"[bench] round {round_ + 1}: {kind}", file=sys.stderr, flush=True)
                runs.append((kind, child(kind, folder)))
    print("\n| round | check | seconds | CPU seconds | peak RSS MiB | estimate | domain AUC | weighted drift |")
    print("|---:|---|---:|---:|---:|---|---:|---:|")
    for i, (kind, r) in enumerate(runs):
        name = "everything on" if kind == "log" else "without domain classifier and estimate"
        print(
            f"| {i // 2 + 1} | {name} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | {r['rss_mib']:.0f} "
            f"| {r['estimate'] or '-'} "
            f"| {r['auc'] if r['auc'] is not None else '-'} | {r['weighted'] if r['weighted'] is not None else '-'} |"
        )
    full = [float(r["seconds"]) for k, r in runs if k == "log"]  # type: ignore[arg-type]
    plain = [float(r["seconds"]) for k, r in runs if k == "log-plain"]  # type: ignore[arg-type]
    ratios = sorted(f / p for f, p in zip(full, plain, strict=True))
    cpu = [float(r["cpu_seconds"]) for k, r in runs if k == "log"]  # type: ignore[arg-type]
    print(
        f"\neverything on: median {statistics.median(full):.2f} s (max {max(full):.2f}), CPU median "
        f"{statistics.median(cpu):.2f} s (max {max(cpu):.2f}), peak RSS up to "
        f"{max(float(r['rss_mib']) for k, r in runs if k == 'log'):.0f} MiB; without: median "  # type: ignore[arg-type]
        f"{statistics.median(plain):.2f} s; ratio per round {', '.join(f'{x:.2f}' for x in ratios)} "
        f"(median {statistics.median(ratios):.2f})"
    )


def _store_env(folder: Path) -> dict[str, str]:
    return {
        "DRIFTLINE_CONFIG": str(ROOT / "driftline.yaml"),
        "DRIFTLINE_STORE__URL": f"sqlite:///{folder / 'store.db'}",
        "DRIFTLINE_STORE__MODEL_DIR": str(folder / "bentoml"),
        "DRIFTLINE_MODEL__PARAMS": '{"max_iter": 50}',
    }


def build_log(folder: Path) -> None:
    """Train the flights model and log 1,000,000 predictions of live rows, as the service would."""
    import numpy as np

    from driftline.core import Registry, Store, load_dataset, load_settings, prediction_records
    from retrain import train

    os.environ.update(_store_env(folder))
    settings = load_settings()
    registry = Registry(Store(settings.store.url), settings.store.model_dir)
    version = train(settings, registry, trigger="bench").version
    model = registry.load(version.version)
    live = load_dataset(settings.data).live
    features = list(model.schema.features)
    rows = live[features].sample(LOG_ROWS, replace=True, random_state=2)
    records = rows.astype(object).where(rows.notna(), None).to_dict("records")
    rng = np.random.default_rng(3)
    for start in range(0, LOG_ROWS, 50_000):
        chunk = records[start : start + 50_000]
        outputs = model.predict_rows(chunk)
        now = time.time()
        ids = [f"b{start + i}" for i in range(len(chunk))]
        registry.store.insert_predictions(
            prediction_records(ids, chunk, outputs, model_version=version.version, created_at=now, latency_ms=1.0)
        )
        labelled = {f"b{start + i}": int(rng.random() < 0.25) for i in range(0, len(chunk), 10)}
        registry.store.record_feedback(labelled)
        print(f"[bench] logged {start + len(chunk):,} / {LOG_ROWS:,} predictions", file=sys.stderr, flush=True)
    registry.store.dispose()


def peak_rss_mib() -> float:
    """This process's peak RSS. VmHWM starts afresh at exec; ru_maxrss can carry the forking parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, folder: str = "") -> dict[str, object]:
    """Run one measurement in a fresh interpreter; add its peak RSS."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, folder], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    print("[bench] full-data Evidently run (this takes a while)", file=sys.stderr, flush=True)
    full = child("full")
    print("[bench] driftline's sampled check", file=sys.stderr, flush=True)
    sampled = child("sampled")
    print("[bench] the domain classifier on those samples", file=sys.stderr, flush=True)
    multivariate = child("multivariate")
    print("[bench] rendering its HTML report", file=sys.stderr, flush=True)
    rendered = child("render")
    with tempfile.TemporaryDirectory(prefix="driftline-drift-bench-") as folder:
        build_log(Path(folder))
        print("[bench] monitor check over the 1M-row log", file=sys.stderr, flush=True)
        logged = child("log", folder)
    title = f"run ({WINDOW_ROWS:,}-row window vs {REFERENCE_ROWS:,}-row reference)"
    print(f"\n| {title} | seconds | peak RSS MiB | drifted features |")
    print("|---|---:|---:|---|")
    for name, result in (
        ("Report([DataDriftPreset()]) on the full frames", full),
        ("driftline compare(), 5,000-row samples", sampled),
        ("its domain classifier, 2,000 rows per side (multivariate drift)", multivariate),
        ("its HTML report, rendered when opened (not part of a check)", rendered),
        (f"driftline monitor check on a {LOG_ROWS:,}-row SQLite log (window {WINDOW_ROWS:,})", logged),
    ):
        print(f"| {name} | {result['seconds']:.2f} | {result['rss_mib']:.0f} | {', '.join(result['drifted'])} |")
    same = set(full["drifted"]) == set(sampled["drifted"])  # type: ignore[arg-type]
    print(
        f"\nsame features flagged as the full-data run: {'yes' if same else 'no'}; "
        f"speed-up {full['seconds'] / sampled['seconds']:.1f}x"
    )  # type: ignore[operator]


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kind = sys.argv[2]
        result = {"full": run_full, "sampled": run_sampled, "multivariate": run_multivariate, "render": run_render}.get(
            kind
        )
        measured = result() if result else run_log_check(sys.argv[3], plain=kind == "log-plain")
        measured["rss_mib"] = peak_rss_mib()
        print(json.dumps(measured))
    elif len(sys.argv) > 2 and sys.argv[1] == "--log-rounds":
        alternate_log_checks(int(sys.argv[2]))
    else:
        main()
