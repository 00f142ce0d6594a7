"""lstmstate: LSTM forecasting where the hidden-state strategy is the first-class question."""

from . import datasets
from .config import TrainConfig
from .errors import TrainingDiverged, UserError
from .model import StatefulLSTM, detach
from .modes import StateMode
from .series import SeriesData
from .train import FitResult, History, fit
from .windows import Layout, LossSteps

__version__ = "0.1.0"

__all__ = [
    "FitResult",
    "History",
    "Layout",
    "LossSteps",
    "SeriesData",
    "StateMode",
    "StatefulLSTM",
    "TrainConfig",
    "TrainingDiverged",
    "UserError",
    "__version__",
    "datasets",
    "detach",
    "fit",
]
