"""What two questions say, beyond their embeddings: the facts a paraphrase must keep.

Sentence embeddings place "Is Paris bigger than London?" and "Is London bigger than Paris?" almost on top of
each other, and the same goes for a changed number, an added "not" or "best" turned into "worst". This module
reads each text once into a :class:`TextInfo` (tokens, numbers, negations, capitalised names, units, polar
words, the question word) and compares two of them:

- :func:`hard_mismatch` names a difference that makes the questions different whatever the embedding says
  (the verifier never serves across one);
- :func:`pair_features` turns the comparison into numbers for the learned verifier (:mod:`.verifier`).

Everything here is plain Python over short strings, a few tens of microseconds per pair.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["HAND_FEATURES", "TextInfo", "analyse", "hard_mismatch", "pair_features"]

_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
_ORDINAL_SUFFIX = re.compile(r"^(\d+)(?:st|nd|rd|th)$")

def _words(text: str) -> list[str]:
    return text.split()


_STOP = frozenset(_words(
    "a an the of to in on at for by with from into onto about as and or but if then than so that this these those "
    "is are was were be been being am do does did doing have has had having i me my mine we our us you your yours "
    "he him his she her it its they them their what which who whom whose why how when where can could should "
    "would will shall may might must there here some any very just also really get got one s"
))
"""Function words: they carry a question's grammar, not its topic, so overlap is measured without them."""

_SYMBOLIC = re.compile(r"[^\s]*[+#&@$%~^*=<>|\\/`][^\s]*")
_TRAILING = ".,;:!?\"')]}"

_CONTRACTED = {"ca": "can", "wo": "will", "sha": "shall"}
"""What is left of "can't", "won't", "shan't" once "n't" is cut off."""

_QUESTION_WORDS = ("what", "why", "how", "when", "where", "who", "whom", "whose", "which")

_NEGATIONS = frozenset(_words(
    "not no never none nobody nothing neither nor nowhere cannot without cant dont doesnt didnt isnt arent wasnt "
    "werent wont wouldnt shouldnt couldnt hasnt havent hadnt mustnt aint"
))

_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(_words(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty"
    ))
} | {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
     "hundred": "100", "thousand": "1000", "million": "1e6", "billion": "1e9", "trillion": "1e12",
     "dozen": "12", "half": "0.5", "double": "x2", "twice": "x2", "triple": "x3"}
# "one" is left out on purpose: it is a pronoun far more often than a count ("which one is better").
del _NUMBER_WORDS["one"]

_ORDINALS = {
    w: f"#{i}"
    for i, w in enumerate(
        _words("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"), start=1
    )
}

