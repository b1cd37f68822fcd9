"""The rules tier of task classification: cheap textual signals that settle the obvious cases.

Each signal points to a task with a confidence. The tier answers only when the signals agree — the strongest
task is ahead of every other task that fired by ``MARGIN`` — so "write a poem about this Python traceback"
(creative writing and coding both fire) is left to the embedding tier instead of going to whichever pattern
happens to come first.

Speed: Python's ``re`` tries a pattern that starts with ``\\b(?:a|b|c)`` at every character, which costs tens of
microseconds per pattern on a paragraph. So each regex sits behind a gate that is one set lookup on the
message's words (or a substring test), and most messages never run most regexes.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MARGIN", "SHORT_WORDS", "RuleHit", "match_rules"]

MARGIN = 0.1
"""How far ahead of every other task the strongest task must be for the rules to answer."""

SHORT_WORDS = 14
"""Greetings and look-ups are short; past this many words a message is asking for more than that."""

# Punctuation becomes spaces for the word set, except what is part of a name we look for ("c++", "c#", "what's").
_SEPARATORS = str.maketrans({c: " " for c in string.punctuation if c not in "+#'"})


@dataclass(frozen=True, slots=True)
class RuleHit:
    task: str
    confidence: float


@dataclass(frozen=True, slots=True)
class _Text:
    raw: str
    lower: str
    words: frozenset[str]


Gate = Callable[[_Text], bool]


def _any_word(*words: str) -> Gate:
    wanted = frozenset(words)
    return lambda t: not wanted.isdisjoint(t.words)


def _all_of(*gates: Gate) -> Gate:
    return lambda t: all(g(t) for g in gates)


def _either(*gates: Gate) -> Gate:
    return lambda t: any(g(t) for g in gates)


def _substring(*parts: str) -> Gate:
    return lambda t: any(p in t.lower for p in parts)


@dataclass(frozen=True, slots=True)
class _Signal:
    task: str
    confidence: float
    gate: Gate
    pattern: re.Pattern[str] | None = None
    """``None``: the gate alone decides. Otherwise the pattern must match too."""
    case_sensitive: bool = False
    """Search the original text (``KeyError``, ``SELECT``) rather than its lower-case form."""

    def fires(self, text: _Text) -> bool:
        if not self.gate(text):
            return False
        return self.pattern is None or self.pattern.search(text.raw if self.case_sensitive else text.lower) is not None


_LANGS = (
    "python", "javascript", "typescript", "java", "kotlin", "scala", "c++", "c#", "golang", "rust", "swift", "ruby",
    "php", "perl", "haskell", "elixir", "lua", "sql", "postgres", "postgresql", "mysql", "sqlite", "bash", "shell",
    "powershell", "html", "css", "react", "vue", "angular", "django", "flask", "fastapi", "node", "numpy", "pandas",
    "pytorch", "tensorflow", "dockerfile", "kubernetes", "terraform", "regex", "js",
)
_CODE_ARTIFACTS = (
    r"functions?|class(?:es)?|algorithms?|regex(?:es)?|regular expressions?|api|endpoints?|cli|compiler|"
    r"interpreter|recursion|bug|segfault|code|snippet|library|decorator|lambda|app|linked list|"
    r"binary (?:search )?tree|hash ?map|web ?(?:site|page)|unit tests?|test cases?|sql quer(?:y|ies)"
)
"""Things only programmers make. Not "program", "script", "method" or "module": a fitness program, a video
script and a training module are not code; with a language named ("a Python script") the next signal fires."""
_CODE_WORDS = (
    "function", "functions", "class", "classes", "algorithm", "algorithms", "regex", "regular", "api", "endpoint",
    "endpoints", "cli", "compiler", "interpreter", "recursion", "bug", "segfault", "code", "snippet", "library",
    "decorator", "lambda", "app", "linked", "tree", "hash", "hashmap", "web", "website", "webpage", "unit", "test",
    "sql",
)
_CODE_VERBS = ("write", "implement", "code", "create", "build", "develop", "fix", "debug", "refactor", "optimize",
               "optimise", "port", "translate", "review")
_WRITING_VERBS = ("write", "compose", "draft", "craft", "pen", "make", "come", "create", "invent")
_WRITING_FORMS = (
    "poem", "poetry", "haiku", "limerick", "sonnet", "ode", "verse", "verses", "song", "lyrics", "rap", "story",
    "stories", "tale", "fable", "fairy", "fairytale", "novel", "screenplay", "monologue", "dialogue", "joke",
    "slogan", "tagline", "jingle", "toast", "eulogy", "speech", "blog", "letter", "fiction", "fanfiction", "bedtime",
)

_SIGNALS: tuple[_Signal, ...] = (
    # Code itself, or its failure output, is the clearest signal there is.
    _Signal("coding", 0.95, _substring("```", "~~~")),
    _Signal("coding", 0.95, _substring("traceback (most recent call last)", "segmentation fault", "panicked at",
                                       "undefined reference to", "error: cannot find symbol", "error[e")),
    _Signal("coding", 0.95, _any_word("syntaxerror", "typeerror", "valueerror", "keyerror", "attributeerror",
                                      "indexerror", "nameerror", "importerror", "modulenotfounderror",
                                      "nullpointerexception", "classnotfoundexception", "segfault")),
    _Signal("coding", 0.95, _substring(".java:", ".kt:", ".scala:", ".js:", ".ts:"),
            re.compile(r"^\s+at [\w$.<>]+\([\w$.]+:\d+", re.MULTILINE)),
    # Source code, by constructs prose does not contain. Each has its own gate so long prose is not scanned for
    # all of them at every character.
    _Signal("coding", 0.9, _substring("#include", "system.out.", "std::", "console.log(", ") => {")),
    _Signal("coding", 0.9, _substring("def ", "class "),
            re.compile(r"^\s*(?:def|class|async def) \w+\s*[(:]", re.MULTILINE)),
    _Signal("coding", 0.9, _substring("public ", "private ", "protected "),
            re.compile(r"^\s*(?:public|private|protected)\s+(?:static\s+)?[\w<>\[\]]+\s+\w+\s*\(", re.MULTILINE)),
    _Signal("coding", 0.9, _substring("function", "const ", "let ", "var ", "fn "),
            re.compile(r"\bfunction\s+\w*\s*\([^)\n]*\)\s*\{|^\s*(?:let|const|var) \w+ = |\bfn \w+\(", re.MULTILINE)),
    _Signal("coding", 0.9, _substring("import "),
            re.compile(r"^\s*(?:import \w[\w.]*|from [\w.]+ import \w+)\s*$", re.MULTILINE)),
    _Signal("coding", 0.9, _substring("select ", "insert into", "create table"),
            re.compile(r"^\s*(?:SELECT|INSERT INTO|CREATE TABLE)\b[^\n]*?\b(?:FROM|VALUES|\()", re.MULTILINE),
            case_sensitive=True),
    _Signal("coding", 0.85, _all_of(_any_word(*_CODE_VERBS), _any_word(*_CODE_WORDS)), re.compile(
        rf"\b(?:{'|'.join(_CODE_VERBS)})\b.{{0,40}}\b(?:{_CODE_ARTIFACTS})\b")),
    _Signal("coding", 0.85, _any_word(*_LANGS), re.compile(
        rf"\b(?:in|using|with|for)\s+(?:{'|'.join(re.escape(x) for x in _LANGS)})(?:\W|$)|"
        rf"(?:^|\W)(?:{'|'.join(re.escape(x) for x in _LANGS)})\s+(?:{_CODE_ARTIFACTS}|programs?|scripts?|"
        r"error|exception|modules?|packages?)\b")),
    # Maths: bare arithmetic, equations, the verbs of a maths exercise, and word problems.
    _Signal("math", 0.95, lambda t: True, re.compile(
        r"^\s*(?:what(?:'s| is)|calculate|compute|evaluate)?\s*[-+(]*\d[\d.,]*\s*(?:[-+*/\u00d7\u00f7^%]\s*[-+(]*"
        r"\d[\d.,]*\s*\)*\s*)+=?\s*\??\s*$")),
    _Signal("math", 0.9, _any_word("solve", "simplify", "factorise", "factorize", "differentiate", "integrate",
                                   "derivative", "integral", "antiderivative", "eigenvalues", "eigenvectors",
                                   "determinant", "prove", "limit"), re.compile(
        r"\b(?:solve|simplify|factori[sz]e|differentiate|integrate|derivative|integral|antiderivative|eigen\w+|"
        r"determinant|prove that|limit of)\b.{0,60}(?:\d|\b[xyzn]\b|[a-z]\s*[\^=])")),
    _Signal("math", 0.9, _either(_substring("^", "**", "=", "\u222b", "\u2211"),
                                 _any_word("sqrt", "log", "ln", "sin", "cos", "tan")), re.compile(
        r"\b\d*[a-z] ?(?:\^|\*\*) ?\d|\b\d+[a-z] ?[-+] ?\d+ ?=|(?<!\w)[a-z] ?[-+*/] ?(?:\d+|[a-z])\b ?= ?[-\w]|"
        r"\bf\([a-z]\) ?=|\b(?:sqrt|log|ln|sin|cos|tan) ?\(|\u222b|\u2211")),
    _Signal("math", 0.8, _any_word("probability", "ways", "expected", "deviation", "divisor", "multiple", "area",
                                   "percent", "percentage"), re.compile(
        r"\b(?:what is the probability|how many ways|expected value|standard deviation|greatest common divisor|"
        r"least common multiple|area of (?:a|the) (?:triangle|circle|rectangle|square)|percent(?:age)? of \d)\b")),
    # A word problem: several numbers and a question about a quantity.
    _Signal("math", 0.8, _any_word("how", "total", "altogether", "remaining", "left"), re.compile(
        r"\A(?=[^\d]*\d[\d.,]*[^\d]+\d)(?=[\s\S]*\b(?:how (?:much|many|long|far|old|fast)|in total|altogether|"
        r"what (?:is|was|will be) the (?:total|sum|average|difference|cost|price|profit|percentage)|"
        r"how much (?:money|more|less)|are left|remaining)\b)")),
    # Creative writing, role-play included (MT-Bench files role-play with writing).
    _Signal("creative_writing", 0.9, _all_of(_any_word(*_WRITING_VERBS), _any_word(*_WRITING_FORMS)), re.compile(
        r"\b(?:write|compose|draft|craft|pen|make up|come up with|create|invent)\b.{0,30}\b(?:poem|poetry|haiku|"
        r"limerick|sonnet|ode|verses?|song|lyrics|rap|story|stories|tale|fable|fairy ?tale|novel|screenplay|"
        r"monologue|dialogue|joke|slogan|tagline|jingle|toast|eulogy|wedding speech|blog post|cover letter|"
        r"love letter|short fiction|fan ?fiction|bedtime story)\b")),
    _Signal("creative_writing", 0.85, _any_word("pretend", "roleplay", "role", "persona", "act", "picture", "speak"),
            re.compile(
                r"\b(?:pretend (?:you are|you're|to be|yourself|that you are)|role-?play|embody the persona|in the "
                r"persona of|(?:take on|assume|play) the role of|act as (?:a|an|my)\b|picture yourself as|"
                r"speak like)\b")),
    # Extraction: pulling structured data out of text the user supplies.
    _Signal("extraction", 0.9, _any_word("extract", "parse", "pull", "scrape"),
            re.compile(r"\b(?:extract|parse out|pull out|scrape)\b")),
    _Signal("extraction", 0.85, _all_of(_any_word("identify", "list", "find", "get", "count", "tag"), _any_word(
        "entities", "email", "phone", "dates", "amounts", "prices", "names", "addresses", "keywords")), re.compile(
        r"\b(?:identify|list|find|get|count|tag)\b.{0,50}\b(?:named entities|entities|email addresses|phone "
        r"numbers|dates|amounts|prices|names|addresses|keywords)\b.{0,50}\b(?:in|from|within)\s+(?:the|this|"
        r"these|each|following|given)\b")),
    _Signal("extraction", 0.8, _any_word("json", "yaml", "csv", "xml", "table", "key"), re.compile(
        r"\b(?:output|return|format|present|give|provide|convert|put|organi[sz]e)\b.{0,40}\b(?:as|in|into|to)\b"
        r".{0,12}\b(?:json|yaml|csv|xml|a table|a markdown table|key-value pairs)\b")),
)

_GREETING = re.compile(
    r"^\W*(?:hi|hii+|hello|hey|heya|hiya|yo|howdy|greetings|good (?:morning|afternoon|evening|night)|thanks|"
    r"thank you|thx|ty|cheers|bye|goodbye|see you|see ya|how are you|how's it going|how are things|what's up|"
    r"sup|nice to meet you|ok|okay|cool|great|awesome|lol|haha|who are you|what's your name|"
    r"what is your name|i'm bored|i am bored|good job|well done|never mind|nevermind)\b")
_LOOKUP = re.compile(
    r"^\W*(?:who (?:is|was|were|are) (?:the )?\w+|who (?:wrote|invented|discovered|painted|directed|founded|"
    r"composed|won|played|sang|built)|when (?:is|was|did|does|were|will)|where (?:is|was|are|were|do|does|did)|"
    r"which (?:country|city|year|planet|element|state|continent|language|team|company|river|ocean)|"
    r"what (?:year|day|date|time zone|century|continent|country|language|currency)|what is the (?:capital|"
    r"population|currency|height|length|distance|boiling point|melting point|chemical symbol|atomic number|"
    r"speed of|area of \w+$|largest|smallest|tallest|longest|official language)|what does \S+ stand for|"
    r"how (?:tall|old|far|high|deep|long|big|heavy) (?:is|was|are)|how many \w+ (?:are|is) (?:in|there in)|"
    r"what(?:'s| is) (?:a|an|the) (?:synonym|antonym|opposite|plural) (?:of|for)|"
    r"define|definition of|meaning of|synonym for|antonym of|capital of|spell|translate \S+ (?:to|into))")
_ASKS_FOR_MORE = frozenset(("why", "explain", "compare", "should", "analyse", "analyze", "discuss", "opinion",
                            "think", "describe", "pros", "step", "essay", "detail"))


def match_rules(text: str, tasks: frozenset[str]) -> RuleHit | None:
    """The task the rules are sure of, or ``None``. Only tasks in ``tasks`` are considered."""
    lower = text.lower()
    words = lower.translate(_SEPARATORS).split()
    t = _Text(text, lower, frozenset(words))
    best: dict[str, float] = {}
    for signal in _SIGNALS:
        if signal.task in tasks and signal.confidence > best.get(signal.task, 0.0) and signal.fires(t):
            best[signal.task] = signal.confidence
    if not best:
        if len(words) <= SHORT_WORDS and _ASKS_FOR_MORE.isdisjoint(t.words):
            if len(words) <= 8 and "chat" in tasks and _GREETING.search(lower):
                return RuleHit("chat", 0.9)
            if "quick_lookup" in tasks and _LOOKUP.search(lower):
                return RuleHit("quick_lookup", 0.85)
        return None
    ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
    task, confidence = ranked[0]
    if len(ranked) > 1 and confidence - ranked[1][1] < MARGIN:
        return None
    return RuleHit(task, confidence)
