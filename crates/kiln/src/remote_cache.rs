//! Which remote cache a run uses, from `--remote-cache` / `KILN_REMOTE_CACHE`, or from
//! Turborepo's `TURBO_API`/`TURBO_TOKEN`/`TURBO_TEAM` when the pipeline is a `turbo.json`;
//! and the settings every store shares: `KILN_REMOTE_CACHE_TIMEOUT` and the signing key.

use std::sync::Arc;
use std::time::Duration;

use kiln_cache::{ArtifactSigner, CacheStore};
use kiln_cache_http::{HttpConfig, HttpStore};
use kiln_cache_reapi::{ReapiConfig, ReapiStore};
use kiln_cache_redis::{RedisConfig, RedisStore};
use kiln_cache_s3::{S3Config, S3Store};
use kiln_workspace::{ConfigSource, Workspace};

use crate::cli::RemoteLoginArgs;
use crate::exit::Exit;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `KILN_REMOTE_CACHE_TIMEOUT`: the longest one request to a remote may take (each store
/// keeps its own default when unset).
fn request_timeout() -> Result<Option<Duration>, Exit> {
    env("KILN_REMOTE_CACHE_TIMEOUT")
        .map(|text| {
            kiln_workspace::units::parse_duration(&text)
                .map_err(|e| Exit::user(format!("KILN_REMOTE_CACHE_TIMEOUT `{text}`: {e}")))
        })
        .transpose()
}

/// The remote store for this run, or `None` for none. `login` holds Turborepo's `--token`,
/// `--team` and `--api` flags, which stand for `TURBO_TOKEN`, `TURBO_TEAM`, `TURBO_API`.
pub(crate) fn open(
    ws: &Workspace,
    url: Option<&str>,
    login: &RemoteLoginArgs,
) -> Result<Option<Arc<dyn CacheStore>>, Exit> {
    let timeout = request_timeout()?;
    let turbo_var = |name: &str| {
        let flag = match name {
            "TURBO_TOKEN" => login.token.clone(),
            "TURBO_TEAM" => login.team.clone(),
            "TURBO_API" => login.api.clone(),
            _ => None,
        };
        flag.or_else(|| std::env::var(name).ok())
    };
    let Some(url) = url.map(str::to_string) else {
        // A Turborepo repository with a configured remote cache keeps using it.
        if matches!(ws.pipeline.source, Some(ConfigSource::Turbo(_))) {
            let config = HttpConfig::from_lookup(turbo_var)
                .map_err(|e| Exit::user(format!("Turborepo remote cache settings: {e}")))?;
            return Ok(config.map(|c| http(c, timeout)));
        }
        return Ok(None);
    };
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    match scheme {
        "redis" | "rediss" => {
            let mut config = RedisConfig::new(url);
            if let Some(t) = timeout {
                config.timeout = t;
            }
            let store =
                RedisStore::open(config).map_err(|e| Exit::user(format!("--remote-cache: {e}")))?;
            Ok(Some(Arc::new(store)))
        }
        "http" | "https" => {
            let token = env("KILN_REMOTE_CACHE_TOKEN")
                .or_else(|| turbo_var("TURBO_TOKEN").filter(|v| !v.trim().is_empty()))
                .unwrap_or_default();
            let mut config = HttpConfig::new(url, token);
            config.team_id = env("TURBO_TEAMID");
            // The API namespaces artifacts by team; a self-hosted cache needs one too.
            config.slug = turbo_var("TURBO_TEAM")
                .filter(|v| !v.trim().is_empty())
                .or_else(|| config.team_id.is_none().then(|| "kiln".to_string()));
            // Turborepo's own `x-artifact-tag` scheme, so turbo and kiln verify each other;
            // kiln's signature in the metadata (`signer`) works on every store.
            config.signing_key = env("TURBO_REMOTE_CACHE_SIGNATURE_KEY").map(String::into_bytes);
            Ok(Some(http(config, timeout)))
        }
        "grpc" | "grpcs" => {
            let mut config = ReapiConfig::from_url(&url)
                .map_err(|e| Exit::user(format!("--remote-cache: {e}")))?;
            if let Some(t) = timeout {
                config.request_timeout = t;
                config.connect_timeout = config.connect_timeout.min(t);
            }
            let store =
                ReapiStore::open(config).map_err(|e| Exit::user(format!("--remote-cache: {e}")))?;
            Ok(Some(Arc::new(store)))
        }
        "s3" | "gs" | "az" => {
            let mut config =
                S3Config::from_url(&url).map_err(|e| Exit::user(format!("--remote-cache: {e}")))?;
            if let Some(t) = timeout {
                config.request_timeout = t;
                config.connect_timeout = config.connect_timeout.min(t);
            }
            let store =
                S3Store::open(config).map_err(|e| Exit::user(format!("--remote-cache: {e}")))?;
            Ok(Some(Arc::new(store)))
        }
        _ => Err(Exit::user(format!(
            "--remote-cache `{url}`: expected a `redis://`, `rediss://`, `http(s)://`, \
             `grpc(s)://` (REAPI) or `s3://`/`gs://`/`az://` URL"
        ))),
    }
}

fn http(mut config: HttpConfig, timeout: Option<Duration>) -> Arc<dyn CacheStore> {
    if let Some(t) = timeout {
        config.timeout = t;
        config.connect_timeout = config.connect_timeout.min(t);
    }
    Arc::new(HttpStore::new(config))
}

/// The signing key shared by the team: `KILN_REMOTE_CACHE_SIGNATURE_KEY`, else Turborepo's
/// `TURBO_REMOTE_CACHE_SIGNATURE_KEY`. With one, uploads are signed and downloads that are
/// not signed with it are misses, whatever the store.
pub(crate) fn signer() -> Option<ArtifactSigner> {
    [
        "KILN_REMOTE_CACHE_SIGNATURE_KEY",
        "TURBO_REMOTE_CACHE_SIGNATURE_KEY",
    ]
    .into_iter()
    .find_map(env)
    .map(|secret| ArtifactSigner::new(secret.as_bytes()))
}
