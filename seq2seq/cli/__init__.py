"""Command-line entry points: one thin `@hydra.main` per verb."""
