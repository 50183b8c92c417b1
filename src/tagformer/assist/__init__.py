"""Research assistant for the field: rank new papers and talks against an interests file, answer questions
from a local library of PDFs and notes with citations, and make plots from a sentence with an LLM.

Offline by default (lexical TF-IDF similarity, no LLM, honestly labelled); any OpenAI-compatible endpoint
adds the typed LLM assessments, written answers and the plotting loop. Nothing downloads models at run time.
"""
