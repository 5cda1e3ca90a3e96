"""Ensembles: several models searched as one (log-probs averaged per step), and loading runs
as one."""

import numpy as np
import pytest
import tensorflow as tf

from seq2seq.decoding import Ensemble, beam_search, greedy_search
from seq2seq.errors import RunDirError
from seq2seq.runs.load import load_ensemble, load_run
from tests.test_decoding import make_sources, teacher_forcing_batch, tiny_real_model


def ensemble_log_probs(models, source_ids, source_padding_mask, ids):
    """Teacher-forced sum of the ensemble's log-probabilities of `ids` (B, L): the log-softmax
    of the mean of the members' log-softmax, at each step."""
    x = teacher_forcing_batch(source_ids, source_padding_mask, ids)
    mean = tf.add_n([tf.nn.log_softmax(m(x, training=False)) for m in models]) / len(models)
    log_probs = tf.gather(tf.nn.log_softmax(mean), ids, batch_dims=2)  # (B, L)
    return tf.reduce_sum(tf.where(x["target_padding_mask"], log_probs, 0.0), axis=1).numpy()


@pytest.fixture(scope="module")
def members():
    return [tiny_real_model("luong"), tiny_real_model("bahdanau")]


def test_ensemble_scores_are_its_averaged_log_probs(members):
    source_ids, mask = make_sources([5, 9, 3, 7])
    ensemble = Ensemble(members)
    out = greedy_search(ensemble, source_ids, mask)
    expected = ensemble_log_probs(members, source_ids, mask, out["ids"][:, 0])
    np.testing.assert_allclose(out["log_probs"][:, 0], expected, rtol=1e-5)
    alone = [greedy_search(m, source_ids, mask)["log_probs"][:, 0].numpy() for m in members]
    assert not np.allclose(alone[0], alone[1])  # the members disagree: the average matters
    beam = beam_search(ensemble, source_ids, mask, beam_size=3, n_best=3)
    for n in range(3):
        expected = ensemble_log_probs(members, source_ids, mask, beam["ids"][:, n])
        np.testing.assert_allclose(beam["log_probs"][:, n], expected, rtol=1e-5)


def test_an_ensemble_of_one_model_twice_decodes_like_the_model(members):
    source_ids, mask = make_sources([5, 9, 3, 7], seed=1)
    model = members[0]
    for strategy in (greedy_search, lambda m, s, k: beam_search(m, s, k, beam_size=4)):
        single, double = (
            strategy(model, source_ids, mask),
            strategy(Ensemble([model] * 2), source_ids, mask),
        )
        np.testing.assert_array_equal(single["ids"], double["ids"])
        np.testing.assert_allclose(single["scores"], double["scores"], rtol=1e-5)


def test_load_ensemble_checks_the_tokenizers(smoke_run, smoke_run_copy):
    run = load_ensemble(smoke_run.run_dir, [str(smoke_run_copy)])
    assert isinstance(run.model, Ensemble) and len(run.model.models) == 2
    assert str(smoke_run_copy) in run.checkpoint
    assert load_ensemble(smoke_run.run_dir, []).checkpoint == load_run(smoke_run.run_dir).checkpoint
    vocab = next(p for p in (smoke_run_copy / "tokenizer").iterdir() if p.suffix == ".vocab")
    vocab.write_text(vocab.read_text() + "\n")
    with pytest.raises(RunDirError, match=r"ensemble: .*tokenizer differs from .*tokenizer"):
        load_ensemble(smoke_run.run_dir, [str(smoke_run_copy)])
