import matplotlib
import pytest

from course_lib.env import allow_network, forbid_network

matplotlib.use("Agg")


@pytest.fixture(autouse=True, scope="session")
def no_network():
    """Unit tests never leave the machine: any non-loopback connect raises."""
    forbid_network()
    yield
    allow_network()


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
