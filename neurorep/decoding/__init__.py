"""Decoding: which stimulus (or category) can be read out, and when.

Cross-validated decoding of stimulus labels from trials at every time point
(:func:`decode`; static ``(stimulus, unit)`` responses too), temporal
generalisation (:func:`decode_generalization`), pairwise-decoding RDMs in
neurorep's RDM schema (:func:`decode_rdm`, accepted by
:func:`neurorep.rsa.compare`), pseudo-populations of units recorded in
different sessions (:func:`pseudo_population`), any scikit-learn classifier
(LDA with shrinkage by default) or a small torch network
(:class:`TorchMLPClassifier`). Inference: label permutations with cluster
p-values; across subjects :func:`neurorep.stats.cluster_test`.

This family imports only ``neurorep.data``, ``neurorep.stats`` and
``neurorep.datasets`` (never another family).
"""

from neurorep.decoding._decode import (
    CLASSIFIERS,
    SCORINGS,
    decode,
    decode_generalization,
    decode_rdm,
    pseudo_population,
)
from neurorep.decoding._mlp import TorchMLPClassifier

__all__ = [
    "CLASSIFIERS",
    "SCORINGS",
    "TorchMLPClassifier",
    "decode",
    "decode_generalization",
    "decode_rdm",
    "pseudo_population",
]
