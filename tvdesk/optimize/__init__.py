"""The optimiser: parameter search over a strategy's inputs and LLM rewrites of its source.

The modules here are building blocks (search space, targets, Optuna search, the LLM client,
prompts, Pine text handling, events); the run loop composes them.
"""
