"""One MLflow trace per request, in a ``serve`` run; feedback on those traces.

The trace is opened when a request reaches a model, so its id is known before the first byte
is sent: it is the response's ``id``, and ``POST /v1/feedback`` attaches ratings to it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from llmops_magics import tracking
from llmops_magics.serving._errors import ApiError

__all__ = ["Tracer", "feedback_value"]

log = logging.getLogger("llmops_magics.serving")

#: MLflow drops traces when its export queue (1,000 tasks, two a trace) overflows: flush often
_FLUSH_EVERY = 100
#: the assessment names and trace tag that the feedback stage reads (``llmops.stars``...)
_RATING = tracking.PREFIX + "{mode}"
_RATED = tracking.PREFIX + "feedback"
_THUMBS = {"up": "up", "down": "down", "+1": "up", "-1": "down"}


class Tracer:
    """Opens and ends request traces; holds the server's ``serve`` run."""

    def __init__(self, names: list[str], specs: Mapping[str, str], url: str) -> None:
        self.tracker = tracking.tracker()
        self._lock = threading.Lock()
        self._ended = 0
        self._flusher: threading.Thread | None = None
        tags = {tracking.MODEL: ",".join(specs.values())}
        self.run = self.tracker.start_run(
            "serve", name=f"serve {' '.join(names)}", tags=tags, owned=True
        )
        self.run.log_params({f"model.{n}": s for n, s in specs.items()} | {"url": url})

    def start(
        self,
        endpoint: str,
        model: str,
        version: Any,
        inputs: Mapping[str, Any],
        attributes: Mapping[str, Any],
    ) -> Any:
        """Open the trace of one request (tagged with the model, its version and spec)."""
        ref = version.ref
        tags = {
            tracking.MODEL: model,
            tracking.MODEL_KIND: ref.kind,
            tracking.MODEL_VERSION: version.version,
            tracking.SERVED: "true",
            tracking.RUN_ID: self.run.id,
        }
        if ref.meta.get("alias"):
            tags[tracking.ALIAS] = ref.meta["alias"]
        return self.tracker.traces.span(
            endpoint,
            inputs=dict(inputs),
            attributes={
                "model": model,
                "spec": ref.spec,
                "version": version.version,
                "engine": version.engine_label,
                **attributes,
            },
            tags=tags,
            run_id=self.run.id,
        )

    def end(self, span: Any, outputs: Mapping[str, Any], attributes: Mapping[str, Any]) -> None:
        """End a request's trace; flush in the background every so often."""
        try:
            span.end(outputs=dict(outputs), attributes=dict(attributes))
        except Exception:  # a trace that cannot be written must not fail the request
            log.exception("cannot end the trace of a request")
            return
        with self._lock:
            self._ended += 1
            due = self._ended % _FLUSH_EVERY == 0
            if due and (self._flusher is None or not self._flusher.is_alive()):
                self._flusher = threading.Thread(target=self.flush, daemon=True)
                self._flusher.start()

    def flush(self) -> None:
        """Wait until every ended trace is written."""
        try:
            self.tracker.traces.flush()
        except Exception:
            log.exception("cannot flush traces")

    def close(self, metrics: Mapping[str, float]) -> None:
        """Flush the traces, log the server's figures and end the run."""
        self.flush()
        if self._flusher is not None:
            self._flusher.join()
        try:
            self.run.log_metrics(dict(metrics))
            self.run.end("FINISHED")
        except Exception:
            log.exception("cannot end the serve run")

    def feedback(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v1/feedback``: a rating (``score`` 1-5 stars, or ``thumbs`` up/down) with an
        optional ``comment`` by ``rater`` on the trace of the response ``id``."""
        from llmops_magics.feedback import RaterNameError, check_rater

        trace_id = body.get("id")
        if not isinstance(trace_id, str) or not trace_id:
            raise ApiError(400, "Give the response's 'id'.", param="id")
        mode, value = feedback_value(body)
        comment = body.get("comment")
        if comment is not None and not isinstance(comment, str):
            raise ApiError(422, "'comment' must be a string.", param="comment")
        try:
            rater = check_rater(body.get("rater") or "api")
        except RaterNameError as exc:
            raise ApiError(422, str(exc), param="rater") from None
        traces = self.tracker.traces
        trace = traces.get(trace_id)
        if trace is None:  # made a moment ago: wait for the export queue
            traces.flush()
            trace = traces.get(trace_id)
        tags = trace.info.tags if trace is not None else {}
        if trace is None or tags.get(tracking.SERVED) != "true":
            raise ApiError(404, f"No response with id {trace_id!r} was served here.", param="id")
        meta = {tracking.MODEL: tags.get(tracking.MODEL, "")}
        assessment = traces.log_feedback(
            trace_id,
            name=_RATING.format(mode=mode),
            value=value,
            rater=rater,
            rationale=comment or None,
            metadata=meta,
        )
        traces.set_tag(trace_id, _RATED, "true")
        return {
            "object": "feedback",
            "id": trace_id,
            "assessment_id": getattr(assessment, "assessment_id", None),
            "name": _RATING.format(mode=mode),
            "value": value,
        }


def feedback_value(body: Mapping[str, Any]) -> tuple[str, Any]:
    """The rating's mode and value: ``score`` 1-5 (stars) or ``thumbs`` up/down."""
    score, thumbs = body.get("score"), body.get("thumbs")
    if (score is None) == (thumbs is None):
        raise ApiError(400, "Give one of 'score' (1-5) or 'thumbs' (up/down).", param="score")
    if score is not None:
        if isinstance(score, float) and score.is_integer():
            score = int(score)
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise ApiError(422, f"'score' must be 1, 2, 3, 4 or 5, not {score!r}.", param="score")
        return "stars", score
    if isinstance(thumbs, bool):
        return "thumbs", "up" if thumbs else "down"
    if isinstance(thumbs, str) and thumbs.strip().lower() in _THUMBS:
        return "thumbs", _THUMBS[thumbs.strip().lower()]
    raise ApiError(422, f"'thumbs' must be 'up' or 'down', not {thumbs!r}.", param="thumbs")
