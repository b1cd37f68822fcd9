"""The rules tier of task classification: cheap textual signals that settle the obvious cases.

Each signal is a compiled regex with the task it points to and how sure it is. The tier answers only when the
signals agree — the strongest task is ahead of every other task that fired by ``MARGIN`` — so a request such as
"write a poem about this Python traceback" (creative writing and coding both fire) is left to the embedding
tier instead of being decided by whichever pattern happens to come first. Costs tens of microseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MARGIN", "RuleHit", "match_rules"]

MARGIN = 0.1
"""How far ahead of every other task the strongest task must be for the rules to answer."""

SHORT_WORDS = 14
"""Greetings and look-ups are short; past this many words a message is asking for more than that."""

_I = re.IGNORECASE
_IM = re.IGNORECASE | re.MULTILINE

_LANGS = (
    r"python|javascript|typescript|java|kotlin|scala|c\+\+|c#|golang|go lang|rust|swift|ruby|php|perl|haskell|"
    r"elixir|lua|sql|postgres(?:ql)?|mysql|sqlite|bash|shell|powershell|html|css|react|vue|angular|django|flask|"
    r"fastapi|node(?:\.js)?|numpy|pandas|pytorch|tensorflow|dockerfile|kubernetes|terraform|regex"
)
_CODE_ARTIFACTS = (
    r"functions?|methods?|class(?:es)?|scripts?|programs?|algorithms?|regex(?:es)?|regular expressions?|"
    r"sql queries|sql query|queries|unit tests?|test cases?|api|endpoints?|cli|compiler|interpreter|"
    r"data structures?|linked list|binary (?:search )?tree|hash ?map|recursion|bug|segfault|stack trace|"
    r"code|snippet|library|module|decorator|lambda|web ?site|web page|app"
)
_CODE_VERBS = r"write|implement|code|create|build|develop|fix|debug|refactor|optimi[sz]e|port|translate|review"

# (task, confidence, pattern). Confidence orders signals; only strong ones (>= 0.8) can decide alone.
_SIGNALS: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    # Code itself, or its failure output, is the clearest signal there is.
    ("coding", 0.95, re.compile(r"```|~~~")),
    ("coding", 0.95, re.compile(
        r"Traceback \(most recent call last\)|^\s+at [\w$.<>]+\([\w$.]+:\d+\)|\b(?:SyntaxError|TypeError|"
        r"ValueError|KeyError|AttributeError|IndexError|NullPointerException|ClassNotFoundException|"
        r"Segmentation fault|undefined reference to|panicked at|ModuleNotFoundError)\b|error(?:\[E\d{4}\]|"
        r" TS\d{4}|: cannot find symbol)", re.MULTILINE)),
    ("coding", 0.9, re.compile(
        r"^\s*(?:def|class|async def) \w+\s*[(:]|^\s*(?:public|private|protected)\s+(?:static\s+)?[\w<>\[\]]+"
        r"\s+\w+\s*\(|#include\s*<|\bfunction\s+\w*\s*\([^)]*\)\s*\{|\) => \{|\bconsole\.log\(|\bSystem\.out\."
        r"|\bstd::|^\s*(?:import \w[\w.]*|from [\w.]+ import \w+)\s*$|^\s*(?:SELECT|INSERT INTO|UPDATE|"
        r"CREATE TABLE)\b.*\b(?:FROM|VALUES|SET|\()|\bfn \w+\(|^\s*(?:let|const|var) \w+ = ",
        re.MULTILINE)),
    ("coding", 0.85, re.compile(rf"\b(?:{_CODE_VERBS})\b.{{0,40}}\b(?:{_CODE_ARTIFACTS})\b", _I)),
    ("coding", 0.85, re.compile(
        rf"\b(?:in|using|with|for)\s+(?:{_LANGS})\b|\b(?:{_LANGS})\s+(?:{_CODE_ARTIFACTS}|error|exception)\b", _I)),
    # Maths: bare arithmetic, equations and the verbs of a maths exercise.
    ("math", 0.95, re.compile(
        r"^\s*(?:what(?:'s| is)|calculate|compute|evaluate)?\s*[-+(]*\d[\d.,]*\s*(?:[-+*/×÷^%]\s*[-+(]*\d[\d.,]*"
        r"\s*\)*\s*)+=?\s*\??\s*$", _I)),
    ("math", 0.9, re.compile(
        r"\b(?:solve|simplify|factori[sz]e|differentiate|integrate|derivative|integral|antiderivative|"
        r"eigen\w+|determinant|prove that|limit of)\b.{0,60}(?:\d|\b[xyzn]\b|[a-z]\s*[\^=])", _I)),
    ("math", 0.9, re.compile(
        r"\b\d*[a-z]\s*(?:\^|\*\*)\s*\d|\b\d+[a-z]\s*[-+]\s*\d+\s*=|\b[a-z]\s*[-+*/]\s*[a-z\d]+\s*=\s*[-\d\w]|"
        r"\bf\([a-z]\)\s*=|\b(?:sqrt|log|sin|cos|tan)\s*\(|\u222b|\u2211", _I)),
    ("math", 0.8, re.compile(
        r"\b(?:what is the probability|how many ways|expected value|standard deviation|greatest common divisor|"
        r"least common multiple|area of (?:a|the) (?:triangle|circle|rectangle|square)|percent(?:age)? of \d)\b",
        _I)),
    # Creative writing, role-play included (the mapping puts MT-Bench's role-play with writing).
    ("creative_writing", 0.9, re.compile(
        r"\b(?:write|compose|draft|craft|pen|make up|come up with|create|invent)\b.{0,30}\b(?:poem|poetry|haiku|"
        r"limerick|sonnet|ode|verses?|song|lyrics|rap|story|stories|tale|fable|fairy ?tale|novel|screenplay|"
        r"monologue|dialogue|joke|slogan|tagline|jingle|toast|eulogy|wedding speech|blog post|cover letter|"
        r"love letter|short fiction|fan ?fiction|bedtime story)\b", _I)),
    ("creative_writing", 0.85, re.compile(
        r"\b(?:pretend (?:you are|to be|yourself)|role-?play|embody the persona|in the persona of|"
        r"(?:take on|assume|play) the role of|act as (?:a|an|my)\b|picture yourself as|speak like)\b", _I)),
    # Extraction: pulling structured data out of text the user supplies.
    ("extraction", 0.9, re.compile(r"\b(?:extract|parse out|pull out|scrape)\b", _I)),
    ("extraction", 0.85, re.compile(
        r"\b(?:identify|list|find|get|count|tag)\b.{0,50}\b(?:named entities|entities|email addresses|phone "
        r"numbers|dates|amounts|prices|names|addresses|keywords)\b.{0,50}\b(?:in|from|within)\s+(?:the|this|"
        r"these|each|following|given)\b", _I)),
    ("extraction", 0.8, re.compile(
        r"\b(?:output|return|format|present|give|provide|convert|put|organi[sz]e)\b.{0,40}\b(?:as|in|into|to)\b"
        r".{0,12}\b(?:json|yaml|csv|xml|a table|a markdown table|key-value pairs)\b", _I)),
)

_GREETING = re.compile(
    r"^\W*(?:hi|hii+|hello|hey|heya|hiya|yo|howdy|greetings|good (?:morning|afternoon|evening|night)|thanks|"
    r"thank you|thx|ty|cheers|bye|goodbye|see you|see ya|how are you|how's it going|how are things|what's up|"
    r"sup|nice to meet you|ok|okay|cool|great|awesome|lol|haha|who are you|what's your name|"
    r"what is your name|i'm bored|i am bored|good job|well done|never mind|nevermind)\b", _I)
_LOOKUP = re.compile(
    r"^\W*(?:who (?:is|was|were|are) (?:the )?\w+|who (?:wrote|invented|discovered|painted|directed|founded|"
    r"composed|won|played|sang|built)|when (?:is|was|did|does|were|will)|where (?:is|was|are|were|do|does|did)|"
    r"which (?:country|city|year|planet|element|state|continent|language|team|company|river|ocean)|"
    r"what (?:year|day|date|time zone|century|continent|country|language|currency)|what is the (?:capital|"
    r"population|currency|height|length|distance|boiling point|melting point|chemical symbol|atomic number|"
    r"speed of|area of \w+$|largest|smallest|tallest|longest|official language)|what does \S+ stand for|"
    r"how (?:tall|old|far|high|deep|long|big|heavy) (?:is|was|are)|how many \w+ (?:are|is) (?:in|there in)|"
    r"define|definition of|meaning of|synonym for|antonym of|capital of|spell|translate \S+ (?:to|into))", _I)
_ASKS_FOR_MORE = re.compile(
    r"\b(?:why|explain|compare|should|analy[sz]e|discuss|opinion|think|describe|pros and cons|step by step|"
    r"essay|in detail)\b", _I)


@dataclass(frozen=True, slots=True)
class RuleHit:
    task: str
    confidence: float


def match_rules(text: str, tasks: frozenset[str]) -> RuleHit | None:
    """The task the rules are sure of, or ``None``. Only tasks in ``tasks`` are considered."""
    best: dict[str, float] = {}
    for task, confidence, pattern in _SIGNALS:
        if task in tasks and confidence > best.get(task, 0.0) and pattern.search(text):
            best[task] = confidence
    if not best:
        words = len(text.split())
        if words <= SHORT_WORDS and not _ASKS_FOR_MORE.search(text):
            if words <= 8 and "chat" in tasks and _GREETING.search(text):
                return RuleHit("chat", 0.9)
            if "quick_lookup" in tasks and _LOOKUP.search(text):
                return RuleHit("quick_lookup", 0.85)
        return None
    ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
    task, confidence = ranked[0]
    if len(ranked) > 1 and confidence - ranked[1][1] < MARGIN:
        return None
    return RuleHit(task, confidence)
