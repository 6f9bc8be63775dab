"""The training schema, :class:`TrainConfig`: the paper's (Section 4.2 and the authors' mixup
notebook) by default, compressed (:meth:`TrainConfig.compressed`) or custom.

Nesterov momentum SGD (lr 0.1, momentum 0.9, weight decay 1e-4), batch 128, 320 epochs, the
learning rate divided by 10 at epochs 150 and 225, and mixup (``lam ~ Beta(1, 1)``) switched
off for the last 20 epochs. :func:`gluon_pydmn.train.train` runs it.
"""
import dataclasses
import json
import math

from .errors import ConfigError

__all__ = ['TrainConfig']


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The training schema; the defaults are the paper's.

    Attributes
    ----------
    epochs, batch_size : int
    optimizer : str
        An MXNet optimizer name; ``'nag'`` (Nesterov momentum) in the paper.
    learning_rate, momentum, weight_decay : float
    lr_decay : float
        Factor applied to the learning rate at each of ``lr_decay_epochs``.
    lr_decay_epochs : tuple of int
    mixup_alpha : float
        ``lam ~ Beta(alpha, alpha)``; 0 switches mixup off.
    mixup_off_last_epochs : int
        Train the last epochs without mixup.
    seed : int
        Seeds each epoch's shuffling, augmentation and mixup.
    schedule_scale : float
        1 for the schema as given; set by :meth:`compressed`, which scales the paper's epochs,
        decay epochs and mixup-free span by it.
    """
    epochs: int = 320
    batch_size: int = 128
    optimizer: str = 'nag'
    learning_rate: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_decay: float = 0.1
    lr_decay_epochs: tuple = (150, 225)
    mixup_alpha: float = 1.0
    mixup_off_last_epochs: int = 20
    seed: int = 0
    schedule_scale: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, 'lr_decay_epochs', tuple(int(e) for e in self.lr_decay_epochs))
        for name in ('epochs', 'batch_size'):
            if int(getattr(self, name)) < 1:
                raise ConfigError('%s must be at least 1, got %r' % (name, getattr(self, name)))
        for name in ('learning_rate', 'momentum', 'weight_decay', 'lr_decay', 'mixup_alpha',
                     'mixup_off_last_epochs', 'schedule_scale'):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ConfigError('%s must be a finite number, got %r' % (name, value))
            if value < 0:
                raise ConfigError('%s must be >= 0, got %r' % (name, value))
        early = [e for e in self.lr_decay_epochs if e < 1]
        if early:
            raise ConfigError('learning-rate decay epochs must be at least 1 (epoch 0 trains '
                              'with the initial learning rate), got %s'
                              % ', '.join(map(str, early)))

    @classmethod
    def from_paper(cls, tables, **overrides):
        """The schema transcribed in the paper's tables (:func:`gluon_pydmn.reproduce.paper.load_paper_tables`)."""
        schema = tables['training_schema']
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in schema.items() if k in fields}
        values.update(overrides)
        return cls(**values)

    def to_dict(self):
        """The schema as JSON values, as ``run.json`` and ``state.json`` record it."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, saved):
        """The schema a run folder recorded (:meth:`to_dict`). Fields added to the schema
        since the run was written take their defaults; a field this version does not know is
        refused, since the run could not be reproduced without it."""
        unknown = sorted(set(saved) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError('the saved schema has fields this version of gluon_pydmn does not '
                              'know (%s): resume the run with the version that wrote it'
                              % ', '.join(unknown))
        return cls(**saved)

    @classmethod
    def compressed(cls, scale, **overrides):
        """The paper's schema with its length scaled by ``scale`` (e.g. 0.1: 32 epochs).

        The number of epochs, the decay epochs and the mixup-free span are all multiplied by
        ``scale`` and rounded to whole epochs (halves up), so a short run still decays its
        learning rate at the same fractions of training and still ends without mixup.

        Examples
        --------
        >>> c = TrainConfig.compressed(0.1)
        >>> c.epochs, c.lr_decay_epochs, c.mixup_off_last_epochs
        (32, (15, 23), 2)
        """
        if not 0 < scale <= 1:
            raise ConfigError('schedule scale must be in (0, 1], got %r' % (scale,))
        paper = cls()
        scaled = lambda n: max(1, int(math.floor(n * scale + 0.5)))  # noqa: E731
        values = dict(epochs=scaled(paper.epochs),
                      lr_decay_epochs=tuple(scaled(e) for e in paper.lr_decay_epochs),
                      mixup_off_last_epochs=scaled(paper.mixup_off_last_epochs),
                      schedule_scale=float(scale))
        values.update(overrides)
        return cls(**values)

    def describe(self):
        """One sentence on the schema's length: the paper's, compressed, or custom."""
        paper = TrainConfig(seed=self.seed)
        length = ('%d epochs, learning rate x%g at epochs %s, %s'
                  % (self.epochs, self.lr_decay, ', '.join(map(str, self.lr_decay_epochs)),
                     'mixup off for the last %d' % self.mixup_off_last_epochs
                     if self.mixup_alpha > 0 else 'no mixup'))
        if self.schedule_scale != 1 and self._compressed_length():
            return "the paper's schema compressed to %g of its length (%s)" % (
                self.schedule_scale, length)
        if self == paper:
            return "the paper's full schema (%s)" % length
        return 'a custom schema (%s)' % length

    def _compressed_length(self):
        """Whether the epochs, decay epochs and mixup-free span are those
        :meth:`compressed` gives for ``schedule_scale`` (not overridden)."""
        if not 0 < self.schedule_scale <= 1:
            return False
        scaled = TrainConfig.compressed(self.schedule_scale)
        return ((self.epochs, self.lr_decay_epochs, self.mixup_off_last_epochs)
                == (scaled.epochs, scaled.lr_decay_epochs, scaled.mixup_off_last_epochs))

    def unreached_decays(self):
        """The decay epochs the schema never reaches (at or after ``epochs``)."""
        return tuple(e for e in self.lr_decay_epochs if e >= self.epochs)

    def learning_rate_at(self, epoch):
        """Learning rate of (0-based) ``epoch``."""
        return self.learning_rate * self.lr_decay ** sum(epoch >= e for e in self.lr_decay_epochs)

    def mixup_at(self, epoch):
        """Whether (0-based) ``epoch`` trains with mixup."""
        return self.mixup_alpha > 0 and epoch < self.epochs - self.mixup_off_last_epochs
