"""The course map: which notebook teaches what, and which seed sections it covers.

This catalogue is the one place the list of notebooks is written. The README's
course table is generated from it (``python tools/run_notebooks.py`` rewrites it
with each notebook's measured wall time), notebook 00 shows it, and
``tests/test_notebooks.py`` checks that every notebook on disk is in it, with the
same title and seed sections as its first cell.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

#: Each notebook must run top to bottom on a 2-core CPU within this many seconds.
TIME_BUDGET_S = 90.0

#: Where tools/run_notebooks.py records a notebook's measured wall time.
METADATA_KEY = "course"


#: course_lib modules every notebook may use from the start: set-up, data, plots, the
#: whole-array inference helpers and the seed table. Everything else is *taught* by one
#: notebook (``Notebook.teaches``) and may be used only from that notebook on.
INFRASTRUCTURE = ("course", "datasets", "env", "evaluation", "plots", "training")

#: The most cells a notebook may have: one idea at a learner's pace (CONTRIBUTING.md, rule 5).
MAX_CELLS = 35


@dataclasses.dataclass(frozen=True)
class Notebook:
    """One notebook of the course.

    ``teaches`` names what of course_lib this notebook teaches: a module (``"attention"``)
    or one name in a module (``"formulas.he_normal"``) where a module is taught over
    several notebooks. ``tests/test_notebooks.py`` fails when a notebook uses a module or
    name that only a later notebook teaches.
    """

    number: str
    slug: str
    title: str
    seed_sections: tuple[str, ...]
    summary: str
    teaches: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return f"{self.number}_{self.slug}.ipynb"

    @property
    def heading(self) -> str:
        """The first line of the notebook's first cell."""
        return f"# {self.number} · {self.title}"

    @property
    def seed_line(self) -> str:
        """The line under the heading naming the seed sections covered."""
        return "Seed sections: " + ", ".join(self.seed_sections)


_ACTIVATIONS = tuple(f"formulas.{name}" for name in (
    "activation", "identity", "identity_grad", "relu", "relu_grad", "sigmoid", "sigmoid_grad", "tanh", "tanh_grad"))

