"""Contributors: voters, bidders and devices that submit one secret-shared input and leave.

See :mod:`.client` (``submit``, ``Contributor``, ``submit_many``).
"""

from mpc_runtime.contributor.client import (
    Contributor,
    LoadReport,
    SubmitResult,
    submit,
    submit_many,
)

__all__ = ["Contributor", "LoadReport", "SubmitResult", "submit", "submit_many"]
