"""What a question says beyond its embedding, and the differences that make two questions different."""

from __future__ import annotations

import pytest

from switchyard.cache.semantic.features import HAND_FEATURES, analyse, hard_mismatch, pair_features


def mismatch(a: str, b: str) -> str | None:
    return hard_mismatch(analyse(a), analyse(b))


def test_numbers_are_normalised_across_digits_words_and_ordinals() -> None:
    info = analyse("Top 10 tips for my twelfth year, two of them about 1,000.50 dollars")
    assert info.numbers == {"10", "#12", "2", "1000.5"}
    assert "usd" in info.units
    assert analyse("What is 15% of 80?").numbers == {"15", "80"}
    # "one" is usually a pronoun ("which one"), not a count.
    assert analyse("Which one is better?").numbers == frozenset()


def test_negation_counts_contractions_and_negative_words() -> None:
    assert analyse("Why don't cats purr?").negations == 1
    assert analyse("Can I eat without salt?").negations == 1
    assert analyse("Why do cats purr?").negations == 0


def test_names_skip_the_first_word_and_the_word_after_a_full_stop() -> None:
    info = analyse("Where is Paris? Which river runs through NASA country")
    assert info.names == {"paris", "nasa"}


def test_question_word_and_content_words() -> None:
    info = analyse("How do I learn Python quickly?")
    assert info.qword == "how"
    assert info.content == ("learn", "python", "quickly")


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        ("What is 15% of 80?", "What is 15% of 60?", "numbers"),
        ("How to get a job with two years of experience?", "How to get a job with 3 years of experience?", "numbers"),
        ("How many kilometers can I run in an hour?", "How many miles can I run in an hour?", "units"),
        ("Is it safe to drink tap water?", "Is it not safe to drink tap water?", "negation"),
        ("What is the best language to learn?", "What is the worst language to learn?", "opposites"),
        ("What should I eat before a workout?", "What should I eat after a workout?", "opposites"),
        ("What is the capital of Australia?", "What is the capital of Austria?", "names"),
        (
            "What time is it in Tokyo when it is noon in New York?",
            "What time is it in Tokyo when it is noon in Tokyo?",
            "names",
        ),
        ("How do I convert Celsius to Fahrenheit?", "How do I convert Fahrenheit to Celsius?", "order"),
        ("Why did Germany declare war on the United States?", "Why did the United States declare war on Germany?",
         "order"),
    ],
)
def test_hard_mismatches(a: str, b: str, reason: str) -> None:
    assert mismatch(a, b) == reason
    assert mismatch(b, a) == reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I learn programming for free?", "How can I learn programming for free?"),
        ("What is the difference between PHP and Node.js?", "What is the difference between Node.js and PHP?"),
        ("Would you rather be rich or happy?", "Would you rather be happy or rich?"),
        ("How can I earn money fast online?", "How can I earn money online fast?"),
        ("Which is the best dell laptop under 30000?", "Which is the best dell laptop under Rs 30,000?"),
        ("How long does it take for Viagra to work?", "How long will it take for VIAGRA to work?"),
    ],
)
def test_paraphrases_pass_the_hard_checks(a: str, b: str) -> None:
    assert mismatch(a, b) is None


def test_pair_features_have_the_declared_shape_and_react_to_differences() -> None:
    same = pair_features(analyse("How do I learn Python?"), analyse("How do I learn Python?"), 1.0)
    other = pair_features(analyse("How do I learn Python?"), analyse("How did you learn Java?"), 0.7)
    assert len(same) == len(other) == len(HAND_FEATURES)
    named = dict(zip(HAND_FEATURES, other, strict=True))
    assert named["cosine"] == 0.7
    assert named["past_differs"] == 1.0
    assert named["person_differs"] == 1.0
    assert named["one_substitution"] == 1.0
    assert dict(zip(HAND_FEATURES, same, strict=True))["token_jaccard"] == 1.0
    assert named["token_jaccard"] < 1.0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What is the scope after learning C++?", "What is the scope after learning C?"),
        ("What does ~ mean in C++?", "What does % mean in C++?"),
        ("What is the difference between = and == in Python?", "What is the difference between = and === in Python?"),
    ],
)
def test_symbols_words_cannot_spell_must_agree(a: str, b: str) -> None:
    assert mismatch(a, b) == "symbols"


def test_symbols_ignore_surrounding_punctuation() -> None:
    assert analyse("Is C# (really) worth it?").symbols == {"c#"}
    assert mismatch("Should I learn C#?", "should I learn c# ?") is None
