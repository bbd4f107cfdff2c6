"""The outcome labels of bench/translation_suite.py on constructed evaluations."""

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "translation_suite", Path(__file__).resolve().parents[2] / "bench" / "translation_suite.py"
)
suite = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(suite)

HEALTHY = {  # a healthy CycleGAN direction, as the healthy thick-glyph run evaluates
    "input_l1": 0.119,
    "true_l1": 0.102,
    "true_corr": 0.93,
    "background": -0.99,
    "class_kept": 0.8,
    "class_kept_inverted": 0.03,
    "target_class_acc": 0.89,
    "classes_covered": 10.0,
    "classes_effective": 8.7,
    "cycle_l1": 0.071,
    "cycle_l1_requantised": 0.071,
    "cycle_l1_halfres": 0.074,
    "halfres_change": 0.062,
}


def labels(**changes):
    return suite.outcome_labels({f"eval/G_AB_{k}": v for k, v in {**HEALTHY, **changes}.items()})


def test_healthy_evaluation_has_no_label():
    assert labels() == set()


@pytest.mark.parametrize(
    "moved,true,expected",
    [(0.067, 0.174, True), (0.09, 0.129, False), (0.05, 0.099, False), (0.0, 0.2, True)],
)
def test_identity_is_outputs_twice_as_near_the_input_as_the_correct_translation(
    moved, true, expected
):
    assert ("identity_mapping" in labels(input_l1=moved, true_l1=true)) is expected


def test_identity_needs_the_correct_translation():
    final = {f"eval/G_{k}": v for k, v in HEALTHY.items() if k != "true_l1"}
    final["eval/G_input_l1"] = 0.0  # even an exact copy: without T there is no label
    assert "identity_mapping" not in suite.outcome_labels(final)


@pytest.mark.parametrize(
    "clean,halfres,change,expected",
    [
        (0.089, 0.184, 0.055, True),  # the coarse-domain run: 1.7x the save's change
        (0.097, 0.134, 0.057, True),  # only 1.38x the clean error, but 0.66 of the change
        (0.104, 0.160, 0.131, False),  # 1.54x the clean error, 0.43 of a large change
        (0.071, 0.074, 0.062, False),  # healthy
        (0.01, 0.02, 0.005, False),  # twice the change, but by less than 0.02: near zero
        (0.2, 0.5, 0.1, False),  # the cycle does not close at all: not hiding, failing
    ],
)
def test_steganography_is_a_cycle_error_that_grows_by_most_of_the_saved_images_change(
    clean, halfres, change, expected
):
    got = labels(cycle_l1=clean, cycle_l1_halfres=halfres, halfres_change=change)
    assert ("steganography" in got) is expected


def test_a_copy_passes_the_change_on_without_hiding():
    copy = {"input_l1": 0.0, "true_l1": 0.3, "cycle_l1": 0.0, "cycle_l1_halfres": 0.06}
    assert labels(**copy, halfres_change=0.06) == {"identity_mapping"}
    assert "steganography" in labels(**{**copy, "input_l1": 0.2}, halfres_change=0.06)


def test_steganography_needs_the_saved_images_change():
    # an evaluation logged before halfres_change existed: the growth has no unit to read
    final = {f"eval/G_{k}": v for k, v in HEALTHY.items() if k != "halfres_change"}
    final.update({"eval/G_cycle_l1": 0.05, "eval/G_cycle_l1_halfres": 0.5})
    assert "steganography" not in suite.outcome_labels(final)
    final["eval/G_halfres_change"] = 0.06
    assert "steganography" in suite.outcome_labels(final)


@pytest.mark.parametrize(
    "covered,effective,acc,expected",
    [
        (1.0, 1.0, 0.9, True),  # one class for every input
        (4.0, 1.6, 0.9, True),  # one class but for a few stray outputs
        (5.0, 3.4, 0.9, False),
        (1.0, 1.0, 0.1, False),  # a domain the classifier cannot read even on real images
    ],
)
def test_collapse_is_at_most_two_effective_classes_on_a_legible_domain(
    covered, effective, acc, expected
):
    got = labels(classes_covered=covered, classes_effective=effective, target_class_acc=acc)
    assert ("translation_collapse" in got) is expected


def test_a_stored_run_is_reused_only_for_the_same_config():
    stored = {"name": "c", "seed": 0, "steps": 600, "translation": {"lambda_identity": 20.0}}
    current = {**stored, "translation": {"lambda_identity": 20.0}}
    trained = {**stored, "resolved": {"loss": "lsgan"}, "model_options": {"n_res": 2}}
    assert suite.same_config(trained, current)
    assert not suite.same_config(trained, {**current, "steps": 1000})
    assert not suite.same_config(trained, {**current, "seed": 1})


