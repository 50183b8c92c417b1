"""Offline physics generation of labelled jets (Pythia 8 + FastJet), written in the hls4ml layout."""
