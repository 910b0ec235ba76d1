"""Custom actions: answers with their article evidence, follow-ups, declining, red flags."""
