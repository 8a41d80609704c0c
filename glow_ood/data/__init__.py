"""Image datasets by name -> uint8 arrays -> batched `tf.data` pipelines.

    config = DataConfig(dataset="fashion_mnist", pad_to=32, validation_size=5000)
    train = load_images(config, "train")                   # uint8 [55000, 32, 32, 1]
    ds = make_dataset(train, 64, dequantization="uniform", shuffle=True,
                      repeat=True, seed=config.seed, drop_remainder=True)

Modules, one concern each: `sources` (local npz files, tensorflow_datasets),
`special` (constant, uniform-noise, grayed and JPEG images), `fingerprints`
(what a run's data are, recorded in its config.json), `transforms` (padding,
gray -> RGB, conforming, seeded subsets, image grids), `loading` (datasets and
splits by name, the evaluation sets), `pipeline` (`tf.data`), `mutation`
(Ren et al.'s input mutation). `DataConfig` lives in `glow_ood.configs`.
"""

from glow_ood.configs.data import DataConfig
from glow_ood.configs.data import SOURCES
from glow_ood.configs.data import SPLITS
from glow_ood.configs.data import TFDS_DATASETS
from glow_ood.data import fingerprints
from glow_ood.data import loading
from glow_ood.data import mutation
from glow_ood.data import pipeline
from glow_ood.data import sources
from glow_ood.data import special
from glow_ood.data import transforms
from glow_ood.data.loading import check_datasets
from glow_ood.data.loading import load_evaluation_sets
from glow_ood.data.loading import load_images
from glow_ood.data.loading import load_images_as
from glow_ood.data.pipeline import DEQUANTIZATIONS
from glow_ood.data.pipeline import load_dataset
from glow_ood.data.pipeline import make_dataset
from glow_ood.data.sources import DEFAULT_DATA_DIR
from glow_ood.data.sources import DatasetNotFoundError
from glow_ood.data.sources import check_npz
from glow_ood.data.sources import default_data_dir
from glow_ood.data.sources import load_npz
from glow_ood.data.transforms import conform_images
from glow_ood.data.transforms import gray_to_rgb
from glow_ood.data.transforms import image_grid
from glow_ood.data.transforms import pad_images
from glow_ood.data.transforms import subsample
