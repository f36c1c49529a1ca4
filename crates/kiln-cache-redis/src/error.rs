//! Errors of the Redis tier. Through the [`kiln_cache::CacheStore`] trait they travel as the
//! `source` of a [`kiln_cache::CacheError::Read`] or [`kiln_cache::CacheError::Store`].

/// What can go wrong talking to Redis. URLs are shown without their password.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("invalid Redis URL `{url}`")]
    Url {
        url: String,
        #[source]
        source: redis::RedisError,
    },

    #[error("Redis at {url} failed to {op}")]
    Command {
        url: String,
        op: &'static str,
        #[source]
        source: redis::RedisError,
    },

    /// The circuit breaker is open after repeated failures: Redis was not called.
    #[error("Redis at {url} is skipped after repeated failures (circuit breaker open)")]
    CircuitOpen { url: String },

    /// The blob changed size while it was uploaded; nothing was published.
    #[error("the blob of `{key}` was {expected} bytes but {uploaded} reached Redis at {url}")]
    ShortUpload {
        url: String,
        key: String,
        expected: u64,
        uploaded: u64,
    },
}

/// `redis://user:secret@host` → `redis://user:***@host`, so errors and logs never leak it.
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let shown = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                "***".to_owned()
            };
            format!("{}{shown}{}", &url[..scheme_end], &rest[at..])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords_but_keeps_the_rest() {
        assert_eq!(redact("redis://h:6379/0"), "redis://h:6379/0");
        assert_eq!(redact("redis://u:pw@h:6379"), "redis://u:***@h:6379");
        assert_eq!(redact("rediss://:pw@h/2"), "rediss://:***@h/2");
        assert_eq!(redact("redis://token@h"), "redis://***@h");
    }
}
