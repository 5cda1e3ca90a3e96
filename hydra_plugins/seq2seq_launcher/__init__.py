"""`hydra/launcher=local` (conf/hydra/launcher/local.yaml): see `local_launcher`."""
