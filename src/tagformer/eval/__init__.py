"""Evaluation of trained runs: metrics (:mod:`.metrics`), ``evaluate_run`` (:mod:`.evaluate`), the comparison
table across runs (:mod:`.compare`, costs from :mod:`.costs`) and figures (:mod:`.plots`)."""
