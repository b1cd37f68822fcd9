"""Canonical types: the small helpers users rely on."""

from __future__ import annotations

import pytest

from switchyard import ChatResponse, Choice, ImagePart, Message, TextPart, Usage


def test_message_helpers() -> None:
    user = Message.user("look", "data:image/png;base64,AAAA")
    assert user.role == "user"
    assert user.text == "look"
    assert user.has_images
    assert Message.system("s").content == [TextPart("s")]
    assert not Message.assistant("a").has_images


def test_inline_image_data() -> None:
    assert ImagePart("data:image/jpeg;base64,QUJD").inline_data() == ("image/jpeg", "QUJD")
    assert not ImagePart("https://example.test/cat.png").is_inline
    with pytest.raises(ValueError, match="data:<media-type>;base64"):
        ImagePart("data:image/png,notbase64").inline_data()


def test_response_shortcuts_and_usage_total() -> None:
    response = ChatResponse(
        id="r", model="m", choices=[Choice(index=0, message=Message.assistant("hi"), finish_reason="stop")],
        usage=Usage(input_tokens=3, output_tokens=4, cached_tokens=1),
    )
    assert response.text == "hi"
    assert response.message.role == "assistant"
    assert response.usage is not None
    assert response.usage.total_tokens == 7
