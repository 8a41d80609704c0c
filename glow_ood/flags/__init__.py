"""The only place command-line flags are defined; the library never reads `FLAGS`.

One module per program (`train`, `evaluate`, `analyze_data`,
`ood_benchmark`, `two_moons`), each with `define_<program>_flags(flag_values)`
and `to_<config>(flag_values)`. Every flag that sets a config field is defined
from that field (`_fields`): its default, help, choices and range are the
dataclass's, so they cannot drift apart. All flags are optional; launchers
mark what they need as required. Experiments live in flagfiles:
`launch/flagfiles/*.cfg`.
"""

from glow_ood.flags.analyze_data import define_analyze_data_flags
from glow_ood.flags.analyze_data import to_analysis_config
from glow_ood.flags.evaluate import define_evaluate_flags
from glow_ood.flags.evaluate import to_evaluation_config
from glow_ood.flags.export import define_export_flags, to_export_config
from glow_ood.flags.ood_benchmark import define_ood_benchmark_flags
from glow_ood.flags.ood_benchmark import parse_pair
from glow_ood.flags.ood_benchmark import to_benchmark_config
from glow_ood.flags.train import define_train_flags
from glow_ood.flags.train import to_train_config
from glow_ood.flags.train import train_config_from_flagfile
from glow_ood.flags.train import train_flags
from glow_ood.flags.two_moons import define_two_moons_flags
from glow_ood.flags.two_moons import to_two_moons_config
