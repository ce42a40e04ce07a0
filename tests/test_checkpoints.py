"""The checkpoint format: values matched by name, written whole before they count, and their failures."""

from __future__ import annotations

import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.lib.io import file_io

from vae_lib import checkpoints
from vae_lib.model import CVAE
from vae_lib.run import RESULTS_URL, RunFolder, RunFolderError, committed_file, committed_run

RESULTS = Path(__file__).parent.parent / "results"
KINDS = ("momentum", "velocity")
HISTORY_ROW = {
    "train_loss": 1.0,
    "test_elbo": -2.0,
    "test_reconstruction": -1.5,
    "test_kl": 0.5,
    "seconds": 1,
}


def history(epochs: int) -> list[dict[str, float]]:
    return [{"epoch": e, **HISTORY_ROW} for e in range(1, epochs + 1)]


def trained(build_order: str = "model") -> tuple[CVAE, keras.optimizers.Adam]:
    """A small CVAE and its Adam after two steps, so that every slot holds its own values."""
    keras.utils.set_random_seed(5)
    model = CVAE(latent_dim=3, filters=(4, 8))
    optimizer = keras.optimizers.Adam(1e-3)
    variables = model.trainable_variables
    optimizer.build(list(reversed(variables)) if build_order == "reversed" else variables)
    images = tf.random.uniform((8, 28, 28, 1))
    for _ in range(2):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model(images) ** 2)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
    return model, optimizer


def slots(model: CVAE, optimizer: keras.optimizers.Adam) -> list[dict[str, np.ndarray]]:
    """Each trainable variable's momentum and velocity, found by the names Keras gives them."""
    by_path = {v.path: v for v in optimizer.variables}
    return [
        {kind: by_path[f"{optimizer.name}/{v.path.replace('/', '_')}_{kind}"].numpy() for kind in KINDS}
        for v in model.trainable_variables
    ]


