"""Subcommands of review: review, gates, policy, approve, reject, request-changes, card.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the governance
API, return its result object; stage code runs inside the functions.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics.magics._commands import Context, UsageProblem, command

__all__: list[str] = []


def _version_args(p: argparse.ArgumentParser, *, alias_help: str) -> None:
    p.add_argument("name", metavar="NAME", help="the registered model")
    p.add_argument(
        "--version", required=True, metavar="V", help="the version (a number or an alias)"
    )
    p.add_argument("--alias", metavar="ALIAS", help=alias_help)


def _review_args(p: argparse.ArgumentParser) -> None:
    _version_args(p, alias_help="the alias it is reviewed for (default: the policy's only one)")
    p.add_argument("--policy", metavar="FILE", help="a YAML policy (default: the model's own)")
    p.add_argument("--no-card", action="store_true", help="do not draft the model card")


@command(
    "review",
    "review a registered version: evidence, gates with links, card draft, sign-off buttons",
    _review_args,
)
def _review(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import governance

    return governance.review(
        args.name, args.version, alias=args.alias, policy=args.policy, card=not args.no_card
    )


def _gates_args(p: argparse.ArgumentParser) -> None:
    _version_args(p, alias_help="the alias whose gates to judge (default: every alias)")
    p.add_argument("--policy", metavar="FILE", help="a YAML policy (default: the model's own)")


@command(
    "gates",
    "judge a version against its policy now: each gate pass, fail or missing, with its run",
    _gates_args,
)
def _gates(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import governance

    return governance.evaluate(args.name, args.version, args.alias, policy=args.policy)


def _policy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="the registered model")
    p.add_argument("file", nargs="?", metavar="FILE", help="a YAML policy to store with it")
    p.add_argument("--user", metavar="NAME", help="who sets it (default: $LLMOPS_USER or login)")


@command(
    "policy",
    "store a YAML policy with a registered model (recorded in its audit trail), or show it",
    _policy_args,
)
def _policy(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import governance

    if args.file is None:
        return governance.model_policy(args.name).text
    return governance.set_policy(args.name, args.file, user=args.user)


def _signoff_args(p: argparse.ArgumentParser) -> None:
    _version_args(p, alias_help="the alias the decision is about (recorded with it)")
    p.add_argument("--comment", default="", metavar="TEXT", help="why (needed but to approve)")
    p.add_argument("--user", metavar="NAME", help="who decides (default: $LLMOPS_USER or login)")


def _sign(decision: str, args: argparse.Namespace) -> Any:
    from llmops_magics import governance

    return governance.sign_off(
        args.name,
        args.version,
        decision,
        user=args.user,
        comment=args.comment,
        alias=args.alias,
    )


@command("approve", "approve a registered version (someone other than its author)", _signoff_args)
def _approve(args: argparse.Namespace, ctx: Context) -> Any:
    return _sign("approve", args)


@command("reject", "reject a registered version, with a --comment", _signoff_args)
def _reject(args: argparse.Namespace, ctx: Context) -> Any:
    return _sign("reject", args)


@command("request-changes", "ask for changes to a version, with a --comment", _signoff_args)
def _request_changes(args: argparse.Namespace, ctx: Context) -> Any:
    return _sign("request_changes", args)


def _card_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="NAME@ALIAS|NAME/VERSION", help="the registered version")
    for flag, what in (
        ("--intended-use", "who should use it, for what (Markdown)"),
        ("--factors", "groups and conditions whose performance may differ"),
        ("--ethical-considerations", "risks, harms and mitigations"),
        ("--caveats", "what was not tested; recommendations"),
    ):
        p.add_argument(flag, metavar="TEXT", help=what)
    p.add_argument("--no-save", action="store_true", help="draft only: do not store it")


@command(
    "card",
    "write a Hugging Face model card of a registered version from its lineage",
    _card_args,
)
def _card(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import governance

    if "@" not in args.spec and "/" not in args.spec.removeprefix("models:/"):
        raise UsageProblem("card: write NAME@ALIAS or NAME/VERSION (e.g. qa/2, qa@champion)")
    return governance.model_card(
        args.spec,
        intended_use=args.intended_use,
        factors=args.factors,
        ethical_considerations=args.ethical_considerations,
        caveats=args.caveats,
        save=not args.no_save,
    )
