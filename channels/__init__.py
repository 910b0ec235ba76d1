"""Input channels the clinic connects (REST for text clients, the website widget) and how each
renders the actions' structured replies."""
