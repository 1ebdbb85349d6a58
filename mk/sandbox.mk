# The local AWS stand-in: moto's server plus the sandbox in front of it, both on free loopback
# ports. `make sandbox-up` starts them in the background and writes their PIDs, ports and URLs
# under $(SANDBOX_RUN_DIR); `make sandbox-down` stops them. Clients use the URL in
# $(SANDBOX_RUN_DIR)/endpoint as AWS_ENDPOINT_URL.

SANDBOX_RUN_DIR ?= $(CARGO_TARGET_DIR)/sandbox
SANDBOX_BIN := $(CARGO_TARGET_DIR)/debug/rotator-sandbox
# Seconds to wait for each service to answer before giving up.
SANDBOX_START_TIMEOUT ?= 60
# How long each stack operation shows as in progress, so that progress output has something
# to follow; moto itself completes every operation at once.
SANDBOX_OPERATION_MS ?= 2000

.PHONY: sandbox-build sandbox-up sandbox-down test-sandbox

sandbox-build:
	$(CARGO) build -p rotator-sandbox --bin rotator-sandbox

sandbox-up: venv sandbox-build
	@set -euo pipefail; dir='$(SANDBOX_RUN_DIR)'; mkdir -p "$$dir"; \
	if [ -f "$$dir/sandbox.pid" ] && kill -0 "$$(cat "$$dir/sandbox.pid")" 2>/dev/null; then \
	  echo "sandbox already running at $$(cat "$$dir/endpoint"); run 'make sandbox-down' first" >&2; exit 1; \
	fi; \
	rm -f "$$dir"/*.pid "$$dir"/*.port "$$dir/endpoint" "$$dir/moto-endpoint"; \
	moto_port=$$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'); \
	'$(MOTO_SERVER)' -H 127.0.0.1 -p "$$moto_port" >"$$dir/moto.log" 2>&1 & echo $$! >"$$dir/moto.pid"; \
	for _ in $$(seq $$(( $(SANDBOX_START_TIMEOUT) * 10 ))); do \
	  curl -sf -o /dev/null "http://127.0.0.1:$$moto_port/moto-api/" && break; sleep 0.1; \
	done; \
	curl -sf -o /dev/null "http://127.0.0.1:$$moto_port/moto-api/" || { \
	  echo "moto did not start on port $$moto_port; see $$dir/moto.log" >&2; $(MAKE) --no-print-directory sandbox-down; exit 1; }; \
	echo "http://127.0.0.1:$$moto_port" >"$$dir/moto-endpoint"; \
	'$(SANDBOX_BIN)' --moto-url "http://127.0.0.1:$$moto_port" --port-file "$$dir/sandbox.port" \
	  --operation-duration-ms '$(SANDBOX_OPERATION_MS)' \
	  >"$$dir/sandbox.out" 2>"$$dir/sandbox.log" & echo $$! >"$$dir/sandbox.pid"; \
	for _ in $$(seq $$(( $(SANDBOX_START_TIMEOUT) * 10 ))); do [ -s "$$dir/sandbox.port" ] && break; sleep 0.1; done; \
	[ -s "$$dir/sandbox.port" ] || { \
	  echo "sandbox did not start; see $$dir/sandbox.log" >&2; $(MAKE) --no-print-directory sandbox-down; exit 1; }; \
	echo "http://127.0.0.1:$$(tr -d '\n' <"$$dir/sandbox.port")" >"$$dir/endpoint"; \
	echo "sandbox listening on $$(cat "$$dir/endpoint") (moto on http://127.0.0.1:$$moto_port)"

# Stops what sandbox-up started, by the PIDs it recorded. Safe to run when nothing is running.
sandbox-down:
	@dir='$(SANDBOX_RUN_DIR)'; for name in sandbox moto; do \
	  pid_file="$$dir/$$name.pid"; [ -f "$$pid_file" ] || continue; pid=$$(cat "$$pid_file"); \
	  if kill -0 "$$pid" 2>/dev/null; then \
	    kill -TERM "$$pid"; \
	    for _ in $$(seq 50); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.1; done; \
	    kill -0 "$$pid" 2>/dev/null && kill -KILL "$$pid"; \
	  fi; \
	  rm -f "$$pid_file"; \
	done; rm -f "$$dir/endpoint" "$$dir/moto-endpoint" "$$dir/sandbox.port"

# Starts the stand-in, checks that a forwarded call and an emulated call answer through it,
# and stops it again.
test-sandbox: sandbox-up
	@set -euo pipefail; dir='$(SANDBOX_RUN_DIR)'; endpoint=$$(cat "$$dir/endpoint"); \
	auth='AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iot/aws4_request, SignedHeaders=host, Signature=00'; \
	status=$$(curl -s -o "$$dir/check.json" -w '%{http_code}' -H "Authorization: $$auth" "$$endpoint/event-configurations"); \
	grep -q '"JOB_EXECUTION"' "$$dir/check.json" && [ "$$status" = 200 ] || { \
	  echo "event configurations check failed (HTTP $$status)" >&2; $(MAKE) --no-print-directory sandbox-down; exit 1; }; \
	status=$$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $$auth" "$$endpoint/things"); \
	[ "$$status" = 200 ] || { echo "forwarded ListThings failed (HTTP $$status)" >&2; $(MAKE) --no-print-directory sandbox-down; exit 1; }; \
	$(MAKE) --no-print-directory sandbox-down; echo "sandbox start/stop check passed"

TEST_TARGETS += test-sandbox