def test_optimizer_state_comes_back_to_its_own_variables_whatever_the_build_order(tmp_path: Path) -> None:
    model, optimizer = trained()
    RunFolder(tmp_path).save_checkpoint(1, model, optimizer, history(1))
    # A Keras that listed the optimizer's variables in another order, with the same count.
    keras.utils.set_random_seed(6)
    other_model = CVAE(latent_dim=3, filters=(4, 8))
    other = keras.optimizers.Adam(1e-3)
    other.build(list(reversed(other_model.trainable_variables)))
    assert RunFolder(tmp_path).restore(other_model, other) == history(1)
    assert int(other.iterations) == 2
    # The two models were built by the same code: their variables pair up in order.
    for variable, saved, restored in zip(
        model.trainable_variables,
        slots(model, optimizer),
        slots(other_model, other),
        strict=True,
    ):
        for kind in KINDS:
            np.testing.assert_array_equal(restored[kind], saved[kind], err_msg=f"{variable.path} {kind}")
    for a, b in zip(model.get_weights(), other_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_keys_are_structural_names(tmp_path: Path) -> None:
    model, optimizer = trained()
    checkpoints.save(tmp_path, 1, model, optimizer, history(1))
    keys = {name for name, _ in tf.train.list_variables(str(tmp_path / "epoch-1"))}
    value = "/.ATTRIBUTES/VARIABLE_VALUE"
    assert {
        f"model/encoder/0/kernel{value}",
        f"model/decoder/4/bias{value}",
        f"optimizer/step{value}",
        f"optimizer/encoder/0/kernel/momentum{value}",
        f"optimizer/decoder/4/bias/velocity{value}",
        f"history{value}",
    } <= keys
    assert not [k for k in keys if "_variables" in k or "_operations" in k]  # no list positions


def test_the_last_two_complete_checkpoints_are_kept_and_latest_names_the_newest(tmp_path: Path) -> None:
    model, optimizer = trained()
    run = RunFolder(tmp_path)
    for epoch in (1, 2):
        run.save_checkpoint(epoch, model, optimizer, history(epoch))
    # A run killed while writing epoch 3 leaves its files, not listed in `checkpoint`: they do not count.
    (tmp_path / "checkpoints" / "epoch-3.index").write_bytes(b"cut")
    (tmp_path / "checkpoints" / "epoch-3_temp").mkdir()
    assert run.checkpoint_folders() == [tmp_path / "checkpoints" / f"epoch-{e}" for e in (2, 1)]
    assert run.restore(model, optimizer) == history(2)
    for epoch in (3, 4):
        run.save_checkpoint(epoch, model, optimizer, history(epoch))
    assert [p.name for p in run.checkpoint_folders()] == ["epoch-4", "epoch-3"]
    assert (tmp_path / "checkpoints" / "latest").read_text() == "epoch-4"
    names = [f"epoch-{e}{suffix}" for e in (3, 4) for suffix in (checkpoints.DATA, ".index")]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["checkpoint", *names, "latest"]
    assert run.restore(model) == history(4)


@pytest.mark.parametrize("suffix", [".index", checkpoints.DATA])
def test_a_damaged_latest_checkpoint_is_named_and_the_older_one_loaded_on_fallback(
    tmp_path: Path, capsys: pytest.CaptureFixture, suffix: str
) -> None:
    model, optimizer = trained()
    run = RunFolder(tmp_path)
    for epoch in (1, 2):
        run.save_checkpoint(epoch, model, optimizer, history(epoch))
    damaged = tmp_path / "checkpoints" / f"epoch-2{suffix}"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    with pytest.raises(RunFolderError) as refused:
        run.restore(model, optimizer)
    assert str(refused.value).startswith(f"{damaged} is damaged (")
    assert str(refused.value).endswith(
        "; the older checkpoint epoch-1 is kept: train with the same settings to resume from it"
    )
    capsys.readouterr()
    assert run.restore(model, optimizer, fallback=True) == history(1)
    warning = capsys.readouterr().err
    assert warning.startswith(f"warning: {damaged} is damaged (") and warning.count("\n") == 1
    assert warning.endswith("; falling back to epoch-1\n")


def fail_writing_the_data(monkeypatch: pytest.MonkeyPatch) -> str:
    """The disk fills as the saver writes a checkpoint's data and index: files left, listed nowhere."""
    write = tf.train.Checkpoint._write

    def write_then_fail(self: tf.train.Checkpoint, prefix: str, **options: object) -> None:
        # Without the manager's options: their callback would list these files as a complete checkpoint.
        write(self, prefix)
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    monkeypatch.setattr(tf.train.Checkpoint, "_write", write_then_fail)
    return "No space left on device"


def fail_writing_the_list(monkeypatch: pytest.MonkeyPatch) -> str:
    """The data and index are written whole, then the disk fills as the manager writes ``checkpoint``,
    the list that would make them count.
    """

    def no_space(*args: object, **kwargs: object) -> None:
        raise tf.errors.ResourceExhaustedError(None, None, "checkpoint; No space left on device")

    monkeypatch.setattr(file_io, "atomic_write_string_to_file", no_space)
    return "checkpoint; No space left on device"


# The two points where a full disk stops a checkpoint, each a failure of its own: inside the saver
# (before any callback runs) and inside the manager's callback that lists the written files.
# Each installs its fault and returns TensorFlow's message; test_bad_inputs.py drives one through
# the command line.
FULL_DISK = {"writing the data": fail_writing_the_data, "writing the list": fail_writing_the_list}


@pytest.mark.parametrize("fault", FULL_DISK)
def test_a_full_disk_while_checkpointing_keeps_the_last_complete_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    model, optimizer = trained()
    run = RunFolder(tmp_path)
    run.save_checkpoint(1, model, optimizer, history(1))
    before = {p.name: p.read_bytes() for p in run.checkpoints.iterdir()}
    reason = FULL_DISK[fault](monkeypatch)
    message = (
        f"could not write checkpoint {run.checkpoints}/epoch-2: {reason}; "
        f"the previous checkpoint {run.checkpoints}/epoch-1 is intact"
    )
    with pytest.raises(RunFolderError, match=re.escape(message)):
        run.save_checkpoint(2, model, optimizer, history(2))
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in run.checkpoints.iterdir()} == before  # nothing of epoch 2 left
    assert run.restore(model, optimizer) == history(1)


