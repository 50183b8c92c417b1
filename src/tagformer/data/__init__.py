"""Data: generation (Pythia 8 + FastJet), readers for community formats, features and loading."""
