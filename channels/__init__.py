"""Input channels the clinic connects: the REST channel used by the website and tests."""