def test_a_checkpoint_without_optimizer_state_loads_a_model_only(tmp_path: Path) -> None:
    model, optimizer = trained()
    checkpoints.save(tmp_path / "checkpoints", 1, model, None, history(1))  # as committed runs are
    run = RunFolder(tmp_path)
    again = CVAE(latent_dim=3, filters=(4, 8))
    assert run.restore(again) == history(1)
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(RunFolderError, match=r"epoch-1 holds no optimizer state; no older checkpoint"):
        run.restore(model, optimizer)
    with pytest.raises(
        RunFolderError,
        match=r"holds model/encoder/3/kernel of shape \[288, 6\], this model's",
    ):
        run.restore(CVAE(latent_dim=5, filters=(4, 8)))


def test_a_history_that_is_not_one_is_named(tmp_path: Path) -> None:
    model, _ = trained()
    checkpoints.save(tmp_path / "checkpoints", 1, model, None, [{"epoch": 1}])  # type: ignore[list-item]
    with pytest.raises(RunFolderError, match=r"the history in .*epoch-1 is damaged \(it is not a training"):
        RunFolder(tmp_path).restore(model)


@pytest.mark.parametrize("weights", [True, False])
def test_committed_run_downloads_the_files_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weights: bool
) -> None:
    fetched: list[str] = []

    def urlretrieve(url: str, path: Path) -> None:  # the repository's raw files, served from this clone
        fetched.append(url.removeprefix(f"{RESULTS_URL}tutorial-dynamic/"))
        shutil.copyfile(RESULTS / "tutorial-dynamic" / fetched[-1], path)

    monkeypatch.setattr(urllib.request, "urlretrieve", urlretrieve)
    monkeypatch.chdir(tmp_path)
    run = committed_run("tutorial-dynamic", weights=weights)
    checkpoint = ["latest", "epoch-10.index", f"epoch-10{checkpoints.DATA}", "checkpoint"]
    expected = [f"checkpoints/{n}" for n in checkpoint] * weights + ["history.csv", "metrics.json"]
    assert fetched == [*expected, "config.json"]  # last: a complete folder has it
    assert run.read_history() == RunFolder(RESULTS / "tutorial-dynamic").read_history()
    if weights:
        assert len(run.load()[2]) == 10


def test_committed_file_is_found_or_downloaded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fetched: list[str] = []

    def urlretrieve(url: str, path: Path) -> None:
        fetched.append(url)
        Path(path).write_text("{}")

    monkeypatch.setattr(urllib.request, "urlretrieve", urlretrieve)
    monkeypatch.chdir(tmp_path)
    path = committed_file("step_costs.json")
    assert fetched == [f"{RESULTS_URL}step_costs.json"] and path.read_text() == "{}"
    assert committed_file("step_costs.json") == path and len(fetched) == 1  # found, not fetched again


@pytest.mark.parametrize(
    "failure",
    [
        urllib.error.HTTPError("url", 404, "Not Found", {}, None),  # type: ignore[arg-type]
        urllib.error.URLError(OSError(-3, "Temporary failure in name resolution")),
        urllib.error.ContentTooShortError("retrieval incomplete: got only 10 out of 20 bytes", None),
    ],
)
@pytest.mark.parametrize("failing", ["checkpoints/latest", "config.json"])
def test_a_failed_download_is_named_and_leaves_no_folder_that_passes_for_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: OSError, failing: str
) -> None:
    def urlretrieve(url: str, path: Path) -> None:
        relative = url.removeprefix(f"{RESULTS_URL}tutorial-dynamic/")
        if relative == failing:
            Path(path).write_text("{")  # what urlretrieve leaves when the connection breaks
            raise failure
        shutil.copyfile(RESULTS / "tutorial-dynamic" / relative, path)

    monkeypatch.setattr(urllib.request, "urlretrieve", urlretrieve)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RunFolderError) as refused:
        committed_run("tutorial-dynamic")
    message = str(refused.value)
    assert message.startswith(f"could not download {RESULTS_URL}tutorial-dynamic/{failing} (")
    assert message.endswith("): check the network, or clone the repository and run the chapter in it")
    assert "\n" not in message and ("404" in message) == isinstance(failure, urllib.error.HTTPError)
    left = [p.name for p in (tmp_path / "results" / "tutorial-dynamic").rglob("*")]
    assert "config.json" not in left and not [n for n in left if n.endswith(".tmp")]
