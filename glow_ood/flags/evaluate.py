"""The flags of `launch/evaluate.py` and their `EvaluationConfig`."""

from absl import flags

from glow_ood import configs
from glow_ood.configs.evaluate import DATA_LOCATION_FIELDS
from glow_ood.flags import _fields
from glow_ood.flags import families

__all__ = ["define_evaluate_flags", "to_evaluation_config"]

# `--datasets` unset means "the run's eval_datasets plus the special inputs".
_DEFAULTS = {"datasets": None}
# Training's flags (--data_dir, --data_source, ...) over the run's data.
_DATA = DATA_LOCATION_FIELDS


def define_evaluate_flags(flag_values=flags.FLAGS):
  """Defines the flags of `launch/evaluate.py` on `flag_values`."""
  definer = _fields.Definer(flag_values)
  definer.DEFINE_multi_string(
      "workdir", None, "Run folder(s) written by launch/train.py or "
      "glow_ood.train.train; repeat the flag for an ensemble (its members' "
      "folders).")
  definer.DEFINE_string(
      "output_dir", None, "Where results.json, results.md, scores.npz and "
      "figures/ go. Default: <first workdir>/evaluation (or "
      "<parent>/ensemble_evaluation for several workdirs).")
  definer.DEFINE_integer("step", None, "Checkpoint step to load (default: the "
                         "latest).", lower_bound=0)
  families.define_model_module_flag(definer, reads_runs=True)
  definer.DEFINE_bool("use_ema", True, "Load the EMA weights if the run kept "
                      "them.")
  definer.DEFINE_bool(
      "tensorboard", False, "Also write the metrics and log p(x) histograms "
      "per set as TensorBoard summaries (glow_ood.experiments."
      "evaluation_summaries), into --summaries_dir.")
  definer.DEFINE_string(
      "summaries_dir", None, "Where the TensorBoard summaries go (implies "
      "--tensorboard). Default: <workdir>/evaluate of each run (no ensemble "
      "summaries); with several workdirs <summaries_dir>/<run name> and "
      "<summaries_dir>/ensemble.")
  _fields.define_fields(flag_values, configs.EvaluationConfig,
                        defaults=_DEFAULTS, exclude=_DATA)
  # Where the runs' data are read from: the run's config.json, unless given.
  _fields.define_fields(flag_values, configs.EvaluationConfig, only=_DATA,
                        group="data (default: the run's, from config.json)")


def to_evaluation_config(flag_values, run_config):
  """Parsed evaluate flags (+ the first run's `TrainConfig`) -> `EvaluationConfig`."""
  values = _fields.field_values(flag_values, configs.EvaluationConfig)
  if "datasets" not in values:
    values["datasets"] = tuple(dict.fromkeys(
        tuple(run_config.eval_datasets) + configs.DEFAULT_EXTRA_DATASETS))
  return configs.EvaluationConfig(**values)
