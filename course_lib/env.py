"""The environment every notebook starts from: seed, versions, backend, device, Colab.

Every notebook's setup cell calls :func:`setup_notebook`, which seeds Python, NumPy
and the Keras backend in one call and prints an :class:`EnvironmentReport`.
:func:`check_requirements` compares what is installed with ``requirements.txt``
and is what ``tests/test_requirements.py`` runs.

Nothing here imports Keras at module import time: ``import course_lib`` stays fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.metadata
import importlib.util
import ipaddress
import os
import platform
import socket
import sys
from pathlib import Path

#: Set this environment variable (to anything but "" or "0") and
#: :func:`setup_notebook` refuses every connection that leaves the machine.
#: The test suite sets it, so a notebook that tries to download fails its test.
OFFLINE_ENV_VAR = "COURSE_LIB_OFFLINE"


def in_colab() -> bool:
    """Return True when running inside Google Colab."""
    if "google.colab" in sys.modules:
        return True
    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):
        return False


def set_seed(seed: int = 0, *, deterministic: bool = False) -> int:
    """Seed Python's ``random``, NumPy and the Keras backend in one call.

    Args:
        seed: a non-negative integer.
        deterministic: on the TensorFlow backend also ask for deterministic kernels
            (slower; CPU runs of the course are already repeatable without it).

    Returns:
        The seed, so a notebook can print what it used.

    Example:
        >>> set_seed(42)
        42
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"set_seed: `seed` must be an int, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"set_seed: `seed` must be >= 0, got {seed}")
    import keras

    os.environ["PYTHONHASHSEED"] = str(seed)
    keras.utils.set_random_seed(seed)  # seeds random, numpy and the backend
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return seed


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _devices(backend: str) -> list[str]:
    """Names of the devices the active Keras backend can compute on."""
    if backend == "tensorflow":
        import tensorflow as tf

        return [f"{d.device_type}:{d.name.rsplit(':', 1)[-1]}" for d in tf.config.list_physical_devices()]
    if backend == "jax":
        import jax

        return [f"{d.platform.upper()}:{d.id}" for d in jax.devices()]
    if backend == "torch":
        import torch

        gpus = [f"GPU:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
        return ["CPU:0", *gpus]
    return ["CPU:0"]


@dataclasses.dataclass(frozen=True)
class EnvironmentReport:
    """What a notebook runs on. ``str(report)`` is the table the setup cells print."""

    python: str
    platform: str
    course_lib: str
    keras: str
    backend: str
    backend_version: str
    numpy: str
    scikit_learn: str
    matplotlib: str
    devices: tuple[str, ...]
    colab: bool

    @property
    def accelerator(self) -> bool:
        """True when a GPU or TPU is visible to the backend."""
        return any(not d.upper().startswith("CPU") for d in self.devices)

    def __str__(self) -> str:
        rows = [
            ("python", self.python),
            ("platform", self.platform),
            ("course_lib", self.course_lib),
            ("keras", self.keras),
            ("backend", f"{self.backend} {self.backend_version}"),
            ("numpy", self.numpy),
            ("scikit-learn", self.scikit_learn),
            ("matplotlib", self.matplotlib),
            ("devices", ", ".join(self.devices)),
            ("accelerator", "yes" if self.accelerator else "no (CPU only)"),
            ("colab", "yes" if self.colab else "no"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def environment_report() -> EnvironmentReport:
    """Collect versions, the Keras backend and its devices, and whether this is Colab."""
    import keras

    import course_lib

    backend = keras.backend.backend()
    distribution = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend, backend)
    return EnvironmentReport(
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        course_lib=course_lib.__version__,
        keras=keras.__version__,
        backend=backend,
        backend_version=_version(distribution),
        numpy=_version("numpy"),
        scikit_learn=_version("scikit-learn"),
        matplotlib=_version("matplotlib"),
        devices=tuple(_devices(backend)),
        colab=in_colab(),
    )


def setup_notebook(seed: int = 0, *, quiet: bool = False) -> EnvironmentReport:
    """The one call in every notebook's setup cell.

    Seeds everything (:func:`set_seed`), makes matplotlib figures a readable size,
    refuses network access when ``COURSE_LIB_OFFLINE`` is set (the test suite sets
    it), prints the environment report and returns it.
    """
    if os.environ.get(OFFLINE_ENV_VAR, "") not in ("", "0"):
        forbid_network()
    with _native_stderr_silenced():  # TensorFlow's C++ start-up banner (oneDNN, CUDA probes)
        report = environment_report()  # imports Keras and its backend
    if report.backend == "tensorflow":
        # Notebooks train many small models; each traces its own functions once, which
        # TensorFlow's retracing heuristic reports as a warning. Only errors are shown.
        import logging

        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    set_seed(seed)
    import matplotlib

    matplotlib.rcParams.update({"figure.dpi": 80, "figure.figsize": (6.4, 3.6), "axes.grid": False})
    if not quiet:
        print(report)
        print(f"{'seed':<12}  {seed}")
    return report


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for a moment.

    Only native (C++) writes are affected: Python's warnings and tracebacks go
    through ``sys.stderr`` and still show.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (some embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class NetworkAccessError(RuntimeError):
    """Raised when code tries to leave the machine while the network is forbidden."""


_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) and address else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _guarded(original):
    def connect(self, address):
        if not _is_local(address):
            raise NetworkAccessError(
                f"network access is forbidden here ({OFFLINE_ENV_VAR} is set): "
                f"tried to connect to {address!r}. The course runs offline; "
                "use the bundled or generated data."
            )
        return original(self, address)

    return connect


def forbid_network() -> None:
    """Make every non-loopback ``socket.connect`` raise :class:`NetworkAccessError`.

    Loopback stays open (Jupyter's kernel talks to its client over it). Calling it
    twice is harmless. Used by the test suite and by :func:`setup_notebook` when
    ``COURSE_LIB_OFFLINE`` is set.
    """
    socket.socket.connect = _guarded(_original_connect)
    socket.socket.connect_ex = _guarded(_original_connect_ex)


def allow_network() -> None:
    """Undo :func:`forbid_network`."""
    socket.socket.connect = _original_connect
    socket.socket.connect_ex = _original_connect_ex


@dataclasses.dataclass(frozen=True)
class RequirementCheck:
    """One line of ``requirements.txt`` compared with what is installed."""

    name: str
    required: str
    installed: str | None

    @property
    def ok(self) -> bool:
        from packaging.specifiers import SpecifierSet

        if self.installed is None:
            return False
        return SpecifierSet(self.required).contains(self.installed, prereleases=True)


def check_requirements(path: str | os.PathLike) -> list[RequirementCheck]:
    """Compare each requirement in a ``requirements.txt`` with the installed version.

    Args:
        path: the requirements file. Lines that are blank, comments or pip options
            (``-e``, ``-r``, ``--index-url`` ...) are skipped; requirements whose
            environment marker does not apply here are skipped too.

    Returns:
        One :class:`RequirementCheck` per requirement; ``check.ok`` tells whether it fits.
        :func:`format_requirement_table` renders them for a person.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a line is not a valid requirement (the message quotes it).
    """
    from packaging.requirements import InvalidRequirement, Requirement

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"check_requirements: `path` must be a requirements file, got {str(path)!r} (not found)")
    checks = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise ValueError(f"check_requirements: {path.name} line {number} is not a requirement: {raw!r} ({exc})") from exc
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        checks.append(RequirementCheck(requirement.name, str(requirement.specifier), installed))
    return checks


def format_requirement_table(checks: list[RequirementCheck]) -> str:
    """Render :func:`check_requirements` results as an aligned text table."""
    rows = [("package", "required", "installed", "ok")]
    rows += [(c.name, c.required or "any", c.installed or "MISSING", "yes" if c.ok else "NO") for c in checks]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
