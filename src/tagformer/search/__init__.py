"""Hardware-aware architecture search: NSGA-II (Optuna) over model families, trained at a fixed budget.

``run_search(space, data, trials=N)`` (``tagformer search``) draws candidates from a search space
(:mod:`.space`), trains each into a kept run directory (:mod:`.trial`), records objectives chosen by name
(:mod:`.objectives`) under constraints (:mod:`.constraints`) in an Optuna study with RDB storage
(:mod:`.study`: SQLite by default, resumable, shared by several worker processes), and writes the Pareto front
as a CSV, a table, 2-D plots and one trainable YAML per Pareto configuration (:mod:`.report`). See
docs/search.md.
"""

from tagformer.search.run import run_search
from tagformer.search.space import SearchSpace, load_space

__all__ = ["SearchSpace", "load_space", "run_search"]
