//! Where the REAPI server is and how to talk to it: a `grpc://` or `grpcs://` URL, an instance
//! name, and extra request headers (the usual way these servers authenticate).

use std::time::Duration;

/// Connection and protocol settings of a [`ReapiStore`](crate::ReapiStore).
#[derive(Clone, PartialEq, Eq)]
pub struct ReapiConfig {
    /// `grpc://host:port` (plain HTTP/2) or `grpcs://host:port` (TLS, web PKI roots).
    pub endpoint: String,
    /// The REAPI instance name (`""` for the default instance).
    pub instance_name: String,
    /// Sent as gRPC metadata on every call (`authorization: Bearer …`,
    /// `x-buildbuddy-api-key: …`). Names are lowercased.
    pub headers: Vec<(String, String)>,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one call, streamed transfers included.
    pub request_timeout: Duration,
    /// Extra attempts after UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub retry_backoff: Duration,
    /// Consecutive failed operations after which the store stops calling the server.
    pub breaker_threshold: u32,
}

impl std::fmt::Debug for ReapiConfig {
    // Header values carry tokens: never let them reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<_> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("ReapiConfig")
            .field("endpoint", &self.endpoint)
            .field("instance_name", &self.instance_name)
            .field("headers", &headers)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retries", &self.retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("breaker_threshold", &self.breaker_threshold)
            .finish()
    }
}

/// Why a URL, the environment or the settings do not describe a usable REAPI server.
#[derive(Debug, thiserror::Error)]
pub enum ReapiConfigError {
    #[error("`{url}` is not a grpc://host:port or grpcs://host:port URL")]
    BadUrl { url: String },
    #[error("`{url}`: unknown query parameter `{name}` (only `instance` is understood)")]
    UnknownParameter { url: String, name: String },
    #[error("{variable}: `{entry}` is not a name=value header")]
    BadHeaderEntry {
        variable: &'static str,
        entry: String,
    },
    #[error("header `{name}` is not a valid gRPC metadata name or value")]
    BadHeader { name: String },
    #[error("cannot start the REAPI client runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot set up TLS for `{endpoint}`: {reason}")]
    Tls { endpoint: String, reason: String },
}

