# The two commands of the README: `make demo` (main job on the embedded default) and `make test`.
.PHONY: setup demo test

setup:
	bash scripts/setup.sh

demo: setup
	zhaug demo --out runs/demo

test: setup
	python -m pytest -q
