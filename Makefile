# Two commands on a fresh machine: `make run` (chat over the sample articles) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: install run test test-quick lint format bench bench-quick train clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m bot prepare
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m bot run

test: $(STAMP)
	$(PY) -m pytest

test-quick: $(STAMP)
	$(PY) -m pytest -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

# Benchmarks (README "Benchmarks"): print tables, write bench/results.json and bench/abstention_curve.png.
# Their extra packages (bench/requirements.txt) go into .venv here, never through `make install`.
# Built collections are cached under /tmp (squad_all, byline_tune, byline_bench) and reused.
# bench-quick takes about 6 minutes with those caches (3.5 of them topic summaries); from a clean /tmp it
# first builds the SQuAD collections and the 200-article BBC sample (about 15 minutes on 2 cores), and
# bench/topics.py the whole BBC collection (about 15 more).
# bench: all 10,570 SQuAD questions, all 2,225 BBC summaries, topic summaries and story clusters (about 9
# minutes), speed at ~12k and ~97k chunks; with a clean /tmp the BBC ingest alone takes about 15 minutes
# on a quiet 2-core CPU.
BENCH_STAMP := $(VENV)/.bench-$(shell cat bench/requirements.txt | cksum | cut -d' ' -f1)

$(BENCH_STAMP): $(STAMP) bench/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	rm -f $(VENV)/.bench-* && touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	PYTHONPATH=. $(PY) bench/squad_eval.py
	PYTHONPATH=. $(PY) bench/squad_v2.py
	PYTHONPATH=. $(PY) bench/members_eval.py
	PYTHONPATH=. $(PY) bench/summaries.py
	PYTHONPATH=. $(PY) bench/corpora.py
	PYTHONPATH=. $(PY) bench/topics.py
	PYTHONPATH=. $(PY) bench/speed.py
	PYTHONPATH=. $(PY) bench/scale_out.py
	PYTHONPATH=. $(PY) bench/feeds.py
	PYTHONPATH=. $(PY) bench/insights.py

bench-quick: $(BENCH_STAMP)
	PYTHONPATH=. $(PY) bench/squad_eval.py --quick
	PYTHONPATH=. $(PY) bench/squad_v2.py --quick
	PYTHONPATH=. $(PY) bench/members_eval.py
	PYTHONPATH=. $(PY) bench/summaries.py --quick
	PYTHONPATH=. $(PY) bench/topics.py --quick
	PYTHONPATH=. $(PY) bench/speed.py --quick

# The answer model (index/weights/answer-sentence/, MODEL_CARD.md): train from the bundled MiniLM weights
# on SQuAD v1.0 train (60,000 questions) and SQuAD dev's tune half, export to int8 ONNX, calibrate the
# threshold on the members' tune half and reworded SQuAD tune questions. Seeded; about 105 minutes on
# 2 cores (plus the SQuAD collection, built once under /tmp); an interrupted run resumes from its last
# checkpoint in ~/.cache/byline/answer-train. CI and `make run` use the shipped file.
train: $(STAMP)
	PYTHONPATH=. $(PY) training/train_answer_model.py
	PYTHONPATH=. $(PY) training/calibrate_answer_model.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
