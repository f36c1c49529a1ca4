//! Configuration of the object storage tier: a bucket URL plus the standard AWS variables, so a
//! machine already set up for the `aws` CLI (or an S3-compatible server such as MinIO) needs
//! nothing kiln-specific.

use std::time::Duration;

use url::Url;

use crate::error::S3Error;

/// Default [`S3Config::connect_timeout`]: 2 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default [`S3Config::request_timeout`]: 10 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`S3Config::transfer_timeout`]: 10 min.
pub const DEFAULT_TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);
/// Default [`S3Config::retry_timeout`]: 15 s.
pub const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(15);
/// Default [`S3Config::retries`]: 2.
pub const DEFAULT_RETRIES: usize = 2;
/// Default [`S3Config::part_bytes`]: 8 MiB.
pub const DEFAULT_PART_BYTES: usize = 8 << 20;
/// The smallest part S3 accepts in a multipart upload (all parts but the last).
pub const MIN_PART_BYTES: usize = 5 << 20;

/// Where the tier stores artifacts and how it talks to the service.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `s3://bucket[/prefix]` (also `gs://bucket[/prefix]`, `az://container[/prefix]`), without
    /// a query: [`S3Config::from_url`] moves the query parameters into the fields below.
    pub url: String,
    /// An S3-compatible server instead of AWS (`http://127.0.0.1:9000`); requests then use
    /// path-style addressing (`<endpoint>/<bucket>/<object>`). `s3://` only.
    pub endpoint: Option<String>,
    /// The bucket's region (`us-east-1` when unset). `s3://` only.
    pub region: Option<String>,
    /// Allow plain `http://`; set by [`S3Config::from_url`] exactly when the endpoint is http.
    pub allow_http: bool,
    /// Credentials; when unset the provider chain of the environment is used (instance or
    /// container credentials, web identity). `s3://` only.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time the server may stay silent: waiting for an answer, or between two reads of a body.
    /// Bounds a hung server without bounding how long a large, moving transfer may take.
    pub request_timeout: Duration,
    /// Time allowed for one whole HTTP request, body included (a part, a blob download).
    pub transfer_timeout: Duration,
    /// Extra attempts of a request after a connection error, a timeout or a 5xx answer, with
    /// exponential backoff from 100 ms.
    pub retries: usize,
    /// No retry starts later than this after the first attempt of a request.
    pub retry_timeout: Duration,
    /// After this many consecutive failed calls the store stops calling the service for the
    /// rest of the run.
    pub breaker_threshold: u32,
    /// Blobs larger than this go up as a multipart upload in parts of this size (at least
    /// [`MIN_PART_BYTES`]); smaller ones in one PUT.
    pub part_bytes: usize,
}

impl std::fmt::Debug for S3Config {
    // Credentials must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("S3Config")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("allow_http", &self.allow_http)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &secret(&self.secret_access_key))
            .field("session_token", &secret(&self.session_token))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("transfer_timeout", &self.transfer_timeout)
            .field("retries", &self.retries)
            .field("retry_timeout", &self.retry_timeout)
            .field("breaker_threshold", &self.breaker_threshold)
            .field("part_bytes", &self.part_bytes)
            .finish()
    }
}

impl S3Config {
    /// A configuration with every default and no endpoint, region or credentials: for AWS with
    /// credentials from the environment's provider chain.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            endpoint: None,
            region: None,
            allow_http: false,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            transfer_timeout: DEFAULT_TRANSFER_TIMEOUT,
            retries: DEFAULT_RETRIES,
            retry_timeout: DEFAULT_RETRY_TIMEOUT,
            breaker_threshold: kiln_cache::DEFAULT_BREAKER_THRESHOLD,
            part_bytes: DEFAULT_PART_BYTES,
        }
    }

    /// Reads `url` (`s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1`) and
    /// the standard variables `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`, `AWS_REGION` (else `AWS_DEFAULT_REGION`) and
    /// `AWS_ENDPOINT_URL_S3` (else `AWS_ENDPOINT_URL`). Query parameters win over variables.
    pub fn from_url(url: &str) -> Result<Self, S3Error> {
        Self::from_url_with(url, |name| std::env::var(name).ok())
    }

    /// [`S3Config::from_url`] over any variable source (tests, a config file layer).
    pub fn from_url_with(
        url: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, S3Error> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let parsed = Location::parse(url)?;
        let mut endpoint = None;
        let mut region = None;
        for (name, value) in parsed.url.query_pairs() {
            match &*name {
                "endpoint" => endpoint = Some(value.into_owned()),
                "region" => region = Some(value.into_owned()),
                other => {
                    return Err(S3Error::Url {
                        url: url.to_owned(),
                        reason: format!(
                            "unknown query parameter `{other}` (known: endpoint, region)"
                        ),
                    });
                }
            }
        }
        let is_s3 = parsed.scheme == Scheme::S3;
        if is_s3 {
            endpoint =
                endpoint.or_else(|| get("AWS_ENDPOINT_URL_S3").or_else(|| get("AWS_ENDPOINT_URL")));
            region = region.or_else(|| get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")));
        } else if endpoint.is_some() || region.is_some() {
            return Err(S3Error::Url {
                url: url.to_owned(),
                reason: "`endpoint` and `region` apply to s3:// URLs only".into(),
            });
        }
        if let Some(endpoint) = &endpoint {
            let ok = Url::parse(endpoint)
                .is_ok_and(|e| matches!(e.scheme(), "http" | "https") && e.host().is_some());
            if !ok {
                return Err(S3Error::Url {
                    url: url.to_owned(),
                    reason: format!("endpoint `{endpoint}` is not an http:// or https:// URL"),
                });
            }
        }
        let mut config = Self::new(parsed.without_query());
        config.allow_http = endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        config.endpoint = endpoint;
        config.region = region;
        if is_s3 {
            config.access_key_id = get("AWS_ACCESS_KEY_ID");
            config.secret_access_key = get("AWS_SECRET_ACCESS_KEY");
            config.session_token = get("AWS_SESSION_TOKEN");
        }
        Ok(config)
    }
}

