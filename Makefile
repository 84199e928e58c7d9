# The two commands a new user needs: `make run` (demo) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run test test-fast test-slow mutants bench screenshots translations clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

static/vendor/htmx.min.js static/vendor/axe.min.js &: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	# axe-core: only the browser tests inject it (accessibility check); pages never load it.
	cp node_modules/axe-core/axe.min.js static/vendor/axe.min.js

install: $(VENV)/.installed static/vendor/htmx.min.js static/vendor/axe.min.js

## Start bridge in demo mode: sandbox + app + worker, sample data, http://127.0.0.1:5000
run: install
	$(PY) -m bridge.demo

## Install and run the whole test suite
test: install
	$(PY) -m pytest -q

## The slow suites (minutes each): PostgreSQL restarted under load, ledger storms, the
## scale-out run (needs DATABASE_URL=postgresql... and TEST_REDIS_URL, else it skips), the
## benches at a CI size. .ci/run runs it after the two `make test` passes.
test-slow: install
	$(PY) -m pytest -q -m slow

## The mutation run of the trust checks: each check broken in turn, its tests must fail
## (a few minutes; result in docs/RELIABILITY.md, mutants in tests/security/mutations/catalogue.py)
mutants: install
	$(PY) -m pytest -q -m mutation tests/security/mutations

## Benchmarks (figures in docs/PERFORMANCE.md); the ingest one needs wrk (apt-get install wrk); trickle and
## fairness answer every API call after a simulated 50 ms round trip (BENCH_LATENCY_MS)
bench: install
	$(PY) bench/ingest.py
	$(PY) bench/dashboard.py
	$(PY) bench/bulk_sync.py
	$(PY) bench/contact_import.py
	$(PY) bench/trickle.py
	$(PY) bench/fairness.py
	$(PY) bench/consumers.py

## After changing a page's words: extract, merge into each language, compile (commit the .po and .mo)
translations: install
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot .
	for lang in de fr; do test -f translations/$$lang/LC_MESSAGES/messages.po || \
		$(VENV)/bin/pybabel init -i translations/messages.pot -d translations -l $$lang; done
	$(VENV)/bin/pybabel update --no-fuzzy-matching -i translations/messages.pot -d translations
	$(VENV)/bin/pybabel compile -d translations

## Screenshots of every page (Bitrix24 app, dashboard, operator console, DG1 admin, the README tour) into docs/screenshots/ (headless Chromium)
screenshots: install
	BRIDGE_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q -m "not mutation" tests/browser

clean:
	rm -rf $(VENV) node_modules static/vendor instance .pytest_cache
