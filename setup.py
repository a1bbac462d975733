"""Shim for the legacy editable install that mim needs.

scripts/setup_env.sh installs with ``pip install --no-use-pep517 -e .``:
mim finds a package's ``.mim`` configs and tools at
``<distribution location>/vitpose_mm``, which a PEP 660 editable install
puts in site-packages, where they are not.
"""
from setuptools import setup

setup()
