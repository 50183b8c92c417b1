"""Where contributions come from: arXiv listings, Indico events and local files of abstracts."""
