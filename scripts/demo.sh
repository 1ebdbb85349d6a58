#!/usr/bin/env bash
# Runs the provisioner's whole life cycle against the local AWS stand-in: install with the AWS
# IoT Core issuer, an unchanged redeploy, a switch to AWS Private CA, then teardown. The
# Makefile's `demo` target builds everything and starts the stand-in first.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
run_dir=${SANDBOX_RUN_DIR:-$target/sandbox}
certrotator=$target/debug/certrotator
demo_ca=$target/debug/rotator-demo-ca

# Every call goes to the sandbox on loopback with throwaway credentials, so nothing reads the
# caller's AWS profile or the instance metadata service.
AWS_ENDPOINT_URL=$(cat "$run_dir/endpoint")
export AWS_ENDPOINT_URL
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

step() { printf '\n### %s\n' "$*" >&2; }

step "certrotator deploy (issuer: AWS IoT Core)"
"$certrotator" deploy --yes --lambda-dir "$root/dist/lambdas"

step "certrotator deploy again: nothing changed, so nothing is applied"
"$certrotator" deploy --yes --lambda-dir "$root/dist/lambdas"

step "create an AWS Private CA certificate authority in the sandbox"
ca_arn=$("$demo_ca")
echo "$ca_arn" >&2

step "certrotator deploy --issuer private-ca: the stack is updated in place"
# moto 5.2.5 reports every CA in usage mode SHORT_LIVED_CERTIFICATE, whatever the request
# set, and certrotator rejects more than 7 days for such a CA.
"$certrotator" deploy --yes --lambda-dir "$root/dist/lambdas" \
    --issuer private-ca --ca-arn "$ca_arn" --validity-days 5

step "certrotator plan: what switching back to AWS IoT Core would change"
"$certrotator" plan --lambda-dir "$root/dist/lambdas" --issuer iot-core

step "certrotator destroy"
"$certrotator" destroy --yes

step "certrotator destroy again: nothing is left, which is not an error"
"$certrotator" destroy --yes

step "demo finished: the stack, its bucket and the job-event setting are gone"
