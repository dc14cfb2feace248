"""Research scale: analyse a cohort of recordings on Dask (``tremorscope batch``).

``analyse`` is one recording's task, ``quality`` its data-quality record, ``outputs`` the output
folder and the cohort tables, ``runner`` the Dask side.
"""

from tremorscope.cohort.analyse import DEFAULT_BLOCK_SAMPLES, RecordingResult, analyse_recording
from tremorscope.cohort.runner import BatchError, BatchSummary, expand_inputs, run_batch

__all__ = [
    "DEFAULT_BLOCK_SAMPLES",
    "BatchError",
    "BatchSummary",
    "RecordingResult",
    "analyse_recording",
    "expand_inputs",
    "run_batch",
]
