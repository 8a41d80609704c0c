"""The programs behind `launch/`, built from the library pieces below them.

`evaluate` (the paper's tables and figures from trained runs),
`analyze_data` (data statistics and the second-order analysis of Section 5),
`ood_benchmark` (every OOD score on in -> out pairs), `two_moons` (Appendix
C), and `report` (their markdown tables). Each takes a frozen config from
`glow_ood.configs` and writes JSON, markdown and figures.
"""
