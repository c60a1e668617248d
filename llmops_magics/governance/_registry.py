"""Registered models: a fine-tune's adapter, a merged model or the embedded base as a version of
an MLflow registered model, with its lineage in version tags; look-ups by version or alias.

>>> from llmops_magics import governance
>>> v = governance.register("run:abc123", name="support-bot")  # doctest: +SKIP
>>> governance.get_version("support-bot", "champion").spec  # doctest: +SKIP
'run:abc123'
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics import tracking
from llmops_magics.governance._errors import GovernanceError, RegistryLookupError
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LINEAGE_TAGS",
    "RegistryListing",
    "Version",
    "current_user",
    "get_version",
    "list_models",
    "register",
    "versions",
]

#: the run tags a version copies from its fine-tune run: its lineage
LINEAGE_TAGS = (
    tracking.BASE_MODEL,
    tracking.BASE_MODEL_HASH,
    tracking.DATA_HASH,
    tracking.EVAL_DATA_HASH,
    tracking.PROMPT_VERSION,
    tracking.SEED,
    tracking.METHOD,
)
#: a version tag: the content hash of the version's own files (the adapter's, or the model's)
WEIGHTS_HASH = tracking.PREFIX + "weights_hash"


def current_user() -> str:
    """Who is acting: ``$LLMOPS_USER``, else the login name."""
    return os.environ.get("LLMOPS_USER") or getpass.getuser()


@dataclass(frozen=True)
class Version(Result):
    """One version of a registered model.

    ``source`` is the llmops model spec that loads it (``run:<id>``, ``smollm2``, a folder);
    ``spec`` is its ``models:/NAME/VERSION`` spec; ``aliases`` are the aliases on it now.
    """

    name: str
    version: str
    run_id: str | None
    source: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    author: str = ""
    created: int = 0
    description: str = ""

    _title = "registered version"

    @property
    def spec(self) -> str:
        """``models:/NAME/VERSION``."""
        return f"models:/{self.name}/{self.version}"

    def to_frame(self) -> pd.DataFrame:
        """The fields as a two-column table."""
        return self.fields_frame()

    def _summary(self) -> str:
        on = f" @{', @'.join(self.aliases)}" if self.aliases else ""
        return f"{self.spec}{on}: {self.source} (by {self.author or '?'})"

    def __repr__(self) -> str:
        return f"Version({self._summary()})"


def _version(entity: Any, aliases: tuple[str, ...] | None = None) -> Version:
    tags = dict(entity.tags or {})
    return Version(
        name=entity.name,
        version=str(entity.version),
        run_id=entity.run_id or None,
        source=tags.get(tracking.SPEC, entity.source or ""),
        tags=tags,
        aliases=tuple(entity.aliases or ()) if aliases is None else aliases,
        author=tags.get(tracking.AUTHOR, ""),
        created=int(entity.creation_timestamp or 0),
        description=entity.description or "",
    )


def _require_model(reg: tracking.ModelRegistry, name: str) -> Any:
    if not tracking.valid_name(name):
        raise RegistryLookupError(
            f"{name!r} is not a registered model name.",
            hint="Names use letters, digits, '.', '_' and '-'; list them with %llmops registry.",
        )
    model = reg.get_model(name)
    if model is None:
        known = ", ".join(m.name for m in reg.models()[:20]) or "(none yet)"
        raise RegistryLookupError(
            f"There is no registered model {name!r} in {reg.tracker.uri}.",
            hint=f"Registered models: {known}. Register one with %llmops register SPEC --name "
            f"{name}.",
        )
    return model


def get_version(name: str, version_or_alias: str | int) -> Version:
    """The version ``version_or_alias`` (a number, or an alias such as ``champion``) of
    ``name``.

    Raises
    ------
    RegistryLookupError
        For an unknown model, version or alias; the message lists the ones that exist.
    """
    reg = tracking.model_registry()
    model = _require_model(reg, name)
    wanted = str(version_or_alias).strip().lstrip("@")
    if wanted.isdigit():
        entity = reg.get_version(name, wanted)
        if entity is None:
            known = ", ".join(str(v.version) for v in reg.versions(name)) or "(none)"
            raise RegistryLookupError(
                f"The registered model {name!r} has no version {wanted}.",
                hint=f"Its versions: {known}.",
            )
        return _version(entity)
    entity = reg.version_by_alias(name, wanted) if tracking.valid_name(wanted) else None
    if entity is None:
        aliases = dict(model.aliases or {})
        known = ", ".join(f"@{a} (version {v})" for a, v in sorted(aliases.items())) or "(none)"
        raise RegistryLookupError(
            f"The registered model {name!r} has no alias {wanted!r}.",
            hint=f"Its aliases: {known}. Give a version number or one of them.",
        )
    return _version(entity)


def parse(spec: str) -> Version:
    """The version that a ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` spec names."""
    parsed = tracking.parse_model_uri(spec)
    if parsed is None:
        raise RegistryLookupError(
            f"Cannot read the registered model spec {spec!r}.",
            hint="Write models:/NAME/VERSION (a number) or models:/NAME@ALIAS.",
        )
    return get_version(parsed.name, parsed.version or parsed.alias or "")


def versions(name: str) -> list[Version]:
    """Every version of ``name``, oldest first, with the aliases on each."""
    reg = tracking.model_registry()
    model = _require_model(reg, name)
    on: dict[str, list[str]] = {}
    for alias, number in sorted((model.aliases or {}).items()):
        on.setdefault(str(number), []).append(alias)
    return [_version(v, tuple(on.get(str(v.version), ()))) for v in reg.versions(name)]


def _lineage(ref: Any) -> tuple[str | None, dict[str, str]]:
    """The run a resolved spec came from and the lineage tags for its version."""
    tags = {tracking.MODEL_KIND: ref.kind}
    run_id = ref.meta.get("run_id")
    if run_id is None and not ref.is_remote:
        merged = Path(ref.path) / "llmops_merge.json"  # a merged model names its adapter's run
        if merged.is_file():
            with_run = json.loads(merged.read_text(encoding="utf-8"))
            run_id = with_run.get("run_id")
            tags[tracking.PREFIX + "merged_from"] = str(with_run.get("merged_from", ""))
    if run_id:
        run_tags = tracking.tracker().get_run(run_id).data.tags
        tags |= {k: run_tags[k] for k in LINEAGE_TAGS if run_tags.get(k)}
    elif ref.base is None:
        tags[tracking.BASE_MODEL] = ref.spec
        tags[tracking.BASE_MODEL_HASH] = ref.content_hash
    tags[WEIGHTS_HASH] = ref.content_hash
    return run_id, tags


def register(
    spec: str,
    name: str,
    *,
    author: str | None = None,
    description: str | None = None,
    tags: dict[str, str] | None = None,
) -> Version:
    """Register the model ``spec`` as a new version of the registered model ``name``.

    ``spec`` is a fine-tune's adapter (``run:<id>``), a merged model's folder or the embedded
    base (``smollm2``). The version links to its run (and an MLflow LoggedModel made from it),
    carries the lineage as tags (base model and hash, data hash, prompt version, seed, author)
    and the registration is appended to the model's audit trail.

    Parameters
    ----------
    spec
        The model spec to register.
    name
        The registered model (created on first use).
    author
        Who registers it (default :func:`current_user`).
    """
    from llmops_magics import models
    from llmops_magics.governance import _audit

    if not tracking.valid_name(name):
        raise GovernanceError(
            f"{name!r} cannot be a registered model name.",
            hint="Use letters, digits, '.', '_' and '-' (up to 200), starting with a letter or "
            "digit.",
        )
    if isinstance(spec, str) and spec.strip().startswith("models:/"):
        raise GovernanceError(
            f"{spec!r} is registered already.",
            hint="Register the spec it came from (run:<id>, a folder or smollm2).",
        )
    ref = models.resolve(spec)
    if ref.is_remote:
        raise GovernanceError(
            f"{spec!r} is a remote model: its weights are not in this store.",
            hint="Register a fine-tune run (run:<id>), a model folder or smollm2.",
        )
    run_id, lineage = _lineage(ref)
    who = author or current_user()
    all_tags = lineage | dict(tags or {}) | {tracking.SPEC: ref.spec, tracking.AUTHOR: who}
    reg = tracking.model_registry()
    reg.ensure_model(name)
    source = f"runs:/{run_id}/adapter" if ref.kind == "run" else str(ref.path)
    entity = reg.create_version(
        name, source=source, run_id=run_id, tags=all_tags, description=description
    )
    version = _version(entity)
    payload = {"version": version.version, "spec": ref.spec, "run_id": run_id, "tags": all_tags}
    try:
        _audit.append(name, "register", payload, who)
    except BaseException:
        reg.delete_version(name, version.version)  # no version without its record
        raise
    return version


@dataclass(frozen=True)
class RegistryListing(Result):
    """Registered models with their versions, aliases and each version's gate status."""

    rows: list[dict[str, Any]]

    _title = "registry"

    def to_frame(self) -> pd.DataFrame:
        """One row per version (or per model, when listing all models)."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def _summary(self) -> str:
        return f"registry: {len(self.rows)} row(s)"

    def __repr__(self) -> str:
        return self.to_frame().to_string(index=False) if self.rows else "registry: (empty)"


def list_models(name: str | None = None, *, gates: bool = True) -> RegistryListing:
    """Registered models (``name`` None) or the versions of ``name``, with aliases and, for
    each version, the status of its gates for every alias of the policy (pass / fail /
    missing, from :func:`governance.evaluate`)."""
    reg = tracking.model_registry()
    if name is None:
        rows = []
        for model in reg.models():
            found = reg.versions(model.name)
            aliases = dict(model.aliases or {})
            rows.append(
                {
                    "model": model.name,
                    "versions": len(found),
                    "latest": str(found[-1].version) if found else "",
                    "aliases": ", ".join(f"@{a}={v}" for a, v in sorted(aliases.items())),
                }
            )
        return RegistryListing(rows)
    rows = []
    for v in versions(name):
        row: dict[str, Any] = {
            "model": v.name,
            "version": v.version,
            "aliases": ", ".join(f"@{a}" for a in v.aliases),
            "source": v.source,
            "author": v.author,
            "base_model": v.tags.get(tracking.BASE_MODEL, ""),
            "data_hash": v.tags.get(tracking.DATA_HASH, "")[:12],
        }
        if gates:
            row["gates"] = _gate_status(v)
        rows.append(row)
    return RegistryListing(rows)


def _gate_status(v: Version) -> str:
    """``alias: pass|fail|missing`` for each alias of the model's policy (or why there is none)."""
    from llmops_magics.governance import _gates

    try:
        status = _gates.gate_status(v.name, v.version)
    except GovernanceError as exc:
        return f"(no policy: {exc.message})"
    return "; ".join(f"@{alias}: {s}" for alias, s in status.items()) or "(no gates)"
