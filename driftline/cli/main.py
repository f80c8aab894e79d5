"""`driftline`: the operator CLI and the one place that wires the packages together."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from driftline.cli import logs, status
from driftline.cli.db import current_revision, upgrade_store
from driftline.cli.demo import run_demo
from driftline.cli.monitor import build_loop, run_monitor
from driftline.cli.prometheus import start_prometheus
from driftline.cli.replay import replay as replay_rows
from driftline.cli.replay import timeline
from driftline.cli.serve import exec_service, start_service
from driftline.core import (
    DataError,
    DriftlineError,
    Migrations,
    PromotionRefused,
    Registry,
    Settings,
    Store,
    config_path,
    load_dataset,
    load_settings,
    start_watch,
)
from retrain import retrain, train


def _registry(settings: Settings) -> Registry:
    return Registry.configured(Store(settings.store.url), settings.store)


def _progress(message: str) -> None:
    print(f"[train] {message}", file=sys.stderr, flush=True)


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    registry = _registry(settings)
    if args.if_no_production:
        current = registry.store.production_version()
        if current is not None:
            print(f"version {current} is in production; nothing trained")
            return 0
    started = time.monotonic()
    outcome = train(settings, registry, trigger="cli", progress=_progress)
    print(f"{outcome.decision} ({time.monotonic() - started:.1f} s)")
    return 0


def _run_service(args: argparse.Namespace, settings: Settings) -> int:
    registry = _registry(settings)
    # fail here, clearly, rather than inside the server: no production version, or its files neither on this host
    # nor fetchable from the artifact store (the workers then find them in the local cache)
    registry.ensure_local(registry.production())
    print(
        f"serving on http://{args.host}:{args.port}  (POST /predict, /predict_batch, /feedback; GET /model, "
        "/metrics, /docs)",
        file=sys.stderr,
        flush=True,
    )
    registry.store.dispose()
    exec_service(settings, config_path(args.config), port=args.port, host=args.host)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    return _run_service(args, settings)


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    registry = _registry(settings)
    if registry.store.production_version() is None:
        print("no model in production yet: training the first one", file=sys.stderr, flush=True)
        outcome = train(settings, registry, trigger="up", progress=_progress)
        print(outcome.decision, file=sys.stderr, flush=True)
    config = config_path(args.config)
    processes: list[subprocess.Popen[bytes]] = [start_service(settings, config, port=args.port, host=args.host)]
    monitor_command = [
        sys.executable,
        "-m",
        "driftline.cli",
        "monitor",
        "--config",
        str(config.resolve()),
        "--port",
        str(args.monitor_port),
        "--host",
        args.host,
    ]
    processes.append(subprocess.Popen(monitor_command))
    optional: list[subprocess.Popen[bytes]] = []
    prometheus = start_prometheus(
        service=f"127.0.0.1:{args.port}", monitor=f"127.0.0.1:{args.monitor_port}", port=args.prometheus_port
    )
    base = f"http://{args.host}"
    print(
        f"service     {base}:{args.port}  (POST /predict, /predict_batch, /feedback; GET /model, /metrics, /docs)",
        file=sys.stderr,
    )
    print(f"monitor     {base}:{args.monitor_port}  (/metrics, /reports/, /checks/latest)", file=sys.stderr)
    if prometheus is not None:
        optional.append(prometheus)
        print(f"prometheus  http://127.0.0.1:{args.prometheus_port}  (alerts: /alerts)", file=sys.stderr)
    else:
        print("prometheus  not installed; skipped (apt-get install prometheus)", file=sys.stderr)
    print("Grafana: provision it from grafana/ (see README). Ctrl-C stops everything.", file=sys.stderr, flush=True)
    return _wait_all(processes, optional)


def _wait_all(processes: list[subprocess.Popen[bytes]], optional: list[subprocess.Popen[bytes]]) -> int:
    """Wait until a process in `processes` ends or Ctrl-C / SIGTERM, then stop them all.

    An `optional` process (Prometheus) that ends, e.g. because its port is taken, is reported, not fatal.
    """

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    code = 0
    try:
        while all(p.poll() is None for p in processes):
            for process in [p for p in optional if p.poll() is not None]:
                print(
                    f"prometheus exited (code {process.returncode}); serving and monitoring go on",
                    file=sys.stderr,
                    flush=True,
                )
                optional.remove(process)
            time.sleep(0.5)
        code = next(p.returncode for p in processes if p.poll() is not None) or 0
    except KeyboardInterrupt:
        pass
    for process in processes + optional:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes + optional:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    return code


def cmd_monitor(args: argparse.Namespace, settings: Settings) -> int:
    _registry(settings).production()
    print(
        f"monitor on http://{args.host}:{args.port}  (/metrics, /reports/, /checks/latest); "
        f"checking every {settings.monitoring.interval_seconds} s",
        file=sys.stderr,
        flush=True,
    )
    return run_monitor(settings, host=args.host, port=args.port)


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    loop = build_loop(settings)
    result = loop.checker.run()
    loop.metrics.publish(result)
    if result.drift is not None:
        # no monitor is there to render it when opened, so this one-off check writes its HTML report now
        report = loop.archive.get(loop.archive.save(result.drift, result.model_version, result.checked_at))
        print(f"report: {report}", file=sys.stderr)
    print(json.dumps(result.to_dict(), indent=2, default=str))
    return 1 if result.drifted else 0


def cmd_retrain(args: argparse.Namespace, settings: Settings) -> int:
    decision = retrain(settings, _registry(settings), trigger="cli", progress=_progress)
    print(decision.reason, file=sys.stderr, flush=True)
    print(json.dumps(decision.to_dict(), indent=2, default=str))
    return 2 if decision.outcome == "failed" else 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    dataset = load_dataset(settings.data)
    rows = dataset.live
    if rows.empty:
        raise DataError("no held-out rows to replay: set data.train_until (and data.time_column)")
    time_column = settings.data.time_column
    if args.start and time_column:
        rows = rows[rows[time_column] >= pd.Timestamp(args.start, tz="UTC")]
    rows = rows.iloc[:: args.every]
    if args.limit:
        rows = rows.iloc[: args.limit]
    production = _registry(settings).production()
    stats = replay_rows(
        args.url.rstrip("/"),
        rows,
        list(production.schema.features),
        settings.data.target,
        time_column=time_column,
        rows_per_second=args.rows_per_second,
        batch=args.batch,
        label_delay=args.label_delay,
        label_fraction=args.label_fraction,
    )
    print(timeline(stats))
    return 0 if stats.failed == 0 else 1


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    return run_demo(
        config_path(args.config),
        Path(args.folder),
        port=args.port,
        monitor_port=args.monitor_port,
        every=args.every,
        rows_per_second=args.rows_per_second,
        with_loop=not args.without_loop,
        first_model_rows=args.first_model_rows,
    )


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    collected = status.collect(_registry(settings), settings.retrain)
    print(json.dumps(collected, indent=2, default=str) if args.json else status.render(collected))
    return 0


def _who() -> dict[str, str]:
    """Who changed production from the command line, for the promotion history."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no name for this uid (e.g. in a container)
        user = str(os.getuid())
    return {"who": "cli", "user": user, "host": socket.gethostname()}


