//! The assets bucket and the Lambda zips stored in it.
//!
//! The bucket name is derived from the account and region, so every deploy and destroy in the
//! same account and region finds the same bucket without storing state anywhere. Every request
//! that touches it sends `ExpectedBucketOwner`, so a bucket of the same name in another account
//! is never written to or emptied.

use std::path::{Path, PathBuf};

use aws_sdk_s3::Client as S3Client;
use aws_sdk_s3::operation::create_bucket::CreateBucketError;
use aws_sdk_s3::operation::head_bucket::HeadBucketError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    VersioningConfiguration,
};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ProvisionError;
use crate::progress::Progress;

/// One of the three Lambda functions the template deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LambdaFunction {
    /// File stem of the zip `make lambda-zips` writes.
    pub name: &'static str,
    /// Template parameter that receives the zip's S3 key.
    pub parameter: &'static str,
    /// Logical ID of the function in the template.
    pub logical_id: &'static str,
}

pub const FUNCTIONS: [LambdaFunction; 3] = [
    LambdaFunction {
        name: "create-certificate",
        parameter: "CreateCertificateCodeKey",
        logical_id: "CreateCertificateFunction",
    },
    LambdaFunction {
        name: "commit-certificate",
        parameter: "CommitCertificateCodeKey",
        logical_id: "CommitCertificateFunction",
    },
    LambdaFunction {
        name: "job-execution-terminal",
        parameter: "JobExecutionTerminalCodeKey",
        logical_id: "JobExecutionTerminalFunction",
    },
];

/// A Lambda zip on disk and the content-addressed S3 key it is stored under.
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    #[serde(skip)]
    pub function: LambdaFunction,
    #[serde(skip)]
    pub path: PathBuf,
    /// SHA-256 of the zip, lowercase hex.
    pub sha256: String,
    /// S3 key: `lambdas/<name>/<sha256>.zip`.
    pub key: String,
}

/// Name of the executable the `provided` Lambda runtimes start, at the root of the zip.
const BOOTSTRAP: &str = "bootstrap";

/// Checks that `bytes` is a zip archive whose every entry decompresses with a matching CRC,
/// and whose root contains an executable `bootstrap` file. Returns the reason it is not.
fn check_lambda_zip(bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|error| format!("not a readable zip archive ({error})"))?;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|error| format!("entry {index} is unreadable ({error})"))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        std::io::copy(&mut entry, &mut std::io::sink())
            .map_err(|error| format!("entry {name} is damaged ({error})"))?;
    }

    let entry = archive
        .by_name(BOOTSTRAP)
        .map_err(|_| format!("it contains no `{BOOTSTRAP}` file at its root"))?;
    if !entry.is_file() {
        return Err(format!("`{BOOTSTRAP}` is not a regular file"));
    }
    // A zip that records no Unix mode, such as one written on Windows, is not checked for
    // exec bits.
    if let Some(mode) = entry.unix_mode()
        && mode & 0o111 == 0
    {
        return Err(format!(
            "`{BOOTSTRAP}` is not executable (mode {:o})",
            mode & 0o7777
        ));
    }
    Ok(())
}

/// Reads the three zips from `dir`, checks that each is a Lambda zip with a `bootstrap`, and
/// computes their keys; no AWS call.
pub fn load_artifacts(dir: &Path) -> Result<Vec<Artifact>, ProvisionError> {
    FUNCTIONS
        .iter()
        .map(|function| {
            let path = dir.join(format!("{}.zip", function.name));
            let bytes = std::fs::read(&path).map_err(|source| {
                if source.kind() == std::io::ErrorKind::NotFound {
                    ProvisionError::MissingLambdaZip { path: path.clone() }
                } else {
                    ProvisionError::ReadFile {
                        path: path.clone(),
                        source,
                    }
                }
            })?;
            check_lambda_zip(&bytes).map_err(|reason| ProvisionError::InvalidLambdaZip {
                path: path.clone(),
                reason,
            })?;
            let sha256 = hex::encode(Sha256::digest(&bytes));
            let key = format!("lambdas/{}/{sha256}.zip", function.name);
            Ok(Artifact {
                function: *function,
                path,
                sha256,
                key,
            })
        })
        .collect()
}

