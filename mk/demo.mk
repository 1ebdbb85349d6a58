# `make demo`: the provisioner's full life cycle (install, unchanged redeploy, issuer switch,
# teardown) against the local stand-in, which it starts and always stops again.

.PHONY: demo demo-build

demo-build:
	$(MAKE) --no-print-directory lambda-zips LAMBDA_PROFILE=dev
	$(CARGO) build -p rotator-provisioner -p rotator-sandbox --bins

demo: venv demo-build
	@$(MAKE) --no-print-directory sandbox-up
	@status=0; '$(ROOT)/scripts/demo.sh' || status=$$?; \
	$(MAKE) --no-print-directory sandbox-down; \
	if [ $$status -ne 0 ]; then echo "demo failed (exit $$status); sandbox logs were in $(SANDBOX_RUN_DIR)" >&2; fi; \
	exit $$status
