"""One module per rule; each module's `rule` function has the signature of `analysis.Rule`."""
