"""core.lineage: the candidate's name in TFMA's output, the one reader of it (the report, the
FairnessGate and the ModelCard)."""

import json

import mlpipe  # noqa: F401  (process settings before TensorFlow)

from mlpipe.core import lineage

COMPARED = {"evalConfig": {"modelSpecs": [{"name": "candidate"},
                                          {"name": "baseline", "isBaseline": True}]}}


def test_candidate_model_name_reads_tfma_eval_config(tmp_path):
    folder = tmp_path / "evaluation"
    folder.mkdir()
    (folder / "eval_config.json").write_text(json.dumps(COMPARED))
    assert lineage.candidate_model_name(str(folder)) == "candidate"
    (folder / "eval_config.json").write_text(json.dumps({"evalConfig": {"modelSpecs": [{}]}}))
    assert lineage.candidate_model_name(str(folder)) is None


def test_candidate_model_name_reads_a_remote_evaluation_through_tfx_fileio():
    # ram:// stands in for gs://: a filesystem only TFX's (TensorFlow's) layer reaches.
    from tfx.dsl.io import fileio
    folder = "ram://lineage-test/evaluation"
    fileio.makedirs(folder)
    with fileio.open(f"{folder}/eval_config.json", "w") as target:
        target.write(json.dumps(COMPARED))
    assert lineage.candidate_model_name(folder) == "candidate"
