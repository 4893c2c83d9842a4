"""Mutation testing of the modules that decide the provider's behaviour (``make mutate``)."""
