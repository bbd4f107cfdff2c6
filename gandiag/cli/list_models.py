"""``gandiag list-models``: the registered reference models and datasets."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "list-models",
        help="list the reference models and datasets with their options",
        description="List the registered reference models (with their paper, architecture "
        "options and training defaults) and the registered datasets.",
    )
    p.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="also print each model's options and training defaults",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gandiag.data import DATASETS, list_datasets
    from gandiag.reference_models import MODELS, list_models

    print("models:")
    width = max(len(n) for n in MODELS)
    kw = max(len(s.kind) for s in MODELS.values())
    for name in list_models():
        spec = MODELS[name]
        print(f"  {name:<{width}}  {spec.kind:<{kw}}  {spec.summary} ({spec.reference})")
        if args.verbose:
            print(f"  {'':<{width}}  {'':<{kw}}  options: {_fmt(spec.options)}")
            print(f"  {'':<{width}}  {'':<{kw}}  training: {_fmt(spec.training)}")
    print("datasets:")
    width = max(len(n) for n in DATASETS)
    for name in list_datasets():
        spec = DATASETS[name]
        print(f"  {name:<{width}}  {spec.summary}")
        if args.verbose:
            print(f"  {'':<{width}}  options: {_fmt(spec.options)}")
    return 0


def _fmt(d) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in d.items())
