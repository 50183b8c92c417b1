"""Command line interface: one small module per subcommand, discovered automatically.

Each module ``tagformer.cli.<name>`` defines ``register(subparsers)`` which adds its parser and sets
``func`` to a callable taking the parsed ``argparse.Namespace``. Modules import heavy libraries
(torch, pythia) inside their functions so that ``tagformer --help`` stays fast.
"""
