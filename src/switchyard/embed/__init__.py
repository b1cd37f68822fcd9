"""Sentence embeddings on the CPU from a packaged model: numpy, no torch, no download.

```python
from switchyard.embed import get_encoder

enc = get_encoder()                    # the bundled all-MiniLM-L6-v2, loaded once per process
vecs = enc.encode(["a", "b"])          # float32 (2, 384), rows of unit length
v = enc.encode_one("text", max_tokens=64)
```
"""

from __future__ import annotations

from .encoder import INSTALL_HINT, Encoder, bundled_model_dir, get_encoder

__all__ = ["INSTALL_HINT", "Encoder", "bundled_model_dir", "get_encoder"]
