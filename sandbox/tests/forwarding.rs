//! Requests the sandbox does not handle reach moto unchanged, and moto's responses come back
//! unchanged.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use aws_sdk_s3::primitives::ByteStream;
use common::{Stand, s3_client};
use rotator_sandbox::Sandbox;

#[tokio::test]
async fn s3_calls_pass_through() {
    let stand = Stand::start().await;
    let through_sandbox = s3_client(&stand.config());
    let direct = s3_client(&stand.moto_config());

    through_sandbox
        .create_bucket()
        .bucket("forwarded-bucket")
        .send()
        .await
        .expect("create bucket through the sandbox");
    let buckets = direct.list_buckets().send().await.expect("list buckets");
    let names: Vec<_> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["forwarded-bucket"]);

    let payload: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    through_sandbox
        .put_object()
        .bucket("forwarded-bucket")
        .key("dir/object.bin")
        .body(ByteStream::from(payload.clone()))
        .send()
        .await
        .expect("put object through the sandbox");

    let stored = direct
        .get_object()
        .bucket("forwarded-bucket")
        .key("dir/object.bin")
        .send()
        .await
        .expect("get object from moto")
        .body
        .collect()
        .await
        .expect("read body")
        .into_bytes();
    assert_eq!(stored.as_ref(), payload.as_slice());

    let head = through_sandbox
        .head_object()
        .bucket("forwarded-bucket")
        .key("dir/object.bin")
        .send()
        .await
        .expect("head object through the sandbox");
    assert_eq!(head.content_length(), Some(70_000));

    let missing = through_sandbox
        .get_object()
        .bucket("forwarded-bucket")
        .key("missing")
        .send()
        .await
        .expect_err("missing key");
    assert!(missing.into_service_error().is_no_such_key());
}

/// A one-shot upstream that records the raw request it receives and returns a fixed response.
fn recording_upstream(response: &'static [u8]) -> (String, std::thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let read = stream.read(&mut buffer).expect("read");
            received.extend_from_slice(&buffer[..read]);
            if let Some(end) = find(&received, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&received[..end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length: "))
                    .map(|value| value.trim().parse().expect("number"))
                    .unwrap_or(0);
                if received.len() >= end + 4 + length {
                    break;
                }
            }
            if read == 0 {
                break;
            }
        }
        stream.write_all(response).expect("write response");
        received
    });
    (endpoint, handle)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[tokio::test]
async fn raw_request_and_response_are_unchanged() {
    let upstream_response: &[u8] = b"HTTP/1.1 418 I'm a teapot\r\nX-Upstream: yes\r\n\
        Content-Type: application/octet-stream\r\nContent-Length: 5\r\nConnection: close\r\n\r\n\x00\x01\x02\xfe\xff";
    let (upstream, recorded) = recording_upstream(upstream_response);
    let sandbox = Sandbox::start(&upstream).await.expect("sandbox starts");

    let body: Vec<u8> = vec![0, 159, 146, 150, 255, b'\r', b'\n'];
    let mut stream = std::net::TcpStream::connect(sandbox.local_addr()).expect("connect");
    let mut request = format!(
        "PUT /bucket/key%20name?partNumber=1&uploadId=a%2Fb HTTP/1.1\r\nHost: example.test\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AK/20261204/us-east-1/s3/aws4_request, \
         SignedHeaders=host, Signature=00\r\nX-Amz-Meta-Color: blue\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let response = tokio::task::spawn_blocking(move || {
        stream.write_all(&request).expect("send");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("read");
        response
    })
    .await
    .expect("client thread");

    let received = recorded.join().expect("upstream thread");
    let end = find(&received, b"\r\n\r\n").expect("complete head");
    let head = String::from_utf8_lossy(&received[..end]).into_owned();
    assert!(
        head.starts_with("PUT /bucket/key%20name?partNumber=1&uploadId=a%2Fb HTTP/1.1\r\n"),
        "{head}"
    );
    let lower = head.to_lowercase();
    assert!(lower.contains("\r\nhost: example.test"), "{head}");
    assert!(lower.contains("\r\nx-amz-meta-color: blue"), "{head}");
    assert!(
        lower.contains("credential=ak/20261204/us-east-1/s3/aws4_request"),
        "{head}"
    );
    assert_eq!(&received[end + 4..], body.as_slice());

    let response_end = find(&response, b"\r\n\r\n").expect("complete response head");
    let response_head = String::from_utf8_lossy(&response[..response_end]).to_lowercase();
    assert!(response_head.starts_with("http/1.1 418"), "{response_head}");
    assert!(
        response_head.contains("\r\nx-upstream: yes"),
        "{response_head}"
    );
    assert_eq!(&response[response_end + 4..], b"\x00\x01\x02\xfe\xff");
}
