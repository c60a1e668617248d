"""The MLflow model registry of a workspace's store: registered models, versions, aliases, and
the write-once records that governance's audit trail keeps in the same store.

Stages never import mlflow: governance and the ``models:/`` spec source use :class:`ModelRegistry`.
A missing model, version or alias is ``None`` here; the callers turn it into their own error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from llmops_magics.tracking._runs import Tracker, tracker
from llmops_magics.tracking._store import TrackingError

__all__ = [
    "AUDIT_EXPERIMENT",
    "AUDIT_FOR",
    "AUDIT_HEAD",
    "AUTHOR",
    "LOGGED_MODEL",
    "SPEC",
    "ModelRegistry",
    "RegisteredSpec",
    "model_registry",
    "parse_model_uri",
    "valid_name",
]

#: a version tag: the llmops model spec that loads the version (``run:<id>``, ``smollm2``, a path)
SPEC = "llmops.spec"
#: a version tag: who registered it
AUTHOR = "llmops.author"
#: a version tag: the id of the MLflow LoggedModel the version was registered from
LOGGED_MODEL = "llmops.logged_model"
#: a registered model tag: the sequence number and hash of the newest audit record
AUDIT_HEAD = "llmops.audit.head"
#: a tag of the run that keeps a registered model's audit records: the model's name
AUDIT_FOR = "llmops.audit_for"
#: the experiment that holds the audit runs (one per registered model)
AUDIT_EXPERIMENT = "llmops-audit"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")


class RegisteredSpec(tuple[str, str | None, str | None]):
    """``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` read as ``(name, version, alias)``."""

    @property
    def name(self) -> str:
        return self[0]

    @property
    def version(self) -> str | None:
        return self[1]

    @property
    def alias(self) -> str | None:
        return self[2]


def parse_model_uri(spec: str) -> RegisteredSpec | None:
    """``(name, version, alias)`` of a ``models:/`` spec; None when ``spec`` is not one, or is
    malformed (``models:/`` with no name, a version that is not a number...)."""
    if not isinstance(spec, str) or not spec.startswith("models:/"):
        return None
    rest = spec.removeprefix("models:/").strip()
    if "@" in rest:
        name, _, alias = rest.partition("@")
        if _NAME.match(name) and _NAME.match(alias):
            return RegisteredSpec((name, None, alias))
        return None
    name, sep, version = rest.partition("/")
    if sep and _NAME.match(name) and version.isdigit() and int(version) > 0:
        return RegisteredSpec((name, str(int(version)), None))
    return None


def valid_name(name: str) -> bool:
    """Whether ``name`` can be a registered model's name or an alias here."""
    return isinstance(name, str) and bool(_NAME.match(name))


def _missing(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    text = str(exc)
    return code == "RESOURCE_DOES_NOT_EXIST" or (
        code == "INVALID_PARAMETER_VALUE" and "not found" in text
    )


class ModelRegistry:
    """The registry of one store (a :class:`Tracker`'s): thin calls over ``MlflowClient``."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.client = tracker.client

    def __repr__(self) -> str:
        return f"ModelRegistry({self.tracker.uri!r})"

    # -- models ------------------------------------------------------------------------------

    def get_model(self, name: str) -> Any | None:
        """The registered model ``name`` (with ``aliases`` and ``tags``), or None."""
        try:
            return self.client.get_registered_model(name)
        except Exception as exc:
            if _missing(exc):
                return None
            raise TrackingError(f"Cannot read the registered model {name!r}: {exc}") from exc

    def ensure_model(self, name: str, *, description: str | None = None) -> bool:
        """Create the registered model ``name`` unless it exists; True when created here."""
        try:
            self.client.create_registered_model(name, description=description)
        except Exception as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_ALREADY_EXISTS":
                return False
            raise TrackingError(f"Cannot create the registered model {name!r}: {exc}") from exc
        return True

    def models(self) -> list[Any]:
        """Every registered model of the store, by name."""
        found: list[Any] = []
        token = None
        while True:
            page = self.client.search_registered_models(max_results=1000, page_token=token)
            found.extend(page)
            token = getattr(page, "token", None)
            if not token:
                return sorted(found, key=lambda m: m.name)

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        """Set a tag on a registered model."""
        self.client.set_registered_model_tag(name, key, value)

    # -- versions ----------------------------------------------------------------------------

    def create_version(
        self,
        name: str,
        *,
        source: str,
        run_id: str | None,
        tags: Mapping[str, str],
        description: str | None = None,
        logged_model: bool = True,
    ) -> Any:
        """A new version of ``name`` (which must exist), registered from an MLflow 3
        LoggedModel made for it (linked to ``run_id`` when there is one; its id in the
        :data:`LOGGED_MODEL` tag), so the MLflow UI links version, model and run. ``source``
        (where the files are) is kept in the LoggedModel's tags: a tracking server refuses a
        local path as a version's source.
        """
        all_tags = {str(k): str(v) for k, v in tags.items()}
        model_id = None
        if logged_model:
            self.tracker.activate()  # the registry resolves models:/m-... through the global URI
            experiment = (
                self.client.get_run(run_id).info.experiment_id
                if run_id
                else self.tracker.experiment_id
            )
            made = self.client.create_logged_model(
                experiment,
                name=name,
                source_run_id=run_id,
                tags={SPEC: all_tags.get(SPEC, ""), "llmops.source": source},
            )
            self.client.finalize_logged_model(made.model_id, "READY")
            model_id = made.model_id
            all_tags[LOGGED_MODEL] = model_id
            source = f"models:/{model_id}"
        return self.client.create_model_version(
            name,
            source=source,
            run_id=run_id,
            tags=all_tags,
            description=description,
            model_id=model_id,
        )

    def get_version(self, name: str, version: str) -> Any | None:
        """Version ``version`` of ``name``, or None."""
        try:
            return self.client.get_model_version(name, str(version))
        except Exception as exc:
            if _missing(exc):
                return None
            raise TrackingError(f"Cannot read version {version} of {name!r}: {exc}") from exc

    def version_by_alias(self, name: str, alias: str) -> Any | None:
        """The version that ``alias`` of ``name`` points to, or None."""
        try:
            return self.client.get_model_version_by_alias(name, alias)
        except Exception as exc:
            if _missing(exc):
                return None
            raise TrackingError(f"Cannot read alias {alias!r} of {name!r}: {exc}") from exc

    def versions(self, name: str) -> list[Any]:
        """Every version of ``name``, oldest first."""
        escaped = name.replace("'", "\\'")
        found = list(self.client.search_model_versions(f"name = '{escaped}'", max_results=10000))
        return sorted(found, key=lambda v: int(v.version))

    def delete_version(self, name: str, version: str) -> None:
        """Delete a version (used to undo a registration that could not be recorded)."""
        self.client.delete_model_version(name, str(version))

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        """Set a tag on a version."""
        self.client.set_model_version_tag(name, str(version), key, value)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` of ``name`` at ``version``."""
        self.client.set_registered_model_alias(name, alias, str(version))

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``alias`` from ``name``."""
        self.client.delete_registered_model_alias(name, alias)

    # -- write-once records ------------------------------------------------------------------

    def records_run(self, name: str, *, create: bool = True) -> str | None:
        """The id of the run that keeps ``name``'s audit records (made on first use).

        Two processes that make it at once each make one; both then keep the oldest and the
        other is deleted, so every writer ends up on the same run.
        """
        from llmops_magics.tracking._store import experiment_id

        exp = experiment_id(AUDIT_EXPERIMENT, self.tracker.workspace)
        escaped = name.replace("'", "\\'")
        query = f"tags.`{AUDIT_FOR}` = '{escaped}'"
        order = ["attributes.start_time ASC", "attributes.run_id ASC"]
        found = self.client.search_runs([exp], query, max_results=10, order_by=order)
        if found:
            return str(found[0].info.run_id)
        if not create:
            return None
        made = self.client.create_run(
            exp, tags={AUDIT_FOR: name, "llmops.stage": "audit"}, run_name=f"audit {name}"
        )
        self.client.set_terminated(made.info.run_id, "FINISHED")
        found = self.client.search_runs([exp], query, max_results=10, order_by=order)
        keep = str(found[0].info.run_id)
        if keep != made.info.run_id:
            self.client.delete_run(made.info.run_id)
        return keep

    def write_once(self, run_id: str, key: str, value: str) -> bool:
        """Store ``value`` under ``key`` in run ``run_id``, once: False when the key already holds
        another value (someone else wrote it first). MLflow parameters cannot be changed, so the
        store itself arbitrates between concurrent writers."""
        try:
            self.client.log_param(run_id, key, value)
        except Exception as exc:
            if "Changing param values is not allowed" in str(exc):
                return False
            raise TrackingError(f"Cannot write {key!r} to run {run_id}: {exc}") from exc
        return True

    def write_many(self, run_id: str, values: Mapping[str, str]) -> None:
        """Store several write-once values in batches (bulk loading, benchmarks)."""
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in values.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i : i + 100])

    def read_all(self, run_id: str, prefix: str) -> dict[str, str]:
        """Every value of run ``run_id`` whose key starts with ``prefix``."""
        params = self.client.get_run(run_id).data.params
        return {k: v for k, v in params.items() if k.startswith(prefix)}


def model_registry(t: Tracker | None = None) -> ModelRegistry:
    """The :class:`ModelRegistry` of a tracker's store (default: the active workspace's)."""
    return ModelRegistry(t or tracker())
