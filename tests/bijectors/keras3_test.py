"""Keras 3 cannot hold the bijectors (it tracks none of their variables): refused, with the fix.

The Keras-3 half runs in a fresh interpreter without `TF_USE_LEGACY_KERAS`
(this test session has tf-keras as `tf.keras`): a `keras.Model` holding a
flow is refused on its first call and in `fit`, naming tf_keras and
`TF_USE_LEGACY_KERAS=1`, while the flow alone still works in that process.
The tf-keras half checks that the same model trains there.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

import bijectors
from tests import REPO

_KERAS3_SCRIPT = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    import keras
    import bijectors

    class FlowModel(keras.Model):
      def __init__(self):
        super().__init__()
        self.flow = bijectors.build_glow_flow([4, 4, 1], 1, 1, hidden_width=4)

      def call(self, x):
        return self.flow.forward_log_det_jacobian(x, event_ndims=3)

    x = tf.random.stateless_uniform([8, 4, 4, 1], seed=[1, 2]) - 0.5
    out = {"keras": keras.__version__}
    out["alone"] = list(FlowModel().flow.forward(x).shape)   # no Keras caller
    model = FlowModel()
    try:
      model(x)
    except TypeError as e:
      out["call"] = str(e)
    model.compile(optimizer="adam", loss=lambda _, ldj: -tf.reduce_mean(ldj))
    try:
      model.fit(x, tf.zeros([8]), epochs=1, verbose=0)
    except TypeError as e:
      out["fit"] = str(e)
    print(json.dumps(out))
""")


def test_keras3_model_holding_a_flow_is_refused_with_the_fix():
  pytest.importorskip("keras")
  env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
  env["PYTHONPATH"] = REPO
  result = subprocess.run([sys.executable, "-c", _KERAS3_SCRIPT], env=env,
                          cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(result.stdout.strip().splitlines()[-1])
  if int(out["keras"].split(".")[0]) < 3:
    pytest.skip(f"keras {out['keras']} is not Keras 3")
  assert out["alone"] == [8, 16]
  for where in ("call", "fit"):
    message = out.get(where)
    assert message is not None, f"model.{where} was not refused: {out}"
    assert "Keras 3" in message and "does not track" in message, message
    assert "tf_keras" in message and "TF_USE_LEGACY_KERAS=1" in message


def test_tf_keras_model_holding_a_flow_tracks_and_trains_it():
  class FlowModel(tf_keras.Model):

    def __init__(self):
      super().__init__()
      self.flow = bijectors.build_glow_flow([4, 4, 1], 1, 1, hidden_width=4)

    def call(self, x):
      return self.flow.forward_log_det_jacobian(x, event_ndims=3)

  model = FlowModel()
  x = tf.random.stateless_uniform([8, 4, 4, 1], seed=[1, 2]) - 0.5
  model.flow.forward(x)   # ActNorm's data-dependent init
  assert len(model.trainable_variables) == len(model.flow.trainable_variables)
  before = [v.numpy().copy() for v in model.flow.trainable_variables]
  model.compile(optimizer=tf_keras.optimizers.Adam(1e-2),
                loss=lambda _, ldj: -tf.reduce_mean(ldj))
  model.fit(x, tf.zeros([8]), epochs=2, verbose=0)
  changed = [not np.array_equal(b, v.numpy())
             for b, v in zip(before, model.flow.trainable_variables)]
  assert any(changed)
