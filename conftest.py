"""Settings shared by the unit tests and the notebook tests (nbval)."""

import os

from course_lib.env import OFFLINE_ENV_VAR

# Kernels started by nbval inherit this environment: notebooks run offline (their
# setup cell forbids the network when COURSE_LIB_OFFLINE is set) and TensorFlow's
# C++ start-up chatter stays out of the logs.
os.environ[OFFLINE_ENV_VAR] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_collectstart(collector):
    """Do not compare stderr of notebook cells: TensorFlow's logs differ between versions."""
    if getattr(collector, "skip_compare", None) is not None:
        collector.skip_compare = (*collector.skip_compare, "stderr")