def cmd_promote(args: argparse.Namespace, settings: Settings) -> int:
    watch_rows = None if args.watch is None else args.watch or settings.retrain.watch_rows
    if watch_rows == 0:
        raise PromotionRefused("--watch needs the labelled requests to watch: --watch ROWS, or set retrain.watch_rows")
    registry = _registry(settings)
    previous = registry.store.production_version()
    registry.promote(args.version, kind="manual", reason=args.reason, evidence=_who())
    print(f"version {args.version} is in production")
    if watch_rows and start_watch(
        registry.store, version=args.version, previous=previous, rows=watch_rows, reason=args.reason
    ):
        print(f"watching it against version {previous} for {watch_rows} labelled requests; rolled back if worse")
    return 0


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    version = _registry(settings).rollback(args.reason, evidence=_who())
    print(f"rolled back: version {version} is in production")
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    return upgrade_store(settings, Migrations())


def cmd_db_current(args: argparse.Namespace, settings: Settings) -> int:
    return current_revision(settings, Migrations())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftline", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at info level (default: warnings only)")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str,
        handler: Callable[[argparse.Namespace, Settings], int],
        help_text: str,
        group: argparse._SubParsersAction[argparse.ArgumentParser] = commands,
    ) -> argparse.ArgumentParser:
        sub = group.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--config", help="YAML config file (default: $DRIFTLINE_CONFIG, else driftline.yaml)")
        sub.set_defaults(handler=handler)
        return sub

    sub = command("monitor", cmd_monitor, "run drift checks every interval; serve /metrics and /reports/")
    sub.add_argument("--port", type=int, default=3001)
    sub.add_argument("--host", default="127.0.0.1")
    command("check", cmd_check, "one drift check now; prints JSON; exit code 0 no drift, 1 drift")
    sub = command(
        "train", cmd_train, "fit on the configured data, register the version; promote it if none is in production"
    )
    # the deployment recipes run `train` at every start (compose up, a re-applied Job): only the first one trains
    sub.add_argument("--if-no-production", action="store_true", help="train only when no version is in production")
    for name, handler, text in (
        ("serve", cmd_serve, "start the BentoML service"),
        ("up", cmd_up, "train if nothing is in production, then serve, monitor and run Prometheus, until Ctrl-C"),
    ):
        sub = command(name, handler, text)
        sub.add_argument("--port", type=int, default=3000)
        sub.add_argument("--host", default="127.0.0.1")
        if name == "up":
            sub.add_argument("--monitor-port", type=int, default=3001)
            sub.add_argument("--prometheus-port", type=int, default=9090)
    command("retrain", cmd_retrain, "one retrain now: fit on reference + labelled live rows, promote only if better")
    sub = command("replay", cmd_replay, "stream held-out real rows to a running service, with late labels")
    sub.add_argument("--url", default="http://127.0.0.1:3000")
    sub.add_argument("--rows-per-second", type=float, default=200.0)
    sub.add_argument("--batch", type=int, default=10, help="rows per /predict request")
    sub.add_argument("--every", type=int, default=1, help="send every Nth held-out row (a faster story)")
    sub.add_argument("--start", help="first timestamp to replay, e.g. 2013-03-01")
    sub.add_argument("--limit", type=int, help="at most this many rows")
    sub.add_argument("--label-delay", type=float, default=5.0, help="seconds before a row's label is sent")
    sub.add_argument("--label-fraction", type=float, default=1.0, help="share of rows whose label is sent")
    sub = command("demo", cmd_demo, "the whole story on the flights data: serve, replay, drift, retrain, promote")
    sub.add_argument("--folder", default=".driftline/demo", help="store, model store and reports of the demo")
    sub.add_argument("--port", type=int, default=3100)
    sub.add_argument("--monitor-port", type=int, default=3101)
    sub.add_argument("--every", type=int, default=8)
    sub.add_argument("--rows-per-second", type=float, default=300.0)
    sub.add_argument("--without-loop", action="store_true", help="never retrain: the baseline to compare with")
    sub.add_argument("--first-model-rows", type=int, help="train version 1 on only the last N winter flights")
    sub = command("status", cmd_status, "production version, versions, promotions and training runs")
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub = command("promote", cmd_promote, "make VERSION the production version (recorded as manual)")
    sub.add_argument("version", type=int)
    sub.add_argument("--reason", default="manual promotion")
    sub.add_argument(
        "--watch",
        type=int,
        nargs="?",
        const=0,
        metavar="ROWS",
        help="run the replaced version as the shadow for ROWS labelled requests (default retrain.watch_rows); "
        "the monitor rolls back if the new one does worse",
    )
    sub = command("rollback", cmd_rollback, "back to the previous production version")
    sub.add_argument("--reason", default="manual rollback")
    db_help = "the store's schema: apply its migrations, show its revision"
    db = commands.add_parser("db", help=db_help, description=db_help).add_subparsers(dest="action", required=True)
    command("upgrade", cmd_db_upgrade, "apply the store's schema migrations (Alembic), under a lock", db)
    command("current", cmd_db_current, "print the store's schema revision; exit code 1 unless it is the newest", db)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(args.verbose)
    try:
        settings = load_settings(args.config)
        return int(args.handler(args, settings))
    except DriftlineError as exc:
        print(f"driftline {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
