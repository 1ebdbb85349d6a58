# The certrotator CLI and the end-to-end demo on the local sandbox.
#
#   make provisioner-build   build target/debug/certrotator
#   make demo                deploy (IoT Core issuer), redeploy with no changes, switch to a
#                            Private CA made in the sandbox, plan the way back, then destroy,
#                            all against moto behind the sandbox on loopback
#
# The CLI's tests run with `cargo test --workspace` (test-workspace), so nothing is appended to
# TEST_TARGETS here.

CERTROTATOR := $(CARGO_TARGET_DIR)/debug/certrotator
DEMO_REGION := us-east-1
DEMO_STACK := greengrass-cert-rotator

.PHONY: provisioner-build demo

provisioner-build:
	$(CARGO) build -p rotator-provisioner --bin certrotator

# Creates a root certificate authority in the sandbox (moto's ACM PCA) and prints its ARN.
define DEMO_CREATE_CA
import os, boto3
client = boto3.client("acm-pca", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
response = client.create_certificate_authority(
    CertificateAuthorityType="ROOT",
    CertificateAuthorityConfiguration={
        "KeyAlgorithm": "RSA_2048",
        "SigningAlgorithm": "SHA256WITHRSA",
        "Subject": {"CommonName": "certrotator demo root"},
    },
)
print(response["CertificateAuthorityArn"])
endef
export DEMO_CREATE_CA

# Every step runs against the sandbox only: the endpoint, the dummy credentials and the empty
# config files keep the CLI and boto3 away from any real account.
demo: venv provisioner-build
	$(MAKE) --no-print-directory lambda-zips LAMBDA_PROFILE=dev
	$(MAKE) --no-print-directory sandbox-up
	@set -euo pipefail; \
	trap '$(MAKE) --no-print-directory sandbox-down' EXIT; \
	export AWS_ENDPOINT_URL=$$(cat '$(SANDBOX_RUN_DIR)/endpoint'); \
	export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=$(DEMO_REGION); \
	export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null; \
	cli='$(CERTROTATOR)'; zips='$(ROOT)/dist/lambdas'; \
	echo "== deploy with the AWS IoT Core issuer"; \
	"$$cli" --no-progress deploy --yes --stack-name $(DEMO_STACK) --lambda-dir "$$zips"; \
	echo "== deploy again: nothing to change"; \
	"$$cli" --no-progress deploy --yes --stack-name $(DEMO_STACK) --lambda-dir "$$zips"; \
	ca_arn=$$('$(VENV)/bin/python' -c "$$DEMO_CREATE_CA"); \
	echo "== switch to AWS Private CA $$ca_arn"; \
	"$$cli" --no-progress deploy --yes --stack-name $(DEMO_STACK) --lambda-dir "$$zips" \
	  --issuer private-ca --ca-arn "$$ca_arn" --ca-signing-algorithm SHA256WITHRSA; \
	echo "== plan the way back to AWS IoT Core"; \
	"$$cli" --no-progress plan --stack-name $(DEMO_STACK) --lambda-dir "$$zips" --issuer iot-core; \
	echo "== destroy"; \
	"$$cli" --no-progress destroy --yes --stack-name $(DEMO_STACK); \
	echo "== destroy again: nothing left to remove"; \
	"$$cli" --no-progress destroy --yes --stack-name $(DEMO_STACK); \
	echo "demo finished"
