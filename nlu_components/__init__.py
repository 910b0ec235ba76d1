"""Custom Rasa NLU components: the project's spaCy pipeline, MiniLM features, entities, red flags."""
