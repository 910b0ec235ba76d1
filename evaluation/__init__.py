"""Measuring the assistant as patients meet it: replies over REST, judged against expectations."""
