"""Scripts that run inside the cluster's maintenance Jobs: standard library only, so a stock
Python image runs them straight from a mounted ConfigMap with nothing to install."""
