"""Traces, human assessments and the prompt registry of a tracking store."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from llmops_magics.tracking._store import mlflow_module

if TYPE_CHECKING:
    from llmops_magics.tracking._runs import Tracker

__all__ = ["Prompts", "Traces"]

#: MLflow's trace metadata key for the run a trace belongs to (``TraceMetadataKey.SOURCE_RUN``;
#: what the fluent API sets inside an active run)
_SOURCE_RUN = "mlflow.sourceRun"


class Traces:
    """The traces of a store: one per generated output, with the ratings attached to them.

    MLflow writes spans asynchronously; :meth:`flush` before reading back or attaching feedback
    to a trace just made.
    """

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    def _mlflow(self) -> Any:
        self.tracker.activate()
        return mlflow_module()

    def span(
        self,
        name: str,
        *,
        span_type: str = "LLM",
        inputs: Any = None,
        attributes: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        start_time_ns: int | None = None,
        parent: Any = None,
        run_id: str | None = None,
    ) -> Any:
        """Open a span (a new trace when ``parent`` is None); call ``.end(outputs=...)`` on it.

        Parameters
        ----------
        name, span_type
            What the span is (``LLM``, ``CHAIN``...).
        inputs, attributes
            Its inputs and attributes.
        tags
            Trace tags (a root span only).
        start_time_ns
            When it started, for spans recorded after the fact.
        parent
            The parent span, for a child span.
        run_id
            The run that made the trace: ``search(run_id=...)`` and the MLflow UI then list the
            trace under that run (a root span only).
        """
        metadata = {_SOURCE_RUN: run_id} if run_id and parent is None else None
        return self._mlflow().start_span_no_context(
            name,
            span_type=span_type,
            parent_span=parent,
            inputs=inputs,
            attributes=dict(attributes or {}),
            tags=None if parent is not None else dict(tags or {}),
            metadata=metadata,
            # a child span belongs to its parent's trace; MLflow fails on an experiment id there
            experiment_id=self.tracker.experiment_id if parent is None else None,
            start_time_ns=start_time_ns,
        )

    def flush(self) -> None:
        """Wait until every span ended so far is written."""
        self._mlflow().flush_trace_async_logging()

    def search(
        self,
        filter: str | None = None,
        *,
        include_spans: bool = False,
        max_results: int | None = None,
        all_experiments: bool = True,
        run_id: str | None = None,
    ) -> list[Any]:
        """Traces (MLflow ``Trace`` entities) matching an MLflow trace filter (and of a run)."""
        mlflow = self._mlflow()
        client = self.tracker.client
        locations = (
            [e.experiment_id for e in client.search_experiments()]
            if all_experiments
            else [self.tracker.experiment_id]
        )
        return list(
            mlflow.search_traces(
                locations=locations,
                filter_string=filter,
                max_results=max_results,
                run_id=run_id,
                return_type="list",
                include_spans=include_spans,
            )
        )

    def of_models(self, models: Collection[str], *, tagged: str | None = None) -> list[Any]:
        """The traces (with assessments, without spans) that name one of ``models`` by their
        model tag or in an assessment's metadata; ``tagged``: only those with that tag set to
        ``'true'``. A SQL store reads only these; a server gives every ``tagged`` trace (the
        caller keeps its models' rows). See ``_bulk.read_traces``; a local SQLite store is read
        with :mod:`sqlite3` (``_rated.read_model_traces``: the same traces, several times faster
        than through MLflow's entities)."""
        from llmops_magics.tracking._bulk import read_traces
        from llmops_magics.tracking._rated import read_model_traces
        from llmops_magics.tracking._tags import MODEL

        if self.tracker.uri.startswith("sqlite:///"):
            self.flush()  # what this process still holds is written before the file is read
            found = read_model_traces(self.tracker.uri, models, MODEL, tagged=tagged)
            if found is not None:
                return found
        return read_traces(self.tracker, models, tagged=tagged)

    def delete(self, trace_ids: list[str]) -> None:
        """Delete traces of the tracker's experiment (half-written ones a killed process left)."""
        if trace_ids:
            self.tracker.client.delete_traces(self.tracker.experiment_id, trace_ids=trace_ids)

    def get(self, trace_id: str) -> Any:
        """One trace by id, or None."""
        return self._mlflow().get_trace(trace_id)

    def set_tag(self, trace_id: str, key: str, value: str) -> None:
        """Tag a trace."""
        self._mlflow().set_trace_tag(trace_id, key, value)

    def log_feedback(
        self,
        trace_id: str,
        *,
        name: str,
        value: Any,
        rater: str,
        rationale: str | None = None,
        metadata: Mapping[str, str] | None = None,
        replaces: str | None = None,
    ) -> Any:
        """Attach a human rating to a trace (or replace the assessment ``replaces``).

        Returns the MLflow ``Assessment``.
        """
        from mlflow.entities import AssessmentSource

        mlflow = self._mlflow()
        common = {
            "value": value,
            "source": AssessmentSource(source_type="HUMAN", source_id=rater),
            "rationale": rationale,
            "metadata": dict(metadata or {}),
        }
        if replaces is None:
            return mlflow.log_feedback(trace_id=trace_id, name=name, **common)
        return mlflow.override_feedback(trace_id=trace_id, assessment_id=replaces, **common)


class Prompts:
    """The prompt registry of a store (MLflow's ``prompts:/NAME/VERSION``)."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    def versions(self, name: str) -> list[Any]:
        """Every stored version of prompt ``name`` ([] for an unknown name)."""
        try:
            found = self.tracker.client.search_prompt_versions(name)
        except Exception as exc:  # MLflow raises its own "not found" for an unknown prompt
            text = str(exc).lower()
            if "not found" in text or "does not exist" in text:
                return []
            raise
        return sorted(getattr(found, "prompt_versions", found), key=lambda v: int(v.version))

    def names(self) -> list[str]:
        """The names of every stored prompt."""
        names: list[str] = []
        token = None
        while True:
            page = self.tracker.client.search_prompts(max_results=1000, page_token=token)
            names.extend(p.name for p in page)
            token = getattr(page, "token", None)
            if not token:
                return names

    def register(
        self, name: str, template: str, *, message: str | None = None, tags: Mapping[str, str]
    ) -> Any:
        """Store a new version of prompt ``name`` and return it."""
        return self.tracker.client.register_prompt(
            name, template, commit_message=message, tags=dict(tags)
        )

    def link(self, run_id: str, uri: str) -> None:
        """Record that a run used the prompt version ``uri``."""
        self.tracker.client.link_prompt_version_to_run(run_id, uri)
