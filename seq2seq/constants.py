"""Constants every layer agrees on: the special token ids and the batch keys.

Every SentencePiece model has the fixed special ids PAD_ID=0, UNK_ID=1, BOS_ID=2, EOS_ID=3;
the model's input is a dict with exactly `BATCH_KEYS` (see docs/DESIGN.md, "Batch element").
"""

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3

SOURCE_IDS = "source_ids"
SOURCE_PADDING_MASK = "source_padding_mask"
TARGET_IN_IDS = "target_in_ids"
TARGET_PADDING_MASK = "target_padding_mask"
# The model's inputs: int32 ids and bool masks (True = real token), right-padded.
BATCH_KEYS = (SOURCE_IDS, SOURCE_PADDING_MASK, TARGET_IN_IDS, TARGET_PADDING_MASK)
# Evaluation batches add the position of each row in its split (sorted batches -> input order).
EXAMPLE_INDEX = "example_index"