_UNITS = {
    **dict.fromkeys(("km", "kms", "kilometer", "kilometers", "kilometre", "kilometres"), "km"),
    **dict.fromkeys(("mile", "miles", "mi", "mph"), "mile"),
    **dict.fromkeys(("m", "meter", "meters", "metre", "metres"), "m"),
    **dict.fromkeys(("cm", "centimeter", "centimeters", "centimetre", "centimetres"), "cm"),
    **dict.fromkeys(("mm", "millimeter", "millimeters"), "mm"),
    **dict.fromkeys(("ft", "foot", "feet"), "ft"),
    **dict.fromkeys(("inch", "inches"), "inch"),
    **dict.fromkeys(("kg", "kgs", "kilogram", "kilograms", "kilo", "kilos"), "kg"),
    **dict.fromkeys(("g", "gram", "grams"), "g"),
    **dict.fromkeys(("lb", "lbs", "pound", "pounds"), "lb"),
    **dict.fromkeys(("oz", "ounce", "ounces"), "oz"),
    **dict.fromkeys(("l", "liter", "liters", "litre", "litres"), "l"),
    **dict.fromkeys(("ml", "milliliter", "milliliters"), "ml"),
    **dict.fromkeys(("gallon", "gallons"), "gallon"),
    **dict.fromkeys(("celsius", "centigrade"), "celsius"),
    **dict.fromkeys(("fahrenheit",), "fahrenheit"),
    **dict.fromkeys(("kelvin",), "kelvin"),
    **dict.fromkeys(("dollar", "dollars", "usd"), "usd"),
    **dict.fromkeys(("euro", "euros", "eur"), "eur"),
    **dict.fromkeys(("rupee", "rupees", "rs", "inr"), "inr"),
    **dict.fromkeys(("yen",), "jpy"),
    **dict.fromkeys(("bitcoin", "bitcoins", "btc"), "btc"),
    **dict.fromkeys(("second", "seconds", "sec", "secs"), "s"),
    **dict.fromkeys(("minute", "minutes", "mins"), "min"),
    **dict.fromkeys(("hour", "hours", "hr", "hrs"), "h"),
    **dict.fromkeys(("day", "days"), "day"),
    **dict.fromkeys(("week", "weeks"), "week"),
    **dict.fromkeys(("month", "months"), "month"),
    **dict.fromkeys(("year", "years", "yrs"), "year"),
    **dict.fromkeys(("kb", "kilobyte", "kilobytes"), "kb"),
    **dict.fromkeys(("mb", "megabyte", "megabytes"), "mb"),
    **dict.fromkeys(("gb", "gigabyte", "gigabytes"), "gb"),
    **dict.fromkeys(("tb", "terabyte", "terabytes"), "tb"),
    **dict.fromkeys(("percent", "%"), "%"),
}
"""Unit words and their canonical unit: "5 km" and "5 miles" share a number and differ in meaning."""

_POLES = (
    ("best", "worst"), ("better", "worse"), ("good", "bad"), ("most", "least"), ("more", "less"),
    ("more", "fewer"), ("largest", "smallest"), ("biggest", "smallest"), ("bigger", "smaller"),
    ("larger", "smaller"), ("big", "small"), ("large", "small"), ("highest", "lowest"), ("higher", "lower"),
    ("high", "low"), ("max", "min"), ("maximum", "minimum"), ("increase", "decrease"), ("increase", "reduce"),
    ("gain", "lose"), ("win", "lose"), ("before", "after"), ("above", "below"), ("over", "under"),
    ("up", "down"), ("in", "out"), ("on", "off"), ("start", "stop"), ("start", "end"), ("begin", "end"),
    ("first", "last"), ("early", "late"), ("earlier", "later"), ("past", "future"), ("old", "new"),
    ("older", "newer"), ("oldest", "newest"), ("young", "old"), ("younger", "older"), ("hot", "cold"),
    ("hotter", "colder"), ("warm", "cool"), ("fast", "slow"), ("faster", "slower"), ("fastest", "slowest"),
    ("cheap", "expensive"), ("cheapest", "most expensive"), ("easy", "hard"), ("easy", "difficult"),
    ("easiest", "hardest"), ("buy", "sell"), ("buying", "selling"), ("import", "export"), ("add", "remove"),
    ("open", "close"), ("enable", "disable"), ("allow", "block"), ("accept", "reject"), ("true", "false"),
    ("yes", "no"), ("pros", "cons"), ("advantages", "disadvantages"), ("benefits", "drawbacks"),
    ("positive", "negative"), ("rich", "poor"), ("richest", "poorest"), ("safe", "dangerous"),
    ("healthy", "unhealthy"), ("legal", "illegal"), ("possible", "impossible"), ("male", "female"),
    ("men", "women"), ("man", "woman"), ("boy", "girl"), ("boys", "girls"), ("husband", "wife"),
    ("father", "mother"), ("son", "daughter"), ("brother", "sister"), ("left", "right"), ("north", "south"),
    ("east", "west"), ("day", "night"), ("summer", "winter"), ("spring", "autumn"), ("spring", "fall"),
    ("love", "hate"), ("like", "dislike"), ("agree", "disagree"), ("success", "failure"), ("succeed", "fail"),
    ("true", "fake"), ("real", "fake"), ("inside", "outside"), ("internal", "external"), ("input", "output"),
    ("upload", "download"), ("send", "receive"), ("give", "take"), ("lend", "borrow"), ("push", "pull"),
    ("encrypt", "decrypt"), ("compress", "decompress"), ("install", "uninstall"), ("login", "logout"),
    ("forward", "backward"), ("ascending", "descending"), ("minimum", "maximum"), ("light", "dark"),
    ("light", "heavy"), ("weak", "strong"), ("weakest", "strongest"), ("short", "long"), ("shortest", "longest"),
    ("thin", "thick"), ("wet", "dry"), ("full", "empty"), ("alive", "dead"), ("win", "loss"),
    ("same", "different"), ("similar", "different"), ("with", "without"), ("for", "against"),
    ("pro", "anti"), ("support", "oppose"),
)
"""Opposites: one in each question, where the other has neither, turns the question around."""

