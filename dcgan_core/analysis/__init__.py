"""Analyses of trained DCGANs: metrics, instruments, guided backprop, feature probes, window removal."""