COURSE: tuple[Notebook, ...] = (
    Notebook(
        "00",
        "setup_and_course_map",
        "Setup and course map",
        ("§7",),
        "Check versions, backend and device; the tools of §7; how course_lib is organised; Colab, GPU, and one "
        ".keras file loaded on other Keras backends.",
    ),
    Notebook(
        "01",
        "encoder_decoder_background",
        "Encoder–decoder background: a digit squeezed into a few numbers",
        ("§1", "§6"),
        "An autoencoder squeezes 64-pixel digits into 2–16 numbers and back; compared with PCA at the same size.",
    ),
    Notebook(
        "02",
        "structure_and_initialisation",
        "The five steps (1–2): structure and initialisation",
        ("§3",),
        "Dense vs convolutional structure, parameters counted by hand; why the scale of the initial weights decides "
        "whether a deep stack can learn, measured layer by layer; Glorot and He by hand vs Keras.",
        teaches=("encoders", "formulas.glorot_uniform", "formulas.he_normal", *_ACTIVATIONS),
    ),
    Notebook(
        "03",
        "forward_backward_and_gradient_descent",
        "The five steps (3–5): forward, backward, gradient descent and its knobs",
        ("§3",),
        "Forward and backward by hand, checked against autodiff and finite differences; gradient descent by hand "
        "vs keras.optimizers.SGD; a learning-rate sweep and three optimizers.",
        teaches=("formulas.dense", "formulas.dense_backward", "formulas.gradient_descent_step"),
    ),
    Notebook(
        "04",
        "representations_pretraining_finetuning",
        "Representations, pretraining and fine-tuning",
        ("§2", "Q2"),
        "An encoder trained on digits 0–4 reused for 5–9 with few labels: frozen vs fine-tuned vs from scratch.",
    ),
    Notebook(
        "05",
        "the_three_formulas",
        "The three formulas: dense, convolution, recurrence",
        ("§4",),
        "h = f(Wx+b), the convolution and the RNN recurrence in NumPy, symbol by symbol, equal to Keras Dense, "
        "Conv2D and SimpleRNN; the GRU and LSTM gates from their formulas, equal to Keras GRU and LSTM, and why gates "
        "help: the gradient reaching early steps, RNN vs GRU, measured.",
        teaches=("formulas", "recurrent"),
    ),
    Notebook(
        "06",
        "the_fully_connected_encoder",
        "The fully connected encoder of §5",
        ("§5", "Q3"),
        "The article's PyTorch Encoder in Keras: trained as a classifier (≥ 96 %) and as an autoencoder; "
        "parameters counted by hand; saved and loaded; its codes visualised.",
    ),
    Notebook(
        "07",
        "self_attention",
        "Self-attention",
        ("§8",),
        "Attention from its formula, step by step, checked against Keras; multi-head attention; padding and causal "
        "masks; time and memory against sequence length.",
        teaches=("attention",),
    ),
    Notebook(
        "08",
        "transformer_encoder",
        "The Transformer encoder: positions, training, attention maps",
        ("§8",),
        "Why attention needs positions; sinusoidal and learned encodings; one encoder block built by hand (residual, "
        "layer norm, feed-forward; post- and pre-norm) equal to course_lib's, and why the residual and the norm matter; "
        "a Transformer encoder trained on MNIST-1D; what its attention maps show, measured; what holds it below the "
        "human 96 %, measured on validation: a convolutional stem helps, circular-shift augmentation does not.",
        teaches=("positional", "transformer"),
    ),
    Notebook(
        "09",
        "encoder_zoo",
        "Encoder zoo: dense, convolutional, recurrent and Transformer encoders on MNIST-1D",
        ("§3.1", "§4", "Q4"),
        "Four encoders from course_lib on MNIST-1D: accuracy, parameters and training time, next to the published table.",
    ),
    Notebook(
        "10",
        "the_decoder",
        "The decoder, built by hand: teacher forcing, masks, cross-attention, decoding",
        ("§1", "§6"),
        "A Transformer decoder written from its formulas, equal to course_lib's; teacher forcing and the causal mask "
        "checked; greedy and beam search as short loops, equal to course_lib's; the key-value cache, equal and faster; "
        "the \"one vector\" of §1 against attention, accuracy by input length.",
        teaches=("seq2seq",),
    ),
    Notebook(
        "11",
        "translation",
        "Encoder–decoder at work: translating dates into Chinese",
        ("§1", "§6"),
        "An RNN with attention and a Transformer translate English dates into Chinese; exact match and character "
        "error rate; greedy vs beam search where it matters; the errors sorted by kind and traced to the tokeniser; "
        "alignment heat maps.",
        teaches=("translation",),
    ),
    Notebook(
        "12",
        "pretraining",
        "Pretraining an encoder without labels",
        ("§2", "Q2"),
        "Masked modelling, denoising and contrastive learning (views, InfoNCE by hand) on unlabelled MNIST-1D and "
        "digits: the loss going down, what each encoder learned, a linear probe before and after, with 2,400 and 40 labels.",
        teaches=("pretraining", "contrastive"),
    ),
    Notebook(
        "13",
        "fine_tuning",
        "Fine-tuning: from a pretrained encoder to a task with few labels",
        ("§2", "§3", "Q2"),
        "Notebook 12's contrastive encoder, checked, then fine-tuned: scratch vs linear probe vs full fine-tuning vs "
        "gradual unfreezing vs LoRA (written by hand) at 40, 200 and 3,200 labels, mean ± sd over three seeds.",
        teaches=("finetuning",),
    ),
    Notebook(
        "14",
        "fine_tuning_knobs",
        "Fine-tuning's knobs: learning rate, schedule, optimizer, checkpoints, KerasHub",
        ("§3",),
        "Learning rate, warm-up and cosine decay, SGD / momentum / Adam / AdamW compared on validation, the choice "
        "scored once on test; BackupAndRestore; KerasHub.",
    ),
    Notebook(
        "15",
        "speech_recognition",
        "Speech recognition: an encoder that listens, trained with CTC",
        ("§6",),
        "Spoken digits synthesised offline in 44 voices, heard and seen; the log-mel spectrogram and the CTC loss by "
        "hand, equal to Keras; a convolution + BiGRU encoder trained on raw audio; error rates on unseen voices, "
        "greedy vs beam, over seeds; against a frame classifier.",
        teaches=("speech", "ctc", "speech_encoder"),
    ),
    Notebook(
        "16",
        "recommendation",
        "Recommendation: an encoder of a user's history that predicts the next item",
        ("§6",),
        "A generated interaction log (genres, series, drifting tastes, repeats); leave-one-out; HR@10 and NDCG@10 by "
        "hand, against all items and 100 sampled; most-popular and Markov vs bag, GRU and causal Transformer over seeds; "
        "full vs sampled softmax; item embeddings by genre; MovieLens on Colab.",
        teaches=("recommendation", "sequence_recommender"),
    ),
    Notebook(
        "17",
        "faq_encoder_decoder_and_fine_tuning",
        "FAQ Q1–Q2: encoder vs decoder, and what fine-tuning saves",
        ("Q1", "Q2"),
        "One Transformer block used three ways (encoder, decoder, encoder–decoder), masks drawn and causality checked; "
        "pretrained vs from scratch at several label budgets, accuracy against compute, with the pretraining's cost "
        "counted and a far-off source that does not pay.",
    ),
    Notebook(
        "18",
        "faq_relu_and_choosing_parameters",
        "FAQ Q3–Q4: ReLU and vanishing gradients, and choosing parameters",
        ("Q3", "Q4"),
        "The gradient reaching each layer of a 20-layer stack with sigmoid, tanh and ReLU; dead ReLUs and the remedies "
        "measured; a Keras model in scikit-learn's grid search, refit and tested once; nested cross-validation shows "
        "how optimistic the best inner score is; which family for which data, from what the course measured.",
    ),
    Notebook(
        "19",
        "training_at_scale",
        "Training at scale: input pipelines, mixed precision, XLA and data parallelism",
        ("§8",),
        "One encoder's training step made faster, each step timed against the plain one in the same run: a Python "
        "generator vs tf.data, float32 vs mixed_bfloat16, graph vs XLA, and data parallelism on tf.distribute that "
        "gives one device's result.",
        teaches=("timing",),
    ),
    Notebook(
        "20",
        "serving_and_long_sequences",
        "Serving: long sequences, the key-value cache, export and int8",
        ("§8",),
        "Attention's fused kernel against the formula as sequences grow; the key-value cache's speed-up against output "
        "length; an encoder exported to a SavedModel and LiteRT, outputs compared and latency per request measured; "
        "int8 quantisation's size, speed and accuracy.",
    ),
)


