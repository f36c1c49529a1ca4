//! Where the remote cache is and how to talk to it, read from Turborepo's own variables so a
//! repository already set up for Turborepo remote caching works with kiln unchanged.

use std::time::Duration;

/// The Turborepo default API when `TURBO_API` is unset.
pub const DEFAULT_API: &str = "https://vercel.com/api";

/// Connection and protocol settings of an [`HttpStore`](crate::HttpStore).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// API base, without the `/v8/...` part (`https://cache.example.com`).
    pub base_url: String,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: String,
    /// Sent as `?teamId=`; also the team part of signatures.
    pub team_id: Option<String>,
    /// Sent as `?slug=` when there is no team id.
    pub slug: Option<String>,
    /// When set, uploads carry an `x-artifact-tag` and downloads must carry a valid one.
    pub signing_key: Option<Vec<u8>>,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, body included.
    pub timeout: Duration,
    /// Extra attempts after a connection error or a 5xx answer.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub retry_backoff: Duration,
    /// Consecutive failed operations after which the store stops calling the server.
    pub breaker_threshold: u32,
}

impl std::fmt::Debug for HttpConfig {
    // The token and key are secrets: never let them reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("base_url", &self.base_url)
            .field("token", &"<redacted>")
            .field("team_id", &self.team_id)
            .field("slug", &self.slug)
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "<redacted>"),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("breaker_threshold", &self.breaker_threshold)
            .finish()
    }
}

/// Why the environment does not describe a usable remote cache.
#[derive(Debug, thiserror::Error)]
pub enum HttpConfigError {
    #[error("TURBO_TOKEN is set but neither TURBO_TEAMID nor TURBO_TEAM names the cache's team")]
    MissingTeam,
    #[error("{variable}=`{value}` is not an http:// or https:// URL")]
    BadUrl {
        variable: &'static str,
        value: String,
    },
}

impl HttpConfig {
    /// Settings with the defaults: 2 s to connect, 60 s per request, 2 retries from 100 ms,
    /// breaker after 5 consecutive failures, no team, no signing.
    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            token: token.into(),
            team_id: None,
            slug: None,
            signing_key: None,
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(60),
            retries: 2,
            retry_backoff: Duration::from_millis(100),
            breaker_threshold: 5,
        }
    }

    /// Reads `TURBO_API`, `TURBO_TOKEN`, `TURBO_TEAMID`, `TURBO_TEAM` and
    /// `TURBO_REMOTE_CACHE_SIGNATURE_KEY`. `Ok(None)` when `TURBO_TOKEN` is unset or empty
    /// (remote caching is off).
    pub fn from_env() -> Result<Option<Self>, HttpConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`HttpConfig::from_env`] over any variable source (tests, a config file layer).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, HttpConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let Some(token) = get("TURBO_TOKEN") else {
            return Ok(None);
        };
        let base_url = get("TURBO_API").unwrap_or_else(|| DEFAULT_API.to_string());
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(HttpConfigError::BadUrl {
                variable: "TURBO_API",
                value: base_url,
            });
        }
        let team_id = get("TURBO_TEAMID");
        let slug = get("TURBO_TEAM");
        if team_id.is_none() && slug.is_none() {
            return Err(HttpConfigError::MissingTeam);
        }
        let mut config = Self::new(base_url, token.trim());
        config.team_id = team_id;
        config.slug = slug;
        config.signing_key = lookup("TURBO_REMOTE_CACHE_SIGNATURE_KEY")
            .filter(|k| !k.is_empty())
            .map(String::into_bytes);
        Ok(Some(config))
    }

    /// The query naming the team, as Turborepo sends it: `teamId` wins over `slug`.
    pub(crate) fn team_query(&self) -> Option<(&'static str, &str)> {
        match (&self.team_id, &self.slug) {
            (Some(id), _) => Some(("teamId", id)),
            (None, Some(slug)) => Some(("slug", slug)),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_testkit::fixtures::vars as lookup;

    #[test]
    fn no_token_means_no_remote_cache() {
        assert!(
            HttpConfig::from_lookup(lookup(&[("TURBO_TEAM", "t")]))
                .unwrap()
                .is_none()
        );
        assert!(
            HttpConfig::from_lookup(lookup(&[("TURBO_TOKEN", " ")]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn reads_turborepo_variables() {
        let config = HttpConfig::from_lookup(lookup(&[
            ("TURBO_API", "http://cache.local:3000/"),
            ("TURBO_TOKEN", "tok"),
            ("TURBO_TEAM", "acme"),
            ("TURBO_TEAMID", "team_1"),
            ("TURBO_REMOTE_CACHE_SIGNATURE_KEY", "secret"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(config.base_url, "http://cache.local:3000");
        assert_eq!(config.token, "tok");
        assert_eq!(config.team_query(), Some(("teamId", "team_1")));
        assert_eq!(config.signing_key.as_deref(), Some(&b"secret"[..]));
        assert!(!format!("{config:?}").contains("secret"));
        assert!(!format!("{config:?}").contains("tok\""));
    }

    #[test]
    fn defaults_to_vercel_and_slug() {
        let config =
            HttpConfig::from_lookup(lookup(&[("TURBO_TOKEN", "t"), ("TURBO_TEAM", "acme")]))
                .unwrap()
                .unwrap();
        assert_eq!(config.base_url, DEFAULT_API);
        assert_eq!(config.team_query(), Some(("slug", "acme")));
        assert_eq!(config.signing_key, None);
    }

    #[test]
    fn refuses_a_token_without_team_or_a_bad_url() {
        assert!(matches!(
            HttpConfig::from_lookup(lookup(&[("TURBO_TOKEN", "t")])),
            Err(HttpConfigError::MissingTeam)
        ));
        assert!(matches!(
            HttpConfig::from_lookup(lookup(&[
                ("TURBO_TOKEN", "t"),
                ("TURBO_TEAM", "a"),
                ("TURBO_API", "cache.local")
            ])),
            Err(HttpConfigError::BadUrl { .. })
        ));
    }
}
