"""The strong/weak router: should this prompt go to the expensive model, or will the cheap one do?

Trained offline on real per-prompt labels (``train.py``), evaluated on a held-out split (``evaluate.py``,
``switchyard eval-router``), shipped as a small numpy artifact in ``switchyard/data``:

```python
from switchyard.routing.strongweak import StrongWeakRouter

router = StrongWeakRouter.load()
router.score(text)               # P(the strong model answers better), in [0, 1]
router.decide(text, threshold)   # True: send to the strong model
```
"""

from __future__ import annotations

from .model import StrongWeakRouter

__all__ = ["StrongWeakRouter"]
