"""What the embeddings pipeline needs besides the chat pipeline's steps: checking a request, estimating its tokens,
and the chat-shaped view of it that routing, admission and telemetry read.

Routing (tags, affinity, the route's strategy), governance (key model lists, rate limits, budgets) and telemetry
(route labels, the ledger row) only read a request's model, user, tags and session, so an embeddings request is
handed to them as a :class:`ChatRequest` with no messages and no output allowance, plus its own token estimate.
A route then plans it like any request, filtered to embedding deployments (``routing.filters``).
"""

from __future__ import annotations

from .embedding_types import EmbeddingRequest
from .errors import InvalidRequestError
from .pricing import estimate_text_tokens
from .types import ChatRequest

__all__ = ["MAX_INPUTS", "check_embedding_request", "estimate_input_tokens", "routing_view"]

MAX_INPUTS = 2048
"""OpenAI's limit on inputs per request; larger batches are refused here rather than by every upstream in turn."""


def check_embedding_request(request: EmbeddingRequest) -> None:
    """Refuse what no provider would embed, with a message naming the input at fault."""
    if request.input and request.tokens:
        raise InvalidRequestError("give the input as text or as token arrays, not both", param="input")
    if not request.count:
        raise InvalidRequestError("input must not be empty", param="input")
    if request.count > MAX_INPUTS:
        raise InvalidRequestError(f"at most {MAX_INPUTS} inputs per request, got {request.count}", param="input")
    for i, text in enumerate(request.input):
        if not text:
            raise InvalidRequestError(f"input[{i}] is an empty string", param="input")
    for i, tokens in enumerate(request.tokens):
        if not tokens:
            raise InvalidRequestError(f"input[{i}] is an empty token array", param="input")
    if request.dimensions is not None and request.dimensions < 1:
        raise InvalidRequestError("dimensions must be a positive integer", param="dimensions")


def estimate_input_tokens(request: EmbeddingRequest) -> int:
    """Input tokens, estimated offline as chat prompts are (no tokenizer); token arrays are counted exactly."""
    if request.tokens:
        return sum(len(tokens) for tokens in request.tokens)
    return sum(estimate_text_tokens(text) for text in request.input)


def routing_view(request: EmbeddingRequest) -> ChatRequest:
    """The request as routing, admission and telemetry read it. ``max_tokens=0``: embeddings have no output."""
    return ChatRequest(
        model=request.model, messages=[], max_tokens=0, user=request.user, tags=request.tags, session=request.session
    )
