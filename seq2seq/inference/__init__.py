"""Using a trained run: decode corpora and raw lines, evaluate, translate, export."""
