# Lambda packaging and template checks for the backend stack in templates/backend.yaml.
#
#   make lambda-zips       build the three Lambda functions and write dist/lambdas/<name>.zip
#   make check-glibc       fail if a Lambda binary needs a glibc newer than Amazon Linux 2023's
#   make lint-templates    run the pinned cfn-lint on templates/*.yaml
#   make test-templates    all three with LAMBDA_PROFILE=dev, and check that the zips are reproducible

# Cargo profile of the shipped binaries; `dev` builds into target/debug.
LAMBDA_PROFILE ?= release
LAMBDA_PACKAGES := create-certificate commit-certificate job-execution-terminal
LAMBDA_BIN_DIR ?= $(CARGO_TARGET_DIR)/$(if $(filter dev,$(LAMBDA_PROFILE)),debug,$(LAMBDA_PROFILE))
LAMBDA_DIST := $(ROOT)/dist/lambdas
# glibc of the provided.al2023 runtime; a binary that needs a newer symbol version fails to
# start there with "version `GLIBC_2.xx' not found".
LAMBDA_MAX_GLIBC := 2.34
# Every zip entry gets this modification time, so the same binary always gives the same zip
# bytes and the same content hash. Zip stores local DOS time, hence TZ=UTC on both tools.
LAMBDA_ZIP_MTIME := 2000-01-01 00:00:00

.PHONY: lambda-build lambda-zips lambda-package check-glibc lint-templates test-templates

lambda-build:
	$(CARGO) build --profile $(LAMBDA_PROFILE) $(addprefix -p ,$(LAMBDA_PACKAGES))

# Lists every dynamic symbol that needs a glibc version above LAMBDA_MAX_GLIBC, per binary.
check-glibc: lambda-build
	@status=0; \
	for name in $(LAMBDA_PACKAGES); do \
	  binary="$(LAMBDA_BIN_DIR)/$$name"; \
	  if [ ! -f "$$binary" ]; then echo "missing Lambda binary $$binary: run 'make lambda-build LAMBDA_PROFILE=$(LAMBDA_PROFILE)'" >&2; status=1; continue; fi; \
	  symbols=$$(LC_ALL=C readelf --wide --dyn-syms "$$binary") || { echo "failed to read the dynamic symbols of $$binary" >&2; status=1; continue; }; \
	  too_new=$$(printf '%s\n' "$$symbols" | grep -o '[^ ]*@GLIBC_[0-9][0-9.]*' | sort -u | \
	    while IFS= read -r entry; do \
	      version=$${entry##*@GLIBC_}; \
	      highest=$$(printf '%s\n%s\n' "$(LAMBDA_MAX_GLIBC)" "$$version" | sort -V | tail -n 1); \
	      if [ "$$highest" != "$(LAMBDA_MAX_GLIBC)" ]; then echo "$$entry"; fi; \
	    done); \
	  if [ -n "$$too_new" ]; then \
	    status=1; \
	    echo "$$binary needs glibc symbols newer than GLIBC_$(LAMBDA_MAX_GLIBC), which provided.al2023 lacks:" >&2; \
	    printf '  %s\n' $$too_new >&2; \
	    echo "  fix: build on a system with glibc $(LAMBDA_MAX_GLIBC) or older (for example an amazonlinux:2023 container), or build for x86_64-unknown-linux-musl" >&2; \
	  else \
	    highest=$$(printf '%s\n' "$$symbols" | grep -o '@GLIBC_[0-9][0-9.]*' | cut -d_ -f2 | sort -V | tail -n 1); \
	    echo "$$name: highest glibc symbol version GLIBC_$${highest:-none} (limit GLIBC_$(LAMBDA_MAX_GLIBC))"; \
	  fi; \
	done; \
	exit $$status

lambda-zips: check-glibc
	@$(MAKE) --no-print-directory lambda-package

# Zips the binaries as they are, without building or checking them: use lambda-zips.
# Each zip holds one file, `bootstrap` (mode 0755), at its root. `-X` drops the uid/gid and
# extended-timestamp fields, and the fixed mtime makes the output depend on the binary alone.
lambda-package:
	@mkdir -p "$(LAMBDA_DIST)"
	@set -e; \
	for name in $(LAMBDA_PACKAGES); do \
	  staging=$$(mktemp -d); \
	  trap 'rm -rf "$$staging"' EXIT; \
	  install -m 0755 "$(LAMBDA_BIN_DIR)/$$name" "$$staging/bootstrap"; \
	  TZ=UTC touch -d "$(LAMBDA_ZIP_MTIME)" "$$staging/bootstrap"; \
	  (cd "$$staging" && TZ=UTC zip -q -X -9 "$$staging/$$name.zip" bootstrap); \
	  mv -f "$$staging/$$name.zip" "$(LAMBDA_DIST)/$$name.zip"; \
	  rm -rf "$$staging"; \
	  trap - EXIT; \
	  echo "wrote $(LAMBDA_DIST)/$$name.zip ($$(sha256sum "$(LAMBDA_DIST)/$$name.zip" | cut -c1-16))"; \
	done

lint-templates: venv
	$(CFN_LINT) -- $(ROOT)/templates/*.yaml

# Fails unless the zip holds exactly one entry, an executable `bootstrap`, at its root.
define CHECK_LAMBDA_ZIP
import stat, sys, zipfile
path = sys.argv[1]
entries = zipfile.ZipFile(path).infolist()
names = [entry.filename for entry in entries]
if names != ["bootstrap"]:
    sys.exit(f"{path} holds {names}, expected only 'bootstrap' at the root")
mode = entries[0].external_attr >> 16
if not stat.S_ISREG(mode) or mode & 0o111 != 0o111:
    sys.exit(f"{path}: bootstrap has mode {oct(mode)}, expected an executable regular file")
endef
export CHECK_LAMBDA_ZIP

# Packages the same binaries twice and compares the bytes, so a change that makes the zips
# non-reproducible fails here rather than as a spurious Lambda update.
test-templates: lint-templates
	$(MAKE) --no-print-directory lambda-zips LAMBDA_PROFILE=dev
	@sha256sum $(addprefix $(LAMBDA_DIST)/,$(addsuffix .zip,$(LAMBDA_PACKAGES))) > $(LAMBDA_DIST)/.first.sha256
	@# Zip stores times in 2 s steps: wait so that a timestamp leaking into the zip would differ.
	@sleep 2
	$(MAKE) --no-print-directory lambda-package LAMBDA_PROFILE=dev
	@sha256sum --check --quiet $(LAMBDA_DIST)/.first.sha256 || { echo "packaging the same binaries again changed the zip bytes: the packaging is not reproducible" >&2; exit 1; }
	@rm -f $(LAMBDA_DIST)/.first.sha256
	@for name in $(LAMBDA_PACKAGES); do \
	  $(PYTHON) -c "$$CHECK_LAMBDA_ZIP" "$(LAMBDA_DIST)/$$name.zip" || exit 1; \
	done

TEST_TARGETS += test-templates
