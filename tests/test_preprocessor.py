"""The one preprocessor: same batches as the evaluation pipeline and the export, masks ids != 0,
truncation keeping eos, empty strings."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from seq2seq.config import DecodeConfig
from seq2seq.constants import (
    BATCH_KEYS,
    BOS_ID,
    EOS_ID,
    EXAMPLE_INDEX,
    PAD_ID,
    SOURCE_IDS,
    SOURCE_PADDING_MASK,
    TARGET_IN_IDS,
    TARGET_PADDING_MASK,
)
from seq2seq.data.corpora import Corpus
from seq2seq.data.pipeline import make_eval_dataset
from seq2seq.data.preprocessor import Preprocessor
from seq2seq.inference.export import Translator
from seq2seq.runs.load import LoadedRun

SOURCES = ["bad", "cabbage", "", "hedge", "a"]
TARGETS = ["B AA D", "K AA B EH", "", "HH EH D", "AA"]


def preprocess(tokenizers, cfg, sources, targets):
    """(x, y, sample_weight) as numpy, from a preprocessor built in a graph function."""

    @tf.function
    def run(sources, targets):
        return Preprocessor.for_corpus(tokenizers, cfg)(sources, targets)

    return tf.nest.map_structure(lambda t: t.numpy(), run(tf.constant(sources), targets))


def eval_batch_in_input_order(tokenizers, cfg, sources, targets):
    """The evaluation pipeline's single batch for `sources`, rows put back in input order."""
    corpus = Corpus(sources=list(sources), targets=list(targets), name="valid")
    cfg = dataclasses.replace(cfg, eval_batch_size=len(sources))
    ((x, y, weight),) = list(make_eval_dataset(corpus, tokenizers, cfg))
    order = np.argsort(x[EXAMPLE_INDEX].numpy())
    x = {k: x[k].numpy()[order] for k in BATCH_KEYS}
    return x, y.numpy()[order], weight.numpy()[order]


def test_preprocessor_gives_the_eval_pipeline_batch(toy_tokenizers, toy_data_config):
    x, y, weight = preprocess(toy_tokenizers, toy_data_config, SOURCES, TARGETS)
    ex, ey, eweight = eval_batch_in_input_order(toy_tokenizers, toy_data_config, SOURCES, TARGETS)
    assert list(x) == list(BATCH_KEYS)
    for key in BATCH_KEYS:
        assert x[key].dtype == ex[key].dtype
        np.testing.assert_array_equal(x[key], ex[key])
    np.testing.assert_array_equal(y, ey)
    np.testing.assert_array_equal(weight, eweight)
    # And the ids are those of the Python tokenizer.
    pieces = toy_tokenizers.source.encode(SOURCES)
    assert [row[row != PAD_ID].tolist() for row in x[SOURCE_IDS]] == [p + [EOS_ID] for p in pieces]


def test_masks_are_exactly_the_non_padding_ids(toy_tokenizers, toy_data_config):
    x, y, weight = preprocess(toy_tokenizers, toy_data_config, SOURCES, TARGETS)
    np.testing.assert_array_equal(x[SOURCE_PADDING_MASK], x[SOURCE_IDS] != PAD_ID)
    np.testing.assert_array_equal(x[TARGET_PADDING_MASK], x[TARGET_IN_IDS] != PAD_ID)
    np.testing.assert_array_equal(weight, y != PAD_ID)
    source_lengths = [len(p) + 1 for p in toy_tokenizers.source.encode(SOURCES)]
    target_lengths = [len(p) + 1 for p in toy_tokenizers.target.encode(TARGETS)]
    assert x[SOURCE_PADDING_MASK].sum(1).tolist() == source_lengths
    assert x[TARGET_PADDING_MASK].sum(1).tolist() == target_lengths
    assert x[SOURCE_IDS].shape[1] == max(source_lengths)  # padded to the longest row
    for mask in (x[SOURCE_PADDING_MASK], x[TARGET_PADDING_MASK]):
        assert (mask[:, 1:] <= mask[:, :-1]).all()  # right padding


def test_truncation_keeps_eos_and_bos(toy_tokenizers, toy_data_config):
    cfg = dataclasses.replace(toy_data_config, max_source_length=4, max_target_length=3)
    x, y, _ = preprocess(toy_tokenizers, cfg, ["abcdefgh", "ab"], ["AA B K D", "AA"])
    assert x[SOURCE_IDS].shape == (2, 4) and y.shape == x[TARGET_IN_IDS].shape == (2, 3)
    assert x[SOURCE_IDS][0, -1] == EOS_ID
    assert toy_tokenizers.source.decode(x[SOURCE_IDS][0]) == "abc"
    assert x[TARGET_IN_IDS][0, 0] == BOS_ID and y[0, -1] == EOS_ID
    assert toy_tokenizers.target.decode(y[0]) == "AA B"
    assert x[TARGET_IN_IDS][0, 1:].tolist() == y[0, :-1].tolist()
    assert x[SOURCE_IDS][1].tolist() == toy_tokenizers.source.encode(["ab"])[0] + [EOS_ID, PAD_ID]


def test_an_empty_string_gives_a_one_token_row(toy_tokenizers, toy_data_config):
    x, y, weight = preprocess(toy_tokenizers, toy_data_config, ["", "bad"], ["", "B AA D"])
    assert x[SOURCE_IDS][0].tolist() == [EOS_ID] + [PAD_ID] * (x[SOURCE_IDS].shape[1] - 1)
    assert x[TARGET_IN_IDS][0, 0] == BOS_ID and y[0, 0] == EOS_ID
    assert weight[0].tolist() == [True] + [False] * (weight.shape[1] - 1)
    assert x[SOURCE_PADDING_MASK][0].sum() == 1


@pytest.mark.parametrize("lowercase", [False, True])
def test_export_source_ids_equal_the_eval_pipeline(toy_tokenizers, toy_data_config, lowercase):
    """The Translator's preprocessing of raw strings equals evaluation on the corpus read with
    the same config (data.corpora lower-cases in Python when data.lowercase)."""
    cfg = dataclasses.replace(toy_data_config, max_source_length=5, lowercase=lowercase)
    raw = ["Cabbage", "BAD", "", "hedge"] if lowercase else ["cabbage", "bad", "", "hedge"]
    run = LoadedRun(SimpleNamespace(data=cfg), toy_tokenizers, None, "", None)
    translator = Translator(run, DecodeConfig())
    # The tokenizer used is the Translator's named one, saved with the SavedModel.
    assert translator.preprocessor.source_tokenizer is translator.source_tokenizer
    source_ids, mask = translator.preprocessor.encode_sources(tf.constant(raw))
    corpus_sources = [s.lower() for s in raw] if lowercase else raw
    expected, _, _ = eval_batch_in_input_order(toy_tokenizers, cfg, corpus_sources, [""] * len(raw))
    assert source_ids.dtype == tf.int32 and mask.dtype == tf.bool
    np.testing.assert_array_equal(source_ids.numpy(), expected[SOURCE_IDS])
    np.testing.assert_array_equal(mask.numpy(), expected[SOURCE_PADDING_MASK])
    assert source_ids.shape[1] == 5  # "cabbage" truncated to 4 pieces + eos