_POLE_PARTNERS: dict[str, frozenset[str]] = {}
for _x, _y in _POLES:
    _POLE_PARTNERS[_x] = _POLE_PARTNERS.get(_x, frozenset()) | {_y}
    _POLE_PARTNERS[_y] = _POLE_PARTNERS.get(_y, frozenset()) | {_x}


@dataclass(frozen=True, slots=True)
class TextInfo:
    """One question, read once (see :func:`analyse`)."""

    tokens: tuple[str, ...]
    """Lower-cased words and numbers, in order, number words and ordinals normalised (``two`` → ``2``)."""
    content: tuple[str, ...]
    """``tokens`` without function words, negations, numbers and units, in order (duplicates kept)."""
    numbers: frozenset[str]
    units: frozenset[str]
    negations: int
    names: frozenset[str]
    """Lower-cased words written with a capital inside the sentence, or in capitals (``Paris``, ``NASA``), and
    words in non-Latin scripts."""
    qword: str
    """The first question word (``what``, ``how``...) or ``""``."""
    symbols: frozenset[str]
    """Tokens carrying a symbol that words cannot spell: ``c++``, ``c#``, ``==``, ``$5``, ``~``."""
    trigrams: frozenset[str]


def _number(token: str) -> str | None:
    if token[0].isdigit():
        digits = token.replace(",", "")
        try:
            value = float(digits)
        except ValueError:
            return token
        return f"{value:g}"
    ordinal = _ORDINAL_SUFFIX.match(token)
    if ordinal:
        return f"#{int(ordinal.group(1))}"
    return _NUMBER_WORDS.get(token) or _ORDINALS.get(token)


