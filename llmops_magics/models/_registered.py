"""``models:/NAME/VERSION`` and ``models:/NAME@ALIAS``: a registered version, loaded from the spec
it was registered from (its ``llmops.spec`` tag). An alias is looked up at each resolve, so a
server that resolves again picks up an alias that moved."""

from __future__ import annotations

from dataclasses import replace

from llmops_magics.errors import ModelNotFoundError
from llmops_magics.models._sources import ModelRef, ModelSource

__all__ = ["RegisteredSource"]

_HINT = "List registered models with %llmops registry."


class RegisteredSource(ModelSource):
    """Versions of the workspace store's registered models."""

    syntax = "models:/NAME/VERSION or models:/NAME@ALIAS"

    def handles(self, spec: str) -> bool:
        return spec.startswith("models:/")

    def resolve(self, spec: str) -> ModelRef:
        from llmops_magics import tracking
        from llmops_magics.models._sources import resolve

        parsed = tracking.parse_model_uri(spec)
        if parsed is None:
            raise ModelNotFoundError(
                spec, "write models:/NAME/VERSION (a number) or models:/NAME@ALIAS."
            )
        reg = tracking.model_registry()
        model = reg.get_model(parsed.name)
        if model is None:
            known = ", ".join(m.name for m in reg.models()[:20]) or "none yet"
            raise ModelNotFoundError(
                spec,
                f"there is no registered model {parsed.name!r} (registered: {known}). {_HINT}",
            )
        if parsed.alias is not None:
            entity = reg.version_by_alias(parsed.name, parsed.alias)
            if entity is None:
                aliases = dict(model.aliases or {})
                known = ", ".join(f"@{a}" for a in sorted(aliases)) or "none"
                raise ModelNotFoundError(
                    spec, f"{parsed.name!r} has no alias {parsed.alias!r} (its aliases: {known})."
                )
        else:
            entity = reg.get_version(parsed.name, parsed.version or "")
            if entity is None:
                known = ", ".join(str(v.version) for v in reg.versions(parsed.name)) or "none"
                raise ModelNotFoundError(
                    spec,
                    f"{parsed.name!r} has no version {parsed.version} (its versions: {known}).",
                )
        source = (entity.tags or {}).get(tracking.SPEC)
        if not source:
            raise ModelNotFoundError(
                spec,
                f"version {entity.version} of {parsed.name!r} was not registered by llmops-magics "
                f"(it has no {tracking.SPEC} tag). Register a spec with %llmops register.",
            )
        inner = resolve(source)
        meta = dict(inner.meta) | {
            "registered_model": parsed.name,
            "registered_version": str(entity.version),
            "registered_from": source,
        }
        if parsed.alias is not None:
            meta["alias"] = parsed.alias
        if entity.run_id:
            meta.setdefault("run_id", entity.run_id)
        return replace(
            inner,
            spec=spec,
            kind="registered",
            description=f"{parsed.name} version {entity.version}: {inner.description}",
            meta=meta,
        )