#: The article's nine sections and the FAQ's questions, as notebook 00's course map shows them.
SEED_SECTIONS = {
    "§1": "background: encoder–decoder models",
    "§2": "core concepts: encoder, pretraining, fine-tuning",
    "§3": "the five steps of building an encoder",
    "§4": "the three formulas: dense, convolution, recurrence",
    "§5": "a fully connected encoder in code",
    "§6": "applications: translation, speech, recommendation",
    "§7": "tools and data sets",
    "§8": "trends: self-attention, long sequences, scale, speed",
    "§9": "FAQ (Q1–Q4)",
}


def covering(section: str) -> list[Notebook]:
    """The notebooks that cover seed section ``section`` (``"§3"`` includes ``"§3.1"``; ``"§9"`` the FAQ's Q1–Q4)."""
    def covers(entry: str) -> bool:
        return entry == section or entry.startswith(section + ".") or (section == "§9" and entry.startswith("Q"))

    return [nb for nb in COURSE if any(covers(entry) for entry in nb.seed_sections)]


def seed_section_table_markdown() -> str:
    """Each seed section and the notebooks that cover it so far, in Markdown."""
    lines = ["| seed § | topic | notebooks |", "|---|---|---|"]
    for section, topic in SEED_SECTIONS.items():
        numbers = ", ".join(nb.number for nb in covering(section)) or "not yet"
        lines.append(f"| {section} | {topic} | {numbers} |")
    return "\n".join(lines)