def analyse(text: str) -> TextInfo:
    """Read ``text`` into the parts :func:`hard_mismatch` and :func:`pair_features` compare."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'")
    matches = list(_WORD.finditer(text))
    raw = [m.group() for m in matches]
    tokens: list[str] = []
    content: list[str] = []
    numbers: set[str] = set()
    units: set[str] = set()
    names: set[str] = set()
    negations = 0
    qword = ""
    for i, word in enumerate(raw):
        lower = word.lower()
        if lower.endswith("n't"):
            negations += 1
            lower = lower[:-3]
            lower = _CONTRACTED.get(lower, lower)
            if not lower:
                continue
        elif "'" in lower:
            lower = lower.split("'", 1)[0]
        number = _number(lower) if lower[0].isdigit() or lower in _NUMBER_WORDS or lower in _ORDINALS else None
        if number is not None:
            numbers.add(number)
            tokens.append(number)
            continue
        tokens.append(lower)
        if lower in _NEGATIONS:
            negations += 1
            continue
        if not qword and lower in _QUESTION_WORDS:
            qword = lower
        # "I" and a sentence's first word are capitalised by grammar, not because they name something.
        sentence_start = i == 0 or any(c in ".?!" for c in text[matches[i - 1].end() : matches[i].start()])
        if len(word) > 1 and (word.isupper() or (word[0].isupper() and not sentence_start)):
            names.add(lower)
        elif any(c > "\u024f" for c in word):
            # Words in other scripts ("无语") are as specific as names, and the encoder's vocabulary may not even
            # tell them apart (two such questions can embed identically).
            names.add(lower)
        # A one-letter unit ("m", "g", "l") only counts right after a number: alone it is usually a letter.
        if lower in _UNITS and (len(lower) > 1 or (i > 0 and raw[i - 1][0].isdigit())):
            units.add(_UNITS[lower])
            continue
        if lower not in _STOP:
            content.append(lower)
    symbols = frozenset(m.lower().rstrip(_TRAILING).lstrip("\"'([{") for m in _SYMBOLIC.findall(text))
    squeezed = " ".join(tokens)
    trigrams = frozenset(squeezed[j : j + 3] for j in range(max(len(squeezed) - 2, 1)))
    return TextInfo(
        tokens=tuple(tokens),
        content=tuple(content),
        numbers=frozenset(numbers),
        units=frozenset(units),
        negations=negations,
        names=frozenset(names),
        qword=qword,
        symbols=symbols,
        trigrams=trigrams,
    )


def _stem(word: str) -> str:
    # Enough to see "cats"/"cat" and "running"/"runs" as one word when matching names and content.
    for suffix in ("ing", "es", "ed", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _opposed(a: TextInfo, b: TextInfo) -> bool:
    only_a = set(a.tokens) - set(b.tokens)
    only_b = set(b.tokens) - set(a.tokens)
    return any(_POLE_PARTNERS.get(word, frozenset()) & only_b for word in only_a)


def _cores(a: TextInfo, b: TextInfo) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The tokens where ``a`` and ``b`` differ: each without the prefix and suffix the two share."""
    x, y = a.tokens, b.tokens
    start = 0
    while start < min(len(x), len(y)) and x[start] == y[start]:
        start += 1
    end = 0
    while end < min(len(x), len(y)) - start and x[-1 - end] == y[-1 - end]:
        end += 1
    return x[start : len(x) - end], y[start : len(y) - end]


_SYMMETRIC = frozenset({("and",), ("or",), ("vs",), ("versus",), ("nor",), ("and", "the"), ("or", "the")})
"""What may stand between two exchanged spans without changing the question: "X and Y", "X or Y"."""


def _swapped(a: TextInfo, b: TextInfo) -> bool:
    """``b`` is ``a`` with two spans exchanged around a relation: "from X to Y" / "from Y to X", "X bigger than
    Y". Exchanges across "and"/"or", and words that merely moved next to each other ("online fast"), do not
    count: those keep the meaning."""
    x, y = _cores(a, b)
    n = len(x)
    if n != len(y) or n < 3:
        return False
    for lx in range(1, n - 1):
        for ly in range(1, n - lx):
            left, middle, right = x[:lx], x[lx : n - ly], x[n - ly :]
            if (
                y == right + middle + left
                and left != right
                and middle not in _SYMMETRIC
                and any(w not in _STOP for w in left)
                and any(w not in _STOP for w in right)
            ):
                return True
    return False


def _substituted_name(a: TextInfo, b: TextInfo) -> bool:
    """Where the texts differ, each names something the other's differing part does not ("in Tokyo" /
    "in New York"), even if both names occur elsewhere in both texts."""
    x, y = _cores(a, b)
    in_x, in_y = set(x), set(y)
    keyed_a = (a.names | a.numbers) & in_x
    keyed_b = (b.names | b.numbers) & in_y
    return bool(keyed_a - in_y) and bool(keyed_b - in_x)


def _unmatched_names(a: TextInfo, b: TextInfo) -> int:
    words = {_stem(t) for t in b.tokens}
    return sum(1 for name in a.names if _stem(name) not in words)


