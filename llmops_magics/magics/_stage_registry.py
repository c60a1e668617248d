"""Subcommands of the registry: register, registry, promote, rollback, audit.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the governance
API, return its result object; stage code runs inside the functions.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics.magics._commands import Context, UsageProblem, command

__all__: list[str] = []


def _register_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "spec", metavar="SPEC", help="run:<id> (a fine-tune's adapter), a model folder or smollm2"
    )
    p.add_argument("--name", required=True, metavar="NAME", help="the registered model")
    p.add_argument("--author", metavar="USER", help="who registers it (default: $LLMOPS_USER)")
    p.add_argument("--description", metavar="TEXT", help="the version's description")


@command(
    "register",
    "register a fine-tune's adapter, a merged model or the base as a version of a registered "
    "model (lineage in its tags, a record in its audit trail)",
    _register_args,
)
def _register(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import governance

    return governance.register(
        args.spec, args.name, author=args.author, description=args.description
    )


def _registry_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="NAME", help="list this model's versions")
    p.add_argument(
        "--no-gates", action="store_true", help="do not judge each version's gates (faster)"
    )


@command(
    "registry",
    "registered models, or one model's versions with their aliases and gate status",
    _registry_args,
)
def _registry(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import governance

    return governance.list_models(args.name, gates=not args.no_gates)


def _actor(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", metavar="USER", help="who acts (default: $LLMOPS_USER)")


def _promote_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="the registered model")
    p.add_argument("--version", required=True, metavar="V", help="the version (or an alias)")
    p.add_argument("--alias", default="champion", metavar="ALIAS", help="default: champion")
    p.add_argument(
        "--override",
        action="store_true",
        help="break the glass past failing gates (recorded; only if the policy allows it)",
    )
    p.add_argument("--reason", metavar="TEXT", help="why the override (required with it)")
    p.add_argument("--policy", metavar="FILE", help="judge by this YAML policy file instead")
    _actor(p)


@command(
    "promote",
    "move an alias to a version when every gate of the policy passes now (recorded)",
    _promote_args,
)
def _promote(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import governance

    if args.reason and not args.override:
        raise UsageProblem("--reason goes with --override")
    return governance.promote(
        args.name,
        args.version,
        args.alias,
        user=args.user,
        override=args.override,
        reason=args.reason,
        policy=args.policy,
    )


def _rollback_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="the registered model")
    p.add_argument("--alias", default="champion", metavar="ALIAS", help="default: champion")
    _actor(p)


@command(
    "rollback",
    "return an alias to the version that held it before its last promotion (recorded)",
    _rollback_args,
)
def _rollback(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import governance

    return governance.rollback(args.name, args.alias, user=args.user)


def _audit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="the registered model")
    p.add_argument(
        "--verify",
        action="store_true",
        help="recompute the hash chain; find edited or deleted records and aliases moved "
        "outside the gate",
    )


@command(
    "audit",
    "a registered model's audit trail (register, sign-offs, promotions, rollbacks, overrides)",
    _audit_args,
)
def _audit(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import governance

    if not args.verify:
        return governance.history(args.name)
    report = governance.verify(args.name)
    if not report.ok:  # a tampered trail stops the cell (and a pipeline), saying what is wrong
        raise governance.AuditError(
            f"The audit trail of {args.name!r} does not verify: "
            + "; ".join(f.detail for f in report.findings)
            + ".",
            hint="Restore the store from a backup, or record how the alias got there; "
            f"governance.verify({args.name!r}) returns the report.",
        )
    return report
