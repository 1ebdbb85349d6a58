//! The HTTP listener: reads each request, routes it by the SigV4 service name, and forwards
//! what no emulation handles to moto unchanged.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Error;
use crate::cloudformation;
use crate::iot_events::EventConfigurations;
use crate::moto::Moto;
use crate::scope::CredentialScope;

/// Everything the request handlers share.
pub(crate) struct App {
    pub moto: Moto,
    pub options: crate::Options,
    pub event_configurations: EventConfigurations,
    pub cloudformation: cloudformation::State,
    /// Account IDs by access key ID, as moto's STS reports them.
    accounts: Mutex<HashMap<String, String>>,
}

impl App {
    pub fn new(moto: Moto, options: crate::Options) -> Self {
        Self {
            moto,
            options,
            event_configurations: EventConfigurations::default(),
            cloudformation: cloudformation::State::default(),
            accounts: Mutex::new(HashMap::new()),
        }
    }

    /// Returns the account that moto assigns to the caller's access key.
    pub async fn account_id(&self, scope: &CredentialScope) -> Result<String, Error> {
        if let Some(account) = self
            .accounts
            .lock()
            .expect("account cache lock")
            .get(&scope.access_key_id)
        {
            return Ok(account.clone());
        }
        let response = self
            .moto
            .query(scope, "sts", "2011-06-15", "GetCallerIdentity", &[])
            .await?;
        if !response.is_success() {
            return Err(Error::MotoFailed {
                action: "GetCallerIdentity".to_owned(),
                status: response.status.as_u16(),
                body: response.text(),
            });
        }
        let account = crate::xml::first_text(&response.text(), "Account").ok_or_else(|| {
            Error::MotoResponse {
                action: "GetCallerIdentity".to_owned(),
                message: "no Account element".to_owned(),
            }
        })?;
        self.accounts
            .lock()
            .expect("account cache lock")
            .insert(scope.access_key_id.clone(), account.clone());
        Ok(account)
    }
}

/// Accepts connections until `shutdown` turns true, then waits for open requests to finish.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(connection) => connection,
                    Err(error) => {
                        tracing::warn!(%error, "failed to accept a connection");
                        continue;
                    }
                };
                let app = app.clone();
                let service = service_fn(move |request| handle(app.clone(), request));
                let connection = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, %peer, "connection ended with an error");
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn handle(
    app: Arc<App>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            return Ok(plain_error(
                StatusCode::BAD_REQUEST,
                &format!("failed to read the request body: {error}"),
            ));
        }
    };
    let scope = CredentialScope::from_request(&parts.headers, parts.uri.query());
    tracing::debug!(
        method = %parts.method,
        path = %parts.uri.path(),
        service = scope.as_ref().map(|scope| scope.service.as_str()).unwrap_or("-"),
        "request"
    );
    if parts.method == Method::POST && parts.uri.path() == "/moto-api/reset" {
        app.cloudformation.clear();
        app.event_configurations.clear();
        tracing::info!("moto reset requested, sandbox state cleared");
    }
    let result = match scope {
        Some(scope) => route(&app, &scope, &parts, body).await,
        None => app
            .moto
            .forward(&parts, body)
            .await
            .map(|response| response.into_response()),
    };
    Ok(result.unwrap_or_else(|error| {
        tracing::error!(%error, method = %parts.method, path = %parts.uri.path(), "request failed");
        plain_error(StatusCode::BAD_GATEWAY, &error.to_string())
    }))
}

async fn route(
    app: &App,
    scope: &CredentialScope,
    parts: &http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Error> {
    match scope.service.as_str() {
        "iot" if parts.uri.path() == "/event-configurations" => {
            if parts.method == Method::GET {
                let account = app.account_id(scope).await?;
                let body = app.event_configurations.describe(&account, &scope.region);
                return Ok(json_response(StatusCode::OK, &body));
            }
            if parts.method == Method::PATCH {
                let account = app.account_id(scope).await?;
                return Ok(
                    match app
                        .event_configurations
                        .update(&account, &scope.region, &body)
                    {
                        Ok(()) => {
                            tracing::info!(%account, region = %scope.region, "updated IoT event configurations");
                            json_response(StatusCode::OK, &serde_json::json!({}))
                        }
                        Err(invalid) => rest_json_error(
                            StatusCode::BAD_REQUEST,
                            "InvalidRequestException",
                            &invalid.0,
                        ),
                    },
                );
            }
        }
        "cloudformation" => return cloudformation::handle(app, scope, parts, body).await,
        _ => {}
    }
    Ok(app.moto.forward(parts, body).await?.into_response())
}

pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    add_request_id(&mut response);
    response
}

/// Builds a REST-JSON error: the type in `x-amzn-ErrorType`, the text in `message`.
pub(crate) fn rest_json_error(
    status: StatusCode,
    code: &'static str,
    message: &str,
) -> Response<Full<Bytes>> {
    let mut response = json_response(status, &serde_json::json!({ "message": message }));
    response
        .headers_mut()
        .insert("x-amzn-ErrorType", HeaderValue::from_static(code));
    response
}

pub(crate) fn xml_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    add_request_id(&mut response);
    response
}

fn add_request_id(response: &mut Response<Full<Bytes>>) {
    let id = uuid::Uuid::new_v4().to_string();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-amzn-RequestId", value);
    }
}

fn plain_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{message}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
