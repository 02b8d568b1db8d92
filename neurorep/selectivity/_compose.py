"""Composers: concepts (keywords + example texts) -> one short caption per unit.

A composer is any callable ``composer(concepts) -> str`` that takes the
unit's :class:`Concept` records, best first. :func:`template_composer` is
deterministic and needs nothing; :func:`llm_composer` wraps a user-supplied
LLM client (any ``client(prompt) -> str``), so neurorep never talks to a
network itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

Composer = Callable[[Sequence["Concept"]], str]


@dataclass(frozen=True)
class Concept:
    """One concept of a unit: a cluster among its top stimuli.

    :func:`neurorep.selectivity.caption_units` finds them; a composer
    (:func:`template_composer`, :func:`llm_composer`) turns a unit's list of
    concepts into its caption.

    Parameters
    ----------
    keywords : tuple of str
        Best first.
    scores : tuple of float
        Keyword scores (log-odds z or tf-idf).
    examples : tuple of str
        Texts of the concept's stimuli, best predicted response first.
    share : float
        Fraction of the unit's top stimuli in this concept.

    Examples
    --------
    >>> from neurorep.selectivity import Concept
    >>> c = Concept(keywords=("soup", "bread"), scores=(2.5, 1.2),
    ...             examples=("The soup is hot.",), share=0.6)
    >>> c.keywords[0], c.share
    ('soup', 0.6)
    """

    keywords: tuple[str, ...]
    scores: tuple[float, ...]
    examples: tuple[str, ...]
    share: float


def _join(words: Sequence[str]) -> str:
    words = [w for w in words if w]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def template_composer(
    *, n_keywords: int = 3, template: str = "{keywords}", separator: str = "; "
) -> Composer:
    """A deterministic composer: the top keywords of each concept, joined.

    ``template`` is formatted per concept with ``{keywords}`` ("a, b and c"),
    ``{first}`` (the best keyword) and ``{example}`` (the best example text);
    concepts are joined with ``separator``.

    Parameters
    ----------
    n_keywords : int, optional
        Keywords per concept (default 3).
    template : str, optional
        Format string per concept (default ``"{keywords}"``).
    separator : str, optional
        Between concepts (default ``"; "``).

    Returns
    -------
    callable
        ``compose(concepts) -> str``, for ``caption_units(composer=...)``.

    Examples
    --------
    >>> from neurorep.selectivity import Concept, template_composer
    >>> compose = template_composer(template="about {keywords}")
    >>> compose([Concept(("food", "cooking", "soup"), (3.0, 2.0, 1.0), ("Soup is hot.",), 1.0)])
    'about food, cooking and soup'
    """
    if n_keywords < 1:
        raise ValueError(f"n_keywords must be a positive integer; got {n_keywords!r}.")

    def compose(concepts: Sequence[Concept]) -> str:
        parts = []
        for c in concepts:
            kws = [w for w in c.keywords if w][:n_keywords]
            if not kws:
                continue
            parts.append(
                template.format(
                    keywords=_join(kws), first=kws[0], example=c.examples[0] if c.examples else ""
                )
            )
        return separator.join(parts)

    compose.__name__ = "template_composer"
    return compose


DEFAULT_PROMPT = (
    "The texts below drive a population of neurons most strongly. Keywords that set them apart "
    "from other texts are listed for each group.\n{concepts}\n"
    "Describe in at most {max_words} words what this population responds to. Answer with the "
    "description only."
)


def format_concepts(concepts: Sequence[Concept], n_keywords: int, n_examples: int) -> str:
    """The concepts as prompt text: keywords and example texts per group."""
    lines = []
    for i, c in enumerate(concepts, 1):
        kws = ", ".join(w for w in c.keywords[:n_keywords] if w)
        lines.append(f"Group {i} ({c.share:.0%} of the top texts). Keywords: {kws}")
        for ex in c.examples[:n_examples]:
            lines.append(f"  - {ex}")
    return "\n".join(lines)


def llm_composer(
    client: Callable[[str], str],
    *,
    prompt: str = DEFAULT_PROMPT,
    n_keywords: int = 8,
    n_examples: int = 5,
    max_words: int = 12,
) -> Composer:
    """A composer that asks a language model, through a client you pass.

    The client is any callable ``client(prompt: str) -> str`` (a wrapper around
    an OpenAI/Anthropic/local model call); neurorep adds no dependency and
    makes no network call itself. Identical prompts are asked once (units
    with the same keywords and examples share the answer).

    Parameters
    ----------
    client : callable
        ``client(prompt) -> str``: your call of a language model.
    prompt : str
        Template with ``{concepts}`` (keywords and example texts per concept)
        and ``{max_words}``.
    n_keywords : int, optional
        Keywords per concept put in the prompt (default 8).
    n_examples : int, optional
        Example texts per concept put in the prompt (default 5).
    max_words : int, optional
        Asked-for caption length (default 12).

    Returns
    -------
    callable
        ``compose(concepts) -> str`` (the model's answer, stripped), for
        ``caption_units(composer=...)``.

    Examples
    --------
    >>> from neurorep.selectivity import Concept, llm_composer
    >>> fake = lambda prompt: " Food and cooking. "
    >>> llm_composer(fake)([Concept(("soup",), (2.0,), ("Soup is hot.",), 1.0)])
    'Food and cooking.'
    """
    if not callable(client):
        raise TypeError(f"client must be a callable prompt -> str; got {type(client).__name__}.")
    if "{concepts}" not in prompt:
        raise ValueError("prompt must contain the placeholder '{concepts}'.")
    cache: dict[str, str] = {}

    def compose(concepts: Sequence[Concept]) -> str:
        text = prompt.format(
            concepts=format_concepts(concepts, n_keywords, n_examples), max_words=max_words
        )
        if text not in cache:
            answer = client(text)
            if not isinstance(answer, str):
                raise TypeError(
                    f"llm_composer: the client must return a str; it returned "
                    f"{type(answer).__name__}. Extract the text from your client's response."
                )
            lines = [ln.strip() for ln in answer.strip().splitlines() if ln.strip()]
            cache[text] = lines[0].strip("\"'") if lines else ""
        return cache[text]

    compose.__name__ = "llm_composer"
    return compose


#: Named built-in composers (pass a callable for anything else).
COMPOSERS: dict[str, Callable[[], Composer]] = {"template": template_composer}


def resolve_composer(composer: str | Composer) -> tuple[Composer, str]:
    if isinstance(composer, str):
        if composer not in COMPOSERS:
            raise ValueError(
                f"composer must be one of {sorted(COMPOSERS)} or a callable concepts -> str; "
                f"got {composer!r}."
            )
        return COMPOSERS[composer](), composer
    if not callable(composer):
        raise TypeError(
            f"composer must be a name {sorted(COMPOSERS)} or a callable concepts -> str; got "
            f"{type(composer).__name__}."
        )
    return composer, getattr(composer, "__name__", type(composer).__name__)
