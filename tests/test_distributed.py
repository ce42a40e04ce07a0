"""Training with tf.distribute: two logical CPU devices learn as one device does.

Logical devices must be set before TensorFlow starts its runtime, so the run
happens in a fresh process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = """
import dataclasses, json, sys
import vae_lib
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from vae_lib.data import Mnist, load_mnist
from vae_lib.train import TrainConfig, train

full = load_mnist(sys.argv[1] or None)
n, m = 1024, 500
mnist = Mnist(full.train_images[:n], full.train_labels[:n], full.test_images[:m], full.test_labels[:m])
config = TrainConfig(epochs=2, batch_size=64, learning_rate=1e-3, seed=5, precision="float32")
mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
_, two = train(dataclasses.replace(config, devices=2), mnist=mnist, progress=False, strategy=mirrored)
_, one = train(config, mnist=mnist, progress=False)
print(json.dumps({"replicas": mirrored.num_replicas_in_sync, "two": two, "one": one}))
"""


def test_mirrored_strategy_on_two_cpu_devices_learns_like_one_device() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, os.environ.get("VAE_DATA_DIR", "")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    assert runs["replicas"] == 2
    one, two = runs["one"], runs["two"]
    # Both learn: the second epoch is better than the first ...
    assert two[1]["test_elbo"] > two[0]["test_elbo"]
    assert one[1]["test_elbo"] > one[0]["test_elbo"]
    # ... and they end up in the same place (ε differs per replica, so not to the bit).
    assert abs(two[1]["test_elbo"] - one[1]["test_elbo"]) < 0.03 * abs(one[1]["test_elbo"])
    assert abs(two[1]["train_loss"] - one[1]["train_loss"]) < 0.03 * one[1]["train_loss"]
