"""What a text analyser says about a piece of text (DESIGN §2: a post's ``analysis``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

#: the longest text ``POST /analysis/text`` accepts (Azure's synchronous limit is 5 120 characters)
TEXT_MAX = 5_000


class Sentiment(enum.StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"
    MIXED = "mixed"


@dataclass(frozen=True, slots=True)
class SentimentScores:
    """Confidence in each label, each 0–1."""

    positive: float
    neutral: float
    negative: float


@dataclass(frozen=True, slots=True)
class TextAnalysis:
    """One text's sentiment, language and key phrases, and which analyser produced it.

    ``analyzer`` tells clients what to expect: ``azure`` (Azure AI Language) or ``local`` (the
    offline embedded default: VADER sentiment, English-centred; fewer, simpler key phrases).
    ``language`` is an ISO 639-1 code (``en``), or ``und`` when it could not be determined.
    """

    sentiment: Sentiment
    scores: SentimentScores
    language: str
    key_phrases: tuple[str, ...] = field(default_factory=tuple)
    analyzer: str = "local"
