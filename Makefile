# The two commands of the README: `make demo` (main job on the embedded default) and `make test`
# (the layer contracts of pyproject.toml, then the test suite).
.PHONY: setup demo test

setup:
	bash scripts/setup.sh

demo: setup
	zhaug demo --out runs/demo

test: setup
	python scripts/lint_imports.py
	python -m pytest -q
