"""Data sets: procedural (rooms, faces) and readers for real data on local paths."""
