//! HTTP client for moto's server: plain forwarding, and the calls the sandbox makes itself.

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::Error;
use crate::scope::CredentialScope;

/// Headers that describe one HTTP hop rather than the message, so they are not copied. Bodies
/// are read in full, so `Content-Length` stays valid and is kept (a HEAD response needs it).
const HOP_BY_HOP: [header::HeaderName; 3] = [
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// A response from moto with its body read in full.
#[derive(Debug)]
pub struct MotoResponse {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl MotoResponse {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Converts back into a response for the caller, unchanged.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() = self.status;
        copy_headers(&self.headers, response.headers_mut());
        response
    }
}

/// Client for one moto server.
#[derive(Clone, Debug)]
pub struct Moto {
    base: Uri,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Moto {
    /// Creates a client for moto's endpoint, for example `http://127.0.0.1:5000`.
    pub fn new(endpoint: &str) -> Result<Self, Error> {
        let base: Uri = endpoint
            .trim_end_matches('/')
            .parse()
            .map_err(|_| Error::InvalidMotoEndpoint(endpoint.to_owned()))?;
        if base.scheme_str() != Some("http") || base.authority().is_none() {
            return Err(Error::InvalidMotoEndpoint(endpoint.to_owned()));
        }
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(Self { base, client })
    }

    pub fn endpoint(&self) -> String {
        self.base.to_string().trim_end_matches('/').to_owned()
    }

    fn uri_for(&self, path_and_query: &str) -> Result<Uri, Error> {
        let text = format!("{}{}", self.endpoint(), path_and_query);
        text.parse().map_err(|_| Error::InvalidPath(text))
    }

    /// Sends a request to moto with the same method, path, query, headers and body.
    pub async fn forward(
        &self,
        parts: &http::request::Parts,
        body: Bytes,
    ) -> Result<MotoResponse, Error> {
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|value| value.as_str())
            .unwrap_or("/");
        let length = body.len();
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = self.uri_for(path_and_query)?;
        copy_headers(&parts.headers, request.headers_mut());
        // The sandbox may have rewritten the body, so the length is the body's own.
        if request.headers().contains_key(header::CONTENT_LENGTH) || length > 0 {
            request
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        self.send(request).await
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<MotoResponse, Error> {
        let response =
            self.client
                .request(request)
                .await
                .map_err(|source| Error::MotoUnreachable {
                    endpoint: self.endpoint(),
                    message: source.to_string(),
                })?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|source| Error::MotoUnreachable {
                endpoint: self.endpoint(),
                message: source.to_string(),
            })?
            .to_bytes();
        Ok(MotoResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Calls a query-protocol action (CloudFormation, STS) as the caller in `scope`.
    pub async fn query(
        &self,
        scope: &CredentialScope,
        service: &str,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<MotoResponse, Error> {
        let body = encode_form(action, version, params);
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri_for("/")?;
        let headers = request.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        self.sign(headers, scope, service)?;
        self.send(request).await
    }

    /// Calls a REST-JSON operation (IoT) as the caller in `scope`.
    pub async fn rest_json(
        &self,
        scope: &CredentialScope,
        service: &str,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<MotoResponse, Error> {
        let body = body.map(|value| value.to_string()).unwrap_or_default();
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = method;
        *request.uri_mut() = self.uri_for(path)?;
        let headers = request.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self.sign(headers, scope, service)?;
        self.send(request).await
    }

    /// Reads an object from moto's S3 as the caller in `scope`.
    pub async fn get_object(
        &self,
        scope: &CredentialScope,
        bucket: &str,
        key: &str,
    ) -> Result<MotoResponse, Error> {
        let mut request = Request::new(Full::new(Bytes::new()));
        *request.uri_mut() = self.uri_for(&format!("/{bucket}/{key}"))?;
        self.sign(request.headers_mut(), scope, "s3")?;
        self.send(request).await
    }

    fn sign(
        &self,
        headers: &mut http::HeaderMap,
        scope: &CredentialScope,
        service: &str,
    ) -> Result<(), Error> {
        let authorization = scope.authorization_for(service);
        let value = HeaderValue::from_str(&authorization)
            .map_err(|_| Error::InvalidCredentialScope(scope.access_key_id.clone()))?;
        headers.insert(header::AUTHORIZATION, value);
        headers.insert(
            "x-amz-date",
            HeaderValue::from_str(&format!("{}T000000Z", scope.date))
                .map_err(|_| Error::InvalidCredentialScope(scope.date.clone()))?,
        );
        Ok(())
    }
}

fn encode_form(action: &str, version: &str, params: &[(&str, &str)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", action);
    form.append_pair("Version", version);
    for (name, value) in params {
        form.append_pair(name, value);
    }
    form.finish()
}

fn copy_headers(from: &http::HeaderMap, to: &mut http::HeaderMap) {
    for (name, value) in from {
        if !HOP_BY_HOP.contains(name) {
            to.append(name.clone(), value.clone());
        }
    }
}
