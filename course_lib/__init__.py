"""course_lib: the reusable half of the *Encoders from Zero* course.

Every notebook teaches one idea by building it; whatever a later notebook reuses
lives here once, with a unit test that proves the library version agrees with the
notebook's hand-built one.

Importing ``course_lib`` is cheap: it imports neither Keras nor a backend, trains
nothing and downloads nothing. Submodules that need Keras or matplotlib are
imported on first use::

    import course_lib
    course_lib.setup_notebook(seed=0)          # versions, backend, device, seed
    split = course_lib.datasets.load_digits_split()
    course_lib.plots.plot_codes_2d(codes, split.y_test)
    encoder = course_lib.DenseEncoder(output_dim=32, hidden_dims=(128,))
"""

import importlib

from course_lib.env import (
    EnvironmentReport,
    check_requirements,
    environment_report,
    forbid_network,
    in_colab,
    set_seed,
    setup_notebook,
)

__version__ = "0.1.0"

_LAZY_SUBMODULES = (
    "attention", "contrastive", "course", "ctc", "datasets", "encoders", "env", "evaluation", "finetuning", "formulas", "plots",
    "positional", "pretraining", "recommendation", "recurrent", "seq2seq", "sequence_recommender", "speech", "speech_encoder",
    "timing", "training", "transformer", "translation",
)
_LAZY_ATTRIBUTES = {
    "DenseEncoder": "encoders",
    "ConvEncoder": "encoders",
    "FormulaRNNCell": "recurrent",
    "RecurrentEncoder": "recurrent",
    "MultiHeadAttention": "attention",
    "TransformerEncoder": "transformer",
    "TransformerEncoderBlock": "transformer",
    "TransformerDecoderBlock": "transformer",
    "RNNSeq2Seq": "seq2seq",
    "TransformerSeq2Seq": "seq2seq",
    "SpeechEncoder": "speech_encoder",
    "SequenceRecommender": "sequence_recommender",
}

__all__ = [
    "EnvironmentReport",
    "__version__",
    "check_requirements",
    "environment_report",
    "forbid_network",
    "in_colab",
    "set_seed",
    "setup_notebook",
    *_LAZY_SUBMODULES,
    *_LAZY_ATTRIBUTES,
]


def __getattr__(name):
    """Import submodules on first attribute access (PEP 562)."""
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"course_lib.{name}")
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(f"course_lib.{_LAZY_ATTRIBUTES[name]}"), name)
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")