/// Which service a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    S3,
    Gcs,
    Azure,
}

/// A parsed cache URL: service, bucket and the prefix inside it.
#[derive(Debug)]
pub(crate) struct Location {
    pub(crate) url: Url,
    pub(crate) scheme: Scheme,
    pub(crate) bucket: String,
    /// `/`-separated, without leading or trailing `/`; empty for the bucket's root.
    pub(crate) prefix: String,
}

impl Location {
    pub(crate) fn parse(raw: &str) -> Result<Self, S3Error> {
        let bad = |reason: String| S3Error::Url {
            url: raw.to_owned(),
            reason,
        };
        let url = Url::parse(raw).map_err(|e| bad(e.to_string()))?;
        let scheme = match url.scheme() {
            "s3" | "s3a" => Scheme::S3,
            "gs" => Scheme::Gcs,
            "az" | "azure" => Scheme::Azure,
            other => {
                return Err(bad(format!(
                    "unsupported scheme `{other}` (use s3://, gs:// or az://)"
                )));
            }
        };
        let bucket = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no bucket name after the scheme".into()))?
            .to_owned();
        if !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
            return Err(bad(
                "credentials and ports do not belong in the bucket URL (use AWS_* variables and ?endpoint=)".into(),
            ));
        }
        // From the raw text: the parsed URL has resolved `..` and percent-encoded the rest.
        let raw_path = raw
            .split(['?', '#'])
            .next()
            .and_then(|s| s.split_once("://"))
            .and_then(|(_, rest)| rest.split_once('/'))
            .map_or("", |(_, path)| path);
        let prefix = raw_path.trim_matches('/').to_owned();
        let safe = |c: char| c.is_ascii_alphanumeric() || "-_.+=@~".contains(c);
        let valid = prefix.is_empty()
            || prefix
                .split('/')
                .all(|s| !matches!(s, "" | "." | "..") && s.chars().all(safe));
        if !valid {
            return Err(bad(format!(
                "invalid prefix `{prefix}` (`/`-separated segments of letters, digits and -_.+=@~)"
            )));
        }
        Ok(Self {
            url,
            scheme,
            bucket,
            prefix,
        })
    }

    /// `scheme://bucket/prefix`.
    fn without_query(&self) -> String {
        let mut url = self.url.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.to_string().trim_end_matches('/').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_testkit::fixtures::vars as lookup;

    #[test]
    fn reads_the_standard_aws_variables() {
        let config = S3Config::from_url_with(
            "s3://cache/team/kiln",
            lookup(&[
                ("AWS_ACCESS_KEY_ID", "AKID"),
                ("AWS_SECRET_ACCESS_KEY", "shh"),
                ("AWS_SESSION_TOKEN", "tok"),
                ("AWS_DEFAULT_REGION", "eu-west-1"),
                ("AWS_ENDPOINT_URL", "https://minio.internal:9000"),
            ]),
        )
        .unwrap();
        assert_eq!(config.url, "s3://cache/team/kiln");
        assert_eq!(config.access_key_id.as_deref(), Some("AKID"));
        assert_eq!(config.secret_access_key.as_deref(), Some("shh"));
        assert_eq!(config.session_token.as_deref(), Some("tok"));
        assert_eq!(config.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            config.endpoint.as_deref(),
            Some("https://minio.internal:9000")
        );
        assert!(!config.allow_http, "https endpoint: no plain http");
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("shh") && !shown.contains("\"tok\""),
            "{shown}"
        );
    }

    #[test]
    fn query_parameters_win_and_an_http_endpoint_allows_http() {
        let config = S3Config::from_url_with(
            "s3://b/p?endpoint=http://127.0.0.1:9000&region=us-east-1",
            lookup(&[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ENDPOINT_URL", "https://x"),
            ]),
        )
        .unwrap();
        assert_eq!(config.url, "s3://b/p");
        assert_eq!(config.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(config.region.as_deref(), Some("us-east-1"));
        assert!(config.allow_http);
        assert_eq!(
            S3Config::from_url_with(
                "s3://b",
                lookup(&[("AWS_REGION", "r"), ("AWS_DEFAULT_REGION", "d")])
            )
            .unwrap()
            .region
            .as_deref(),
            Some("r")
        );
    }

    #[test]
    fn refuses_urls_it_cannot_use() {
        for url in [
            "http://bucket/p",
            "s3:///p",
            "s3://b/p?endpont=http://x",
            "s3://b?endpoint=ftp://x",
            "s3://key:secret@b/p",
            "s3://b/a//c",
            "s3://b/a/../c",
            "gs://b?region=x",
            "s3://b/my%20cache",
        ] {
            let err = S3Config::from_url_with(url, lookup(&[])).unwrap_err();
            assert!(err.to_string().contains(url), "{url}: {err}");
        }
    }

    #[test]
    fn other_services_keep_their_own_credentials() {
        let config =
            S3Config::from_url_with("gs://bucket/ci", lookup(&[("AWS_ACCESS_KEY_ID", "AKID")]))
                .unwrap();
        assert_eq!(config.access_key_id, None);
        let location = Location::parse("az://container/a/b/").unwrap();
        assert_eq!(location.scheme, Scheme::Azure);
        assert_eq!(
            (location.bucket.as_str(), location.prefix.as_str()),
            ("container", "a/b")
        );
    }
}