impl ReapiConfig {
    /// Settings with the defaults: 2 s to connect, 60 s per call, 2 retries from 100 ms,
    /// breaker after 5 consecutive failures, default instance, no headers.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into().trim_end_matches('/').to_string(),
            instance_name: String::new(),
            headers: Vec::new(),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(60),
            retries: 2,
            retry_backoff: Duration::from_millis(100),
            breaker_threshold: kiln_cache::DEFAULT_BREAKER_THRESHOLD,
        }
    }

    /// Reads `grpc[s]://host:port[?instance=NAME]`, then the environment:
    /// `KILN_REAPI_INSTANCE` (when the URL names no instance), `KILN_REAPI_HEADERS`
    /// (`name=value,name2=value2`) and `KILN_REAPI_TOKEN` (sent as `authorization: Bearer`).
    pub fn from_url(url: &str) -> Result<Self, ReapiConfigError> {
        Self::from_url_lookup(url, |name| std::env::var(name).ok())
    }

    /// [`ReapiConfig::from_url`] over any variable source (tests, a config file layer).
    pub fn from_url_lookup(
        url: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ReapiConfigError> {
        let bad = || ReapiConfigError::BadUrl {
            url: url.to_string(),
        };
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url, None),
        };
        let authority = ["grpc://", "grpcs://"]
            .iter()
            .find_map(|scheme| base.strip_prefix(scheme))
            .ok_or_else(bad)?
            .trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') || authority.contains('@') {
            return Err(bad());
        }
        let mut config = Self::new(base);
        let mut instance = None;
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            match pair.split_once('=') {
                Some(("instance", value)) => instance = Some(value.to_string()),
                _ => {
                    return Err(ReapiConfigError::UnknownParameter {
                        url: url.to_string(),
                        name: pair.split('=').next().unwrap_or(pair).to_string(),
                    });
                }
            }
        }
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        config.instance_name = instance
            .or_else(|| get("KILN_REAPI_INSTANCE"))
            .unwrap_or_default();
        if let Some(headers) = get("KILN_REAPI_HEADERS") {
            for entry in headers.split(',').filter(|e| !e.trim().is_empty()) {
                let (name, value) =
                    entry
                        .split_once('=')
                        .ok_or_else(|| ReapiConfigError::BadHeaderEntry {
                            variable: "KILN_REAPI_HEADERS",
                            entry: entry.to_string(),
                        })?;
                config
                    .headers
                    .push((name.trim().to_string(), value.trim().to_string()));
            }
        }
        if let Some(token) = get("KILN_REAPI_TOKEN") {
            config
                .headers
                .push(("authorization".into(), format!("Bearer {}", token.trim())));
        }
        Ok(config)
    }

    /// True for a `grpcs://` endpoint.
    pub fn uses_tls(&self) -> bool {
        self.endpoint.starts_with("grpcs://")
    }

    /// The endpoint as the `http(s)://host:port` URI the gRPC transport wants.
    pub(crate) fn transport_uri(&self) -> Result<String, ReapiConfigError> {
        let bad = || ReapiConfigError::BadUrl {
            url: self.endpoint.clone(),
        };
        if let Some(rest) = self.endpoint.strip_prefix("grpcs://") {
            Ok(format!("https://{rest}"))
        } else if let Some(rest) = self.endpoint.strip_prefix("grpc://") {
            Ok(format!("http://{rest}"))
        } else {
            Err(bad())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_testkit::fixtures::vars as lookup;

    #[test]
    fn reads_endpoint_instance_and_headers() {
        let config = ReapiConfig::from_url_lookup(
            "grpcs://cache.example.com:443?instance=main",
            lookup(&[
                ("KILN_REAPI_INSTANCE", "ignored"),
                (
                    "KILN_REAPI_HEADERS",
                    "x-buildbuddy-api-key=abc, x-team = t1",
                ),
                ("KILN_REAPI_TOKEN", "tok"),
            ]),
        )
        .unwrap();
        assert_eq!(config.endpoint, "grpcs://cache.example.com:443");
        assert!(config.uses_tls());
        assert_eq!(
            config.transport_uri().unwrap(),
            "https://cache.example.com:443"
        );
        assert_eq!(config.instance_name, "main");
        assert_eq!(
            config.headers,
            [
                ("x-buildbuddy-api-key".to_string(), "abc".to_string()),
                ("x-team".to_string(), "t1".to_string()),
                ("authorization".to_string(), "Bearer tok".to_string()),
            ]
        );
        let debug = format!("{config:?}");
        assert!(!debug.contains("abc") && !debug.contains("tok"), "{debug}");
    }

    #[test]
    fn the_instance_may_come_from_the_environment() {
        let config = ReapiConfig::from_url_lookup(
            "grpc://127.0.0.1:8980",
            lookup(&[("KILN_REAPI_INSTANCE", "ci")]),
        )
        .unwrap();
        assert_eq!(config.instance_name, "ci");
        assert_eq!(config.transport_uri().unwrap(), "http://127.0.0.1:8980");
        let plain = ReapiConfig::from_url_lookup("grpc://h:1/", lookup(&[])).unwrap();
        assert_eq!(plain.instance_name, "");
        assert!(plain.headers.is_empty());
    }

    #[test]
    fn refuses_other_schemes_paths_parameters_and_bad_headers() {
        for url in [
            "http://h:1",
            "h:1",
            "grpc://",
            "grpc://h:1/x",
            "grpc://u@h:1",
        ] {
            assert!(
                matches!(
                    ReapiConfig::from_url_lookup(url, lookup(&[])),
                    Err(ReapiConfigError::BadUrl { .. })
                ),
                "{url}"
            );
        }
        assert!(matches!(
            ReapiConfig::from_url_lookup("grpc://h:1?timeout=3", lookup(&[])),
            Err(ReapiConfigError::UnknownParameter { .. })
        ));
        assert!(matches!(
            ReapiConfig::from_url_lookup(
                "grpc://h:1",
                lookup(&[("KILN_REAPI_HEADERS", "novalue")])
            ),
            Err(ReapiConfigError::BadHeaderEntry { .. })
        ));
    }
}
