"""Training objects of the seed: optimizers, ``DataLoader`` and ``Trainer`` (the core's, with the
GIL released while they compute)."""
from . import _mithril as _C

__all__ = ["Adam", "AdamW", "SGD", "RMSProp", "DataLoader", "Trainer"]


class _Optimizer:
    @property
    def learning_rate(self):
        return self._config.learning_rate

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self.learning_rate})"


class Adam(_Optimizer):
    def __init__(self, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        self._config = _C.adam(learning_rate, beta1, beta2, eps, weight_decay, False)


class AdamW(_Optimizer):
    def __init__(self, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
        self._config = _C.adam(learning_rate, beta1, beta2, eps, weight_decay, True)


class SGD(_Optimizer):
    def __init__(self, learning_rate=1e-2, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        self._config = _C.sgd(learning_rate, momentum, dampening, nesterov, weight_decay)


class RMSProp(_Optimizer):
    def __init__(self, learning_rate=1e-2, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0):
        self._config = _C.rmsprop(learning_rate, alpha, eps, momentum, weight_decay)


# dataset: a dict of arrays (fields, samples along axis 0), one array ("input"), an (inputs, targets)
# pair, or a sequence of samples (__len__/__getitem__ returning a dict of arrays or an (input,
# target) pair). Iterating yields dicts of arrays; each iteration is the next epoch.
DataLoader = _C.DataLoader


class Trainer:
    """Trains a model compiled with gradients (its ``final_cost`` output, e.g. a TrainModel):
    ``step(batch or micro-batches)``, ``train_epoch(loader)``. ``gradient_accumulation_steps``
    micro-batches make one optimizer step with the gradient of the mean loss over all of them.
    ``params`` default to ``model.randomize_params(seed)``."""

    def __init__(self, model, optimizer, gradient_accumulation_steps=1, params=None, loss_key="final_cost",
                 clip_norm=0.0, clip_value=0.0, seed=0):
        from . import PhysicalModel
        if not isinstance(model, PhysicalModel):
            raise TypeError(f"Trainer needs a compiled model (ml.compile), got {type(model).__name__}")
        if not isinstance(optimizer, _Optimizer):
            raise TypeError(f"optimizer must be ml.Adam(...), ml.SGD(...), ..., got {type(optimizer).__name__}")
        self.model = model
        self.optimizer = optimizer
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self._cpp = _C.Trainer(model._cpp, optimizer._config, gradient_accumulation_steps, params, loss_key,
                               clip_norm, clip_value, seed)

    def step(self, batches):
        """One optimizer step over a batch (dict of arrays) or a list of micro-batches; the mean loss."""
        if isinstance(batches, dict):
            batches = [batches]
        return self._cpp.step(list(batches))

    def train_epoch(self, loader):
        """One epoch of ``loader``; returns the mean training loss."""
        loss, _steps, _samples = self._cpp.train_epoch(loader)
        return loss

    def fit(self, loader, epochs=1):
        return [self.train_epoch(loader) for _ in range(epochs)]

    def evaluate(self, loader):
        """(mean loss, accuracy or -1, samples) over the loader."""
        return self._cpp.evaluate_loader(loader)

    @property
    def params(self):
        return self._cpp.params

    @property
    def global_step(self):
        return self._cpp.global_step

    def save_checkpoint(self, path):
        self._cpp.save_checkpoint(path)

    def load_checkpoint(self, path):
        self._cpp.load_checkpoint(path)
