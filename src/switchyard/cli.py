"""``switchyard`` command line: serve | check | simulate | demo | usage | keys | eval | experiments | eval-router |
eval-cache | eval-redaction."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from .config import load_config
from .errors import ConfigError

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .server.protocol import CoalescingProtocol
    from .server.services import build_app
    from .telemetry.logs import configure_logging

    config = load_config(args.config)
    # One line per request (and every other record) as JSON on stderr, secrets masked: telemetry.log_format.
    configure_logging(config, level=getattr(logging, args.log_level.upper()))
    host = args.host or config.server.host
    port = args.port if args.port is not None else config.server.port
    app = build_app(config)
    print(
        f"switchyard: serving {len(config.models)} model(s) and {len(config.routes)} route(s) "
        f"on http://{host}:{port}/v1",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=args.log_level,
        log_config=None,  # uvicorn's records go through the handler configure_logging installed
        access_log=False,
        lifespan="on",
        loop="uvloop",
        http=CoalescingProtocol,
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    from .gateway import Gateway

    config = load_config(args.config)
    # Building the gateway resolves every provider type, base URL and capability override; nothing is sent.
    gateway = Gateway(config)
    print(
        f"{args.config}: OK — {len(config.providers)} provider(s), {len(config.models)} model(s), "
        f"{len(config.routes)} route(s)"
    )
    for name in gateway.model_names:
        deployment = gateway.deployments.get(name)
        if deployment is not None:
            print(f"  model  {name:<24} {deployment.provider} → {deployment.model}")
        else:
            route = config.routes[name]
            print(f"  route  {name:<24} {' → '.join([*route.targets, *route.fallbacks])}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from .simulator import Simulator, load_sim_config

    config = load_sim_config(args.config) if args.config else None

    async def run() -> int:
        async with Simulator(config, host=args.host, port=args.port) as sim:
            print(
                f"switchyard simulator on {sim.base_url} (OpenAI: {sim.base_url}/v1, Anthropic and Gemini: "
                f"{sim.base_url}, Azure: {sim.base_url}/openai/deployments/...)",
                file=sys.stderr,
                flush=True,
            )
            await asyncio.Event().wait()
        return 0

    _run_loop(run())
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return _run_loop(run_demo(config_path=args.config))


def _usage(args: argparse.Namespace) -> int:
    from .governance.ledger.usage_cmd import usage_command

    return _run_loop(usage_command(args))


def _keys(args: argparse.Namespace) -> int:
    from .governance.keys_cmd import keys_command

    return _run_loop(keys_command(args))


def _eval(args: argparse.Namespace) -> int:
    from .evaluation.command import eval_command

    return _run_loop(
        eval_command(
            config=args.config,
            targets=[t.strip() for t in args.targets.split(",") if t.strip()],
            eval_set=args.set,
            data_dir=args.data,
            limit=args.limit,
            concurrency=args.concurrency,
            judge=args.judge,
            as_json=args.json,
            write_quality=args.write_quality,
        )
    )


def _experiments(args: argparse.Namespace) -> int:
    from .routing.experiments_cmd import experiments_command

    return experiments_command(args)


def _eval_router(args: argparse.Namespace) -> int:
    from .routing.strongweak.evaluate import eval_router_command

    return eval_router_command(data=args.data, artifact=args.artifact, as_json=args.json)


def _eval_cache(args: argparse.Namespace) -> int:
    from .cache.semantic.command import eval_cache_command

    return eval_cache_command(args)


def _eval_redaction(args: argparse.Namespace) -> int:
    from .redaction.evaluate import eval_redaction_command

    return eval_redaction_command(n=args.n, seed=args.seed, as_json=args.json, show=args.show)


def _run_loop(coro: Coroutine[Any, Any, int | None]) -> int:
    import uvloop  # ships with uvicorn[standard], a dependency

    try:
        result = uvloop.run(coro)
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard", description="A multi-provider LLM gateway.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP gateway")
    serve.add_argument("--config", "-c", type=Path, required=True)
    serve.add_argument("--host", default=None, help="default: server.host from the config (127.0.0.1)")
    serve.add_argument("--port", "-p", type=int, default=None, help="default: server.port from the config (4000)")
    serve.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=_serve)

    check = commands.add_parser("check", help="validate a configuration file")
    check.add_argument("--config", "-c", type=Path, required=True)
    check.set_defaults(func=_check)

    simulate = commands.add_parser("simulate", help="run the provider simulator")
    simulate.add_argument("--config", "-c", type=Path, default=None, help="faults and seed (YAML)")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", "-p", type=int, default=8100)
    simulate.set_defaults(func=_simulate)

    demo = commands.add_parser("demo", help="simulator + gateway + a scripted tour, no API keys needed")
    demo.add_argument("--config", "-c", type=Path, default=None, help="default: the bundled demo config")
    demo.set_defaults(func=_demo)

    from .governance.ledger.usage_cmd import add_arguments as usage_arguments

    usage = commands.add_parser("usage", help="usage and cost report from the ledger (table, CSV or JSON)")
    usage_arguments(usage)
    usage.set_defaults(func=_usage)

    from .governance.keys_cmd import add_arguments as keys_arguments

    keys = commands.add_parser("keys", help="create, list and revoke virtual keys")
    keys_arguments(keys)
    keys.set_defaults(func=_keys)

    evaluate = commands.add_parser("eval", help="run an eval set through models/routes: latency, cost, quality")
    evaluate.add_argument("--config", "-c", type=Path, required=True)
    evaluate.add_argument("--targets", "-t", required=True, help="models and routes to compare, comma-separated")
    evaluate.add_argument("--set", default="builtin", help="a JSONL eval set, 'builtin' (default) or 'gsm8k'")
    evaluate.add_argument("--data", type=Path, default=Path("../shared/data"), help="shared data, for --set gsm8k")
    evaluate.add_argument("--limit", type=int, default=None, help="only the first N items")
    evaluate.add_argument("--concurrency", type=int, default=8)
    evaluate.add_argument("--judge", default=None, help="model or route that grades 'judge' items")
    evaluate.add_argument("--json", action="store_true", help="print JSON (per target and per item), not a table")
    evaluate.add_argument("--write-quality", type=Path, default=None, help="write quality scores for routing")
    evaluate.set_defaults(func=_eval)

    from .routing.experiments_cmd import add_arguments as experiments_arguments

    experiments = commands.add_parser("experiments", help="A/B experiments of a running gateway, per arm")
    experiments_arguments(experiments)
    experiments.set_defaults(func=_experiments)

    eval_router = commands.add_parser(
        "eval-router", help="the learned strong/weak router vs random and length rules on held-out labels"
    )
    eval_router.add_argument(
        "--data", type=Path, default=None, help="default: $SWITCHYARD_ROUTING_DATA or ../shared/data/routing"
    )
    eval_router.add_argument("--artifact", type=Path, default=None, help="default: the bundled router artifact")
    eval_router.add_argument("--json", action="store_true", help="print JSON, not tables")
    eval_router.set_defaults(func=_eval_router)

    from .cache.semantic.command import add_arguments as eval_cache_arguments

    eval_cache = commands.add_parser(
        "eval-cache", help="the semantic cache's false-hit and hit rates vs static cosine, on held-out pairs"
    )
    eval_cache_arguments(eval_cache)
    eval_cache.set_defaults(func=_eval_cache)

    eval_redaction = commands.add_parser(
        "eval-redaction", help="PII detectors' precision/recall per type on a synthetic labelled sample (Faker)"
    )
    eval_redaction.add_argument("--n", type=int, default=2000, help="messages in the sample")
    eval_redaction.add_argument("--seed", type=int, default=8)
    eval_redaction.add_argument("--show", type=int, default=0, help="print up to N misses and false positives")
    eval_redaction.add_argument("--json", action="store_true", help="print JSON, not a table")
    eval_redaction.set_defaults(func=_eval_redaction)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"switchyard: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
