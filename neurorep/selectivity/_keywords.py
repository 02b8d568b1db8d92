"""Keywords: words over-represented in a unit's top texts relative to the bank.

Counts are document frequencies (a word counts once per text). Two scorers,
both vectorised over every (group, word) pair with a non-zero count:

* ``"log_odds"`` -- log-odds ratio with an informative Dirichlet prior
  (Monroe, Colaresi & Quinn 2008, "Fightin' Words"), z-scored;
* ``"tfidf"`` -- in-group document frequency times smoothed inverse
  document frequency over the whole bank (scikit-learn's ``smooth_idf``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep import __version__

TOKEN_PATTERN = r"[a-z]+(?:'[a-z]+)?"


def _stop_words(stop_words: str | Iterable[str] | None) -> frozenset[str]:
    if stop_words is None:
        return frozenset()
    if isinstance(stop_words, str):
        if stop_words != "english":
            raise ValueError(
                f"stop_words must be 'english', None or a collection of words; got {stop_words!r}."
            )
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        return frozenset(ENGLISH_STOP_WORDS) | {"s", "t", "don", "didn", "doesn", "isn", "wasn"}
    return frozenset(str(w).lower() for w in stop_words)


def make_tokenizer(
    stop_words: str | Iterable[str] | None = "english", min_length: int = 2
) -> Callable[[str], set[str]]:
    """Lower-case words (letters, one inner apostrophe), stop words and short words removed."""
    stops = _stop_words(stop_words)
    pattern = re.compile(TOKEN_PATTERN)

    def tokenize(text: str) -> set[str]:
        out = set()
        for tok in pattern.findall(str(text).lower()):
            if tok.endswith("'s"):
                tok = tok[:-2]
            if len(tok) >= min_length and tok not in stops:
                out.add(tok)
        return out

    return tokenize


@dataclass
class Vocabulary:
    """Binary document-term matrix of a text collection (CSR, rows = texts)."""

    words: np.ndarray  # (V,) object
    dtm: Any  # scipy.sparse.csr_matrix (n_texts, V), 0/1
    df: np.ndarray  # (V,) documents containing each word


def build_vocabulary(texts: Sequence[str], tokenize: Callable[[str], set[str]]) -> Vocabulary:
    """Binary document-term matrix (scikit-learn's ``CountVectorizer``) with our tokenizer.

    Columns are in order of first appearance (the first text holding a word,
    then alphabetical within a text): ties between keyword scores are broken
    by that order.
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(analyzer=tokenize, binary=True, dtype=np.float64)
    try:
        dtm = vectorizer.fit_transform(texts).tocsr()
    except ValueError:  # "empty vocabulary": no text holds a word (all stop words, or none)
        empty = sparse.csr_matrix((len(texts), 0), dtype=np.float64)
        return Vocabulary(words=np.empty(0, dtype=object), dtm=empty, df=np.zeros(0))
    words = vectorizer.get_feature_names_out().astype(object)  # alphabetical
    dtm.sort_indices()  # each text's words in alphabetical order
    csc = dtm.tocsc()
    first_text = csc.indices[csc.indptr[:-1]]
    order = np.lexsort((np.arange(words.size), first_text))  # new column -> alphabetical
    new_of_old = np.empty_like(order)
    new_of_old[order] = np.arange(order.size)
    # renumber the columns in place, keeping each text's words in alphabetical order: the
    # entry order of sparse products (and so the order of tied keywords) follows it
    dtm.indices = new_of_old[dtm.indices].astype(dtm.indices.dtype)
    dtm.has_sorted_indices = False
    df = np.asarray(dtm.sum(axis=0)).ravel()
    return Vocabulary(words=words[order], dtm=dtm, df=df)


def _log_odds(
    ya: np.ndarray, na: np.ndarray, yb: np.ndarray, nb: np.ndarray, alpha: np.ndarray,
    alpha0: np.ndarray,
) -> np.ndarray:
    """z-scored log-odds ratio with an informative Dirichlet prior (Monroe et al. 2008, eq. 22)."""
    a = ya + alpha
    b = yb + alpha
    delta = np.log(a / (na + alpha0 - a)) - np.log(b / (nb + alpha0 - b))
    var = 1.0 / a + 1.0 / b
    return delta / np.sqrt(var)


def score_groups(
    rows: np.ndarray,
    cols: np.ndarray,
    ya: np.ndarray,
    group_tokens: np.ndarray,
    group_docs: np.ndarray,
    bg_counts: np.ndarray,
    n_bg_docs: int,
    *,
    method: str,
    prior_strength: float | None,
    background_contains_groups: bool,
) -> np.ndarray:
    """Keyword scores for sparse (group, word) pairs.

    ``ya``: documents of the group containing the word; ``group_tokens``:
    per-group total of ``ya``; ``bg_counts``: per-word document counts of the
    background. When ``background_contains_groups`` the group's own counts
    are removed from the background first (target vs the rest of the bank).
    """
    yb_all = bg_counts[cols].astype(np.float64)
    nb_all = float(bg_counts.sum())
    if method == "tfidf":
        n_docs = n_bg_docs + (0 if background_contains_groups else group_docs[rows])
        df = yb_all + (0.0 if background_contains_groups else ya)
        idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
        return ya * idf
    na = group_tokens[rows].astype(np.float64)
    if background_contains_groups:
        yb = np.maximum(yb_all - ya, 0.0)
        nb = np.maximum(nb_all - na, 0.0)
        pooled_w, pooled_n = yb_all, np.full_like(na, nb_all)
    else:
        yb, nb = yb_all, np.full_like(na, nb_all)
        pooled_w, pooled_n = yb_all + ya, nb_all + na
    alpha0 = pooled_n if prior_strength is None else np.full_like(na, float(prior_strength))
    alpha = alpha0 * pooled_w / pooled_n
    return _log_odds(ya, na, yb, nb, alpha, alpha0)


def top_per_row(
    rows: np.ndarray, scores: np.ndarray, n_rows: int, k: int, *, ok: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Positions into ``scores`` of the best ``k`` entries per row, (n_rows, k), -1 padded."""
    keep = np.flatnonzero(np.isfinite(scores) if ok is None else ok & np.isfinite(scores))
    order = keep[np.lexsort((-scores[keep], rows[keep]))]
    r = rows[order]
    starts = np.searchsorted(r, np.arange(n_rows))
    within = np.arange(order.size) - starts[r]
    sel = within < k
    out = np.full((n_rows, k), -1, dtype=np.int64)
    out[r[sel], within[sel]] = order[sel]
    return out, within


def check_method(method: str) -> str:
    if method not in KEYWORD_METHODS:
        raise ValueError(f"method must be one of {list(KEYWORD_METHODS)}; got {method!r}.")
    return method


#: Keyword scorers (see the module docstring).
KEYWORD_METHODS: dict[str, str] = {
    "log_odds": "z-scored log-odds ratio, informative Dirichlet prior (Monroe et al. 2008)",
    "tfidf": "in-group document frequency x smoothed idf over the bank",
}


def keywords(
    texts: Sequence[str],
    background: Sequence[str],
    *,
    n: int = 10,
    method: Literal["log_odds", "tfidf"] = "log_odds",
    prior_strength: float | None = None,
    min_count: int = 1,
    stop_words: str | Iterable[str] | None = "english",
    background_contains_texts: bool = False,
) -> xr.Dataset:
    """Words over-represented in ``texts`` compared with ``background``.

    Each word is counted once per text (document frequency). With
    ``method="log_odds"`` the score of word ``w`` is the z-scored log-odds
    ratio with an informative Dirichlet prior (Monroe et al. 2008)::

        delta_w = log((y_a + a_w) / (n_a + a_0 - y_a - a_w))
                - log((y_b + a_w) / (n_b + a_0 - y_b - a_w))
        z_w = delta_w / sqrt(1 / (y_a + a_w) + 1 / (y_b + a_w))

    where ``y_a``/``y_b`` count the word in the target/background, ``n_a``/
    ``n_b`` are the totals, and the prior ``a_w = a_0 * f_w`` follows the
    word's frequency ``f_w`` in the pooled texts, with strength ``a_0``
    (default: the pooled total, a prior as informative as the data). With
    ``method="tfidf"``: ``y_a * (log((1 + N) / (1 + df_w)) + 1)`` with ``N``
    documents and ``df_w`` document frequency over the pooled texts.

    Parameters
    ----------
    texts : sequence of str
        The target texts (e.g. a unit's top stimuli).
    background : sequence of str
        The contrast (e.g. the rest of the bank).
    n : int
        Keywords to return (fewer if fewer words qualify).
    method : {"log_odds", "tfidf"}
    prior_strength : float, optional
        ``a_0`` of the log-odds prior.
    min_count : int
        Minimum number of target texts that contain a keyword.
    stop_words : "english", None or collection of str
        Words never returned (scikit-learn's English list by default).
    background_contains_texts : bool
        ``background`` already includes ``texts`` (the whole bank): the
        target's counts are subtracted so the contrast is with the rest.

    Returns
    -------
    Dataset (keyword)
        ``word`` (str), ``score`` (float), ``count`` (target texts with the
        word), best first.

    Examples
    --------
    >>> from neurorep.selectivity import keywords
    >>> kw = keywords(["the cat sat", "a cat ran"], ["the dog sat", "a bird flew"], n=1)
    >>> kw["word"].values.tolist()
    ['cat']
    """
    check_method(method)
    if isinstance(texts, str) or isinstance(background, str):
        raise TypeError("keywords: texts and background must be sequences of str, not one str.")
    texts = [str(t) for t in texts]
    background = [str(t) for t in background]
    if not texts:
        raise ValueError("keywords: got no target texts.")
    if not background:
        raise ValueError("keywords: got an empty background; give the texts to contrast with.")
    if int(n) < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}.")
    tokenize = make_tokenizer(stop_words)
    vocab = build_vocabulary([*texts, *background], tokenize)
    ya_all = np.asarray(vocab.dtm[: len(texts)].sum(axis=0)).ravel()
    bg = np.asarray(vocab.dtm[len(texts) :].sum(axis=0)).ravel()
    n_bg = len(background)
    cols = np.flatnonzero(ya_all)
    rows = np.zeros(cols.size, dtype=np.int64)
    ya = ya_all[cols].astype(np.float64)
    scores = score_groups(
        rows, cols, ya, np.array([ya_all.sum()]), np.array([len(texts)]), bg, n_bg,
        method=method, prior_strength=prior_strength,
        background_contains_groups=background_contains_texts,
    )
    best, _ = top_per_row(rows, scores, 1, int(n), ok=ya >= int(min_count))
    pos = best[0][best[0] >= 0]
    ds = xr.Dataset(
        {
            "word": ("keyword", vocab.words[cols[pos]].astype(object)),
            "score": ("keyword", scores[pos]),
            "count": ("keyword", ya[pos].astype(np.int64)),
        },
        coords={"keyword": np.arange(1, pos.size + 1)},
    )
    ds.attrs = {"analysis": "keywords", "neurorep_version": __version__, "method": method,
                "n_texts": len(texts), "n_background": len(background)}
    return ds
