"""An offline ``TextAnalyzer``: the embedded default when no Azure AI Language is configured.

- Sentiment: VADER (PyPI ``vaderSentiment``), a lexicon-and-rules model tuned for short,
  informal English. Its ``pos``/``neu``/``neg`` proportions are the confidence scores; the
  label comes from the ``compound`` score (±0.05, the authors' thresholds), ``mixed`` when
  the text is clearly both positive and negative.
- Key phrases: runs of consecutive non-stop-words (at most three words) ranked by how often
  they occur and how long they are (a small RAKE). Fewer and plainer than Azure's — the
  ``analyzer: "local"`` field tells clients so.
- Language: a tiny stop-word vote among English, German, French, Spanish, Dutch and
  Norwegian; ``und`` (undetermined) when nothing votes. VADER itself understands English only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from domain.analysis import Sentiment, SentimentScores, TextAnalysis

MAX_KEY_PHRASES = 5
MAX_PHRASE_WORDS = 3
MIXED_SHARE = 0.2


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOP_WORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "a about above after again against all am an and any are as at be because been before being below "
        "between both but by can could did do does doing down during each few for from further had has have "
        "having he her here hers herself him himself his how i if in into is it its itself just me more most "
        "my myself no nor not now of off on once only or other our ours ourselves out over own same she "
        "should so some such than that the their theirs them themselves then there these they this those "
        "through to too under until up very was we were what when where which while who whom why will with "
        "would you your yours yourself yourselves also get got really still today tomorrow yesterday"
    ),
    "de": _words(
        "der die das und ist nicht ein eine ich du er sie es wir ihr mit auf für von zu den dem des im "
        "auch sich noch nach wie bei aus wenn aber oder sehr"
    ),
    "fr": _words(
        "le la les et est un une des du de je tu il elle nous vous ils elles pas ne que qui dans pour sur "
        "avec au aux ce cette mais ou très"
    ),
    "es": _words("el la los las y es un una de del que en por para con no se lo al como pero muy está son"),
    "nl": _words("de het een en is niet ik jij hij zij wij van op voor met dat die maar ook zijn"),
    "no": _words("og er ikke en et jeg du han hun vi det som på med for til av men også veldig"),
}
_ALL_STOP_WORDS = frozenset().union(*_STOP_WORDS.values())
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”«»\n]+")


class LocalTextAnalyzer:
    """Implements ``domain.ports.TextAnalyzer`` offline (CPU only; microseconds per text)."""

    name = "local"

    def __init__(self) -> None:
        self._vader = SentimentIntensityAnalyzer()

    async def analyze(self, texts: Sequence[str]) -> list[TextAnalysis]:
        return [self.analyze_one(text) for text in texts]

    def analyze_one(self, text: str) -> TextAnalysis:
        polarity = self._vader.polarity_scores(text)
        scores = SentimentScores(
            positive=round(float(polarity["pos"]), 4),
            neutral=round(float(polarity["neu"]), 4),
            negative=round(float(polarity["neg"]), 4),
        )
        return TextAnalysis(
            sentiment=_label(float(polarity["compound"]), scores),
            scores=scores,
            language=detect_language(text),
            key_phrases=key_phrases(text),
            analyzer=self.name,
        )


def _label(compound: float, scores: SentimentScores) -> Sentiment:
    if scores.positive >= MIXED_SHARE and scores.negative >= MIXED_SHARE:
        return Sentiment.MIXED
    if compound >= 0.05:
        return Sentiment.POSITIVE
    if compound <= -0.05:
        return Sentiment.NEGATIVE
    return Sentiment.NEUTRAL


def detect_language(text: str) -> str:
    words = [w.casefold() for w in _WORD.findall(text)]
    votes = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOP_WORDS.items()}
    best = max(votes, key=lambda lang: votes[lang])
    return best if votes[best] > 0 else "und"


def key_phrases(text: str, limit: int = MAX_KEY_PHRASES) -> tuple[str, ...]:
    """Candidate phrases are runs of non-stop-words split by punctuation; ranked by count x length."""
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    for chunk in _BREAK.split(text):
        run: list[str] = []
        for word in [*_WORD.findall(chunk), ""]:  # "" flushes the last run
            if word and word.casefold() not in _ALL_STOP_WORDS and len(word) > 1:
                run.append(word)
                continue
            for start in range(0, len(run), MAX_PHRASE_WORDS):
                phrase = " ".join(run[start : start + MAX_PHRASE_WORDS])
                key = phrase.casefold()
                counts[key] += 1
                shown.setdefault(key, phrase)
                first_seen.setdefault(key, len(first_seen))
            run = []
    ranked = sorted(counts, key=lambda k: (-counts[k] * len(k), first_seen[k]))
    return tuple(shown[k] for k in ranked[:limit])
