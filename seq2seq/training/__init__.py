"""Training: losses and metrics over real tokens only, schedules and the training loop."""
