"""Which direction is better for each metric, and the mark a table shows beside its name."""

from __future__ import annotations

#: "lower" / "higher" is better, or "one": closest to 1 (density; above 1 means fakes
#: crowd into dense real regions)
DIRECTIONS: dict[str, str] = {
    "fid": "lower",
    "kid": "lower",
    "fd_inf": "lower",
    "is": "higher",
    "precision": "higher",
    "recall": "higher",
    "density": "one",
    "coverage": "higher",
    "fvd_lite": "lower",
    "frame_fid": "lower",
    "ppl": "lower",
    "eval/modes_covered": "higher",
    "eval/hq_share": "higher",
    "eval/classes_covered": "higher",
    "eval/dominant_share": "lower",
    "eval/class_entropy": "higher",
    "eval/ndb_fraction": "lower",
}
#: per-network metrics of a model with several generators or one named generator (an
#: image-to-image model's ``G_fid``, ``G_AB_kid``, ``eval/G_BA_class_kept``): the part after
#: the network's name, and its direction. The class share kept and the PSNR/SSIM to the
#: paired target are the translation outcomes a better model raises.
PER_NETWORK: dict[str, str] = {
    "fid": "lower",
    "kid": "lower",
    "class_kept": "higher",
    "psnr": "higher",
    "ssim": "higher",
}
MARKS = {"lower": "↓", "higher": "↑", "one": "→1"}
HINTS = {"lower": "lower is better", "higher": "higher is better", "one": "closest to 1 is best"}


def split_network(metric: str) -> tuple[str, str] | None:
    """``(network, base)`` of a per-network metric (``"G_AB_fid"`` -> ``("G_AB", "fid")``,
    ``"eval/G_class_kept"`` -> ``("G", "class_kept")``), None for any other name."""
    bare = metric.removeprefix("eval/")
    if metric in DIRECTIONS or bare in DIRECTIONS:  # a metric of its own (frame_fid)
        return None
    for base in PER_NETWORK:
        net = bare.removesuffix(f"_{base}")
        if net != bare and net:
            return net, base
    return None


def direction_of(metric: str) -> str | None:
    """``"lower"``, ``"higher"`` or ``"one"`` for a metric name, None when not known."""
    d = DIRECTIONS.get(metric) or DIRECTIONS.get(metric.removeprefix("eval/"))
    if d is None and (parts := split_network(metric)) is not None:
        d = PER_NETWORK[parts[1]]
    return d


def direction_mark(metric: str) -> str:
    """``"fid ↓"``-style suffix for a metric name ("" when no direction is known)."""
    d = direction_of(metric)
    return MARKS[d] if d else ""