/// Derives the assets bucket name from the account and region. It is unique per account and
/// region, and at most 63 characters long for every region code of up to 14 characters.
pub fn bucket_name(account: &str, region: &str) -> String {
    format!("certrotator-assets-{account}-{region}")
}

/// State of the assets bucket as seen from the deploying account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketState {
    Owned,
    Missing,
}

/// Checks whether `bucket` exists and belongs to `account`.
pub async fn bucket_state(
    s3: &S3Client,
    bucket: &str,
    account: &str,
) -> Result<BucketState, ProvisionError> {
    let result = s3
        .head_bucket()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .send()
        .await;
    match result {
        Ok(_) => Ok(BucketState::Owned),
        Err(SdkError::ServiceError(error))
            if matches!(error.err(), HeadBucketError::NotFound(_)) =>
        {
            Ok(BucketState::Missing)
        }
        // HeadBucket has no body, so S3 reports another owner (or a bucket we may not read)
        // only as HTTP 403.
        Err(SdkError::ServiceError(error)) if error.raw().status().as_u16() == 403 => {
            Err(ProvisionError::BucketOwnedByOther {
                bucket: bucket.to_owned(),
                account: account.to_owned(),
            })
        }
        Err(error) => Err(ProvisionError::aws("check assets bucket", bucket, error)),
    }
}

/// Creates the bucket if needed, then brings its encryption, public access block and
/// versioning to the settings below. A bucket made by an interrupted deploy is completed, and
/// settings an existing bucket already has are not written again.
pub async fn ensure_bucket(
    s3: &S3Client,
    bucket: &str,
    account: &str,
    region: &str,
    progress: &Progress,
) -> Result<bool, ProvisionError> {
    let created = match bucket_state(s3, bucket, account).await? {
        BucketState::Owned => false,
        BucketState::Missing => {
            progress.step(format!("creating assets bucket {bucket}"));
            create_bucket(s3, bucket, account, region).await?;
            true
        }
    };

    // A bucket this run created has none of the settings yet, so reading them first would
    // only add round trips.
    if created || !has_default_encryption(s3, bucket, account).await {
        progress.step(format!("enabling encryption on assets bucket {bucket}"));
        put_default_encryption(s3, bucket, account).await?;
    }

    if created || !blocks_public_access(s3, bucket, account).await {
        progress.step(format!("blocking public access to assets bucket {bucket}"));
        put_public_access_block(s3, bucket, account).await?;
    }

    // NOTE: versioning is written on every deploy, without reading it first. moto 5.2.5, the
    // stand-in the tests run against, returns GetBucketVersioning with the root element
    // GetBucketVersioningResponse, which the SDK rejects, so a read-first path could not be
    // tested there. Enabling versioning again is idempotent.
    let versioning = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    s3.put_bucket_versioning()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .versioning_configuration(versioning)
        .send()
        .await
        .map_err(|error| ProvisionError::aws("enable versioning on bucket", bucket, error))?;
    Ok(created)
}

/// Checks whether the bucket's default encryption is SSE-S3 (AES256), as
/// `put_default_encryption` sets it.
///
/// Returns false when the read fails, because the configuration is absent or the caller lacks
/// s3:GetEncryptionConfiguration. The write that follows then reports any real error itself.
async fn has_default_encryption(s3: &S3Client, bucket: &str, account: &str) -> bool {
    let result = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .send()
        .await;
    match result {
        Ok(output) => output
            .server_side_encryption_configuration()
            .is_some_and(|configuration| {
                configuration.rules().iter().any(|rule| {
                    rule.apply_server_side_encryption_by_default()
                        .is_some_and(|default| {
                            *default.sse_algorithm() == ServerSideEncryption::Aes256
                        })
                })
            }),
        Err(error) => {
            tracing::debug!(
                bucket,
                error = %DisplayErrorContext(&error),
                "failed to read the bucket's default encryption; setting it"
            );
            false
        }
    }
}

