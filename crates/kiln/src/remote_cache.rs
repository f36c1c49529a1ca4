//! Which remote cache a run uses, from `--remote-cache` / `KILN_REMOTE_CACHE`, or from
//! Turborepo's `TURBO_API`/`TURBO_TOKEN`/`TURBO_TEAM` when the pipeline is a `turbo.json`.

use std::sync::Arc;

use kiln_cache::CacheStore;
use kiln_cache_http::{HttpConfig, HttpStore};
use kiln_cache_redis::{RedisConfig, RedisStore};
use kiln_workspace::{ConfigSource, Workspace};

use crate::exit::Exit;

/// The remote store for this run, or `None` for none.
pub(crate) fn open(ws: &Workspace, url: Option<&str>) -> Result<Option<Arc<dyn CacheStore>>, Exit> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let Some(url) = url.map(str::to_string) else {
        // A Turborepo repository with a configured remote cache keeps using it.
        if matches!(ws.pipeline.source, Some(ConfigSource::Turbo(_))) {
            let config = HttpConfig::from_env()
                .map_err(|e| Exit::user(format!("Turborepo remote cache settings: {e}")))?;
            return Ok(config.map(|c| Arc::new(HttpStore::new(c)) as Arc<dyn CacheStore>));
        }
        return Ok(None);
    };
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        let store = RedisStore::open(RedisConfig::new(url))
            .map_err(|e| Exit::user(format!("--remote-cache: {e}")))?;
        return Ok(Some(Arc::new(store)));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        let token = env("KILN_REMOTE_CACHE_TOKEN")
            .or_else(|| env("TURBO_TOKEN"))
            .unwrap_or_default();
        let mut config = HttpConfig::new(url, token);
        config.team_id = env("TURBO_TEAMID");
        // The API namespaces artifacts by team; a self-hosted cache needs one too.
        config.slug =
            env("TURBO_TEAM").or_else(|| config.team_id.is_none().then(|| "kiln".to_string()));
        config.signing_key = env("TURBO_REMOTE_CACHE_SIGNATURE_KEY").map(String::into_bytes);
        return Ok(Some(Arc::new(HttpStore::new(config))));
    }
    Err(Exit::user(format!(
        "--remote-cache `{url}`: expected a `redis://`, `rediss://`, `http://` or `https://` URL"
    )))
}
