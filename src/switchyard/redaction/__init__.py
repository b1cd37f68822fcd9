"""Personal data out of requests before they leave, and back into the answers (``redaction:`` in the config).

The gateway redacts a request before anything else sees it (routing, the cache key, the provider, logged
bodies) and restores the answer last, after the cache stored it with placeholders. Pieces:

- :mod:`.detectors` — where the e-mails, phones, cards, IBANs and IPs are (the one source of PII patterns; the
  log redaction uses it too);
- :mod:`.vault` — one request's originals ↔ placeholders (``<EMAIL_1>``);
- :mod:`.policy` — a ``redaction:`` section applied to a request, and which section a request gets;
- :mod:`.restore`, :mod:`.stream` — placeholders back to originals in a response and in a stream;
- :mod:`.sample`, :mod:`.evaluate` — a labelled synthetic sample and ``switchyard eval-redaction``.

:mod:`.stream` is not imported here: it needs the resilience layer, which needs the configuration, which imports
:mod:`.config` from this package.
"""

from .config import ENTITIES, CustomPattern, Entity, RedactionConfig
from .detectors import Detector, Span, find, iban_ok, luhn_ok
from .policy import Policies, Policy
from .restore import StreamRestorer, restore_message, restore_response
from .vault import PLACEHOLDER, Vault

__all__ = [
    "ENTITIES",
    "PLACEHOLDER",
    "CustomPattern",
    "Detector",
    "Entity",
    "Policies",
    "Policy",
    "RedactionConfig",
    "Span",
    "StreamRestorer",
    "Vault",
    "find",
    "iban_ok",
    "luhn_ok",
    "restore_message",
    "restore_response",
]
