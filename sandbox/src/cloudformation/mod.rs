//! CloudFormation emulation on top of moto's stacks.

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

use crate::Error;
use crate::scope::CredentialScope;
use crate::server::App;

/// CloudFormation state that moto does not keep.
#[derive(Debug, Default)]
pub struct State {}

pub(crate) async fn handle(
    app: &App,
    _scope: &CredentialScope,
    parts: &http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Error> {
    Ok(app.moto.forward(parts, body).await?.into_response())
}
