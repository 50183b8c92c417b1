"""Small libraries for the ask tests: PDFs written with matplotlib's PDF backend (TrueType fonts, so the
text layer is extractable), text and markdown files, and a file that is not a PDF."""

from __future__ import annotations

from pathlib import Path

PLANTED = "The wombat calibration constant of the level-1 tagger is 42.7 counts per GeV."

FILLER = [
    "Transformers process jet constituents as sets of particles with attention between every pair.",
    "Quantization-aware training keeps accuracy at low bit widths on FPGAs.",
    "The hls4ml layout stores sixteen features per particle and one-hot labels per jet.",
    "Pruning removes small weights after training; fine-tuning recovers the accuracy.",
    "Linear attention replaces the softmax with a kernel so the cost grows linearly with particles.",
    "The trigger rate is limited by the bandwidth of the readout and the latency budget.",
]


def write_pdf(path: Path, pages: list[str]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(path) as pdf:
        for text in pages:
            fig = plt.figure(figsize=(8.5, 11))
            fig.text(0.05, 0.95, text, va="top", fontsize=9, wrap=False)
            pdf.savefig(fig)
            plt.close(fig)
    return path


def write_library(folder: Path) -> Path:
    """a.pdf (2 pages), b.pdf (3 pages, the planted sentence on page 2), notes.md, log.txt, broken.pdf."""
    folder.mkdir(parents=True, exist_ok=True)
    write_pdf(folder / "a.pdf", ["\n".join(FILLER[:3]), "\n".join(FILLER[3:])])
    write_pdf(folder / "b.pdf", ["\n".join(FILLER[::2]), f"{FILLER[1]}\n{PLANTED}\n{FILLER[4]}",
                                 "\n".join(FILLER[1::2])])
    (folder / "notes.md").write_text("# Notes\n\n" + "\n\n".join(FILLER) + "\n")
    (folder / "log.txt").write_text("Shift log.\nThe muon chambers were calibrated on Monday.\n")
    (folder / "broken.pdf").write_bytes(b"this is not a PDF at all")
    return folder