def test_file(module: str) -> str:
    """The test file of course_lib module ``module`` (the course map's tests live with the notebooks' tests)."""
    return "tests/test_notebooks.py" if module == "course" else f"tests/test_{module}.py"


def module_table_markdown() -> str:
    """Each course_lib module, what it holds, the notebook that teaches it and its test file, in Markdown."""
    import ast

    lines = ["| module | what it holds | taught in | test |", "|---|---|---|---|"]
    for path in sorted(Path(__file__).parent.glob("[a-z]*.py")):
        module = path.stem
        holds = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))).splitlines()[0].rstrip(".")
        teachers = [nb.number for nb in COURSE if any(e == module or e.startswith(module + ".") for e in nb.teaches)]
        where = ", ".join(teachers) if teachers else "infrastructure, used from 00 on"
        lines.append(f"| `{module}` | {holds} | {where} | `{test_file(module)}` |")
    return "\n".join(lines)


MODULE_TABLE_BEGIN = "<!-- module-table:begin (generated by tools/run_notebooks.py; do not edit by hand) -->"
MODULE_TABLE_END = "<!-- module-table:end -->"


def find(number: str) -> Notebook:
    """The catalogue entry of notebook ``number`` (e.g. ``"01"``)."""
    for notebook in COURSE:
        if notebook.number == number:
            return notebook
    raise KeyError(f"no notebook numbered {number!r} in the course; numbers are {[n.number for n in COURSE]}")


def read_wall_time(path: str | Path) -> float | None:
    """The wall time (s) tools/run_notebooks.py recorded in a notebook, or None."""
    metadata = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
    return metadata.get(METADATA_KEY, {}).get("wall_time_s")


def course_table_markdown(notebooks_dir: str | Path | None = None) -> str:
    """The course table in Markdown; with ``notebooks_dir``, each notebook's recorded CPU time too."""
    header = "| # | notebook | seed § | what you do and see |"
    rule = "|---|---|---|---|"
    if notebooks_dir is not None:
        header += " time (2-core CPU) |"
        rule += "---:|"
    lines = [header, rule]
    for nb in COURSE:
        link = f"[{nb.title}](notebooks/{nb.filename})"
        row = f"| {nb.number} | {link} | {', '.join(nb.seed_sections)} | {nb.summary} |"
        if notebooks_dir is not None:
            path = Path(notebooks_dir) / nb.filename
            seconds = read_wall_time(path) if path.is_file() else None
            row += f" {seconds:.0f} s |" if seconds is not None else " not run |"
        lines.append(row)
    return "\n".join(lines)


README_BEGIN = "<!-- course-table:begin (generated by tools/run_notebooks.py; do not edit by hand) -->"
README_END = "<!-- course-table:end -->"


def _table_span(readme_text: str, begin_marker: str = README_BEGIN, end_marker: str = README_END) -> tuple[int, int]:
    begin = readme_text.find(begin_marker)
    end = readme_text.find(end_marker)
    if begin < 0 or end < begin:
        raise ValueError(f"README has no table between {begin_marker!r} and {end_marker!r}")
    return begin + len(begin_marker), end


def readme_course_table(readme_text: str) -> str:
    """The course table as it stands in the README."""
    begin, end = _table_span(readme_text)
    return readme_text[begin:end].strip()


def with_course_table(readme_text: str, table: str) -> str:
    """The README text with its course table replaced by ``table``."""
    begin, end = _table_span(readme_text)
    return readme_text[:begin] + "\n" + table + "\n" + readme_text[end:]


def readme_module_table(readme_text: str) -> str:
    """The module table as it stands in the README."""
    begin, end = _table_span(readme_text, MODULE_TABLE_BEGIN, MODULE_TABLE_END)
    return readme_text[begin:end].strip()


def with_module_table(readme_text: str) -> str:
    """The README text with its module table regenerated from the catalogue."""
    begin, end = _table_span(readme_text, MODULE_TABLE_BEGIN, MODULE_TABLE_END)
    return readme_text[:begin] + "\n" + module_table_markdown() + "\n" + readme_text[end:]
