"""The 16 per-particle columns of the hls4ml jet layout, in file order.

The one spelling of this list: the feature sets (:mod:`tagformer.data.features`), the hls4ml reader and
the generator's writer import it; each column's definition is written out in
:mod:`tagformer.data.generate.features`.
"""

from __future__ import annotations

HLS4ML16: tuple[str, ...] = ("px", "py", "pz", "e", "erel", "pt", "ptrel", "eta", "etarel", "etarot", "phi",
                             "phirel", "phirot", "deltaR", "costheta", "costhetarel")
