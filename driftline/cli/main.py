"""`driftline`: the operator CLI and the one place that wires the packages together."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from driftline.cli import logs, status
from driftline.cli.serve import start_service
from driftline.core import DriftlineError, Registry, Settings, Store, load_settings
from driftline.core.settings import config_path
from driftline.retrain import train


def _registry(settings: Settings) -> Registry:
    return Registry(Store(settings.store.url), settings.store.model_dir)


def _progress(message: str) -> None:
    print(f"[train] {message}", file=sys.stderr, flush=True)


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    started = time.monotonic()
    outcome = train(settings, _registry(settings), trigger="cli", progress=_progress)
    print(f"{outcome.decision} ({time.monotonic() - started:.1f} s)")
    return 0


def _run_service(args: argparse.Namespace, settings: Settings) -> int:
    registry = _registry(settings)
    registry.production()  # fail here, clearly, rather than inside the server
    process = start_service(settings, config_path(args.config), port=args.port, host=args.host)
    print(
        f"serving on http://{args.host}:{args.port}  (POST /predict, /predict_batch, /feedback; GET /model, "
        "/metrics, /docs)",
        file=sys.stderr,
        flush=True,
    )
    return _wait(process)


def _wait(process: subprocess.Popen[bytes]) -> int:
    def forward(signum: int, _frame: object) -> None:
        process.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    return _run_service(args, settings)


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    registry = _registry(settings)
    if registry.store.production_version() is None:
        print("no model in production yet: training the first one", file=sys.stderr, flush=True)
        outcome = train(settings, registry, trigger="up", progress=_progress)
        print(outcome.decision, file=sys.stderr, flush=True)
    return _run_service(args, settings)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    collected = status.collect(_registry(settings))
    print(json.dumps(collected, indent=2, default=str) if args.json else status.render(collected))
    return 0


def cmd_promote(args: argparse.Namespace, settings: Settings) -> int:
    registry = _registry(settings)
    registry.promote(args.version, kind="manual", reason=args.reason)
    print(f"version {args.version} is in production")
    return 0


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    version = _registry(settings).rollback(args.reason)
    print(f"rolled back: version {version} is in production")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftline", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at info level (default: warnings only)")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, handler: Callable[[argparse.Namespace, Settings], int], help_text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--config", help="YAML config file (default: $DRIFTLINE_CONFIG, else driftline.yaml)")
        sub.set_defaults(handler=handler)
        return sub

    command("train", cmd_train, "fit on the configured data, register the version; promote it if none is in production")
    for name, handler, text in (
        ("serve", cmd_serve, "start the BentoML service"),
        ("up", cmd_up, "train if nothing is in production, then serve, until Ctrl-C"),
    ):
        sub = command(name, handler, text)
        sub.add_argument("--port", type=int, default=3000)
        sub.add_argument("--host", default="127.0.0.1")
    sub = command("status", cmd_status, "production version, versions, promotions and training runs")
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub = command("promote", cmd_promote, "make VERSION the production version (recorded as manual)")
    sub.add_argument("version", type=int)
    sub.add_argument("--reason", default="manual promotion")
    sub = command("rollback", cmd_rollback, "back to the previous production version")
    sub.add_argument("--reason", default="manual rollback")
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