def test_labels_come_from_every_logged_evaluation():
    from gandiag.types import StepRecord

    class Reader:
        def read_records(self):
            return [
                StepRecord(0, {"loss/G": 1.0}),
                # before LABEL_FROM: the start every translator makes, never a label
                StepRecord(150, {"eval/G_AB_class_kept": 0.0, "eval/G_AB_input_l1": 0.0}),
                StepRecord(250, {"eval/G_AB_class_kept": 0.0}),
                StepRecord(300, {"eval/G_AB_class_kept": 0.05, "translation/G_AB/x": 1.0}),
                StepRecord(300, {"eval/G_AB_target_class_acc": 0.9, "eval/G_AB_input_l1": 0.2}),
                StepRecord(599, {"eval/G_AB_class_kept": 0.6}),
            ]

    logged = suite.logged_outcomes(Reader())
    assert suite.LABEL_FROM == 300
    assert logged == {
        300: {
            "eval/G_AB_class_kept": 0.05,
            "eval/G_AB_target_class_acc": 0.9,
            "eval/G_AB_input_l1": 0.2,
        },
        599: {"eval/G_AB_class_kept": 0.6},
    }
    assert suite.outcome_labels(logged[300]) == {"content_lost"}  # lost at 300, kept later
    shown = suite.label_steps({"300": ["content_lost", "steganography"], "599": ["steganography"]})
    assert shown == "content_lost@300, steganography@300,599"
    assert suite.label_steps({"300": [], "599": []}) == ""


@pytest.mark.parametrize(
    "true_corr,expected",
    [
        (-0.89, True),  # every output the negative of its correct translation
        (-0.35, True),
        (0.02, False),  # constant or unrelated outputs
        (0.0, False),  # half inverted, half right: not a run that inverts
        (0.96, False),  # healthy
    ],
)
def test_inversion_is_anti_correlation_with_the_correct_translation(true_corr, expected):
    got = labels(true_corr=true_corr, background=0.1, class_kept_inverted=0.0)
    assert ("colour_inversion" in got) is expected


def test_inversion_without_the_correct_translation_reads_the_negated_outputs():
    final = {f"eval/G_{k}": v for k, v in HEALTHY.items() if not k.startswith("true_")}
    assert "colour_inversion" not in suite.outcome_labels(final)
    final.update({"eval/G_background": 0.9, "eval/G_class_kept_inverted": 0.7})
    assert "colour_inversion" in suite.outcome_labels(final)
    # where T is known it decides: a light output correlated with T(x) is no inversion
    final.update({"eval/G_true_l1": 0.3, "eval/G_true_corr": 0.8})
    assert "colour_inversion" not in suite.outcome_labels(final)


# -- too late to confirm ------------------------------------------------------------------
PARAMS = {"warmup_steps": 200, "min_records": 3}


@pytest.mark.parametrize(
    "by_step,last_step,late",
    [
        # an 800-step run probes up to 750: a failure the evaluation shows only at the end
        # (799) cannot be confirmed over 3 probes; one shown at 600 can (600, 650, 700)
        ({300: [], 600: [], 799: ["identity_mapping"]}, 799, ["identity_mapping"]),
        ({300: [], 600: ["identity_mapping"], 799: ["identity_mapping"]}, 799, []),
        # 600 steps (last probe 550): shown from 450 on confirms at 550; from 451 it cannot
        ({450: ["content_lost"]}, 599, []),
        ({451: ["content_lost"]}, 599, ["content_lost"]),
        # shown before warm-up: counted from warm-up (200, 250, 300)
        ({100: ["sr_no_gain"]}, 349, []),
        ({100: ["sr_no_gain"]}, 299, ["sr_no_gain"]),
        # every label of the run is judged by the detector of its own name
        ({300: ["content_lost"], 599: ["content_lost", "steganography"]}, 599, ["steganography"]),
    ],
)
def test_a_label_is_too_late_when_its_detector_cannot_confirm_it_before_the_end(
    by_step, last_step, late
):
    params = {f: PARAMS for f in suite.FAILURES}
    assert suite.too_late(by_step, last_step, 50, params) == late


