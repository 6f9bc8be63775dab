"""The package's user errors: what was asked for or supplied cannot be used as it is.

Every such error derives from :class:`UserError` and from the built-in exception it refines
(``ValueError``, ``FileNotFoundError``), so callers may catch either. Scripts print a
:class:`UserError`'s message as one ``error: ...`` line (:func:`gluon_pydmn.cli.run`).
"""

__all__ = ['UserError', 'UnknownNameError', 'LabelSetMismatchError', 'CheckpointError',
           'CheckpointNotFoundError', 'CheckpointMismatchError', 'RunFolderBusyError',
           'RunFolderNotWritableError', 'NotARunFolderError', 'OldRunFolderError',
           'TrainingDivergedError', 'ConfigError', 'DataNotFoundError', 'WeightsNotFoundError', 'ConversionError',
           'PaperTablesNotFoundError', 'NoGpuError', 'NotInitializedError']


class UserError(Exception):
    """An error in a name, file or folder the user gave; its message says what to do."""


class UnknownNameError(UserError, ValueError):
    """A model, family or label-set name that does not exist; the message lists valid ones."""


class LabelSetMismatchError(UserError, ValueError):
    """The network's weights predict other labels than the dataset provides."""


class CheckpointError(UserError, ValueError):
    """A checkpoint file cannot be loaded: unreadable, truncated, another kind of file, or not
    of the network it is loaded into."""


class CheckpointNotFoundError(UserError, FileNotFoundError):
    """A ``.params`` file is not where it was looked for."""


class CheckpointMismatchError(UserError, ValueError):
    """A run folder holds a checkpoint of another network, label set, training set or schema."""


class RunFolderBusyError(UserError, RuntimeError):
    """Another process is training into the same run folder."""


class RunFolderNotWritableError(UserError, PermissionError):
    """A run folder that training must write into is read-only."""


class TrainingDivergedError(UserError, RuntimeError):
    """The training loss became NaN or infinite; the last finished epoch's checkpoint is kept."""


class NotARunFolderError(UserError, FileNotFoundError):
    """A folder given as a training run folder lacks the run's files."""


class OldRunFolderError(NotARunFolderError):
    """A run folder written by an older version: ``python -m gluon_pydmn.migrate`` rewrites
    it."""


class ConfigError(UserError, ValueError):
    """A training configuration that cannot run: a bad schema value, a batch that does not
    split across the devices, a training set smaller than a batch, labels the network cannot
    predict."""


class DataNotFoundError(UserError, FileNotFoundError):
    """The CIFAR files are not in the data root."""


class WeightsNotFoundError(UserError, FileNotFoundError):
    """Pretrained weights are not where they were looked for."""


class ConversionError(UserError, ValueError):
    """The authors' checkpoint does not match the target network."""


class PaperTablesNotFoundError(UserError, FileNotFoundError):
    """A file given for the paper's numbers does not exist."""


class NoGpuError(UserError, RuntimeError):
    """A GPU was asked for that this MXNet build or this machine cannot provide."""


class NotInitializedError(UserError, RuntimeError):
    """A network without weights was run: it must be initialised or loaded first."""
