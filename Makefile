# Quick start:  make run   (the whole system with demo data and the simulated reader)
#               make test  (the whole test suite, on SQLite and on PostgreSQL)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages: to build pyscard, and for the tests' real components.
BUILD_PACKAGES := python3-venv python3-dev gcc swig libpcsclite-dev
TEST_PACKAGES  := chromium pcscd vsmartcard-vpcd systemd udev cage grim wlr-randr xwayland fonts-dejavu-core tesseract-ocr tesseract-ocr-eng debootstrap qemu-system-x86 qemu-utils e2fsprogs
# Only for make test-arm64: the arm64 image is built with qemu-user-static (binfmt_misc) and booted emulated.
ARM64_PACKAGES := qemu-system-arm qemu-user-static binfmt-support qemu-utils e2fsprogs debootstrap

.PHONY: install run test lint test-tools test-fast test-sqlite test-postgres test-dates test-at system-packages bench vendor clean lock image test-vm test-arm64

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py $(wildcard kiosk/i18n/*/LC_MESSAGES/messages.po)
	@$(MAKE) --no-print-directory system-packages PACKAGES="$(BUILD_PACKAGES)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip "setuptools>=77" wheel  # the wheel check builds without isolation (tests/test_wheel.py)
	$(BIN)/pip install --quiet -e '.[postgres,readers,test]'
	touch $@

# Install the named Debian packages that are missing (asks for sudo when not root).
system-packages:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

run: install
	$(BIN)/kiosk demo

test: install test-tools lint
	$(BIN)/python -m pytest -q
	KIOSK_TEST_DB=postgres $(BIN)/python -m pytest -q -m db
	@$(MAKE) --no-print-directory test-dates
	KIOSK_VM_CUTS_PER_PHASE=$(VM_CUTS_IN_MAKE_TEST) $(BIN)/python -m pytest -q -m "vm and not arm64" tests/vm

# Moved clocks. libfaketime moves the wall clock of the tests and of every process they start (Chromium
# aside: it does not start under libfaketime); the clock keeps ticking from the moment given, in the library's
# time zone. Sleeps and timed waits stay on the real monotonic clock: libfaketime is built here from the source
# the PyPI package "libfaketime" ships, without its sleep, timer and file-time wrappers (Debian's 0.9.10 build
# makes Python's time.sleep fail with EINVAL, or its timed waits hang). The tests pin their own day
# (tests/conftest.py), so what this finds is code or a test that reads the real clock where it should read the
# product's one clock (domain/clock.py).
LIBRARY_TZ   ?= Europe/London
MOVED_CLOCKS := "2027-12-04 12:00:00" "2028-02-29 12:00:00" "2026-12-31 23:59:00" "2027-03-28 00:59:30" "2027-10-31 01:59:30"
DATE_TESTS   := tests/domain tests/store tests/sync/test_horizon.py tests/sync/test_offline.py tests/kiosk/test_routes.py \
                tests/kiosk/test_signin.py tests/kiosk/test_usage.py tests/central/test_kiosk_api.py \
                tests/upstream/test_central.py tests/provisioning/test_desk.py tests/provisioning/test_admin.py
FAKETIME_LIB := $(VENV)/libfaketime/libfaketime.so.1
moved_clock   = TZ=$(LIBRARY_TZ) FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD=$(abspath $(FAKETIME_LIB)) FAKETIME="@$(1)"

test: $(FAKETIME_LIB)  # built before the suite: the fault checker (tests/faults) runs a kiosk 40 days fast with it

$(FAKETIME_LIB): $(VENV)/.installed
	rm -rf $(@D) && mkdir -p $(@D)
	cp -r "$$($(BIN)/python -c 'import importlib.util, os; print(os.path.join(importlib.util.find_spec("libfaketime").submodule_search_locations[0], "vendor", "libfaketime", "src"))')" $(@D)/src
	$(MAKE) --no-print-directory -s -C $(@D)/src libfaketime.so.1 FAKETIME_COMPILE_CFLAGS="-UFAKE_STAT -UFAKE_UTIME -UFAKE_SLEEP -UFAKE_TIMERS"
	cp $(@D)/src/libfaketime.so.1 $@

# The tests that touch dates (rules, renewals, expiry, lockouts, jobs, sync horizons) at each moved clock.
test-dates: install $(FAKETIME_LIB)
	@for at in $(MOVED_CLOCKS); do \
	  echo "== the date tests at $$at ($(LIBRARY_TZ))"; $(call moved_clock,$$at) date "+   system clock in the run: %F %T %Z"; \
	  $(call moved_clock,$$at) $(BIN)/python -m pytest -q -p no:cacheprovider $(DATE_TESTS) || exit 1; \
	done

# The whole suite at any moment:  make test-at AT="2028-02-29 12:00:00" [LIBRARY_TZ=Europe/Paris]
test-at: install test-tools $(FAKETIME_LIB)
	$(call moved_clock,$(AT)) $(BIN)/python -m pytest -q
	KIOSK_TEST_DB=postgres $(call moved_clock,$(AT)) $(BIN)/python -m pytest -q -m db

# What the tests need beyond the virtual environment: Debian packages, and Stoplight
# Prism (npm) serving Alma's published API description for the Alma connector's tests.
test-tools:
	@$(MAKE) --no-print-directory system-packages PACKAGES="$(TEST_PACKAGES)"
	@command -v npm >/dev/null || $(MAKE) --no-print-directory system-packages PACKAGES="nodejs npm"
	@$(MAKE) --no-print-directory tests/upstream/node_modules/.installed

tests/upstream/node_modules/.installed: tests/upstream/package-lock.json
	npm ci --prefix tests/upstream --no-audit --no-fund --loglevel=error
	touch $@

# The code's own rules: ruff (style, complexity), import-linter (layers, no cycles: pyproject.toml) and mypy
# (strict, on the packages [tool.mypy] names).
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

test-sqlite: install test-tools
	$(BIN)/python -m pytest -q

test-postgres: install test-tools
	KIOSK_TEST_DB=postgres $(BIN)/python -m pytest -q -m db

# A bootable disk image of a box (tests/vm/image.py): Debian bookworm, its own kernel, systemd, the project
# installed by deploy/install.sh for ROLE (ARCH=arm64: the kiosk, tests/vm/arm64.py). Cached under
# /var/cache/kiosk-deploy-tests/vm: the base once (2-3 min),
# then the role's layer, redone in 11-35 s when the sources change.
ROLE ?= kiosk
ARCH ?= amd64
image: install test-tools
	@[ "$(ARCH)" = amd64 ] || $(MAKE) --no-print-directory system-packages PACKAGES="$(ARM64_PACKAGES)"
	$(BIN)/python -m tests.vm.image --role $(ROLE) --arch $(ARCH)

# The boot tests (tests/vm, marker vm; plain pytest leaves them out): each role's image under QEMU (KVM when
# /dev/kvm boots it, else TCG), systemd as PID 1, the kiosk's screen, its faults, power cuts during an upgrade.
# KIOSK_VM_CUTS_PER_PHASE=N: N power cuts in each of the upgrade's 4 phases (default 5: 20 cuts, about 20 minutes
# under TCG here); make test runs them with VM_CUTS_IN_MAKE_TEST (1: 4 cuts) to keep within CI's time.
VM_CUTS_IN_MAKE_TEST ?= 1
test-vm: install test-tools
	$(BIN)/python -m pytest -q -m "vm and not arm64" tests/vm

# The kiosk's arm64 image (tests/vm/arm64.py: debootstrap --arch=arm64 run by qemu-user-static, the lock's aarch64
# wheels) booted under emulation (qemu-system-aarch64 -M virt, TCG): the units active, the kiosk page answering.
# From an empty cache the build takes about 11 minutes; a boot to is-system-running 30-50 s (docs/operations.md).
test-arm64: install
	@$(MAKE) --no-print-directory system-packages PACKAGES="$(ARM64_PACKAGES)"
	$(BIN)/python -m tests.vm.arm64
	$(BIN)/python -m pytest -q -m arm64 tests/vm/test_arm64_boot.py

# The fast set while developing: every test but those marked slow (pyproject.toml); make test runs them all.
test-fast: install test-tools
	$(BIN)/python -m pytest -q -m "not slow"

# Every benchmark at the brief's sizes (about 25 minutes); each prints one JSON line.
bench: install test-tools
	@$(MAKE) --no-print-directory system-packages PACKAGES="wrk"
	$(BIN)/python -m bench lookup --patrons 100000
	$(BIN)/python -m bench tap
	$(BIN)/python -m bench renew --patrons 100000
	$(BIN)/python -m bench sync --patrons 100000
	$(BIN)/python -m bench replay --ops 10000
	$(BIN)/python -m bench feed --patrons 100000
	$(BIN)/python -m bench feed --patrons 100000 --db postgresql://127.0.0.1:5432/test
	$(BIN)/python -m bench fleet --kiosks 1000
	$(BIN)/python -m bench upstream
	$(BIN)/python -m bench soak --minutes 10
	$(BIN)/python -m bench checkout --patrons 100000
	$(BIN)/python -m bench search --patrons 1000000

# Refresh the vendored front-end assets from the npm registry.
vendor:
	cd /tmp && npm pack htmx.org@2.0.11 htmx-ext-sse@2.2.4 axe-core@4 bootstrap@5 >/dev/null
	@echo "unpack and copy dist/htmx.min.js, sse.js, axe.min.js into kiosk/static/vendor (see its README)"
	@echo "and bootstrap's dist/css/bootstrap.min.css, dist/js/bootstrap.bundle.min.js into provisioning/static/bootstrap (see its README)"

# The release's dependencies, pinned with their hashes (every wheel and sdist, x86_64 and aarch64 alike), one lock
# per set of extras a role installs: requirements/release-readers.txt (kiosk), release-postgres-readers.txt
# (station), release-postgres.txt (central). `kiosk install` and `kiosk upgrade` install them with
# pip --require-hashes, then the project with --no-deps (library_kiosk/appliance/install.py). After changing
# pyproject.toml's dependencies, or to take newer releases:  make lock  (then review and commit the diff).
UV_VERSION := 0.13.9
LOCK_PYTHON := 3.11
lock: install
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	@mkdir -p requirements
	@for extras in readers postgres,readers postgres; do \
	  out=requirements/release-$$(echo $$extras | tr , -).txt; echo "== $$out"; \
	  $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version $(LOCK_PYTHON) --generate-hashes \
	    $$(echo $$extras | tr , ' ' | sed 's/[a-z]*/--extra=&/g') --custom-compile-command "make lock" \
	    --output-file $$out || exit 1; \
	done

clean:
	rm -rf $(VENV) var .pytest_cache
