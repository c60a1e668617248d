"""LineageGraph: walks (upstream, downstream, path, impact), tables, the SVG and missing nodes,
on a graph built by hand (the store-built graph is tested in test_build.py)."""

from __future__ import annotations

import pytest

from llmops_magics.lineage import Builder, LineageGraph, UnknownNodeError, layers


def _graph() -> LineageGraph:
    """raw -> prep -> prepared -> train split -> ft -> adapter -> eval -> trace -> rating;
    an eval baseline run that is gone."""
    b = Builder()
    b.define("prep1", "prep", "prep raw")
    b.define("ft1", "finetune", "finetune tiny", run_id="ft1", experiment_id="0")
    b.define("ev1", "eval", "eval adapter", run_id="ev1", experiment_id="0")
    b.define("adapter:ft1", "adapter", "adapter")
    b.define("trace:tr-1", "trace", "trace 1", trace_id="tr-1", experiment_id="0")
    b.define("assessment:a-1", "assessment", "stars = 5")
    b.link(b.data("raw0"), "prep1", "prepared-from")
    b.link("prep1", b.data("all1", "prepared"), "produced")
    b.link("data:all1", b.data("train2"), "split")
    b.link("data:train2", "ft1", "trained-on")
    b.link(b.model("base"), "ft1", "base-model")
    b.link("ft1", "adapter:ft1", "produced")
    b.link("adapter:ft1", "ev1", "evaluated")
    b.link(b.run("gone0"), "ev1", "compared-with")
    b.link("ev1", "trace:tr-1", "generated")
    b.link("trace:tr-1", "assessment:a-1", "rated")
    b.link("ft1", "ft1", "self")  # ignored: a node never comes from itself
    return b.graph("sqlite:///x.db")


def test_upstream_and_downstream() -> None:
    g = _graph()
    assert g.upstream_ids("assessment:a-1") == {
        "trace:tr-1": 1,
        "ev1": 2,
        "adapter:ft1": 3,
        "gone0": 3,
        "ft1": 4,
        "data:train2": 5,
        "model:base": 5,
        "data:all1": 6,
        "prep1": 7,
        "data:raw0": 8,
    }
    assert set(g.downstream_ids("data:train2")) == {
        "ft1",
        "adapter:ft1",
        "ev1",
        "trace:tr-1",
        "assessment:a-1",
    }
    assert g.downstream_ids("data:train2", depth=2) == {"ft1": 1, "adapter:ft1": 2}
    up = g.upstream("ev1")
    assert up.focus == "ev1" and "trace:tr-1" not in up and "data:raw0" in up
    assert {(e.src, e.dst) for e in up.edges} >= {("adapter:ft1", "ev1"), ("ft1", "adapter:ft1")}
    both = g.around("adapter:ft1")
    # all but the gone baseline, which came before the eval but not before the adapter
    assert set(both.nodes) == set(g.nodes) - {"gone0"}


def test_path_either_way_and_unrelated() -> None:
    g = _graph()
    forward = [n.id for n in g.path("data:raw0", "assessment:a-1")]
    assert forward[0] == "data:raw0" and forward[-1] == "assessment:a-1" and len(forward) == 9
    backward = [n.id for n in g.path("assessment:a-1", "data:train2")]
    assert backward == ["assessment:a-1", "trace:tr-1", "ev1", "adapter:ft1", "ft1", "data:train2"]
    assert g.path("model:base", "data:raw0") == []  # neither came from the other


def test_impact_table() -> None:
    impact = _graph().impact("data:train2")
    frame = impact.to_frame()
    assert list(frame["node"]) == ["ft1", "adapter:ft1", "ev1", "trace:tr-1", "assessment:a-1"]
    assert list(frame["distance"]) == [1, 2, 3, 4, 5]
    assert frame.set_index("node").loc["ev1", "via"] == "evaluated"
    assert impact.kinds() == {"finetune": 1, "adapter": 1, "eval": 1, "trace": 1, "assessment": 1}
    assert impact.ids("adapter") == ["adapter:ft1"]
    assert repr(impact).startswith("Impact of data:train2: 5 downstream")
    assert "assessment:a-1" in repr(impact)


def test_missing_nodes_are_shown_not_fatal() -> None:
    g = _graph()
    assert g.node("gone0").missing and not g.node("ev1").missing
    assert not g.node("data:raw0").missing  # a data hash is a reference, not a stored record
    assert "1 missing" in g._summary()
    assert "stroke-dasharray" in g.to_svg()


def test_frames_and_repr() -> None:
    g = _graph()
    edges = g.to_frame()
    assert list(edges.columns) == ["src", "src_kind", "relation", "dst", "dst_kind"]
    assert len(edges) == 10 and "self" not in set(edges.relation)
    row = edges[edges.relation == "trained-on"].iloc[0]
    assert (row.src, row.src_kind, row.dst, row.dst_kind) == (
        "data:train2",
        "data",
        "ft1",
        "finetune",
    )
    assert g.nodes_frame().set_index("id").loc["data:all1", "kind"] == "prepared"
    assert "data:train2 --trained-on--> ft1" in repr(g)
    assert g.to_dict()["edges"][0] == {
        "src": "data:raw0",
        "dst": "prep1",
        "relation": "prepared-from",
    }


def test_svg_and_layers() -> None:
    g = _graph()
    order = layers(g)
    assert order[0] == ["data:raw0", "gone0", "model:base"] or set(order[0]) == {
        "data:raw0",
        "model:base",
        "gone0",
    }
    depth = {n: i for i, layer in enumerate(order) for n in layer}
    assert all(depth[e.src] < depth[e.dst] for e in g.edges)  # every edge points right
    svg = g.upstream("ev1").to_svg()
    assert svg.startswith("<svg") and svg.count('class="node"') == 9
    assert 'data-kind="adapter"' in svg and "#9d4edd" in svg  # coloured by kind
    html = g._repr_html_()
    assert "<svg" in html and "trained-on" in html


def test_unknown_node() -> None:
    with pytest.raises(UnknownNodeError, match="'nope'.*run id"):
        _graph().upstream("nope")


def test_ui_links() -> None:
    g = _graph()
    assert g.ui_url("ft1") == "http://127.0.0.1:5000/#/experiments/0/runs/ft1"
    assert g.ui_url("trace:tr-1").endswith("/#/experiments/0/traces?selectedEvaluationId=tr-1")
    assert g.ui_url("data:raw0") == "" and g.ui_url("gone0") == ""


def test_svg_edges_past_a_layer_run_between_the_rows() -> None:
    """Every edge is drawn, and one that passes over a layer (base model -> fine-tune) runs
    along a gap between rows, never behind the boxes of the layers it passes."""
    import re

    g = _graph().upstream("ev1")
    svg = g.to_svg()
    assert svg.count('class="edge"') == len(g.edges)
    boxes = [
        (float(x), float(y))
        for x, y in re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="190"', svg)
    ]
    long_runs = re.findall(r"L ([\d.]+) ([\d.]+) C", svg)
    assert long_runs  # base-model -> ft1 and the gone baseline -> ev1 pass over layers
    for _x, gap in long_runs:
        assert all(not (y <= float(gap) <= y + 30) for _, y in boxes)
