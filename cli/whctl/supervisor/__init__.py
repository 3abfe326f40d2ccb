"""The supervisor: a reconcile loop that keeps the pipeline converged (promise 11). See loop.py."""
