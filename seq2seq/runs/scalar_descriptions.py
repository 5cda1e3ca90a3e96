"""What each logged scalar is, for TensorBoard's description pop-ups and the HParams
dashboard: the quantity, and what it is averaged over (losses and accuracies count real target
tokens only, padding excluded)."""

REAL_TOKENS = "real target tokens only, padding excluded"

# The quantity each metric name measures (the tag's last part).
QUANTITIES = {
    "loss": "Cross-entropy per target token (in training with train.label_smoothing, in "
    f"evaluation without): {REAL_TOKENS}",
    "token_accuracy": "Fraction of target tokens predicted right under teacher forcing: "
    + REAL_TOKENS,
    "perplexity": f"exp(loss without label smoothing): {REAL_TOKENS}",
    "wer": "Word error rate, %: words whose decoded output matches no reference pronunciation",
    "per": "Phoneme error rate, %: edit distance to the closest reference over its length",
    "bleu": "sacrebleu BLEU (13a tokenization) of the decoded, detokenized outputs",
    "chrf": "sacrebleu chrF2 of the decoded, detokenized outputs",
    "ter": "sacrebleu TER of the decoded, detokenized outputs (lower is better)",
    "grad_norm": "Global L2 norm of the gradients before clipping, mean over the steps",
    "learning_rate": "The optimizer's learning rate at this step (warmup and schedule applied)",
    "epoch": "Training examples seen / training pairs: fractional epochs",
    "skipped_steps": "Updates skipped so far for a non-finite loss or gradient "
    "(train.on_nonfinite=skip)",
    "real_tokens_per_sec": f"Training throughput, target tokens per second: {REAL_TOKENS}",
    "padded_positions_per_sec": "Padding positions per second of training (wasted work)",
    "real_token_fraction": "Real target tokens / target positions (padding included) of the "
    "training batches",
    "source_real_token_fraction": "Real source tokens / source positions (padding included) of "
    "the training batches",
}

# What a tag's prefix averages over.
SCOPES = {
    "train": "averaged over the steps since the last log line (train.log_every)",
    "val": "on the validation split (loss over all of it; task scores over the "
    "train.val_decode_examples sources decoded)",
    "best/val": "of the best checkpoint, on the whole validation split",
    "best/test": "of the best checkpoint, on the whole test split",
    "test": "on the whole test split",
}


def describe(tag: str) -> str:
    """A one-paragraph description of `tag` (e.g. `val/loss`): its quantity and its scope.
    Unknown names get only their scope; unknown prefixes only the quantity."""
    prefix, _, name = tag.rpartition("/")
    parts = [QUANTITIES.get(name, name), SCOPES.get(prefix, "")]
    return "; ".join(part for part in parts if part) + "."
