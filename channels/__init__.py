"""Input channels the clinic connects (REST for text clients, the website widget, the messaging
platforms) and how each renders the actions' structured replies."""
