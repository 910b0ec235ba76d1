"""The project's own English spaCy pipeline (pretrained pipelines cannot be downloaded here)."""