async fn put_default_encryption(
    s3: &S3Client,
    bucket: &str,
    account: &str,
) -> Result<(), ProvisionError> {
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::Aes256)
                        .build()
                        .expect("sse_algorithm is set"),
                )
                .build(),
        )
        .build()
        .expect("rules are set");
    s3.put_bucket_encryption()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .server_side_encryption_configuration(encryption)
        .send()
        .await
        .map_err(|error| ProvisionError::aws("enable encryption on bucket", bucket, error))?;
    Ok(())
}

/// Checks whether all four public access block settings are on.
///
/// A read that fails returns false, for the same reasons as `has_default_encryption`.
async fn blocks_public_access(s3: &S3Client, bucket: &str, account: &str) -> bool {
    let result = s3
        .get_public_access_block()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .send()
        .await;
    match result {
        Ok(output) => output
            .public_access_block_configuration()
            .is_some_and(|block| {
                block.block_public_acls() == Some(true)
                    && block.ignore_public_acls() == Some(true)
                    && block.block_public_policy() == Some(true)
                    && block.restrict_public_buckets() == Some(true)
            }),
        Err(error) => {
            tracing::debug!(
                bucket,
                error = %DisplayErrorContext(&error),
                "failed to read the bucket's public access block; setting it"
            );
            false
        }
    }
}

async fn put_public_access_block(
    s3: &S3Client,
    bucket: &str,
    account: &str,
) -> Result<(), ProvisionError> {
    let block_all = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    s3.put_public_access_block()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .public_access_block_configuration(block_all)
        .send()
        .await
        .map_err(|error| ProvisionError::aws("block public access on bucket", bucket, error))?;
    Ok(())
}

async fn create_bucket(
    s3: &S3Client,
    bucket: &str,
    account: &str,
    region: &str,
) -> Result<(), ProvisionError> {
    let mut request = s3.create_bucket().bucket(bucket);
    // us-east-1 is the one region that rejects an explicit location constraint.
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(error))
            if matches!(error.err(), CreateBucketError::BucketAlreadyOwnedByYou(_)) =>
        {
            Ok(())
        }
        Err(SdkError::ServiceError(error))
            if matches!(error.err(), CreateBucketError::BucketAlreadyExists(_)) =>
        {
            Err(ProvisionError::BucketOwnedByOther {
                bucket: bucket.to_owned(),
                account: account.to_owned(),
            })
        }
        Err(error) => Err(ProvisionError::aws("create assets bucket", bucket, error)),
    }
}

/// Upload result for one zip.
#[derive(Debug, Clone, Serialize)]
pub struct UploadedArtifact {
    pub function: &'static str,
    pub key: String,
    pub sha256: String,
    /// False when an object with the same content hash was already in the bucket.
    pub uploaded: bool,
}