def hard_mismatch(a: TextInfo, b: TextInfo) -> str | None:
    """Why ``a`` and ``b`` cannot be the same question, or ``None``.

    Reasons: ``numbers`` (the sets of numbers differ), ``units`` (each has a unit the other lacks), ``symbols``
    (``C++`` / ``C``, ``=`` / ``==``: the words alone cannot see it), ``negation``
    (one is negated, the other not), ``opposites`` (``best``/``worst``), ``names`` (a name substituted for
    another), ``order`` (two spans exchanged).
    """
    if a.numbers != b.numbers:
        return "numbers"
    if a.units - b.units and b.units - a.units:
        return "units"
    if a.symbols != b.symbols:
        return "symbols"
    if (a.negations > 0) != (b.negations > 0):
        return "negation"
    if _opposed(a, b):
        return "opposites"
    if (_unmatched_names(a, b) and _unmatched_names(b, a)) or _substituted_name(a, b):
        return "names"
    if _swapped(a, b):
        return "order"
    return None


HAND_FEATURES = (
    "cosine",
    "token_jaccard",
    "content_jaccard",
    "trigram_jaccard",
    "length_ratio",
    "content_only_a",
    "content_only_b",
    "names_only_a",
    "names_only_b",
    "numbers_differ",
    "negation_differs",
    "qword_differs",
    "opposites",
    "swapped",
    "one_substitution",
    "function_jaccard",
    "auxiliary_differs",
    "person_differs",
    "past_differs",
    "short",
    "core_share",
    "opening_differs",
    "has_names",
)
"""The order of :func:`pair_features`' output."""


_AUXILIARIES = frozenset(_words(
    "can could should would will shall may might must do does did is are was were am have has had"
))
_FIRST_PERSON = frozenset(_words("i me my mine we our us"))
_PAST = frozenset(_words("did was were had"))


def _jaccard(x: set[str] | frozenset[str], y: set[str] | frozenset[str]) -> float:
    union = len(x | y)
    return len(x & y) / union if union else 1.0


def pair_features(a: TextInfo, b: TextInfo, cosine: float) -> list[float]:
    """The :data:`HAND_FEATURES` of a pair, symmetric except that ``a`` is the cached question."""
    content_a = {_stem(w) for w in a.content}
    content_b = {_stem(w) for w in b.content}
    only_a, only_b = content_a - content_b, content_b - content_a
    len_a, len_b = len(a.tokens), len(b.tokens)
    core_a, core_b = _cores(a, b)
    return [
        cosine,
        _jaccard(set(a.tokens), set(b.tokens)),
        _jaccard(content_a, content_b),
        _jaccard(a.trigrams, b.trigrams),
        min(len_a, len_b) / max(len_a, len_b, 1),
        min(len(only_a), 4) / 4,
        min(len(only_b), 4) / 4,
        min(_unmatched_names(a, b), 3) / 3,
        min(_unmatched_names(b, a), 3) / 3,
        float(a.numbers != b.numbers),
        float((a.negations > 0) != (b.negations > 0)),
        float(a.qword != b.qword),
        float(_opposed(a, b)),
        float(_swapped(a, b)),
        # Same length, one content word swapped for another: the shape of "learn Python" vs "learn Java".
        float(len(only_a) == 1 and len(only_b) == 1 and len(a.content) == len(b.content)),
        _jaccard(set(a.tokens) & _STOP, set(b.tokens) & _STOP),
        # "How can I..." / "How did you..." / "Should I...": the same words asking something else.
        float(set(a.tokens) & _AUXILIARIES != set(b.tokens) & _AUXILIARIES),
        float(bool(set(a.tokens) & _FIRST_PERSON) != bool(set(b.tokens) & _FIRST_PERSON)),
        float(bool(set(a.tokens) & _PAST) != bool(set(b.tokens) & _PAST)),
        min(len(a.content), len(b.content), 6) / 6,
        (len(core_a) + len(core_b)) / max(len_a + len_b, 1),
        float(a.tokens[:2] != b.tokens[:2]),
        float(bool(a.names or b.names)),
    ]
