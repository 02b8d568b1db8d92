"""The Hierarchical Frequency Tagging Probe (HFTP): syntax-rate spectra of model units and brain channels.

Words (syllables, tokens) presented at a fixed rate make every level of a
regular structure repeat at its own rate: with four-syllable sentences at 4
syllables per second, two-word phrases repeat at 2 Hz and sentences at 1 Hz
(Ding et al. 2016). A unit that tracks a level shows a spectral peak at its
rate. The probe (An et al. 2025, NeurIPS) measures this in language-model
units and intracranial channels alike and compares them by RSA:

* :func:`compute_spectrum` -- amplitude spectrum of the trial-averaged
  response and inter-trial phase coherence, per unit;
* :func:`score_tagging` -- peak statistics at the tagged rates against the
  neighbouring-bin and shuffled-sequence nulls, FDR across units, unit
  selection per level; :func:`classify_units` labels each unit;
* :func:`compute_spectral_rdm` -- RDMs between conditions from the spectra
  of a layer or region, to compare with :func:`neurorep.rsa.compare`;
* :func:`extract_tokens` -- per-token activations of a Hugging Face model
  over word sequences, as input for the rest.

Examples
--------
>>> from neurorep import datasets, hftp
>>> ep = datasets.make_tagged_sequences(units={"sentence": 3, "none": 3}, rng=0)
>>> res = hftp.score_tagging(ep, {"sentence": 1.0}, null="neighbors")
>>> hftp.classify_units(res).values.tolist()
['sentence', 'sentence', 'sentence', 'none', 'none', 'none']
"""

from neurorep.hftp._rdm import compute_spectral_rdm
from neurorep.hftp._spectrum import compute_spectrum
from neurorep.hftp._tagging import MEASURES, NULLS, classify_units, score_tagging
from neurorep.hftp._tokens import extract_tokens

__all__ = [
    "MEASURES",
    "NULLS",
    "classify_units",
    "compute_spectral_rdm",
    "compute_spectrum",
    "extract_tokens",
    "score_tagging",
]