/// Uploads each zip unless its content-hash key is already in the bucket.
pub async fn upload_artifacts(
    s3: &S3Client,
    bucket: &str,
    account: &str,
    artifacts: &[Artifact],
    progress: &Progress,
) -> Result<Vec<UploadedArtifact>, ProvisionError> {
    let mut results = Vec::with_capacity(artifacts.len());
    for artifact in artifacts {
        let location = format!("s3://{bucket}/{}", artifact.key);
        let exists = match s3
            .head_object()
            .bucket(bucket)
            .key(&artifact.key)
            .expected_bucket_owner(account)
            .send()
            .await
        {
            Ok(_) => true,
            Err(SdkError::ServiceError(error))
                if matches!(error.err(), HeadObjectError::NotFound(_)) =>
            {
                false
            }
            Err(error) => return Err(ProvisionError::aws("check object", &location, error)),
        };

        if !exists {
            progress.step(format!("uploading {}", artifact.path.display()));
            let body = ByteStream::from_path(&artifact.path)
                .await
                .map_err(|error| ProvisionError::ReadFile {
                    path: artifact.path.clone(),
                    source: std::io::Error::other(error),
                })?;
            s3.put_object()
                .bucket(bucket)
                .key(&artifact.key)
                .expected_bucket_owner(account)
                .body(body)
                .send()
                .await
                .map_err(|error| ProvisionError::aws("upload", &location, error))?;
        }
        results.push(UploadedArtifact {
            function: artifact.function.name,
            key: artifact.key.clone(),
            sha256: artifact.sha256.clone(),
            uploaded: !exists,
        });
    }
    Ok(results)
}

/// Deletes every object version and delete marker, then the bucket. Returns false when the
/// bucket did not exist.
pub async fn delete_bucket(
    s3: &S3Client,
    bucket: &str,
    account: &str,
    progress: &Progress,
) -> Result<bool, ProvisionError> {
    if bucket_state(s3, bucket, account).await? == BucketState::Missing {
        return Ok(false);
    }
    progress.step(format!("emptying assets bucket {bucket}"));
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .expected_bucket_owner(account)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|error| ProvisionError::aws("list object versions in", bucket, error))?;

        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page
            .delete_markers()
            .iter()
            .map(|m| (m.key(), m.version_id()));
        let objects: Vec<ObjectIdentifier> = versions
            .chain(markers)
            .filter_map(|(key, version)| {
                ObjectIdentifier::builder()
                    .key(key?)
                    .set_version_id(version.map(str::to_owned))
                    .build()
                    .ok()
            })
            .collect();
        if !objects.is_empty() {
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .expect("objects are set");
            s3.delete_objects()
                .bucket(bucket)
                .expected_bucket_owner(account)
                .delete(delete)
                .send()
                .await
                .map_err(|error| ProvisionError::aws("delete objects in", bucket, error))?;
        }

        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }

    progress.step(format!("deleting assets bucket {bucket}"));
    s3.delete_bucket()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .send()
        .await
        .map_err(|error| ProvisionError::aws("delete assets bucket", bucket, error))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_name_fits_s3_limit() {
        let name = bucket_name("123456789012", "ap-southeast-4");
        assert_eq!(name, "certrotator-assets-123456789012-ap-southeast-4");
        assert!(name.len() <= 63);
    }

    /// Returns a zip with an executable `bootstrap` containing `content`.
    fn bootstrap_zip(content: &str) -> Vec<u8> {
        use std::io::Write;

        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        writer.start_file(BOOTSTRAP, options).unwrap();
        writer.write_all(content.as_bytes()).unwrap();
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn artifacts_use_content_hash_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut create_certificate = Vec::new();
        for function in FUNCTIONS {
            let bytes = bootstrap_zip(function.name);
            std::fs::write(dir.path().join(format!("{}.zip", function.name)), &bytes).unwrap();
            if function.name == "create-certificate" {
                create_certificate = bytes;
            }
        }
        let artifacts = load_artifacts(dir.path()).unwrap();
        assert_eq!(artifacts.len(), 3);
        let expected = hex::encode(Sha256::digest(&create_certificate));
        assert_eq!(artifacts[0].sha256, expected);
        assert_eq!(
            artifacts[0].key,
            format!("lambdas/create-certificate/{expected}.zip")
        );
    }

    #[test]
    fn missing_zip_names_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let error = load_artifacts(dir.path()).unwrap_err();
        assert_eq!(error.code(), "missing_lambda_zip");
        assert!(error.to_string().contains("make lambda-zips"), "{error}");
    }
}