def test_too_late_follows_the_detectors_parameters():
    by_step = {300: [], 600: ["identity_mapping"]}
    patient = {"identity_mapping": {"warmup_steps": 200, "min_records": 5}}  # 600..800
    assert suite.too_late(by_step, 799, 50, patient) == ["identity_mapping"]
    sparse = {"identity_mapping": PARAMS}  # probes 100 apart: 600, 700, 800 > last probe 700
    assert suite.too_late(by_step, 799, 100, sparse) == ["identity_mapping"]
    two = {"identity_mapping": {"warmup_steps": 200, "min_records": 2}}  # 600, 700
    assert suite.too_late(by_step, 799, 100, two) == []
    assert suite.earliest_confirmation(601, PARAMS, 50) == 750


def _row(labels, alerts, late=(), steps=600, seed=0):
    return {
        "labels": sorted(labels),
        "alerts": dict(alerts),
        "too_late": list(late),
        "steps": steps,
        "seed": seed,
    }


def test_a_label_too_late_to_confirm_counts_neither_for_nor_against_its_detector():
    rows = [
        _row({"identity_mapping"}, {"identity_mapping": 500}),  # found
        _row({"identity_mapping"}, {}, late=["identity_mapping"]),  # too late, missed
        _row({"identity_mapping"}, {"identity_mapping": 750}, late=["identity_mapping"]),
        _row(set(), {}),  # healthy
    ]
    s = suite.summarise(rows)["per_failure"]["identity_mapping"]
    assert (s["positives"], s["tp"], s["fn"], s["fp"]) == (1, 1, 0, 0)
    assert s["recall"] == 1 and s["precision"] == 1
    assert (s["too_late"], s["too_late_alerted"]) == (2, 1)
    # a run with a late label still fails: it is not healthy for the false-alarm count
    whole = suite.summarise(rows)
    assert whole["healthy_runs"] == 1 and whole["healthy_steps"] == 600


@pytest.mark.parametrize(
    ("changes", "failure"),
    [
        ({"true_corr": -0.21}, "colour_inversion"),  # half inverted: between -0.3 and -0.1
        ({"classes_effective": 2.6}, "translation_collapse"),
        ({"class_kept": 0.22}, "content_lost"),
        ({"input_l1": 0.06, "true_l1": 0.1}, "identity_mapping"),
        # the cycle grows by 0.4 of the save's change: under 0.5, over 0.35
        ({"cycle_l1": 0.07, "cycle_l1_halfres": 0.095, "halfres_change": 0.062}, "steganography"),
    ],
)
def test_the_margin_band_lies_between_the_strict_line_and_healthy(changes, failure):
    strict = labels(**changes)
    lenient = suite.outcome_labels(
        {f"eval/G_AB_{k}": v for k, v in {**HEALTHY, **changes}.items()}, band=1
    )
    assert failure not in strict and failure in lenient
    # every strict label is a lenient one, and a healthy evaluation is in no band
    assert strict <= lenient
    assert suite.outcome_labels({f"eval/G_AB_{k}": v for k, v in HEALTHY.items()}, band=1) == set()


def test_sr_margin_band_is_a_quarter_decibel_over_bicubic():
    base = {"eval/G_input_l1": 0.1, "eval/G_psnr_bicubic": 20.0}
    assert "sr_no_gain" in suite.outcome_labels({**base, "eval/G_psnr": 19.9})
    assert "sr_no_gain" not in suite.outcome_labels({**base, "eval/G_psnr": 20.1})
    assert "sr_no_gain" in suite.outcome_labels({**base, "eval/G_psnr": 20.1}, band=1)
    assert "sr_no_gain" not in suite.outcome_labels({**base, "eval/G_psnr": 20.5}, band=1)


def test_a_run_in_the_margin_band_is_scored_neither_way_nor_healthy():
    rows = [
        _row({"colour_inversion"}, {"colour_inversion": 300}),  # found
        {**_row(set(), {"colour_inversion": 300}), "ambiguous": ["colour_inversion"]},
        {**_row(set(), {}), "ambiguous": ["colour_inversion"]},  # band, silent: no miss
        _row(set(), {}),  # healthy
    ]
    s = suite.summarise(rows)["per_failure"]["colour_inversion"]
    assert (s["tp"], s["fp"], s["fn"]) == (1, 0, 0)
    assert (s["margin_band"], s["margin_band_alerted"]) == (2, 1)
    whole = suite.summarise(rows)
    assert whole["healthy_runs"] == 1 and whole["false_alarms"] == 0
    # without the band the alert in it is a false alarm, on a run counted healthy
    old = suite.summarise(rows, band=False)
    assert old["per_failure"]["colour_inversion"]["fp"] == 1
    assert old["healthy_runs"] == 3 and old["false_alarms"] == 1


