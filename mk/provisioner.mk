# The certrotator CLI. `make demo` (mk/demo.mk) runs it end to end on the local sandbox.
#
#   make provisioner-build   build target/debug/certrotator
#
# The CLI's tests run with `cargo test --workspace` (test-workspace), so nothing is appended to
# TEST_TARGETS here.

CERTROTATOR := $(CARGO_TARGET_DIR)/debug/certrotator

.PHONY: provisioner-build

provisioner-build:
	$(CARGO) build -p rotator-provisioner --bin certrotator
