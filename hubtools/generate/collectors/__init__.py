"""The collectors of the generator, one per layout of model zoo: each turns a
repository's files into candidate entries and reports bad input as warnings.
They must not raise on bad input nor read model files (the generator's facts
step does).
"""
