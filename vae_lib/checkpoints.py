"""Checkpoints in TensorFlow's format, every value matched by a name, never by a position.

A checkpoint of epoch N is the :class:`tf.train.Checkpoint` ``DIR/epoch-N`` (the files
``epoch-N.index`` and ``epoch-N.data-00000-of-00001``), written by a
:class:`tf.train.CheckpointManager` that lists the complete ones in ``DIR/checkpoint``
once they are written and keeps the last :data:`KEEP`. It holds::

    model/encoder/0/kernel             each model variable, named by its network, its layer's
    model/decoder/4/bias               index in that network (Input not counted) and its own name
    model/prior/means                  a learned prior's variables, by their own names
    optimizer/step                     Adam's step counter (absent from committed runs)
    optimizer/encoder/0/kernel/momentum, …/velocity   Adam's two slots of that variable
    history                            the training history so far, as JSON

TensorFlow's default keys for a Keras 3 model and optimizer are list positions
(``optimizer/_variables/7``, ``model/encoder/_functional/_operations/1/_kernel``):
a Keras release that ordered them differently would load every value into another
slot. These names come from the model's own structure instead (Keras's generated
layer names such as ``conv2d_3`` depend on how many layers a process has built).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import keras
import tensorflow as tf

KEEP = 2
NAME = "epoch"
DATA = ".data-00000-of-00001"  # the one data file of a checkpoint that one process wrote
_VALUE = ".ATTRIBUTES/VARIABLE_VALUE"  # how tf.train.Checkpoint keys a variable's value


class CheckpointError(ValueError):
    """A checkpoint cannot be written or read; the message says why, in one line."""


def model_variables(model: keras.Model) -> dict[str, keras.Variable]:
    """Every variable of ``model`` (a CVAE: Sequential networks) by structural name: ``encoder/0/kernel``."""
    named: dict[str, keras.Variable] = {}
    for network in model.layers:
        # A network's variables by layer index; a part that is one layer (a learned prior) by its own name.
        layers = getattr(network, "layers", None)
        parts = enumerate(layers) if layers is not None else [(None, network)]
        for index, layer in parts:
            for variable in layer.weights:
                name = (
                    f"{network.name}/{variable.name}"
                    if index is None
                    else f"{network.name}/{index}/{variable.name}"
                )
                if name in named:  # a layer nesting layers: its variables would need deeper names
                    raise CheckpointError(f"two variables of {model.name} are both named {name}")
                named[name] = variable
    if len(named) != len(model.weights):
        raise CheckpointError(f"{len(model.weights) - len(named)} variables of {model.name} are in no layer")
    return named


def optimizer_variables(
    model: keras.Model, optimizer: keras.optimizers.Optimizer
) -> dict[str, keras.Variable]:
    """Adam's state: ``step``, and ``NAME/momentum`` and ``NAME/velocity`` per trainable variable NAME.

    A slot is found from its model variable the way Adam finds it when it
    updates that variable, so the order in which the optimizer was built does
    not matter. Any other state (another optimizer, a newer Keras) is refused
    rather than silently dropped.
    """
    if type(optimizer) is not keras.optimizers.Adam or optimizer.amsgrad:
        raise CheckpointError(f"checkpoints hold the state of Adam without amsgrad, not {optimizer}")
    named = {"step": optimizer.iterations}
    for name, variable in model_variables(model).items():
        if variable.trainable:
            try:
                index = optimizer._get_variable_index(variable)
            except KeyError:
                raise CheckpointError(f"the optimizer was not built for {variable.path}") from None
            named[f"{name}/momentum"] = optimizer._momentums[index]
            named[f"{name}/velocity"] = optimizer._velocities[index]
    # A constant learning rate is a variable too; it comes from the run's config.
    known = {id(v) for v in named.values()} | {id(optimizer.learning_rate)}
    unknown = [v.path for v in optimizer.variables if id(v) not in known]
    if unknown:
        raise CheckpointError(f"the optimizer holds state no checkpoint keeps: {', '.join(unknown)}")
    return named


def _tree(named: dict[str, tf.Variable]) -> tf.train.Checkpoint:
    """A checkpointable tree whose paths are the names of ``named`` (``a/b/c`` → ``a`` → ``b`` → ``c``)."""
    nested: dict = {}
    for name, variable in named.items():
        *parents, leaf = name.split("/")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = variable

    def build(node: dict) -> tf.train.Checkpoint:
        return tf.train.Checkpoint(**{k: build(v) if isinstance(v, dict) else v for k, v in node.items()})

    return build(nested)


def _root(
    model: keras.Model, optimizer: keras.optimizers.Optimizer | None, history: tf.Variable
) -> tf.train.Checkpoint:
    parts = {"model": _tree(model_variables(model)), "history": history}
    if optimizer is not None:
        parts["optimizer"] = _tree(optimizer_variables(model, optimizer))
    return tf.train.Checkpoint(**parts)


def kept(directory: Path) -> list[Path]:
    """The complete checkpoints in ``directory`` (prefixes such as ``DIR/epoch-3``), newest first."""
    state = tf.train.get_checkpoint_state(str(directory))
    if state is None and (directory / "checkpoint").exists():
        # It is written whole and renamed into place: only a damaged disk breaks it.
        raise CheckpointError(f"{directory / 'checkpoint'} is damaged (not a list of checkpoints)")
    return [Path(p) for p in reversed(state.all_model_checkpoint_paths)] if state else []


def save(
    directory: Path,
    epoch: int,
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer | None,
    history: list[dict[str, float]],
) -> Path:
    """Write epoch ``epoch``'s checkpoint (no optimizer state if ``optimizer`` is None); return its prefix.

    It joins the list in ``DIR/checkpoint`` only once written; then all but the
    newest :data:`KEEP` are deleted. A write that fails (a full disk) raises
    :class:`CheckpointError` and removes what it wrote, leaving the listed
    checkpoints as they were.
    """
    root = _root(model, optimizer, tf.Variable(json.dumps(history)))
    manager = tf.train.CheckpointManager(root, str(directory), max_to_keep=KEEP, checkpoint_name=NAME)
    try:
        prefix = Path(manager.save(checkpoint_number=epoch))
    except (OSError, tf.errors.OpError) as err:
        _remove_unlisted(directory)
        raise CheckpointError(reason(err)) from None
    _remove_unlisted(directory)  # what a run killed while writing left
    return prefix


def load(prefix: Path, model: keras.Model, optimizer: keras.optimizers.Optimizer | None = None) -> object:
    """Load checkpoint ``prefix`` into ``model`` (and ``optimizer``); return its history, as saved.

    Every variable of ``model`` (and of ``optimizer``) must be found under its
    name, with its shape; a checkpoint that does not load raises :class:`CheckpointError`
    naming its file. A checkpoint without optimizer state loads into ``model`` alone.
    """
    index, data = (prefix.with_name(prefix.name + suffix) for suffix in (".index", DATA))
    for path in (index, data):
        if not path.exists():
            raise CheckpointError(f"{path} is missing")
    try:
        saved = tf.train.load_checkpoint(str(prefix)).get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError) as err:
        raise CheckpointError(f"{index} is damaged ({reason(err)})") from None
    history = tf.Variable("")
    root = _root(model, optimizer, history)
    # Checked before reading, which would fail on the first mismatch with a page of warnings.
    wanted = {"history": history} | {f"model/{k}": v for k, v in model_variables(model).items()}
    if optimizer is not None:
        wanted |= {f"optimizer/{k}": v for k, v in optimizer_variables(model, optimizer).items()}
    missing = [name for name in wanted if f"{name}/{_VALUE}" not in saved]
    if missing:
        what = "optimizer state" if all(n.startswith("optimizer/") for n in missing) else ", ".join(missing)
        raise CheckpointError(f"{prefix} holds no {what}")
    for name, variable in wanted.items():
        shape, expected = saved[f"{name}/{_VALUE}"], list(variable.shape)
        if shape != expected:
            raise CheckpointError(f"{prefix} holds {name} of shape {shape}, this model's is {expected}")
    try:
        root.read(str(prefix)).expect_partial()  # optimizer state is left unread without an optimizer
        return json.loads(history.numpy().decode())
    except (tf.errors.OpError, ValueError, IndexError) as err:  # IndexError: a data file cut short
        raise CheckpointError(f"{data} is damaged ({reason(err)})") from None


def _remove_unlisted(directory: Path) -> None:
    """Delete the files of checkpoints that ``DIR/checkpoint`` does not list: being written, or abandoned."""
    listed = {p.name for p in kept(directory)}
    for path in directory.glob(f"{NAME}-*"):
        match = re.match(rf"{NAME}-\d+", path.name)
        if match and match[0] not in listed:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def reason(err: BaseException) -> str:
    """What went wrong, in one short line: TensorFlow's message, the OS's words, or the text."""
    if isinstance(err, tf.errors.OpError):
        text = err.message
    else:
        text = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:199] + "…"
