"""Command-line entry points, one module per verb: `@hydra.main` for the verbs that compose a
config (prepare, train, evaluate, translate, export), argparse for those that read results
(summarize, reproduce)."""
