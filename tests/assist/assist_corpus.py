"""A listing of 30 abstracts written for these tests in the style of arXiv hep-ex / physics.ins-det
submissions (invented titles, authors and numbers; not real papers), and writers of the services' real
formats: arXiv's Atom API feed and Indico's export-API JSON."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

#: (title, abstract, category); the first 15 are on efficient ML for triggers and jet tagging.
ABSTRACTS: list[tuple[str, str, str]] = [
    ("Sub-microsecond transformer jet tagging on FPGAs for the CMS level-1 trigger",
     "We present a transformer jet tagger with linear attention synthesised with hls4ml for the CMS level-1 trigger. "
     "Quantization-aware training to 6 bits and pruning keep the latency below 150 ns on a Virtex UltraScale+ FPGA "
     "while the tagging accuracy on five jet classes stays within 1% of the floating-point model.", "hep-ex"),
    ("Knowledge distillation of particle transformers into low-latency trigger models",
     "A large particle transformer trained on boosted jets is distilled into a small deep-sets student that fits "
     "the resource budget of the level-1 trigger. The student recovers most of the top-tagging performance of the "
     "teacher at a hundredth of the operations.", "hep-ex"),
    ("Graph neural networks for real-time particle-flow reconstruction at the HL-LHC",
     "We study graph neural networks for particle-flow reconstruction in the high-luminosity LHC trigger. "
     "Message passing on calorimeter clusters and tracks runs on GPUs in the ATLAS high-level trigger within the "
     "latency budget.", "physics.ins-det"),
    ("Autoencoder anomaly detection in the level-1 trigger",
     "A variational autoencoder on calorimeter and muon trigger primitives flags anomalous events for new physics "
     "searches. The network is quantized to 8 bits, synthesised for FPGAs and runs in 50 ns in the CMS level-1 "
     "trigger.", "hep-ex"),
    ("Quark-gluon discrimination with interaction networks",
     "Interaction networks of jet constituents separate quark from gluon jets. We compare the tagging performance "
     "to energy flow networks and particle transformers and study robustness against parton shower modelling.",
     "hep-ph"),
    ("Self-supervised pretraining of jet foundation models",
     "A foundation model for jets is pretrained with masked particle modelling on unlabelled simulated events and "
     "fine-tuned for jet tagging. Pretraining improves top tagging when few labelled jets are available.", "hep-ph"),
    ("Quantization-aware training of boosted W and Z boson taggers for FPGAs",
     "We train boosted W and Z boson jet taggers with quantization-aware training in QKeras and Brevitas. At 4 bits "
     "the taggers keep their accuracy and fit a single FPGA with a latency of 100 ns.", "physics.ins-det"),
    ("Track reconstruction with machine learning on GPUs for the LHCb trigger",
     "The LHCb real-time analysis reconstructs all tracks on GPUs. We replace the track-following step by a "
     "learned model and reach the same efficiency at twice the throughput.", "physics.ins-det"),
    ("Pruning and neural architecture search for efficient jet tagging",
     "Neural architecture search over transformer and graph network jet taggers finds Pareto-optimal models of "
     "accuracy against FLOPs and latency. Pruning removes 80% of the weights of the best models.", "cs.LG"),
    ("Heterogeneous computing for the ATLAS high-level trigger",
     "We report on the integration of GPU accelerated algorithms in the ATLAS high-level trigger, including "
     "machine learning inference as a service for jet and tau identification.", "physics.ins-det"),
    ("Higgs to bb tagging with particle transformers in the trigger",
     "A particle transformer selects boosted Higgs bosons decaying to bottom quarks at the high-level trigger of CMS, "
     "raising the signal efficiency by 40% at the same rate.", "hep-ex"),
    ("Lorentz-equivariant networks for top tagging",
     "Lorentz-equivariant graph networks for top quark jet tagging reach state-of-the-art background rejection "
     "with fewer parameters than particle transformers.", "hep-ph"),
    ("Binary and ternary neural networks for trigger electronics",
     "Binary and ternary weight neural networks remove multipliers from trigger electronics. We evaluate jet "
     "tagging and electron identification on FPGAs with hls4ml.", "physics.ins-det"),
    ("Fast inference of jet taggers with ONNX on trigger farms",
     "We benchmark jet tagging neural network inference with ONNX Runtime on the CPUs and GPUs of a trigger farm "
     "and report latency and throughput per model.", "hep-ex"),
    ("Sparse attention jet tagging for real-time event selection",
     "Sparse and linear attention make transformer jet taggers fast enough for real-time event selection. "
     "We measure latency on FPGAs and GPUs.", "cs.LG"),
    # 15 less relevant or off-topic ones
    ("Measurement of the top quark mass in the lepton plus jets channel",
     "The top quark mass is measured with 140 fb-1 of proton-proton collisions at 13 TeV recorded by ATLAS using "
     "a profile likelihood fit of the reconstructed mass distribution.", "hep-ex"),
    ("Constraints on dark energy from the cosmic microwave background",
     "We combine cosmic microwave background lensing and baryon acoustic oscillations to constrain the dark energy "
     "equation of state.", "astro-ph.CO"),
    ("Reactor neutrino oscillation parameters from three years of data",
     "We measure the neutrino oscillation parameters sin^2 theta_13 and Delta m^2 with reactor antineutrinos "
     "observed at near and far detectors.", "hep-ex"),
    ("Lattice QCD computation of the nucleon axial charge",
     "A lattice QCD computation of the nucleon axial charge with physical pion masses and controlled continuum "
     "extrapolation.", "hep-lat"),
    ("Mechanical support and cooling of silicon tracker modules",
     "We describe the carbon-fibre mechanical support and evaporative CO2 cooling of the silicon modules of an "
     "upgraded tracker.", "physics.ins-det"),
    ("Search for heavy neutral leptons in displaced vertices",
     "A search for heavy neutral leptons decaying to displaced vertices with the CMS detector sets limits on the "
     "mixing with muon neutrinos.", "hep-ex"),
    ("Precision measurement of the W boson mass at LHCb",
     "The W boson mass is measured from the muon transverse momentum distribution in LHCb data.", "hep-ex"),
    ("Gravitational waves from first-order phase transitions",
     "We compute the gravitational-wave spectrum of first-order cosmological phase transitions and compare with "
     "LIGO sensitivity.", "astro-ph.CO"),
    ("Radiation hardness of silicon photomultipliers",
     "Silicon photomultipliers were irradiated with neutrons and their dark count rate and breakdown voltage "
     "measured.", "physics.ins-det"),
    ("Next-to-next-to-leading order corrections to Higgs pair production",
     "We compute NNLO QCD corrections to Higgs boson pair production in gluon fusion with full top mass "
     "dependence.", "hep-ph"),
    ("Luminosity calibration with van der Meer scans",
     "The luminosity of proton-proton collisions is calibrated with van der Meer scans and cross-checked with "
     "track counting.", "hep-ex"),
    ("Cosmic ray muon flux measured underground",
     "The cosmic ray muon flux and its seasonal modulation are measured in an underground laboratory.",
     "astro-ph.HE"),
    ("Beam-induced background at a future electron-positron collider",
     "We simulate beam-induced backgrounds in the vertex detector of a future electron-positron collider.",
     "physics.acc-ph"),
    ("Measurement of the charged kaon decay to pi nu nu",
     "The NA62 experiment measures the branching ratio of the decay of charged kaons to a pion and two neutrinos.",
     "hep-ex"),
    ("Data preservation and open data at the LHC",
     "We review the open data policies of the LHC experiments and tools for the long-term preservation of analyses.",
     "hep-ex"),
]


def atom_feed(rows: list[tuple[str, str, str]] = ABSTRACTS, first_id: int = 1) -> str:
    """An arXiv API answer (Atom 1.0 with the opensearch and arxiv namespaces) listing ``rows``."""
    entries = []
    for n, (title, abstract, cat) in enumerate(rows, first_id):
        aid = f"2501.{n:05d}"
        day = f"2025-01-{1 + n % 28:02d}T18:00:00Z"
        entries.append(
            f"<entry><id>http://arxiv.org/abs/{aid}v1</id><updated>{day}</updated><published>{day}</published>"
            f"<title>{escape(title)}</title><summary>  {escape(abstract)}\n</summary>"
            f"<author><name>A. Author{n}</name></author><author><name>B. Author{n}</name></author>"
            f'<link href="http://arxiv.org/abs/{aid}v1" rel="alternate" type="text/html"/>'
            f'<link title="pdf" href="http://arxiv.org/pdf/{aid}v1" rel="related" type="application/pdf"/>'
            f'<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="{cat}" '
            f'scheme="http://arxiv.org/schemas/atom"/><category term="{cat}" scheme="http://arxiv.org/schemas/atom"/>'
            "</entry>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            '<link href="http://arxiv.org/api/query" rel="self" type="application/atom+xml"/>'
            "<title type=\"html\">ArXiv Query</title><id>http://arxiv.org/api/x</id><updated>2025-02-01T00:00:00Z"
            f'</updated><opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{len(rows)}'
            '</opensearch:totalResults><opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
            '0</opensearch:startIndex><opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
            f"{len(rows)}</opensearch:itemsPerPage>{''.join(entries)}</feed>\n")


def indico_export(rows: list[tuple[str, str, str]] = ABSTRACTS, event_id: str = "1234567") -> str:
    """An Indico export-API answer (``/export/event/ID.json?detail=contributions``) with ``rows`` as talks."""
    contributions = [{
        "_type": "Contribution", "_fossil": "contributionMetadata", "id": str(9000 + n), "friendly_id": n,
        "db_id": 9000 + n, "title": title, "description": f"<p>{abstract}</p>",
        "startDate": {"date": f"2025-03-{10 + n % 5:02d}", "time": "09:00:00", "tz": "Europe/Zurich"},
        "endDate": {"date": f"2025-03-{10 + n % 5:02d}", "time": "09:20:00", "tz": "Europe/Zurich"},
        "duration": 20, "room": "", "location": "", "type": "Talk", "track": None, "session": None,
        "speakers": [{"_type": "ContributionParticipation", "fullName": f"Author{n}, Alex", "first_name": "Alex",
                      "last_name": f"Author{n}", "affiliation": "CERN", "emailHash": "x"}],
        "primaryauthors": [], "coauthors": [], "keywords": [], "references": [], "material": [], "folders": [],
        "url": f"https://indico.example.org/event/{event_id}/contributions/{9000 + n}/",
    } for n, (title, abstract, _) in enumerate(rows, 1)]
    payload = {"count": 1, "additionalInfo": {}, "_type": "HTTPAPIResult", "complete": True,
               "url": f"https://indico.example.org/export/event/{event_id}.json?detail=contributions", "ts": 1,
               "results": [{"_type": "Conference", "id": event_id, "title": "Workshop on fast ML",
                            "url": f"https://indico.example.org/event/{event_id}/", "contributions": contributions}]}
    return json.dumps(payload)
