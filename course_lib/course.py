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


@dataclasses.dataclass(frozen=True)
class Notebook:
    """One notebook of the course."""

    number: str
    slug: str
    title: str
    seed_sections: tuple[str, ...]
    summary: str

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


COURSE: tuple[Notebook, ...] = (
    Notebook(
        "00",
        "setup_and_course_map",
        "Setup and course map",
        ("§7",),
        "Check versions, backend and device; the tools of §7; how course_lib is imported; Colab, GPU, and one .keras file loaded on other Keras backends.",
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
        "representations_pretraining_finetuning",
        "Representations, pretraining and fine-tuning",
        ("§2", "Q2"),
        "An encoder trained on digits 0–4 reused for 5–9 with few labels: frozen vs fine-tuned vs from scratch.",
    ),
    Notebook(
        "03",
        "the_five_steps",
        "The five steps: structure, initialisation, forward, backward, fine-tuning",
        ("§3",),
        "Initialisation statistics through a deep stack; forward and backward by hand checked against autodiff; "
        "gradient descent by hand vs an optimizer; a learning-rate sweep.",
    ),
    Notebook(
        "04",
        "the_three_formulas",
        "The three formulas: dense, convolution, recurrence",
        ("§4",),
        "h = f(Wx+b), the convolution and the RNN recurrence in NumPy, symbol by symbol, shown equal to Keras "
        "Dense, Conv2D and SimpleRNN.",
    ),
    Notebook(
        "05",
        "the_fully_connected_encoder",
        "The fully connected encoder of §5",
        ("§5", "Q3"),
        "The article's PyTorch Encoder in Keras: trained as a classifier (≥ 97 %) and as an autoencoder; "
        "parameters counted by hand; saved and loaded; its codes visualised.",
    ),
    Notebook(
        "06",
        "encoder_zoo",
        "Encoder zoo: dense, convolutional, recurrent and Transformer encoders on MNIST-1D",
        ("§3.1", "§4", "Q4"),
        "Four encoders from course_lib on MNIST-1D: accuracy, parameters and training time, next to the published table.",
    ),
    Notebook(
        "07",
        "self_attention",
        "Self-attention and the Transformer encoder",
        ("§8",),
        "Attention from its formula, checked against Keras; positional encodings; attention maps of a trained "
        "model; time and memory against sequence length.",
    ),
    Notebook(
        "08",
        "translation",
        "Encoder–decoder at work: translating dates into Chinese",
        ("§1", "§6"),
        "An RNN with attention and a Transformer translate English dates into Chinese; greedy vs beam search; "
        "exact match and character error rate; alignment heat maps.",
    ),
    Notebook(
        "09",
        "pretraining",
        "Pretraining an encoder without labels",
        ("§2", "Q2"),
        "Masked modelling and denoising on unlabelled MNIST-1D and digits: the loss going down, what the encoder "
        "learned, a linear probe before and after.",
    ),
    Notebook(
        "10",
        "fine_tuning",
        "Fine-tuning: from a pretrained encoder to a task with few labels",
        ("§2", "§3", "Q2"),
        "Scratch vs linear probe vs full fine-tuning vs gradual unfreezing vs LoRA at 1–100 % of the labels; "
        "learning rates and optimizer settings; a KerasHub backbone from a local preset.",
    ),
)


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


def _table_span(readme_text: str) -> tuple[int, int]:
    begin = readme_text.find(README_BEGIN)
    end = readme_text.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(f"README has no course table between {README_BEGIN!r} and {README_END!r}")
    return begin + len(README_BEGIN), end


def readme_course_table(readme_text: str) -> str:
    """The course table as it stands in the README."""
    begin, end = _table_span(readme_text)
    return readme_text[begin:end].strip()


def with_course_table(readme_text: str, table: str) -> str:
    """The README text with its course table replaced by ``table``."""
    begin, end = _table_span(readme_text)
    return readme_text[:begin] + "\n" + table + "\n" + readme_text[end:]
