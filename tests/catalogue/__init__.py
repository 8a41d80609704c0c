"""The fault catalogue: bad input and failures, each refused with one line and nothing lost.

Every module here holds `CASES`, a list of `pytest.param(..., id=...)`, and one
parametrized test over them; `harness` holds what every case asserts (exit
code or exception type, one line naming the problem, run files byte-identical).
`count_test` checks the catalogue's size and that its ids are unique.
"""
