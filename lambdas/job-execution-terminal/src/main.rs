//! The job-execution-terminal Lambda function. The logic lives in `rotator_backend`, and this binary only starts
//! the runtime. It is packaged as `bootstrap` for the `provided.al2023` runtime.

// The SDK's nested futures need more than the default query depth.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), rotator_backend::runtime::LambdaError> {
    rotator_backend::runtime::init_tracing();
    rotator_backend::runtime::run_terminal().await
}
