"""alice's engine: load a model folder once and stream generated text from it.

Names are imported lazily so that `import engine` stays cheap (torch loads on first use).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Vocab": "engine.vocab", "normalize_text": "engine.vocab",
    "CharLSTM": "engine.model", "ModelConfig": "engine.model",
    "BUNDLED_MODEL": "engine.modelfolder", "LoadedModel": "engine.modelfolder",
    "ModelFolderError": "engine.modelfolder", "default_model_dir": "engine.modelfolder",
    "load_model_folder": "engine.modelfolder", "read_model_info": "engine.modelfolder",
    "save_model_folder": "engine.modelfolder", "recorded_bpc": "engine.modelfolder",
    "recorded_corpus": "engine.modelfolder", "recorded_base": "engine.modelfolder",
    "Sampling": "engine.sampling_settings", "StreamOptions": "engine.options", "Conversation": "engine.conversation",
    "Generator": "engine.generator", "GeneratorClosed": "engine.outbox",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
