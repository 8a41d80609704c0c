"""The Glow architecture and batch flags shared by the benchmark programs.

    architecture_flags.define()   # --num_levels, --num_steps_per_level, ...

Defaults are the paper's config: 3 levels x 8 steps, width 512, batch 32 of
32x32x3 images. Plain absl flags, no TensorFlow.
"""

from absl import flags

__all__ = ["define"]


def define():
  """Defines --num_levels, --num_steps_per_level, --hidden_width, --batch_size,
  --image_size and --channels."""
  flags.DEFINE_integer("num_levels", 3, "Glow levels (L; tfb.Glow's "
                       "num_glow_blocks; glow-pytorch's n_block).")
  flags.DEFINE_integer("num_steps_per_level", 8, "Steps per level (K; "
                       "glow-pytorch's n_flow).")
  flags.DEFINE_integer("hidden_width", 512, "Coupling network width.")
  flags.DEFINE_integer("batch_size", 32, "Images per batch.")
  flags.DEFINE_integer("image_size", 32, "Image height = width.")
  flags.DEFINE_integer("channels", 3, "Image channels.")