def test_eval_every_below_one_is_refused_with_the_reason(capsys):
    with pytest.raises(SystemExit):
        suite.main(["--eval-every", "0", "--train-only"])
    assert "--eval-every must be at least 1 step (got 0)" in capsys.readouterr().err


def _dense(shown, last=599, every=50, start=300):
    """Evaluations every ``every`` steps from ``start`` and at ``last``; ``shown``: step ->
    the failures that evaluation shows."""
    steps = [*range(start, last, every), last]
    return {s: sorted(shown.get(s, [])) for s in steps}


def _label(by_step, lenient=None, last=599, span=suite.LABEL_SPAN):
    params = {f: PARAMS for f in suite.FAILURES}
    return suite.label_run(by_step, lenient or by_step, last, 50, params, span)


def test_a_label_needs_the_failure_at_every_evaluation_over_the_span():
    assert suite.LABEL_SPAN == 100
    # 350, 400, 450: three evaluations, 100 steps: labelled from 350
    lasting = _label(_dense({350: ["content_lost"], 400: ["content_lost"], 450: ["content_lost"]}))
    assert lasting["labels"] == ["content_lost"] and lasting["onsets"] == {"content_lost": 350}
    assert lasting["brief"] == [] and lasting["too_late"] == []
    # 350 and 400 only (50 steps), or two evaluations with a healthy one between: brief
    for shown in (
        {350: ["content_lost"], 400: ["content_lost"]},
        {350: ["content_lost"], 450: ["content_lost"]},
    ):
        brief = _label(_dense(shown))
        assert brief["labels"] == [] and brief["brief"] == ["content_lost"]
        assert brief["ambiguous"] == []  # brief, not in the margin band
    # a short failure first, then a lasting one: the onset is the lasting one's
    shown = {300: ["steganography"], **{s: ["steganography"] for s in (400, 450, 500)}}
    assert _label(_dense(shown))["onsets"] == {"steganography": 400}


def test_a_failure_under_way_at_the_last_evaluation_is_too_late_not_brief():
    ending = _label(_dense({550: ["identity_mapping"], 599: ["identity_mapping"]}))
    assert ending["labels"] == [] and ending["brief"] == []
    assert ending["too_late"] == ["identity_mapping"]
    # lasting 100 steps from 450: a detector of 3 probes confirms it at 550, one of 5 cannot
    lasting = _dense({s: ["identity_mapping"] for s in (450, 500, 550, 599)})
    assert _label(lasting)["too_late"] == []
    patient = {"identity_mapping": {"warmup_steps": 200, "min_records": 5}}
    late = suite.label_run(lasting, lasting, 599, 50, patient)
    assert late["labels"] == ["identity_mapping"] and late["too_late"] == ["identity_mapping"]


def test_span_zero_labels_any_one_evaluation_and_the_configs_two_evaluations():
    one = {300: ["content_lost"], 599: []}  # the configs' evaluations: 300 and the end
    assert _label(one, span=0)["labels"] == ["content_lost"]
    assert _label(one)["brief"] == ["content_lost"]  # its length is unknown: 1-299 steps
    both = {300: ["content_lost"], 599: ["content_lost"]}
    assert _label(both)["onsets"] == {"content_lost": 300}
    # the margin band: lenient only, at any evaluation
    lenient = {300: ["colour_inversion"], 599: []}
    band = _label({300: [], 599: []}, lenient)
    assert band["ambiguous"] == ["colour_inversion"] and band["labels"] == []


def test_a_brief_failure_is_scored_neither_way_and_its_run_is_not_healthy():
    rows = [
        _row({"content_lost"}, {"content_lost": 300}),  # found
        {**_row(set(), {"content_lost": 300}), "brief": ["content_lost"]},  # alert on it
        {**_row(set(), {}), "brief": ["content_lost"]},  # silent on it: no miss
        {**_row(set(), {}), "too_late": ["identity_mapping"]},  # still failing at the end
        _row(set(), {}),  # healthy
    ]
    s = suite.summarise(rows)["per_failure"]["content_lost"]
    assert (s["tp"], s["fp"], s["fn"]) == (1, 0, 0)
    assert (s["brief"], s["brief_alerted"]) == (2, 1)
    whole = suite.summarise(rows)
    assert whole["healthy_runs"] == 1 and whole["false_alarms"] == 0
    # the labels of any one evaluation, when the row carries them
    old = {**rows[2], "any_evaluation": {"labels": ["content_lost"], "brief": []}}
    (relabelled,) = suite.any_evaluation([old])
    assert relabelled["labels"] == ["content_lost"] and relabelled["brief"] == []
