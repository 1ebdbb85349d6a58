//! The SigV4 credential scope of a request, which names the service, region and caller.

use http::HeaderMap;

/// The parts of a SigV4 credential scope that routing and per-account state need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialScope {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
}

impl CredentialScope {
    /// Parses the scope from the `Authorization` header, or from the `X-Amz-Credential` query
    /// parameter of a presigned URL. Returns `None` for an unsigned request.
    pub fn from_request(headers: &HeaderMap, query: Option<&str>) -> Option<Self> {
        if let Some(value) = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
        {
            return Self::from_authorization(value);
        }
        let query = query?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "X-Amz-Credential")
            .and_then(|(_, credential)| Self::from_credential(&credential))
    }

    /// Parses `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`.
    pub fn from_authorization(value: &str) -> Option<Self> {
        let credential = value
            .split([' ', ','])
            .find_map(|part| part.strip_prefix("Credential="))?;
        Self::from_credential(credential)
    }

    fn from_credential(credential: &str) -> Option<Self> {
        let mut parts = credential.split('/');
        let access_key_id = parts.next()?.to_owned();
        let date = parts.next()?.to_owned();
        let region = parts.next()?.to_owned();
        let service = parts.next()?.to_owned();
        Some(Self {
            access_key_id,
            date,
            region,
            service,
        })
    }

    /// Builds an `Authorization` header value for a call the sandbox makes to moto on the
    /// caller's behalf. moto reads only the scope (to pick the service, region and account) and
    /// does not verify the signature, so the signature is a placeholder of the right length.
    pub fn authorization_for(&self, service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{}/{}/{}/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature={}",
            self.access_key_id,
            self.date,
            self.region,
            service,
            "0".repeat(64)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_authorization_header() {
        let scope = CredentialScope::from_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261204/eu-west-1/iot/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc",
        )
        .expect("valid header");
        assert_eq!(scope.access_key_id, "AKIDEXAMPLE");
        assert_eq!(scope.date, "20261204");
        assert_eq!(scope.region, "eu-west-1");
        assert_eq!(scope.service, "iot");
    }

    #[test]
    fn parses_presigned_query() {
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&\
                     X-Amz-Credential=AKID%2F20261204%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=x";
        let scope =
            CredentialScope::from_request(&HeaderMap::new(), Some(query)).expect("valid query");
        assert_eq!(scope.service, "s3");
        assert_eq!(scope.region, "us-east-1");
    }

    #[test]
    fn unsigned_request_has_no_scope() {
        assert_eq!(CredentialScope::from_request(&HeaderMap::new(), None), None);
        assert_eq!(CredentialScope::from_authorization("Bearer token"), None);
    }

    #[test]
    fn authorization_round_trips() {
        let scope = CredentialScope::from_authorization(
            "AWS4-HMAC-SHA256 Credential=AK/20261204/us-east-1/cloudformation/aws4_request, \
             SignedHeaders=host, Signature=00",
        )
        .expect("valid header");
        let iot = CredentialScope::from_authorization(&scope.authorization_for("iot"))
            .expect("own header parses");
        assert_eq!(iot.service, "iot");
        assert_eq!(iot.access_key_id, "AK");
    }
}
